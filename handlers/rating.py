"""/rating: 物业评价: the ranking for staff, a company's own breakdown, good and bad
records and their appeals."""

from __future__ import annotations

from handlers.context import Context
from handlers.flows import Command, Flow
from handlers.types import Reply


def show(ctx: Context, _: str) -> list[Reply]:
    """The first page of /rating."""
    return [Reply("common.idle")]


FLOW = Flow("", {"/rating": Command(show, leaves_flow=True, members_only=True)})
