"""Publishing the 红黑榜 from /rating (street and district staff): a preview of the two lists and whom
the notice reaches, then 发布 — the notice goes through core.rating_board and core.notices."""

from __future__ import annotations

from core import rating_board as use
from core.actions import Menu, Rating
from handlers.common import stale
from handlers.context import Context
from handlers.rating.draft import NAME, RatingDraft
from handlers.rating.pages import half_of, refused
from handlers.types import Button, Reply


def _item(placed: use.Placed) -> dict[str, object]:
    return {"rank": placed.rank, "name": placed.name, "grade": placed.grade, "total": use.score(placed.total)}


def preview(ctx: Context, _: Rating) -> list[Reply]:
    """The 红黑榜 as it would go out, and to how many residents; 发布 or 取消."""
    half = half_of(ctx)
    try:
        shown = use.board(ctx.work, ctx.actor(), half)
    except use.BoardError as exc:
        return [refused(exc.reason)]
    ctx.state.go(NAME, "board")
    RatingDraft().keep(ctx.state)
    context = {
        "place": shown.place,
        "half": half,
        "top": [_item(p) for p in shown.top],
        "bottom": [_item(p) for p in shown.bottom],
        "audience": shown.audience,
    }
    row = [
        Button.of(Rating("bok"), "rating.btn_publish", primary=True),
        Button.of(Rating("x"), "rating.btn_cancel"),
    ]
    return [Reply("rating.board_preview", context, [row])]


def publish(ctx: Context, _: Rating) -> list[Reply]:
    """发布: only from the preview, once."""
    if (ctx.state.flow, ctx.state.step) != (NAME, "board"):
        return [stale()]
    ctx.state.clear()
    try:
        done = use.publish_board(ctx.work, ctx.actor(), half_of(ctx))
    except use.BoardError as exc:
        return [refused(exc.reason)]
    buttons = [[Button.of(Menu(command="/notices"), "notices")]]
    return [Reply("rating.board_published", {"audience": done.audience}, buttons)]
