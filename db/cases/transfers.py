"""Transfers (DESIGN §4.1): a designated handler cannot simply hand a ticket back; they ask, and the
community staff decide. An approved transfer returns the ticket to the community's queue.

Each rule changes the ticket in the caller's transaction and returns the events it caused; who may ask
and who may decide is the use case's question (core/tickets.py)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from core.events import Event, TransferDecided, TransferRequested
from db.cases import clocks, places, states
from db.cases.timeline import Actor, number, record
from db.models import Ticket
from db.sla import Policy


def request_transfer(
    session: Session, ticket: Ticket, actor: Actor, reason: str, now: datetime
) -> list[Event]:
    """The handler asks for the ticket to go to someone else, with a reason."""
    if not reason.strip():
        raise states.TicketError("reason_required")
    if ticket.transfer_requested_by is not None:
        raise states.TicketError("transfer_pending")
    ticket.transfer_reason, ticket.transfer_requested_by = reason.strip()[:500], actor.person_id
    record(session, ticket, actor, "transfer_requested", reason, now)
    return [TransferRequested(number(ticket), reason)]


def decide_transfer(
    session: Session, ticket: Ticket, actor: Actor, approve: bool, now: datetime, policy: Policy
) -> list[Event]:
    """Staff decide a transfer request: approved returns the ticket to their queue for reassignment."""
    if ticket.transfer_requested_by is None:
        raise states.TicketError("no_transfer")
    requester = ticket.transfer_requested_by
    ticket.transfer_requested_by, reason = None, ticket.transfer_reason
    ticket.transfer_reason = ""
    if approve:
        record(session, ticket, actor, "transfer_approved", reason, now)
        if ticket.holder_id == requester:
            if ticket.level == "grid":
                ticket.level = "community"
                ticket.holder_node_id = places.level_node(session, ticket, "community")
            if states.returned_to_queue(ticket):
                # Back in the community's queue: whoever is assigned next accepts it afresh.
                clocks.start(ticket, clocks.ACCEPT, now, policy)
    else:
        record(session, ticket, actor, "transfer_rejected", reason, now)
    return [TransferDecided(number(ticket), requester, approve)]
