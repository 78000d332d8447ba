"""Property companies: the companies, the compounds each serves under a contract, and their staff

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import db.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = db.types.UTCDateTime(timezone=True)


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "property_company",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", _text(100), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "company_contract",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("compound_id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["company_id"], ["property_company.id"]),
        sa.ForeignKeyConstraint(["compound_id"], ["org_node.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("company_id", "compound_id", "starts_on", name="uq_contract_start"),
    )
    op.create_index("ix_company_contract_company_id", "company_contract", ["company_id"])
    op.create_index("ix_company_contract_compound_id", "company_contract", ["compound_id"])
    op.create_table(
        "company_staff",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["property_company.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("person_id", "company_id"),
    )
    op.create_index("ix_company_staff_company_id", "company_staff", ["company_id"])
    with op.batch_alter_table("invite") as batch:
        batch.add_column(sa.Column("company_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_invite_company_id", "property_company", ["company_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("invite") as batch:
        batch.drop_constraint("fk_invite_company_id", type_="foreignkey")
        batch.drop_column("company_id")
    op.drop_index("ix_company_staff_company_id", table_name="company_staff")
    op.drop_table("company_staff")
    op.drop_index("ix_company_contract_compound_id", table_name="company_contract")
    op.drop_index("ix_company_contract_company_id", table_name="company_contract")
    op.drop_table("company_contract")
    op.drop_table("property_company")
