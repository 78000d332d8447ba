"""What notices events tell whom (registered with `tells`).

A notice goes to its whole audience at once, often thousands of people: its rows are written here in one
statement (`outbox.enqueue_many`), every row with the same template, context and buttons, rather than as
one `Message` each.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from core.actions import Notices
from core.events import NoticePublished, NoticeReminder
from core.notify import Choice, Message, tells
from core.work import Work
from db import notices, outbox
from db.models import Notice

NOTICE = "notices.notice"
REMINDER = "notices.reminder"


def content(notice: Notice) -> dict[str, Any]:
    """What a pushed notice shows: its words, kind and dates, its structured data, its photo."""
    context: dict[str, Any] = {
        "title": notice.title,
        "body": notice.body,
        "kind": notice.kind,
        "notice_id": notice.id,
        "ack": notice.ack_required,
        "urgent": notice.urgent,
        "publicity_until": notice.publicity_until.isoformat() if notice.publicity_until else "",
        **notice.data,
    }
    if notice.attachment_kind == "photo" and notice.attachment_ref:
        context["_photos"] = [[notice.attachment_channel, notice.attachment_ref]]
    return context


def ack_choices(notice: Notice) -> tuple[tuple[Choice, ...], ...]:
    """The acknowledgement button of a notice that asks for one."""
    if not notice.ack_required:
        return ()
    return ((Choice(Notices("a", notice=notice.id), "notices.btn_ack"),),)


def _broadcast(
    work: Work,
    notice: Notice,
    people: tuple[int, ...],
    template: str,
    not_before: datetime | None,
    notice_id: int | None,
) -> None:
    """One outbox row per person, all alike, in one statement."""
    outbox.enqueue_many(
        work.session,
        [{"person_id": person_id} for person_id in people],
        template=template,
        context=content(notice),
        buttons=[[choice.stored() for choice in row] for row in ack_choices(notice)],
        created_at=work.now,
        not_before=not_before,
        urgent=notice.urgent,
        notice_id=notice_id,
    )


@tells(NoticePublished)
def published(work: Work, event: NoticePublished) -> Iterable[Message]:
    """Every recipient receives the notice, from its send time (after quiet hours unless it is urgent)."""
    notice = work.session.get(Notice, event.notice_id)
    if notice is None or not event.recipients:
        return ()
    goes = notices.release_time(notice.urgent, notice.send_at, work.now, work.policy)
    _broadcast(work, notice, event.recipients, NOTICE, goes, notice.id)
    return ()


@tells(NoticeReminder)
def reminded(work: Work, event: NoticeReminder) -> Iterable[Message]:
    """Each one who has not acknowledged the notice is reminded of it, now (after quiet hours unless it is
    urgent)."""
    notice = work.session.get(Notice, event.notice_id)
    if notice is None or not event.recipients:
        return ()
    goes = notices.release_time(notice.urgent, work.now, work.now, work.policy)
    # notice_id stays empty on reminders: the dispatcher renders rows of one notice_id once per language,
    # so a reminder in the same batch as the notice itself would be shown with the notice's text.
    _broadcast(work, notice, event.recipients, REMINDER, goes, None)
    return ()
