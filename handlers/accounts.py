"""/accounts: 收支公示: residents read their compound's statements and ask about a line; filers
draft, publish and correct them."""

from __future__ import annotations

from handlers.context import Context
from handlers.flows import Command, Flow
from handlers.types import Reply


def show(ctx: Context, _: str) -> list[Reply]:
    """The first page of /accounts."""
    return [Reply("common.idle")]


FLOW = Flow("", {"/accounts": Command(show, leaves_flow=True, members_only=True)})
