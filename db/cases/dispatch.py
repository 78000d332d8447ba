"""Dispatch and assignment (DESIGN §4.1): a new ticket goes to its building's grid worker (the backup when
the primary is off duty), else to the community's queue; staff give a ticket to someone in their
jurisdiction. Each rule changes the ticket in the caller's transaction and returns the events it caused;
who may assign is the use case's question (core/tickets.py)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from core.events import Event, TicketAssigned
from db.cases import clocks, places, states
from db.cases.timeline import SYSTEM, Actor, number, record
from db.models import Person, Ticket, TicketEvent
from db.sla import Policy


def dispatch(session: Session, ticket: Ticket, now: datetime, policy: Policy) -> list[Event]:
    """Set the promised deadlines and hand a new ticket to its grid worker, or to the community's queue."""
    # Looked up before the ticket changes, and the clock started before the timeline's flush: the new
    # ticket is then updated once, not once per lookup.
    grid_id, worker_id = places.grid_worker_for(session, ticket.building_id)
    holder_node_id = places.level_node(session, ticket, "community")
    accept_by = clocks.promise(ticket, policy)
    ticket.grid_id = grid_id
    ticket.holder_node_id = holder_node_id
    if worker_id is not None:
        ticket.level = "grid"
        states.handed_to(ticket, worker_id)
    else:
        ticket.level = "community"
        states.queued(ticket)
    clocks.start(ticket, clocks.ACCEPT, now, policy, accept_by - now)
    record(session, ticket, SYSTEM, "assigned" if worker_id is not None else "queued", "", now)
    return [TicketAssigned(number(ticket))]


def assign(
    session: Session, ticket: Ticket, actor: Actor, worker_id: int, now: datetime, policy: Policy
) -> list[Event]:
    """Give a ticket to a grid worker (or another staff member); a pending transfer request is settled."""
    states.require_open(ticket)
    ticket.transfer_requested_by, ticket.transfer_reason = None, ""
    escalated = session.exec(
        select(TicketEvent.id).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "escalated")
    ).first()
    if ticket.level == "community" and escalated is None:
        # From the community's queue to a grid worker: the ladder starts at the grid, as after dispatch.
        grid = places.grid_of_worker(session, ticket.holder_node_id, worker_id)
        if grid is not None:
            ticket.level, ticket.grid_id = "grid", grid.id
    if states.assigned(ticket, worker_id) and ticket.clock_stage != clocks.ACCEPT:
        clocks.start(ticket, clocks.ACCEPT, now, policy)
    worker = session.get(Person, worker_id)
    record(session, ticket, actor, "assigned", worker.name if worker else "", now)
    return [TicketAssigned(number(ticket), by=actor.person_id)]
