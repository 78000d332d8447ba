"""Tickets: filing, "me too", the timeline, notes and withdrawal, with the rules that guard them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, or_
from sqlmodel import Session, col, select

from db.cases import clocks, states
from db.cases.states import OPEN_STATES, TicketError
from db.cases.timeline import MAX_PHOTOS as MAX_PHOTOS
from db.cases.timeline import Actor, attach, record
from db.models import Attachment, Ticket, TicketEvent, TicketFollower
from db.rows import id_of

MAX_DESCRIPTION = 1000
MAX_NOTE = 1000


@dataclass(frozen=True, slots=True)
class Draft:
    """What a resident has told us so far in the report flow."""

    category: str
    sla_class: str
    urgent: bool
    description: str
    home_id: int | None
    building_id: int | None
    compound_id: int | None
    photos: tuple[tuple[str, str], ...] = ()  # (channel, ref)
    voice: tuple[str, str, int] | None = None  # (channel, ref, seconds)
    latitude: float | None = None
    longitude: float | None = None
    location_text: str = ""
    share_contact: bool = False


def _resident(person_id: int) -> Actor:
    return Actor(person_id, "resident")


def file_ticket(session: Session, draft: Draft, reporter_id: int, now: datetime) -> Ticket:
    """Create a ticket from a confirmed draft, with its first timeline event and attachments."""
    if not draft.description and draft.voice is None:
        raise TicketError("empty_description")
    ticket = Ticket(
        category=draft.category,
        sla_class=draft.sla_class,
        urgent=draft.urgent,
        state=states.NEW,
        reporter_id=reporter_id,
        home_id=draft.home_id,
        building_id=draft.building_id,
        compound_id=draft.compound_id,
        description=draft.description[:MAX_DESCRIPTION],
        latitude=draft.latitude,
        longitude=draft.longitude,
        location_text=draft.location_text,
        share_contact=draft.share_contact,
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    session.flush()
    event = record(
        session, ticket, _resident(reporter_id), "created", draft.description[:MAX_DESCRIPTION], now
    )
    attach(session, ticket, event, list(draft.photos))
    if draft.voice:
        channel, ref, seconds = draft.voice
        session.add(
            Attachment(
                ticket_id=id_of(ticket),
                event_id=event.id,
                kind="voice",
                channel=channel,
                ref=ref,
                duration=seconds,
            )
        )
    session.flush()
    return ticket


def find_open_match(
    session: Session, building_id: int | None, category: str, person_id: int
) -> Ticket | None:
    """An open ticket of the same category in the same building that this person is not already on."""
    if building_id is None:
        return None
    params = {"b_building_id": building_id, "b_category": category, "b_person_id": person_id}
    return session.exec(_OPEN_MATCH, params=params).first()


# Built once: it runs on every report's description, and building it costs more than running it.
_OPEN_MATCH = (
    select(Ticket)
    .where(
        Ticket.building_id == bindparam("b_building_id"),
        Ticket.category == bindparam("b_category"),
        col(Ticket.state).in_(OPEN_STATES),
        Ticket.reporter_id != bindparam("b_person_id"),
        col(Ticket.id).not_in(
            select(TicketFollower.ticket_id).where(TicketFollower.person_id == bindparam("b_person_id"))
        ),
    )
    .order_by(col(Ticket.weight).desc(), col(Ticket.id))
    .limit(1)
)


def join_ticket(session: Session, ticket_id: int, person_id: int, note: str, now: datetime) -> Ticket:
    """Add a resident to an open ticket ("me too"): it gains weight and a timeline event."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or not states.is_open(ticket):
        raise TicketError("not_open")
    if ticket.reporter_id == person_id or session.get(TicketFollower, (ticket_id, person_id)) is not None:
        return ticket
    session.add(TicketFollower(ticket_id=ticket_id, person_id=person_id, joined_at=now))
    ticket.weight += 1
    record(session, ticket, _resident(person_id), "me_too", note[:MAX_NOTE], now)
    return ticket


def visible_ticket(session: Session, ticket_id: int, person_id: int) -> Ticket | None:
    """The ticket if this resident reported or joined it; otherwise None (no hint it exists)."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        return None
    if ticket.reporter_id == person_id or session.get(TicketFollower, (ticket_id, person_id)) is not None:
        return ticket
    return None


def tickets_of(session: Session, person_id: int, limit: int = 20) -> list[Ticket]:
    """A resident's tickets (reported or joined), most recently changed first."""
    joined = select(TicketFollower.ticket_id).where(TicketFollower.person_id == person_id)
    return list(
        session.exec(
            select(Ticket)
            .where(or_(col(Ticket.reporter_id) == person_id, col(Ticket.id).in_(joined)))
            .order_by(col(Ticket.updated_at).desc(), col(Ticket.id).desc())
            .limit(limit)
        ).all()
    )


def timeline(session: Session, ticket_id: int) -> list[tuple[TicketEvent, list[Attachment]]]:
    """A ticket's events in order, each with its attachments."""
    events = session.exec(
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket_id)
        .order_by(col(TicketEvent.at), col(TicketEvent.id))
    ).all()
    files = session.exec(
        select(Attachment).where(Attachment.ticket_id == ticket_id).order_by(col(Attachment.id))
    ).all()
    by_event: dict[int | None, list[Attachment]] = {}
    for item in files:
        by_event.setdefault(item.event_id, []).append(item)
    return [(event, by_event.get(event.id, [])) for event in events]


def add_note(
    session: Session, ticket: Ticket, person_id: int, note: str, photos: list[tuple[str, str]], now: datetime
) -> TicketEvent:
    """A resident adds a note and/or photos to their open ticket."""
    states.require_open(ticket)
    event = record(session, ticket, _resident(person_id), "note" if note else "photo", note[:MAX_NOTE], now)
    attach(session, ticket, event, photos)
    session.flush()
    return event


def withdraw(session: Session, ticket: Ticket, person_id: int, now: datetime) -> None:
    """The reporter withdraws an open ticket; a follower only leaves it."""
    states.require_open(ticket)
    if ticket.reporter_id != person_id:
        follower = session.get(TicketFollower, (ticket.id, person_id))
        if follower is not None:
            session.delete(follower)
            ticket.weight = max(1, ticket.weight - 1)
            record(session, ticket, _resident(person_id), "left", "", now)
        return
    states.withdrawn(ticket, now)
    clocks.stop(ticket)  # nothing left to chase
    record(session, ticket, _resident(person_id), "withdrawn", "", now)
