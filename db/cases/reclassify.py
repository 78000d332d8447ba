"""Reclassification (DESIGN §4.1): staff change a ticket's category or urgency with a reason. The SLA class
follows the category and the deadlines follow the policy's clocks for the new class: the promise made at
filing and the running clock each move by the difference between the old and the new clock length, so a
pause already counted in them stays counted.

The rule changes the ticket in the caller's transaction and returns the events it caused; who may do it
is the use case's question (core/tickets.py)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from core.events import Event, TicketReclassified
from db.cases import clocks, states
from db.cases.timeline import Actor, number, record
from db.models import Ticket
from db.sla import Policy


def reclassify(
    session: Session,
    ticket: Ticket,
    actor: Actor,
    category: str,
    sla_class: str,
    urgent: bool,
    reason: str,
    now: datetime,
    policy: Policy,
) -> list[Event]:
    """Give an open ticket another category (and its SLA class) or urgency; the residents are told."""
    states.require_open(ticket)
    if not reason.strip():
        raise states.TicketError("reason_required")
    if (category, sla_class, urgent) == (ticket.category, ticket.sla_class, ticket.urgent):
        raise states.TicketError("unchanged")
    old = policy.clocks(ticket.category, ticket.sla_class, ticket.urgent)
    new = policy.clocks(category, sla_class, urgent)
    accept_by, resolve_by = new.accept - old.accept, new.resolve - old.resolve
    ticket.category, ticket.sla_class, ticket.urgent = category, sla_class, urgent
    if ticket.accept_due_at is not None:
        ticket.accept_due_at += accept_by
    if ticket.resolve_due_at is not None:
        ticket.resolve_due_at += resolve_by
    if ticket.clock_due_at is not None and ticket.clock_stage in (clocks.ACCEPT, clocks.RESOLVE):
        ticket.clock_due_at += accept_by if ticket.clock_stage == clocks.ACCEPT else resolve_by
        begin = ticket.clock_started_at or ticket.created_at
        span = ticket.clock_due_at - begin
        # Reminder points the new clock has already passed count as sent: no burst of late reminders.
        ticket.reminders_sent = sum(1 for f in policy.reminders if begin + span * f <= now)
        clocks.recompute(ticket, policy)
    record(session, ticket, actor, "reclassified", reason.strip(), now)
    due = ticket.resolve_due_at if ticket.clock_stage != clocks.ACCEPT else ticket.accept_due_at
    return [TicketReclassified(number(ticket), category, urgent, reason.strip(), due)]
