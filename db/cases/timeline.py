"""A ticket's timeline: every change is an event saying who did it in which role, when, with which note
and photos (DESIGN §4.1); the resident sees it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from db.models import Attachment, Ticket, TicketEvent

MAX_PHOTOS = 5
# Timeline events only staff and the holder see: an internal note, a supervision reminder. The residents'
# view of the timeline leaves them out and no push is made of them.
STAFF_ONLY = ("internal", "supervised")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, and in which role (as shown on the timeline)."""

    person_id: int | None
    role: str  # resident | grid_worker | community_staff | … | system


SYSTEM = Actor(None, "system")


def number(ticket: Ticket) -> int:
    """A stored ticket's number, shown to users as #<number> (a ticket has it once flushed)."""
    if ticket.id is None:
        raise ValueError("the ticket has not been stored yet")
    return ticket.id


def record(
    session: Session, ticket: Ticket, actor: Actor, kind: str, note: str, now: datetime
) -> TicketEvent:
    """Write an event on the ticket's timeline; the ticket counts as changed now (for the residents: a
    staff-only event changes nothing they see, not even when it last changed)."""
    event = TicketEvent(
        ticket_id=number(ticket),
        at=now,
        actor_id=actor.person_id,
        actor_role=actor.role,
        kind=kind,
        note=note[:2000],
    )
    session.add(event)
    session.flush()
    if kind not in STAFF_ONLY:
        ticket.updated_at = now
    return event


def attach(session: Session, ticket: Ticket, event: TicketEvent, photos: list[tuple[str, str]]) -> None:
    """Keep up to five photos with an event."""
    for channel, ref in photos[:MAX_PHOTOS]:
        session.add(
            Attachment(ticket_id=number(ticket), event_id=event.id, kind="photo", channel=channel, ref=ref)
        )
