"""Owners' committee terms (DESIGN §4.4–4.7): the tables of db/committee/

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 00:00:00
"""

from collections.abc import Sequence

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
