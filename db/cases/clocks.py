"""A ticket's clocks (DESIGN §4.1): the one its holder runs against, its reminder points, and the column
the sweep reads (`next_due_at`), recomputed on every change."""

from __future__ import annotations

from datetime import datetime, timedelta

from db.models import Ticket
from db.sla import Policy

ACCEPT, RESOLVE, FOLLOWUP = "accept", "resolve", "followup"


def recompute(ticket: Ticket, policy: Policy) -> None:
    """Set next_due_at: the next reminder point of the running clock, its breach, or the follow-up."""
    if ticket.paused_at is not None or not ticket.clock_stage or ticket.clock_due_at is None:
        ticket.next_due_at = None
        return
    if ticket.clock_stage == FOLLOWUP:
        ticket.next_due_at = ticket.clock_due_at
        return
    start = ticket.clock_started_at or ticket.created_at
    span = ticket.clock_due_at - start
    points = [start + span * f for f in policy.reminders]
    upcoming = points[ticket.reminders_sent :]
    ticket.next_due_at = upcoming[0] if upcoming else ticket.clock_due_at


def start(ticket: Ticket, stage: str, now: datetime, policy: Policy, length: timedelta | None = None) -> None:
    """Run a fresh clock of a stage (its policy length unless given) from now."""
    clocks = policy.clocks(ticket.category, ticket.sla_class, ticket.urgent)
    if length is None:
        length = {ACCEPT: clocks.accept, RESOLVE: clocks.resolve, FOLLOWUP: policy.followup}[stage]
    ticket.clock_stage = stage
    ticket.clock_started_at = now
    ticket.clock_due_at = now + length
    ticket.reminders_sent = 0
    recompute(ticket, policy)


def stop(ticket: Ticket) -> None:
    """Nothing left to chase: no clock, nothing due."""
    ticket.clock_stage, ticket.clock_due_at, ticket.next_due_at = "", None, None


def promise(ticket: Ticket, policy: Policy) -> datetime:
    """Set the deadlines promised at filing, which the rates judge the ticket by; returns the accept one."""
    clocks = policy.clocks(ticket.category, ticket.sla_class, ticket.urgent)
    accept_by = ticket.accept_due_at = ticket.created_at + clocks.accept
    ticket.resolve_due_at = ticket.created_at + clocks.resolve
    return accept_by


def resolve_after_accept(ticket: Ticket, now: datetime, policy: Policy) -> None:
    """On acceptance the resolve clock runs: the promise made at filing if it still stands, else a fresh
    clock for the new holder; reminder points already passed count as sent."""
    clocks = policy.clocks(ticket.category, ticket.sla_class, ticket.urgent)
    promised = ticket.resolve_due_at
    if promised is not None and promised > now:
        begin, due = ticket.created_at, promised
    else:
        begin, due = now, now + clocks.resolve
    ticket.clock_stage, ticket.clock_started_at, ticket.clock_due_at = RESOLVE, begin, due
    ticket.reminders_sent = sum(1 for f in policy.reminders if begin + (due - begin) * f <= now)
    recompute(ticket, policy)


def shift(ticket: Ticket, waited: timedelta, policy: Policy) -> None:
    """After a pause every deadline moves on by the time it waited, and the clock runs again."""
    for name in ("accept_due_at", "resolve_due_at", "clock_started_at", "clock_due_at"):
        value = getattr(ticket, name)
        if value is not None:
            setattr(ticket, name, value + waited)
    recompute(ticket, policy)


def remind(ticket: Ticket, now: datetime, policy: Policy) -> float:
    """Count a reminder as sent and return its point (a fraction of the clock). After an outage several
    points may have passed: only the latest one is sent."""
    if ticket.clock_due_at is None:
        raise ValueError("no clock runs: nothing to remind of")
    begin = ticket.clock_started_at or ticket.created_at
    span = ticket.clock_due_at - begin
    ticket.reminders_sent = max(
        ticket.reminders_sent + 1, sum(1 for f in policy.reminders if begin + span * f <= now)
    )
    point = policy.reminders[ticket.reminders_sent - 1]
    recompute(ticket, policy)
    return point
