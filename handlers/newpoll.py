"""`/newpoll`: staff or the owners' committee create a poll step by step (prefix `w`)."""

from __future__ import annotations

from handlers.common import stale
from handlers.context import Context
from handlers.types import Inbound, Reply

FLOW = "newpoll"


def start(ctx: Context, _: str = "") -> list[Reply]:
    """`/newpoll`: begin a poll."""
    return [Reply("newpoll.not_allowed")]


def on_button(ctx: Context, data: str) -> list[Reply]:
    """A `w:` button."""
    return [stale()]


def on_message(ctx: Context, inbound: Inbound) -> list[Reply]:
    """Typed text in the /newpoll flow."""
    ctx.state.clear()
    return start(ctx)
