"""`/mute`: each kind of notice with a button to mute or receive it again; safety notices always come."""

from __future__ import annotations

from core import notices as use
from core.actions import Notices
from handlers.context import Context
from handlers.types import Button, Reply


def mutes(ctx: Context, _: str = "") -> list[Reply]:
    """`/mute`: each kind with a button to mute or unmute it; safety notices cannot be muted."""
    states = use.mutes_of(ctx.work, ctx.actor())
    kinds = [{"kind": s.kind, "muted": s.muted, "mutable": s.mutable} for s in states]
    buttons = [
        [Button.of(Notices("m", kind=s.kind), "notices.btn_mute", args={"kind": s.kind, "muted": s.muted})]
        for s in states
        if s.mutable
    ]
    return [Reply("notices.mute_list", {"kinds": kinds}, buttons)]


def toggle(ctx: Context, press: Notices) -> list[Reply]:
    """Mute a kind, or receive it again; the list follows either way."""
    try:
        use.toggle_mute(ctx.work, ctx.actor(), press.kind or "")
    except use.NoticeError as exc:
        return [Reply("notices.refused", {"reason": exc.reason}), *mutes(ctx)]
    return mutes(ctx)
