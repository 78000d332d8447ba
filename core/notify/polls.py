"""What polls events tell whom (registered with `tells`).

When voting opens every owner in the electorate is told, and reminders go to the owners whose home has
not voted: those audiences are written here in one statement (`outbox.enqueue_many`), not as one
`Message` each. The author hears when voting opens (the frozen electorate) and gets the result at the
close: staff are not in a poll notice's audience. Pushes about a poll wait for the end of quiet hours.
(The announcement, the withdrawal and the result reach owners and tenants as notices, by db.polls.)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlmodel import select

from core.actions import Vote
from core.events import PollAwaitingPaper, PollClosed, PollOpened, PollReminder
from core.notify import Choice, Message, tells
from core.work import Work
from db import notices, outbox
from db.models import Poll, PollPaper
from db.polls.counting import published
from db.polls.electorate import non_voters, voter_ids
from db.rows import id_of

OPENED = "pollpush.opened"
REMINDER = "pollpush.reminder"
AUTHOR_OPENED = "pollpush.opened_author"
AUTHOR_CLOSED = "pollpush.closed_author"
AWAITING_PAPER = "pollpush.awaiting_paper"


def _context(poll: Poll, extra: dict[str, Any]) -> dict[str, Any]:
    """What every push about a poll shows: its title, close, matter and the consultative label."""
    return {
        "poll_id": poll.id,
        "title": poll.title,
        "closes_at": poll.closes_at.isoformat(),
        "consultative": poll.consultative,
        "matter": poll.matter,
        **extra,
    }


def _open_button(poll: Poll, label: str) -> tuple[tuple[Choice, ...], ...]:
    return ((Choice(Vote("v", poll=poll.id), label),),)


def _tell_owners(
    work: Work, poll: Poll, person_ids: list[int], template: str, extra: dict[str, Any] | None = None
) -> None:
    """One push per owner, all alike, in one statement, with the button that opens the poll."""
    context = _context(poll, extra or {})
    buttons = [[choice.stored() for choice in row] for row in _open_button(poll, "pollpush.btn_open")]
    not_before = notices.release_time(False, work.now, work.now, work.policy)
    outbox.enqueue_many(
        work.session,
        [
            {
                "person_id": person_id,
                "template": template,
                "context": context,
                "buttons": buttons,
                "created_at": work.now,
                "not_before": not_before,
                "urgent": False,
                "status": "pending",
                "attempts": 0,
                "error": "",
            }
            for person_id in person_ids
        ],
    )


def _to_author(work: Work, poll: Poll, template: str, extra: dict[str, Any]) -> Iterable[Message]:
    if poll.author_id is None:
        return ()
    return (
        Message(
            poll.author_id,
            template,
            _context(poll, extra),
            _open_button(poll, "pollpush.btn_view"),
            not_before=notices.release_time(False, work.now, work.now, work.policy),
        ),
    )


@tells(PollOpened)
def opened(work: Work, event: PollOpened) -> Iterable[Message]:
    """Every owner who may vote is told voting is open; the author learns the electorate it will be judged
    against."""
    poll = work.session.get(Poll, event.poll_id)
    if poll is None:
        return ()
    voters = voter_ids(work.session, id_of(poll))
    _tell_owners(work, poll, voters, OPENED)
    extra = {"voters": len(voters), "total_area": poll.total_area, "total_owners": poll.total_owners}
    return _to_author(work, poll, AUTHOR_OPENED, extra)


@tells(PollReminder)
def reminded(work: Work, event: PollReminder) -> Iterable[Message]:
    """The owners whose home has not voted are reminded, with the days left."""
    poll = work.session.get(Poll, event.poll_id)
    if poll is not None:
        _tell_owners(
            work, poll, non_voters(work.session, id_of(poll)), REMINDER, {"days_left": event.days_left}
        )
    return ()


@tells(PollClosed)
def closed(work: Work, event: PollClosed) -> Iterable[Message]:
    """The author gets the result as it was published."""
    poll = work.session.get(Poll, event.poll_id)
    if poll is None:
        return ()
    return _to_author(work, poll, AUTHOR_CLOSED, {"poll": published(poll)})


@tells(PollAwaitingPaper)
def awaiting_paper(work: Work, event: PollAwaitingPaper) -> Iterable[Message]:
    """The author and everyone who entered the poll's paper ballots hear that the sealed batch is awaited."""
    poll = work.session.get(Poll, event.poll_id)
    if poll is None:
        return ()
    entered = work.session.exec(
        select(PollPaper.entered_by).where(PollPaper.poll_id == poll.id).distinct()
    ).all()
    people = sorted({p for p in entered if p is not None} | ({poll.author_id} if poll.author_id else set()))
    not_before = notices.release_time(False, work.now, work.now, work.policy)
    context = _context(poll, {"sealed": event.sealed})
    return [
        Message(p, AWAITING_PAPER, context, _open_button(poll, "pollpush.btn_view"), not_before=not_before)
        for p in people
    ]
