"""Ticket use cases (DESIGN §4.1): what residents, handlers, staff and the scheduler may do to a ticket.

Each command loads what it needs, asks the permission policy once whether this actor may (and in which
role, for the timeline), applies the rules of db/cases, records the events they caused on the `Work` and
returns a small result. A refusal raises `TicketError` whose `reason` names the message the user sees and
whose `state` is what the ticket was. The chat's handlers, the scheduler and the dispatcher call these,
never the rules directly; the caller publishes the work's events and commits.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from core import audit, permissions
from core.events import ResidentUnreachable
from core.permissions import LEVEL_ROLE, STAFF_ROLES, SUPERVISOR_ROLES, Action, may
from core.work import Work
from db import people
from db import tickets as filing
from db.cases import dispatch, handling, ladder, places, resolution, states, transfers
from db.cases import reclassify as reclassing
from db.cases.states import TicketError
from db.cases.timeline import Actor, number
from db.categories import Category
from db.models import Person, Ticket

__all__ = ["Assigned", "Done", "TicketError", "Withdrawn"]


@dataclass(frozen=True, slots=True)
class Done:
    """The ticket as a command left it: its code, category, state, level, urgency and weight."""

    ticket_id: int
    category: str
    state: str
    level: str
    urgent: bool
    weight: int


@dataclass(frozen=True, slots=True)
class Assigned:
    """Who the ticket was given to."""

    ticket_id: int
    name: str


@dataclass(frozen=True, slots=True)
class Withdrawn:
    """A reporter withdrew the ticket (`mine`), or a neighbour who joined it left."""

    ticket_id: int
    mine: bool


def _done(ticket: Ticket) -> Done:
    return Done(number(ticket), ticket.category, ticket.state, ticket.level, ticket.urgent, ticket.weight)


def _resident(actor: permissions.Actor) -> int:
    """The person behind a resident's action (the system never acts as a resident)."""
    if actor.person_id is None:
        raise TicketError("not_found")
    return actor.person_id


def _load(work: Work, ticket_id: int) -> Ticket:
    ticket = work.session.get(Ticket, ticket_id)
    if ticket is None:
        raise TicketError("not_found")
    return ticket


@contextmanager
def _about(ticket: Ticket) -> Iterator[Ticket]:
    """A refusal while acting on the ticket says what state it was in, as the chat shows it."""
    try:
        yield ticket
    except TicketError as error:
        raise TicketError(error.reason, error.state or ticket.state, error.rating or ticket.rating) from None


def _role(work: Work, actor: permissions.Actor, ticket: Ticket, action: Action) -> str | None:
    """The role under which the actor may do the action to the ticket, or None when the policy says no."""
    role = permissions.acting_role(actor, action, places.ticket_target(work.session, ticket))
    return None if role is None else role.value


def _staff(work: Work, actor: permissions.Actor, ticket: Ticket, action: Action) -> Actor:
    role = _role(work, actor, ticket, action)
    if role is None:
        raise TicketError("not_allowed")
    return Actor(actor.person_id, role)


# --- the audit log ------------------------------------------------------------------------------------

STAFF_ROLE_VALUES = frozenset(r.value for r in STAFF_ROLES)


def _snapshot(ticket: Ticket) -> dict[str, Any]:
    """What the audit log keeps of a ticket before and after a staff action."""
    return {
        "state": ticket.state,
        "holder_id": ticket.holder_id,
        "category": ticket.category,
        "urgent": ticket.urgent,
        "level": ticket.level,
    }


def _audit(
    work: Work,
    actor: permissions.Actor,
    who: Actor,
    ticket: Ticket,
    action: str,
    before: dict[str, Any],
    **extra: Any,
) -> None:
    """Log a staff action on a ticket (chat or console: `work.via` tells) where its compound lies."""
    paths = places.ticket_target(work.session, ticket).paths
    after = {**_snapshot(ticket), **extra}
    audit.record(work, actor, who.role, action, "ticket", ticket.id, paths[0] if paths else "", before, after)


