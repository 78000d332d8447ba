"""Owners' polls in chat: `/polls` lists them; owners vote with buttons and get a receipt (prefix `v`)."""

from __future__ import annotations

from handlers.common import stale
from handlers.context import Context
from handlers.types import Inbound, Reply

FLOW = "polls"


def list_polls(ctx: Context, _: str = "") -> list[Reply]:
    """`/polls`: the polls over the person's homes, or in a staff member's compounds."""
    return [Reply("polls.none")]


def on_button(ctx: Context, data: str) -> list[Reply]:
    """A `v:` button."""
    return [stale()]


def on_message(ctx: Context, inbound: Inbound) -> list[Reply]:
    """Typed text while in the polls flow (a receipt code to check)."""
    ctx.state.clear()
    return list_polls(ctx)
