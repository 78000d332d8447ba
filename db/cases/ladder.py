"""The escalation ladder (DESIGN §4.1): grid worker → community → street → district department. Reminders
at the policy's points of a clock; at breach the ticket climbs a level and a new clock starts there; at the
top the supervisors are alerted; a resolution nobody rated closes when the follow-up runs out.

`step` is what the sweep applies to a ticket whose `next_due_at` has come; it returns the events it caused
and what it did, by name ("reminder_50", "escalated_street", … or "" for nothing)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from core.events import Event, TicketBreached, TicketEscalated, TicketReminded, TicketSupervised
from db.cases import clocks, places, states
from db.cases.timeline import SYSTEM, Actor, number, record
from db.models import Ticket
from db.sla import Policy


def climb(session: Session, ticket: Ticket) -> bool:
    """Move the ticket one level up the ladder; False when it is already at the top."""
    levels = places.LEVELS
    index = levels.index(ticket.level) if ticket.level in levels else 0
    if index + 1 >= len(levels):
        return False
    ticket.level = levels[index + 1]
    ticket.holder_node_id = places.level_node(session, ticket, ticket.level) or ticket.holder_node_id
    return True


def step(session: Session, ticket: Ticket, now: datetime, policy: Policy) -> tuple[str, list[Event]]:
    """Apply whatever is due on a ticket now: a reminder, an escalation, or the unrated close."""
    if ticket.next_due_at is None or ticket.next_due_at > now:
        return "", []
    if ticket.clock_stage == clocks.FOLLOWUP:
        if ticket.state != states.RESOLVED:
            ticket.clock_stage, ticket.next_due_at = "", None
            return "", []
        states.closed(ticket, now)
        clocks.stop(ticket)
        record(session, ticket, SYSTEM, "closed_unrated", "", now)
        return "closed_unrated", []
    if ticket.state not in states.ACTIVE_STATES or ticket.clock_due_at is None:
        ticket.next_due_at = None
        return "", []
    if now < ticket.clock_due_at:
        point = clocks.remind(ticket, now, policy)
        reminded = TicketReminded(number(ticket), point, ticket.clock_stage, ticket.clock_due_at)
        return f"reminder_{round(point * 100)}", [reminded]
    # The clock has run out: climb one level and start a new clock there.
    previous = ticket.level
    if not climb(session, ticket):
        ticket.clock_due_at = None
        ticket.next_due_at = None
        record(session, ticket, SYSTEM, "supervisor_alert", ticket.clock_stage, now)
        return "supervisor_alert", [TicketBreached(number(ticket), ticket.level, ticket.clock_stage)]
    states.unheld(ticket)
    stage = ticket.clock_stage
    record(session, ticket, SYSTEM, "escalated", f"{previous}>{ticket.level}", now)
    clocks.start(ticket, stage, now, policy)
    return f"escalated_{ticket.level}", [TicketEscalated(number(ticket), previous, ticket.level)]


def escalate_by_hand(
    session: Session, ticket: Ticket, actor: Actor, now: datetime, policy: Policy
) -> list[Event]:
    """Staff above the ticket's level push it one level up (督办上报), as a breach would: the new level's
    staff are told, a running clock starts afresh there, the residents hear who handles it now."""
    states.require_open(ticket)
    previous = ticket.level
    if not climb(session, ticket):
        raise states.TicketError("at_top")
    states.unheld(ticket)
    record(session, ticket, actor, "escalated", f"{previous}>{ticket.level}", now)
    if ticket.paused_at is None and ticket.clock_stage in (clocks.ACCEPT, clocks.RESOLVE):
        clocks.start(ticket, ticket.clock_stage, now, policy)
    return [TicketEscalated(number(ticket), previous, ticket.level, by_hand=True)]


def supervise(session: Session, ticket: Ticket, actor: Actor, note: str, now: datetime) -> list[Event]:
    """Staff above the ticket's level send whoever holds it a supervision reminder (督办) with a note; it
    stays on the staff's side of the timeline."""
    states.require_open(ticket)
    if not note.strip():
        raise states.TicketError("note_required")
    record(session, ticket, actor, "supervised", note.strip(), now)
    return [TicketSupervised(number(ticket), actor.role, note.strip())]
