"""/committee: 业委会: who serves the compound, since and until when; community
staff set the committee, the street a 物管会."""

from __future__ import annotations

from handlers.context import Context
from handlers.flows import Command, Flow
from handlers.types import Reply


def show(ctx: Context, _: str) -> list[Reply]:
    """The first page of /committee."""
    return [Reply("common.idle")]


FLOW = Flow("", {"/committee": Command(show, leaves_flow=True, members_only=True)})
