"""Resolution and follow-up (DESIGN §4.1): the handler resolves with a closure kind and a note; the reporter
rates the result (满意 / 基本满意 close it, 不满意 reopens it one level up, same handler); staff close a
ticket as a duplicate of another.

Each rule changes the ticket in the caller's transaction and returns the events it caused; who may do it
is the use case's question (core/tickets.py)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from core.events import Event, TicketClosedAsDuplicate, TicketReopened, TicketResolved
from db.cases import clocks, places, states
from db.cases.handling import resume
from db.cases.ladder import climb
from db.cases.timeline import SYSTEM, Actor, attach, number, record
from db.models import Ticket, TicketFollower
from db.sla import Policy

PHOTO_KINDS = ("fixed", "partly_fixed")  # closures of a facility repair that need an "after" photo


def resolve(
    session: Session,
    ticket: Ticket,
    actor: Actor,
    kind: str,
    note: str,
    photos: list[tuple[str, str]],
    facility: bool,
    now: datetime,
    policy: Policy,
) -> list[Event]:
    """The handler closes the work with a closure kind and a note; residents are asked to rate it."""
    if kind not in states.CLOSURE_KINDS:
        raise states.TicketError("bad_kind")
    if not note.strip():
        raise states.TicketError("note_required")
    if facility and kind in PHOTO_KINDS and not photos:
        raise states.TicketError("photo_required")  # facility repairs are closed with an "after" photo
    resume(ticket, now, policy)  # resolving while waiting: the pause ends, nobody answered
    states.resolved(ticket, kind, now)
    ticket.transfer_requested_by, ticket.transfer_reason = None, ""
    event = record(session, ticket, actor, "resolved", note, now)
    attach(session, ticket, event, photos)
    clocks.start(ticket, clocks.FOLLOWUP, now, policy)
    return [TicketResolved(number(ticket), actor.role, kind, note, tuple(photos[:5]))]


def rate(
    session: Session, ticket: Ticket, actor: Actor, rating: str, comment: str, now: datetime, policy: Policy
) -> list[Event]:
    """The reporter rates the result: satisfied closes; dissatisfied reopens one level up, same handler."""
    states.rated(ticket, rating, comment)
    record(session, ticket, actor, f"rated_{rating}", comment, now)
    if rating != "dissatisfied":
        states.closed(ticket, now)
        clocks.stop(ticket)
        return []
    states.reopened(ticket)
    climb(session, ticket)
    clocks.start(ticket, clocks.RESOLVE, now, policy)
    record(session, ticket, SYSTEM, "reopened", ticket.level, now)
    return [TicketReopened(number(ticket), ticket.rating_comment)]


def close_duplicate(
    session: Session, ticket: Ticket, actor: Actor, original: Ticket, now: datetime
) -> list[Event]:
    """Close a ticket as a duplicate of another open one; its residents follow the original."""
    states.closed_as_duplicate(ticket, original, now)
    for person_id in places.residents_of(session, ticket):
        if (
            person_id != original.reporter_id
            and session.get(TicketFollower, (original.id, person_id)) is None
        ):
            session.add(TicketFollower(ticket_id=number(original), person_id=person_id, joined_at=now))
            original.weight += 1
    ticket.transfer_requested_by, ticket.transfer_reason = None, ""
    clocks.stop(ticket)
    record(session, ticket, actor, "duplicate", f"#{original.id}", now)
    return [TicketClosedAsDuplicate(number(ticket), number(original))]
