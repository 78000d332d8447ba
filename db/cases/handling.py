"""The handler's work on a ticket (DESIGN §4.1): accept it, post progress, ask the resident (the clock
pauses) and take up the answer (it runs again, every deadline shifted by the wait).

Each rule changes the ticket in the caller's transaction and returns the events it caused. `actor` is who
acts in which role, as the use case found it allowed (core/tickets.py)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from core.events import Event, ProgressPosted, ResidentAnswered, ResidentAsked, TicketAccepted, TicketReplied
from db.cases import clocks, states
from db.cases.timeline import Actor, attach, number, record
from db.models import Ticket
from db.sla import Policy


def accept(session: Session, ticket: Ticket, actor: Actor, now: datetime, policy: Policy) -> list[Event]:
    """The handler takes the ticket on: the accept clock stops and the resolve clock runs."""
    states.accepted(ticket, actor.person_id, now)
    record(session, ticket, actor, "accepted", "", now)
    clocks.resolve_after_accept(ticket, now, policy)
    return [TicketAccepted(number(ticket), actor.role)]


def add_progress(
    session: Session, ticket: Ticket, actor: Actor, note: str, now: datetime, photos: list[tuple[str, str]]
) -> list[Event]:
    """The handler posts progress (a note, and photos if any); the residents see it."""
    event = record(session, ticket, actor, "progress", note, now)
    attach(session, ticket, event, photos)
    return [ProgressPosted(number(ticket), actor.role, note, tuple(photos))]


def ask_resident(
    session: Session, ticket: Ticket, actor: Actor, question: str, now: datetime, policy: Policy
) -> list[Event]:
    """The handler needs something from the resident: the clock pauses until they answer."""
    states.paused(ticket, now)
    clocks.recompute(ticket, policy)
    record(session, ticket, actor, "asked", question, now)
    return [ResidentAsked(number(ticket), actor.role, question)]


def resume(ticket: Ticket, now: datetime, policy: Policy) -> bool:
    """Restart the clocks of a paused ticket, every deadline shifted by the time it waited."""
    waited = states.resumed(ticket, now)
    if waited is None:
        return False
    clocks.shift(ticket, waited, policy)
    return True


def resident_answered(ticket: Ticket, now: datetime, policy: Policy) -> list[Event]:
    """The resident added something while the ticket waited for them: the clocks run again, shifted."""
    return [ResidentAnswered(number(ticket))] if resume(ticket, now, policy) else []


def reply(session: Session, ticket: Ticket, actor: Actor, text: str, now: datetime) -> list[Event]:
    """Staff or the handler answer the residents (a reply template, edited): on the timeline they see,
    and pushed to the reporter and those who joined."""
    if ticket.state not in states.FOLLOWED:
        raise states.TicketError("not_open")
    if not text.strip():
        raise states.TicketError("note_required")
    record(session, ticket, actor, "reply", text.strip(), now)
    return [TicketReplied(number(ticket), actor.role, text.strip())]


def internal_note(session: Session, ticket: Ticket, actor: Actor, text: str, now: datetime) -> list[Event]:
    """A note for staff and the holder only: the residents never see it and nobody is pushed."""
    if not text.strip():
        raise states.TicketError("note_required")
    record(session, ticket, actor, "internal", text.strip(), now)
    return []
