"""`/notices`: staff see the delivery report of the notices under their jurisdiction, with cancel and
remind; residents the notices that reached them and are on display, to open and acknowledge."""

from __future__ import annotations

from typing import Any

from core import notices as use
from core.actions import Notices
from db import notices as rules
from db.models import Notice
from handlers.common import given, stale
from handlers.context import Context
from handlers.types import Attachment, Button, Reply, shows_photo

LIST_LIMIT = 10
POLL_MARKS = {"announced": "🗳 ", "result": "📊 ", "withdrawn": "⛔ "}  # a poll's notices told apart


def _refused(reason: str) -> Reply:
    return Reply("notices.refused", {"reason": reason})


def _item(notice: Notice, acked: bool) -> dict[str, Any]:
    return {
        "id": notice.id,
        "title": notice.title,
        "kind": notice.kind,
        "urgent": notice.urgent,
        "date": notice.send_at.isoformat(),
        "ack": notice.ack_required,
        "acked": acked,
        "poll_event": notice.data.get("poll", {}).get("event", ""),
    }


def _ack_button(notice: Notice) -> Button:
    return Button.of(Notices("a", notice=notice.id), "notices.btn_ack")


def list_notices(ctx: Context, _: str = "") -> list[Reply]:
    """`/notices`: the staff list, the resident list, or both for staff who live in the area."""
    board = use.notices_for(ctx.work, ctx.actor(), LIST_LIMIT)
    replies: list[Reply] = []
    if board.managed is not None:
        replies.extend(_staff_list(board.managed))
    if board.seen is not None:
        replies.extend(_resident_list(board.seen))
    return replies


def _resident_list(seen: list[use.Seen]) -> list[Reply]:
    if not seen:
        return [Reply("notices.none")]
    rows: list[list[Button]] = []
    for item in seen:
        notice = item.notice
        mark = POLL_MARKS.get(notice.data.get("poll", {}).get("event", ""), "")
        row = [Button.of(Notices("v", notice=notice.id), text=mark + notice.title[:40])]
        if notice.ack_required and not item.acked:
            row.append(_ack_button(notice))
        rows.append(row)
    return [Reply("notices.list", {"items": [_item(s.notice, s.acked) for s in seen]}, rows)]


def _staff_list(managed: list[use.Managed]) -> list[Reply]:
    if not managed:
        return [Reply("notices.staff_none")]
    replies = [Reply("notices.staff_header", {"count": len(managed)})]
    for item in managed:
        notice, counts = item.notice, item.counts
        buttons: list[list[Button]] = []
        if notice.state != "cancelled":
            row = []
            if counts["pending"]:
                row.append(Button.of(Notices("c", notice=notice.id), "notices.btn_cancel"))
            if notice.ack_required:
                row.append(Button.of(Notices("r", notice=notice.id), "notices.btn_remind"))
            if row:
                buttons.append(row)
        context = {
            **_item(notice, False),
            "place": item.place,
            "cancelled": notice.state == "cancelled",
            "counts": counts,
        }
        replies.append(Reply("notices.staff_item", context, buttons))
    return replies


def view(ctx: Context, press: Notices) -> list[Reply]:
    """Open a notice that reached the person (with its photo on their channel), or one they manage."""
    try:
        viewed = use.view_notice(ctx.work, ctx.actor(), given(press.notice))
    except use.NoticeError:
        return [stale()]
    notice = viewed.notice
    photos = (
        [Attachment("photo", notice.attachment_ref)]
        if notice.attachment_kind == "photo" and shows_photo(notice.attachment_channel, ctx.person.channel)
        else []
    )
    buttons = [[_ack_button(notice)]] if viewed.mine and notice.ack_required and not viewed.acked else []
    context = {
        **_item(notice, viewed.acked),
        **notice.data,
        "body": notice.body,
        "publicity_until": rules.publicity_end(notice).isoformat() if notice.publicity_until else "",
    }
    return [Reply("notices.view", context, buttons, photos=photos)]


def acknowledge(ctx: Context, press: Notices) -> list[Reply]:
    """`我已知晓`: the person confirms they read the notice."""
    try:
        done = use.acknowledge(ctx.work, ctx.actor(), given(press.notice))
    except use.NoticeError as exc:
        return [_refused(exc.reason)]
    return [Reply("notices.acked" if done.fresh else "notices.already_acked", {"title": done.title})]


def cancel(ctx: Context, press: Notices) -> list[Reply]:
    """Staff hold back what of a notice has not gone out."""
    try:
        count = use.cancel_notice(ctx.work, ctx.actor(), given(press.notice))
    except use.NoticeError as exc:
        return [_refused(exc.reason)]
    return [Reply("notices.cancelled", {"id": press.notice, "count": count})]


def remind(ctx: Context, press: Notices) -> list[Reply]:
    """Staff remind those who have not acknowledged a notice."""
    try:
        count = use.remind(ctx.work, ctx.actor(), given(press.notice))
    except use.NoticeError as exc:
        return [_refused(exc.reason)]
    return [Reply("notices.reminded", {"id": press.notice, "count": count})]
