"""Domain events: what happened, in meanings (ids, kinds, numbers), never in chat words or buttons.

The rules in db/ return them; use cases record them on the turn's `Work`; the notify layer turns them into
messages for the outbox before the transaction commits. Each event is a small frozen dataclass; a
section per aggregate keeps them findable.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened which may concern people other than the one who acted."""


# --- tickets -------------------------------------------------------------------------------------------


# --- notices -------------------------------------------------------------------------------------------


# --- polls ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PollOpened(Event):
    """Voting opened: the electorate is frozen; its owners may vote, and the author learns its size."""

    poll_id: int


@dataclass(frozen=True, slots=True)
class PollReminder(Event):
    """A reminder is due to the owners whose home has not voted, `days_left` whole days before the close."""

    poll_id: int
    days_left: int


@dataclass(frozen=True, slots=True)
class PollClosed(Event):
    """Voting closed: the ballots were counted and the result published as notice `notice_id`."""

    poll_id: int
    notice_id: int | None


@dataclass(frozen=True, slots=True)
class PollWithdrawn(Event):
    """A poll was withdrawn before voting opened; notice `notice_id` told those who had its announcement."""

    poll_id: int
    notice_id: int | None


# --- people --------------------------------------------------------------------------------------------
