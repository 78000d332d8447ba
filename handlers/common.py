"""Small pieces every flow uses: the main menu, parsing ids from button data, role checks."""

from __future__ import annotations

from db.types import MAX_ID
from handlers.context import Context
from handlers.types import Button, Reply

MAX_TEXT = 4096  # what one chat message may carry; longer input is refused, not truncated


def menu_buttons(ctx: Context) -> list[list[Button]]:
    """The buttons that stand in for the command menu (the web chat has no slash menu)."""
    roles = {grant.role for grant in ctx.roles()}
    rows: list[list[Button]] = []
    if roles & {"grid_worker", "community_staff", "street_staff", "department_staff", "property_staff"}:
        rows.append([Button("cmd:/tasks", "tasks")])
    if roles & {"community_staff", "street_staff", "department_staff", "property_staff", "admin"}:
        rows.append([Button("cmd:/queue", "queue"), Button("cmd:/stats", "stats")])
    if roles & {"community_staff", "street_staff", "admin"}:
        rows.append([Button("cmd:/pending", "pending")])
    if ctx.residencies() or not roles:
        rows.append([Button("cmd:/report", "report"), Button("cmd:/my", "my"), Button("cmd:/polls", "polls")])
    if roles & {"community_staff", "street_staff", "department_staff", "admin", "owners_committee"}:
        rows.append([Button("cmd:/newpoll", "newpoll"), Button("cmd:/polls", "polls")])
    if roles & {"property_staff", "community_staff", "street_staff", "department_staff", "admin"}:
        rows.append([Button("cmd:/notice", "notice"), Button("cmd:/notices", "notices")])
    else:
        rows.append([Button("cmd:/notices", "notices")])
    rows.append([Button("cmd:/policy", "policy"), Button("cmd:/help", "help"), Button("cmd:/lang", "lang")])
    return rows


def parse_id(value: str) -> int | None:
    """An id (1 to MAX_ID) from button data or text, or None when it is not one."""
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        return None
    number = int(value)
    # Beyond MAX_ID it cannot be a row, and PostgreSQL would refuse the query (integer out of range).
    return number if 0 < number <= MAX_ID else None


def stale() -> Reply:
    """The answer to a button that no longer means anything (old, forged or pressed twice)."""
    return Reply("common.stale_button")