def _holder(work: Work, actor: permissions.Actor, ticket: Ticket) -> Actor:
    """Who works the open ticket: its handler, or staff of the level holding it."""
    states.require_open(ticket)
    role = _role(work, actor, ticket, Action.WORK_TICKET)
    if role is None:
        raise TicketError("not_yours")
    return Actor(actor.person_id, role)


# --- residents ----------------------------------------------------------------------------------------


def report(work: Work, actor: permissions.Actor, draft: filing.Draft) -> Done:
    """File a confirmed report and dispatch it to its grid worker, or to the community's queue."""
    reporter = _resident(actor)
    if not may(actor, Action.REPORT):
        raise TicketError("not_allowed")
    ticket = filing.file_ticket(work.session, draft, reporter, work.now)
    work.record(*dispatch.dispatch(work.session, ticket, work.now, work.policy))
    return _done(ticket)


def join(work: Work, actor: permissions.Actor, ticket_id: int, note: str) -> Done:
    """Join an open ticket about the same problem ("me too") instead of filing a copy."""
    resident = _resident(actor)
    if not may(actor, Action.REPORT):
        raise TicketError("not_allowed")
    return _done(filing.join_ticket(work.session, ticket_id, resident, note, work.now))


def _followed(work: Work, actor: permissions.Actor, ticket_id: int) -> Ticket:
    """A ticket the resident reported or joined, still open (another's is not shown to exist)."""
    found = filing.visible_ticket(work.session, ticket_id, _resident(actor))
    if found is None:
        raise TicketError("not_found")
    if not states.is_open(found):
        raise TicketError("not_open", found.state)
    return found


def check_followed(work: Work, actor: permissions.Actor, ticket_id: int) -> Withdrawn:
    """Before a note or a withdrawal: the open ticket is the resident's (`mine`) or one they joined."""
    ticket = _followed(work, actor, ticket_id)
    return Withdrawn(ticket_id, ticket.reporter_id == actor.person_id)


def add_note(
    work: Work, actor: permissions.Actor, ticket_id: int, note: str, photos: list[tuple[str, str]]
) -> Done:
    """A resident adds a note or photo; the reporter's answer restarts a clock that waited for them."""
    ticket = _followed(work, actor, ticket_id)
    filing.add_note(work.session, ticket, _resident(actor), note, photos, work.now)
    if ticket.state == states.WAITING and ticket.reporter_id == actor.person_id:
        work.record(*handling.resident_answered(ticket, work.now, work.policy))
    return _done(ticket)


def withdraw(work: Work, actor: permissions.Actor, ticket_id: int) -> Withdrawn:
    """The reporter withdraws the ticket; a neighbour who joined it only leaves."""
    ticket = _followed(work, actor, ticket_id)
    filing.withdraw(work.session, ticket, _resident(actor), work.now)
    return Withdrawn(ticket_id, ticket.reporter_id == actor.person_id)


def check_rating(work: Work, actor: permissions.Actor, ticket_id: int) -> None:
    """Whether the reporter may rate the ticket now (refused: not_reporter, or not_resolved)."""
    ticket = work.session.get(Ticket, ticket_id)
    if ticket is None or ticket.reporter_id != actor.person_id:
        raise TicketError("not_reporter")
    if ticket.state != states.RESOLVED:
        raise TicketError("not_resolved", ticket.state, ticket.rating)


def rate(work: Work, actor: permissions.Actor, ticket_id: int, rating: str, comment: str) -> Done:
    """The reporter rates the result: satisfied closes it, dissatisfied reopens it one level up."""
    check_rating(work, actor, ticket_id)
    ticket = _load(work, ticket_id)
    with _about(ticket):
        events = resolution.rate(
            work.session, ticket, Actor(actor.person_id, "resident"), rating, comment, work.now, work.policy
        )
    work.record(*events)
    return _done(ticket)


