"""The ticket state machine (DESIGN §4.1): every state, the sets the rules and queries ask about, and every
change of a ticket's state. No other module assigns `ticket.state`.

Each transition checks that it may happen from the ticket's current state (raising `TicketError` with the
reason the user sees when not) and sets the state with the fields that go with it (holder, when it was
accepted, resolved or closed). Clocks, timeline events and who is told are the callers' business.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from db.models import Ticket

NEW, ASSIGNED, ACCEPTED, WAITING, REOPENED = "new", "assigned", "accepted", "waiting_for_resident", "reopened"
RESOLVED, CLOSED, WITHDRAWN, DUPLICATE = "resolved", "closed", "withdrawn", "duplicate"
# Someone still has to act on it.
OPEN_STATES = (NEW, ASSIGNED, ACCEPTED, WAITING, REOPENED)
# A clock runs (waiting for the resident pauses it).
ACTIVE_STATES = (NEW, ASSIGNED, ACCEPTED, REOPENED)
# Nobody has taken it on yet: accepting it is the next step.
UNACCEPTED = (NEW, ASSIGNED)
# Over without a resolution of its own (for the rates: when it ended).
ENDED_UNRESOLVED = (WITHDRAWN, DUPLICATE, CLOSED)
# The residents of these may still be reached about it (the holder is told when one cannot be).
FOLLOWED = (*OPEN_STATES, RESOLVED)
CLOSURE_KINDS = ("fixed", "partly_fixed", "no_action_needed", "not_responsible")
RATINGS = ("satisfied", "basically", "dissatisfied")


class TicketError(Exception):
    """An action the rules refuse; `reason` names the message the user sees, `state` and `rating` what the
    ticket was when refused (filled in by the use case, for the message)."""

    def __init__(self, reason: str, state: str = "", rating: str = "") -> None:
        super().__init__(reason)
        self.reason, self.state, self.rating = reason, state, rating


def is_open(ticket: Ticket) -> bool:
    """Whether someone still has to act on the ticket."""
    return ticket.state in OPEN_STATES


def require_open(ticket: Ticket) -> None:
    """Refuse anything but reading a ticket that is no longer open."""
    if ticket.state not in OPEN_STATES:
        raise TicketError("not_open")


# --- the transitions ----------------------------------------------------------------------------------


def handed_to(ticket: Ticket, worker_id: int) -> None:
    """Dispatch found the building's grid worker: the ticket is theirs to accept."""
    ticket.holder_id, ticket.state = worker_id, ASSIGNED


def queued(ticket: Ticket) -> None:
    """Dispatch found no grid worker: the ticket waits in the community's queue."""
    ticket.holder_id, ticket.state = None, NEW


def accepted(ticket: Ticket, person_id: int | None, now: datetime) -> None:
    """The handler takes the ticket on (the first acceptance is the one the rates count)."""
    if ticket.state == WAITING:
        raise TicketError("waiting")
    if ticket.state not in UNACCEPTED:
        raise TicketError("already_accepted")
    ticket.holder_id, ticket.state = person_id, ACCEPTED
    if ticket.accepted_at is None:
        ticket.accepted_at = now


def paused(ticket: Ticket, now: datetime) -> None:
    """The handler asked the resident something: the ticket waits for their answer."""
    if ticket.state == WAITING:
        raise TicketError("waiting")
    ticket.paused_state, ticket.state, ticket.paused_at = ticket.state, WAITING, now


def resumed(ticket: Ticket, now: datetime) -> timedelta | None:
    """The wait is over: back to the state it paused in; returns how long it waited (None: it was not
    waiting)."""
    if ticket.state != WAITING or ticket.paused_at is None:
        return None
    waited = now - ticket.paused_at
    ticket.state, ticket.paused_at, ticket.paused_state = ticket.paused_state or ACCEPTED, None, ""
    return waited


def returned_to_queue(ticket: Ticket) -> bool:
    """An approved transfer takes the ticket from its handler; True when it must be accepted afresh."""
    ticket.holder_id = None
    if ticket.state in (ASSIGNED, ACCEPTED, REOPENED):
        ticket.state = NEW
        return True
    return False


def assigned(ticket: Ticket, worker_id: int) -> bool:
    """Staff give the ticket to someone; True when it still has to be accepted."""
    require_open(ticket)
    ticket.holder_id = worker_id
    if ticket.state in UNACCEPTED:
        ticket.state = ASSIGNED
        return True
    return False


def resolved(ticket: Ticket, kind: str, now: datetime) -> None:
    """The handler closes the work; a new result waits for a new rating (unrated is not satisfied)."""
    if kind not in CLOSURE_KINDS:
        raise TicketError("bad_kind")
    if ticket.accepted_at is None:
        ticket.accepted_at = now
    ticket.state, ticket.closure_kind, ticket.resolved_at = RESOLVED, kind, now
    ticket.rating, ticket.rating_comment = "", ""


def rated(ticket: Ticket, rating: str, comment: str) -> None:
    """The reporter rated the result (closing or reopening it is the next transition)."""
    if ticket.state != RESOLVED:
        raise TicketError("not_resolved")
    if rating not in RATINGS:
        raise TicketError("bad_rating")
    ticket.rating, ticket.rating_comment = rating, comment.strip()[:500]


def closed(ticket: Ticket, now: datetime) -> None:
    """The result stands: rated satisfied, or nobody rated it in time."""
    ticket.state, ticket.closed_at = CLOSED, now


def reopened(ticket: Ticket) -> None:
    """The reporter was dissatisfied: the work starts again, the earlier resolution no longer counts."""
    ticket.state, ticket.reopen_count = REOPENED, ticket.reopen_count + 1
    ticket.resolved_at = None


def closed_as_duplicate(ticket: Ticket, original: Ticket, now: datetime) -> None:
    """Staff found the same problem already reported: the ticket ends and points at the original."""
    if ticket.id == original.id or ticket.state not in OPEN_STATES or original.state not in OPEN_STATES:
        raise TicketError("not_open")
    ticket.state, ticket.duplicate_of, ticket.closed_at = DUPLICATE, original.id, now


def withdrawn(ticket: Ticket, now: datetime) -> None:
    """The reporter takes the ticket back."""
    require_open(ticket)
    ticket.state, ticket.closed_at = WITHDRAWN, now


def unheld(ticket: Ticket) -> None:
    """It climbed a level before anyone took it on: the new level's staff must accept or assign it."""
    if ticket.state in UNACCEPTED:
        ticket.holder_id, ticket.state = None, NEW
