"""Property-company evaluation (DESIGN §4.5): good and bad records with their appeal, the owners'
satisfaction survey and its answers, one per home

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import db.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = db.types.UTCDateTime(timezone=True)


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "company_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("compound_id", sa.Integer(), nullable=False),
        sa.Column("half", _text(6), nullable=False),
        sa.Column("kind", _text(4), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("reason", _text(500), nullable=False),
        sa.Column("evidence_channel", _text(16), nullable=False),
        sa.Column("evidence_ref", _text(200), nullable=False),
        sa.Column("entered_by", sa.Integer(), nullable=True),
        sa.Column("entered_at", TIME, nullable=False),
        sa.Column("appeal_text", _text(1000), nullable=False),
        sa.Column("appealed_by", sa.Integer(), nullable=True),
        sa.Column("appealed_at", TIME, nullable=True),
        sa.Column("decision", _text(8), nullable=False),
        sa.Column("decision_note", _text(500), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", TIME, nullable=True),
        sa.ForeignKeyConstraint(["company_id"], ["property_company.id"]),
        sa.ForeignKeyConstraint(["compound_id"], ["org_node.id"]),
        sa.ForeignKeyConstraint(["entered_by"], ["person.id"]),
        sa.ForeignKeyConstraint(["appealed_by"], ["person.id"]),
        sa.ForeignKeyConstraint(["decided_by"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_company_record_company_half", "company_record", ["company_id", "half"])
    op.create_index("ix_company_record_compound_id", "company_record", ["compound_id"])
    op.create_table(
        "survey",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("half", _text(6), nullable=False),
        sa.Column("compounds", sa.JSON(), nullable=False),
        sa.Column("opened_by", sa.Integer(), nullable=True),
        sa.Column("opened_at", TIME, nullable=False),
        sa.Column("closes_at", TIME, nullable=False),
        sa.Column("state", _text(8), nullable=False),
        sa.Column("reminded_at", TIME, nullable=True),
        sa.Column("next_due_at", TIME, nullable=True),
        sa.Column("closed_at", TIME, nullable=True),
        sa.Column("homes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["property_company.id"]),
        sa.ForeignKeyConstraint(["opened_by"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("company_id", "half", name="uq_survey_company_half"),
    )
    op.create_index("ix_survey_next_due", "survey", ["next_due_at"])
    op.create_index("ix_survey_state", "survey", ["state"])
    op.create_table(
        "survey_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("home_id", sa.Integer(), nullable=False),
        sa.Column("compound_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("security", sa.Integer(), nullable=True),
        sa.Column("cleaning", sa.Integer(), nullable=True),
        sa.Column("greening", sa.Integer(), nullable=True),
        sa.Column("repairs", sa.Integer(), nullable=True),
        sa.Column("fees", sa.Integer(), nullable=True),
        sa.Column("attitude", sa.Integer(), nullable=True),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("completed_at", TIME, nullable=True),
        sa.ForeignKeyConstraint(["survey_id"], ["survey.id"]),
        sa.ForeignKeyConstraint(["home_id"], ["home.id"]),
        sa.ForeignKeyConstraint(["compound_id"], ["org_node.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("survey_id", "home_id", name="uq_survey_answer_home"),
    )
    op.create_index(
        "ix_survey_answer_compound", "survey_answer", ["survey_id", "compound_id", "completed_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_survey_answer_compound", table_name="survey_answer")
    op.drop_table("survey_answer")
    op.drop_index("ix_survey_state", table_name="survey")
    op.drop_index("ix_survey_next_due", table_name="survey")
    op.drop_table("survey")
    op.drop_index("ix_company_record_compound_id", table_name="company_record")
    op.drop_index("ix_company_record_company_half", table_name="company_record")
    op.drop_table("company_record")