# --- the handler --------------------------------------------------------------------------------------


def check_work(work: Work, actor: permissions.Actor, ticket_id: int, intent: str = "") -> Done:
    """Whether the actor may work the ticket now, before a flow asks them to type anything: `intent` "ask"
    is refused while it waits for the resident, "transfer" while a transfer request is pending."""
    with _about(_load(work, ticket_id)) as ticket:
        _holder(work, actor, ticket)
        if intent == "ask" and ticket.state == states.WAITING:
            raise TicketError("waiting")
        if intent == "transfer" and ticket.transfer_requested_by is not None:
            raise TicketError("transfer_pending")
    return _done(ticket)


def accept(work: Work, actor: permissions.Actor, ticket_id: int) -> Done:
    """The handler takes the ticket on; its residents are told."""
    with _about(_load(work, ticket_id)) as ticket:
        who = _holder(work, actor, ticket)
        work.record(*handling.accept(work.session, ticket, who, work.now, work.policy))
    return _done(ticket)


def post_progress(
    work: Work, actor: permissions.Actor, ticket_id: int, note: str, photos: list[tuple[str, str]]
) -> Done:
    """The handler posts progress; the residents see it."""
    with _about(_load(work, ticket_id)) as ticket:
        who = _holder(work, actor, ticket)
        work.record(*handling.add_progress(work.session, ticket, who, note, work.now, photos))
    return _done(ticket)


def ask_resident(work: Work, actor: permissions.Actor, ticket_id: int, question: str) -> Done:
    """The handler asks the reporter something; the clock waits for the answer."""
    with _about(_load(work, ticket_id)) as ticket:
        who = _holder(work, actor, ticket)
        work.record(*handling.ask_resident(work.session, ticket, who, question, work.now, work.policy))
    return _done(ticket)


def request_transfer(work: Work, actor: permissions.Actor, ticket_id: int, reason: str) -> Done:
    """The handler asks the community staff to give the ticket to someone else."""
    with _about(_load(work, ticket_id)) as ticket:
        who = _holder(work, actor, ticket)
        work.record(*transfers.request_transfer(work.session, ticket, who, reason, work.now))
    return _done(ticket)


def resolve(
    work: Work,
    actor: permissions.Actor,
    ticket_id: int,
    kind: str,
    note: str,
    photos: list[tuple[str, str]],
    facility: bool,
) -> Done:
    """The handler resolves the ticket (a facility repair with an "after" photo); the reporter rates it."""
    with _about(_load(work, ticket_id)) as ticket:
        who = _holder(work, actor, ticket)
        before = _snapshot(ticket)
        events = resolution.resolve(
            work.session, ticket, who, kind, note, photos, facility, work.now, work.policy
        )
    if who.role in STAFF_ROLE_VALUES:  # a grid worker's own work is on the timeline, not the staff log
        _audit(work, actor, who, ticket, "ticket.resolve", before, closure_kind=kind, note=note.strip())
    work.record(*events)
    return _done(ticket)


# --- staff --------------------------------------------------------------------------------------------


def decide_transfer(work: Work, actor: permissions.Actor, ticket_id: int, approve: bool) -> Done:
    """Community staff approve a transfer request (the ticket returns to their queue) or refuse it."""
    with _about(_load(work, ticket_id)) as ticket:
        who = _staff(work, actor, ticket, Action.DECIDE_TRANSFER)
        before = _snapshot(ticket)
        work.record(*transfers.decide_transfer(work.session, ticket, who, approve, work.now, work.policy))
    decided = "ticket.transfer_approve" if approve else "ticket.transfer_refuse"
    _audit(work, actor, who, ticket, decided, before)
    return _done(ticket)


def _assigner(work: Work, actor: permissions.Actor, ticket: Ticket) -> Actor:
    who = _staff(work, actor, ticket, Action.ASSIGN_TICKET)
    states.require_open(ticket)
    return who


