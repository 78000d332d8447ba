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


# --- people --------------------------------------------------------------------------------------------
