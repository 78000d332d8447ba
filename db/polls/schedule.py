"""A poll's clock: it opens (the electorate frozen), reminds owners who have not voted, and closes (the
box reshuffled, counted, the result stored and published), each step once, when its time comes.

Each step returns the event it raised; the use case records it and the notify layer tells people."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from core.events import Event, PollAwaitingPaper, PollClosed, PollOpened, PollReminder
from db.due import lock_due
from db.models import Poll
from db.polls import paper
from db.polls.authoring import publish
from db.polls.ballots import digest, receipts, reshuffle
from db.polls.counting import channels, count, facts, published
from db.polls.electorate import freeze
from db.polls.terms import REMINDERS, RESULT_PUBLICITY
from db.rows import id_of
from db.sla import Policy


def due(session: Session, now: datetime, limit: int = 20) -> list[Poll]:
    """Lock polls with a step due, skipping rows another process holds (PostgreSQL)."""
    return lock_due(session, Poll, now, limit)


def _reminder_times(poll: Poll) -> list[datetime]:
    return [poll.closes_at - before for before in REMINDERS]


def _next_due(poll: Poll) -> datetime | None:
    if poll.state == "announced":
        return poll.opens_at
    if poll.state != "open":
        return None
    pending = [t for t in _reminder_times(poll)[poll.reminders_sent :] if t > poll.opens_at]
    return min([*pending, poll.closes_at])


def step(session: Session, poll: Poll, now: datetime, policy: Policy, key: bytes) -> tuple[str, list[Event]]:
    """Apply the poll's due step (open, remind, close) once; returns what was done ("" for nothing,
    "awaiting" when the count waits for a secret poll's sealed paper ballots) and the events it raised."""
    done = ""
    events: list[Event] = []
    if poll.state == "announced" and now >= poll.opens_at:
        events.append(open_poll(session, poll, now))
        done = "opened"
    elif poll.state == "open" and now >= poll.closes_at and paper.awaiting(session, poll):
        # Sealed paper ballots are still in their envelopes: the count waits for the confirmed batch, which
        # makes the poll due again; those who run it are told once.
        poll.next_due_at = None
        return "awaiting", [PollAwaitingPaper(id_of(poll), len(paper.sealed_units(session, id_of(poll))))]
    elif poll.state == "open" and now >= poll.closes_at:
        events.extend(close(session, poll, now, policy, key))
        done = "closed"
    elif poll.state == "open":
        times = _reminder_times(poll)
        passed = [i for i, t in enumerate(times) if t <= now and t > poll.opens_at]
        if passed and passed[-1] >= poll.reminders_sent:
            events.append(remind(poll, now))
            poll.reminders_sent = passed[-1] + 1  # a late sweep sends one reminder, not two at once
            done = "reminded"
    poll.next_due_at = _next_due(poll)
    return done, events


def open_poll(session: Session, poll: Poll, now: datetime) -> PollOpened:
    """Freeze the electorate and open the voting."""
    freeze(session, poll)
    poll.state, poll.opened_at = "open", now
    # A short window, or an opening that ran late, skips reminders whose moment has already passed.
    poll.reminders_sent = sum(1 for t in _reminder_times(poll) if t <= max(poll.opens_at, now))
    return PollOpened(id_of(poll))


def remind(poll: Poll, now: datetime) -> PollReminder:
    """A reminder to owners who have not voted, with the whole days left until the close (rounded up)."""
    days_left = max(1, -(-(poll.closes_at - now) // timedelta(days=1)))
    return PollReminder(id_of(poll), days_left)


def close(session: Session, poll: Poll, now: datetime, policy: Policy, key: bytes) -> list[Event]:
    """Reshuffle the ballot box, count, store the result with the receipts' digest, and publish it (公示);
    returns the events raised."""
    reshuffle(session, poll, key)
    poll.state, poll.closed_at = "closed", now
    result = count(session, poll, key)
    poll.digest = digest(receipts(session, id_of(poll)))
    poll.result = facts(result, poll.digest, channels(session, id_of(poll)))
    poll.result_notice_id, events = publish(
        session, poll, published(poll), now + RESULT_PUBLICITY, None, now, policy
    )
    return [*events, PollClosed(id_of(poll), poll.result_notice_id)]