def check_assign(work: Work, actor: permissions.Actor, ticket_id: int) -> Ticket:
    """The open ticket, when the actor may give it to someone (refused: not_allowed, not_open)."""
    with _about(_load(work, ticket_id)) as ticket:
        _assigner(work, actor, ticket)
    return ticket


def assign(work: Work, actor: permissions.Actor, ticket_id: int, worker_id: int) -> Assigned:
    """Staff give the ticket to a grid worker (or another staff member) in its jurisdiction."""
    worker = work.session.get(Person, worker_id)
    if worker is None:
        raise TicketError("no_worker")
    with _about(_load(work, ticket_id)) as ticket:
        who = _assigner(work, actor, ticket)
        holder = permissions.Actor(worker_id, people.grants_of(work.session, worker_id))
        if _role(work, holder, ticket, Action.HOLD_TICKET) is None:
            raise TicketError("worker_outside")
        before = _snapshot(ticket)
        work.record(*dispatch.assign(work.session, ticket, who, worker_id, work.now, work.policy))
    _audit(work, actor, who, ticket, "ticket.assign", before)
    return Assigned(ticket_id, worker.name)


def check_duplicate(work: Work, actor: permissions.Actor, ticket_id: int) -> Done:
    """Before asking for the original: the actor may close this open ticket as a duplicate."""
    with _about(_load(work, ticket_id)) as ticket:
        _staff(work, actor, ticket, Action.CLOSE_DUPLICATE)
        states.require_open(ticket)
    return _done(ticket)


def close_duplicate(work: Work, actor: permissions.Actor, ticket_id: int, original_id: int | None) -> Done:
    """Staff close the ticket as a duplicate of another open one in their jurisdiction; its residents
    follow the original. Refused with `no_such_original` when the original is not one they may see, and
    `bad_original` when it is the ticket itself or no longer open (a slip of the finger: ask again)."""
    with _about(_load(work, ticket_id)) as ticket:
        original = work.session.get(Ticket, original_id) if original_id else None
        if original is None or _role(work, actor, original, Action.CLOSE_DUPLICATE) is None:
            raise TicketError("no_such_original")
        if states.is_open(ticket) and (original.id == ticket.id or not states.is_open(original)):
            raise TicketError("bad_original")
        who = _staff(work, actor, ticket, Action.CLOSE_DUPLICATE)
        before = _snapshot(ticket)
        work.record(*resolution.close_duplicate(work.session, ticket, who, original, work.now))
    _audit(work, actor, who, ticket, "ticket.duplicate", before, duplicate_of=original.id)
    return _done(ticket)


def reclassify(
    work: Work, actor: permissions.Actor, ticket_id: int, category: Category, urgent: bool, reason: str
) -> Done:
    """Staff who may assign the ticket change its category or urgency with a reason: its SLA class and
    deadlines follow the policy, and the residents are told."""
    with _about(_load(work, ticket_id)) as ticket:
        who = _staff(work, actor, ticket, Action.ASSIGN_TICKET)
        before = _snapshot(ticket)
        events = reclassing.reclassify(
            work.session, ticket, who, category.key, category.sla, urgent, reason, work.now, work.policy
        )
    _audit(work, actor, who, ticket, "ticket.reclassify", before, reason=reason.strip())
    work.record(*events)
    return _done(ticket)


def _rank(level: str) -> int:
    return places.LEVELS.index(level) if level in places.LEVELS else 0


def _above(work: Work, actor: permissions.Actor, ticket: Ticket) -> Actor:
    """Staff whose level on the ladder lies above the ticket's, over its place (the supervisors above
    the whole ladder too): who may supervise it or push it up (refused: not_above)."""
    states.require_open(ticket)
    target = places.ticket_target(work.session, ticket)
    top = len(places.LEVELS)
    for grant in actor.grants:
        level = next((lvl for lvl, role in LEVEL_ROLE.items() if role is grant.role), None)
        rank = _rank(level) if level else (top if grant.role in SUPERVISOR_ROLES else -1)
        if rank > _rank(ticket.level) and permissions.covers(grant, target):
            return Actor(actor.person_id, grant.role.value)
    raise TicketError("not_above")


