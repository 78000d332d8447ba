"""`/notices`: staff see the delivery report of the notices under their jurisdiction, with cancel and
remind; residents the notices that reached them and are on display, to open and acknowledge."""

from __future__ import annotations

from typing import Any

from core import notices as use
from core.actions import Menu, Notices
from db import notices as rules
from db.models import Notice
from handlers.common import given, stale
from handlers.context import Context
from handlers.types import Attachment, Button, Reply, shows_photo

LIST_LIMIT = 10
WAITING_SHOWN = 10  # not-yet-acknowledged homes listed under a notice in /notices; the rest on a page
WAITING_PAGE = 60  # homes per message of the full list
WAITING_PAGES = 5  # messages at most; beyond them the list says how many more (a reminder reaches all)
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
    rows.append([Button.of(Menu(command="/mute"), "notices.btn_mutes")])
    return [Reply("notices.list", {"items": [_item(s.notice, s.acked) for s in seen]}, rows)]


def _groups(waiting: list[rules.Waiting]) -> list[dict[str, Any]]:
    """Those who have not acknowledged, grouped by building (in order): each home with the masked name;
    people reached by their role and living elsewhere in a last group without a building."""
    groups: list[dict[str, Any]] = []
    for w in waiting:
        if not groups or groups[-1]["building"] != w.building:
            groups.append({"building": w.building, "homes": []})
        groups[-1]["homes"].append({"entrance": w.entrance, "number": w.number, "name": w.name})
    return groups


def _staff_list(managed: list[use.Managed]) -> list[Reply]:
    if not managed:
        return [Reply("notices.staff_none", {}, [[Button.of(Menu(command="/notice"), "notice")]])]
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
        if len(item.waiting) > WAITING_SHOWN:
            buttons.append(
                [
                    Button.of(
                        Notices("v", notice=notice.id),
                        "notices.btn_waiting",
                        args={"count": len(item.waiting)},
                    )
                ]
            )
        context = {
            **_item(notice, False),
            "place": item.place,
            "cancelled": notice.state == "cancelled",
            "counts": counts,
            "waiting": _groups(item.waiting[:WAITING_SHOWN]),
            "waiting_more": max(len(item.waiting) - WAITING_SHOWN, 0),
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
    replies = [Reply("notices.view", context, buttons, photos=photos)]
    if not viewed.mine:  # staff open a notice they manage: with everyone who has not acknowledged it
        replies.extend(_waiting_pages(ctx, notice))
    return replies


def _waiting_pages(ctx: Context, notice: Notice) -> list[Reply]:
    """The whole list of those who have not acknowledged a managed notice, a page per message."""
    try:
        waiting = use.unacknowledged(ctx.work, ctx.actor(), given(notice.id))
    except use.NoticeError:
        return []
    pages = [waiting[i : i + WAITING_PAGE] for i in range(0, len(waiting), WAITING_PAGE)]
    shown = pages[:WAITING_PAGES]
    unlisted = len(waiting) - sum(map(len, shown))
    return [
        Reply(
            "notices.waiting_page",
            {
                "groups": _groups(page),
                "page": n,
                "pages": len(shown),
                "count": len(waiting),
                "more": unlisted if n == len(shown) else 0,
            },
        )
        for n, page in enumerate(shown, 1)
    ]


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
