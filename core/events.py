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


@dataclass(frozen=True, slots=True)
class NoticePublished(Event):
    """A notice was written: each recipient (those who muted its kind already left out) is to receive it."""

    notice_id: int
    recipients: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class NoticeReminder(Event):
    """Recipients who got a notice asking for acknowledgement and have not given it are reminded."""

    notice_id: int
    recipients: tuple[int, ...]


# --- polls ---------------------------------------------------------------------------------------------


# --- people --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResidentAwaitsApproval(Event):
    """A person who joined without an invite chose a home; staff over it are to verify them."""

    residency_id: int
    person_id: int
    home_id: int
    kind: str  # owner | tenant


@dataclass(frozen=True, slots=True)
class ResidencyDecided(Event):
    """Staff verified or rejected a residency; the person is to hear which."""

    residency_id: int
    person_id: int
    home_id: int
    approved: bool