def check_above(work: Work, actor: permissions.Actor, ticket: Ticket) -> None:
    """Whether the actor may supervise or push up the open ticket (refused: not_above, not_open)."""
    _above(work, actor, ticket)


def escalate(work: Work, actor: permissions.Actor, ticket_id: int, note: str) -> Done:
    """Staff above the ticket's level push it one level up by hand (督办上报), with an optional note for
    the staff's side of the timeline."""
    with _about(_load(work, ticket_id)) as ticket:
        who = _above(work, actor, ticket)
        before = _snapshot(ticket)
        events = ladder.escalate_by_hand(work.session, ticket, who, work.now, work.policy)
        if note.strip():
            handling.internal_note(work.session, ticket, who, note, work.now)
    _audit(work, actor, who, ticket, "ticket.escalate", before, note=note.strip())
    work.record(*events)
    return _done(ticket)


def supervise(work: Work, actor: permissions.Actor, ticket_id: int, note: str) -> Done:
    """Staff above the ticket's level send whoever holds it a supervision reminder (督办) with a note."""
    with _about(_load(work, ticket_id)) as ticket:
        who = _above(work, actor, ticket)
        before = _snapshot(ticket)
        events = ladder.supervise(work.session, ticket, who, note, work.now)
    _audit(work, actor, who, ticket, "ticket.supervise", before, note=note.strip())
    work.record(*events)
    return _done(ticket)


def _desk_role(work: Work, actor: permissions.Actor, ticket: Ticket) -> Actor:
    """Who may write on a ticket's timeline from the desk: whoever works it, or staff over its place."""
    role = _role(work, actor, ticket, Action.WORK_TICKET) or _role(work, actor, ticket, Action.VIEW_QUEUE)
    if role is None:
        raise TicketError("not_allowed")
    return Actor(actor.person_id, role)


def reply(work: Work, actor: permissions.Actor, ticket_id: int, text: str) -> Done:
    """Staff or the handler answer the residents of the ticket; the reporter and those who joined get it."""
    with _about(_load(work, ticket_id)) as ticket:
        who = _desk_role(work, actor, ticket)
        before = _snapshot(ticket)
        events = handling.reply(work.session, ticket, who, text, work.now)
    _audit(work, actor, who, ticket, "ticket.reply", before, note=text.strip())
    work.record(*events)
    return _done(ticket)


def internal_note(work: Work, actor: permissions.Actor, ticket_id: int, text: str) -> Done:
    """A note for staff and the holder only: never shown to the residents, pushed to nobody."""
    with _about(_load(work, ticket_id)) as ticket:
        who = _desk_role(work, actor, ticket)
        before = _snapshot(ticket)
        handling.internal_note(work.session, ticket, who, text, work.now)
    _audit(work, actor, who, ticket, "ticket.internal_note", before, note=text.strip())
    return _done(ticket)


# --- the scheduler and the dispatcher -----------------------------------------------------------------


def step(work: Work, ticket: Ticket) -> str:
    """Apply what is due on a (locked) ticket now: a reminder, an escalation, an alert at the top of the
    ladder, or the close of a resolution nobody rated; returns what was done ("" for nothing)."""
    done, events = ladder.step(work.session, ticket, work.now, work.policy)
    work.record(*events)
    return done


def resident_unreachable(work: Work, ticket_id: int, resident_id: int) -> bool:
    """A resident of the ticket blocked the bot: while it is still followed, whoever holds it is told to
    phone or visit. False when there is nothing to tell."""
    ticket = work.session.get(Ticket, ticket_id)
    if ticket is None or resident_id not in places.residents_of(work.session, ticket):
        return False
    if ticket.state not in states.FOLLOWED:
        return False
    work.record(ResidentUnreachable(number(ticket), resident_id))
    return True
