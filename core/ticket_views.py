"""Ticket queries: a handler's task list and task card, staff's work queue and whom they may assign, a
resident's tickets and a ticket's page. Each asks the permission policy first and returns plain data; the
chat (or any other channel) lays it out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from core import permissions, tickets
from core.permissions import LEVEL_ROLE, Action, grants_for, may
from core.ticket_cards import (
    Actions,
    card_context,
    mask_phone,
    phone_tail,
    photo_counts,
    shown_name,
    task_actions,
)
from core.work import Work
from db import people
from db import tickets as filing
from db.cases import clocks, places, states
from db.cases.timeline import STAFF_ONLY
from db.models import Attachment, Grid, OrgNode, Person, Ticket, TicketEvent
from db.org import in_subtrees
from db.rows import id_of

TicketError = tickets.TicketError
LIST_LIMIT = 30
SCAN_LIMIT = 500
SECTIONS = ("unassigned", "transfer", "overdue", "escalated")
ROLE_LEVEL = {role: level for level, role in LEVEL_ROLE.items()}


def overdue(ticket: Ticket, now: datetime) -> bool:
    """Whether the clock the holder runs against has run out (a paused one never has)."""
    return (
        ticket.paused_at is None
        and ticket.clock_stage in (clocks.ACCEPT, clocks.RESOLVE)
        and ticket.clock_due_at is not None
        and ticket.clock_due_at <= now
    )


# --- the handler's tasks ------------------------------------------------------------------------------


def tasks_for(work: Work, actor: permissions.Actor) -> list[Ticket]:
    """The open tickets the actor holds, and those waiting unassigned at a level they staff, the nearest
    deadline first (refused: not_allowed, for someone with no task list)."""
    if not may(actor, Action.LIST_TASKS):
        raise TicketError("not_allowed")
    conditions: list[Any] = [Ticket.holder_id == actor.person_id]
    for grant in actor.grants:
        for level, role in LEVEL_ROLE.items():
            if grant.role is role:
                conditions.append(
                    and_(
                        col(Ticket.holder_id).is_(None),
                        col(Ticket.level) == level,
                        col(Ticket.holder_node_id) == grant.node_id,
                    )
                )
    return list(
        work.session.exec(
            select(Ticket)
            .where(or_(*conditions), col(Ticket.state).in_(states.OPEN_STATES))
            .order_by(col(Ticket.clock_due_at).is_(None), col(Ticket.clock_due_at), col(Ticket.id))
            .limit(LIST_LIMIT)
        ).all()
    )


@dataclass(frozen=True, slots=True)
class TaskCard:
    """A task card: what it shows, the actions it offers, and the residents' photos as (channel, ref);
    the report's voice as (channel, ref, seconds) when it was spoken."""

    context: dict[str, Any]
    actions: Actions
    photos: list[tuple[str, str]]
    voice: tuple[str, str, int] | None = None


def task_card(work: Work, actor: permissions.Actor, ticket_id: int) -> TaskCard:
    """The card of a ticket the actor may work: the problem, where, the deadline; the complainant only
    where the policy allows (refused like `check_work`)."""
    tickets.check_work(work, actor, ticket_id)
    ticket = work.session.get(Ticket, ticket_id)
    assert ticket is not None  # check_work found it
    context, photos = _card(work, actor, ticket, places.ticket_target(work.session, ticket))
    return TaskCard(context, task_actions(ticket), photos, _voice(context))


def _card(
    work: Work, actor: permissions.Actor, ticket: Ticket, target: permissions.Target
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """What a ticket's card shows this actor (the complainant only where allowed), and its photos."""
    context = card_context(work.session, ticket, private=not may(actor, Action.SEE_REPORTER, target))
    photos = [(str(channel), str(ref)) for channel, ref in context.pop("_photos", [])]
    context.update(
        code=ticket.id,
        category=ticket.category,
        overdue=overdue(ticket, work.now),
        paused=ticket.paused_at is not None,
        transfer_pending=ticket.transfer_requested_by is not None,
    )
    return context, photos


def staff_card(work: Work, actor: permissions.Actor, ticket_id: int) -> TaskCard | None:
    """`#N` for staff: any ticket in their jurisdiction, whoever holds it, as its task card with who holds
    it, and the assign button when they may assign it; None outside their jurisdiction (as not found)."""
    ticket = work.session.get(Ticket, ticket_id)
    if ticket is None:
        return None
    target = places.ticket_target(work.session, ticket)
    if not may(actor, Action.VIEW_QUEUE, target):
        return None
    context, photos = _card(work, actor, ticket, target)
    holder = work.session.get(Person, ticket.holder_id) if ticket.holder_id is not None else None
    context["holder"] = shown_name(work.session, holder)
    context["holder_tail"] = phone_tail(holder.phone) if holder is not None else ""
    context["held"] = holder is not None
    return TaskCard(context, (), photos, _voice(context))


def _voice(context: dict[str, Any]) -> tuple[str, str, int] | None:
    """The card's voice (channel, ref, seconds), taken out of its context."""
    found = context.pop("_voice", [])
    return (str(found[0]), str(found[1]), int(found[2])) if found else None


# --- staff's queue ------------------------------------------------------------------------------------


def jurisdiction(work: Work, actor: permissions.Actor, action: Action = Action.VIEW_QUEUE) -> list[OrgNode]:
    """The org nodes the actor answers for, for the action (none: not theirs to do)."""
    nodes = (work.session.get(OrgNode, g.node_id) for g in grants_for(actor, action))
    return [n for n in nodes if n is not None]


@dataclass(frozen=True, slots=True)
class QueueLine:
    """A ticket in the work queue, with the place it is about (compound and building) and how many
    photos the residents sent."""

    ticket: Ticket
    place: str
    photos: int = 0


def queue_for(
    work: Work, actor: permissions.Actor, sections: tuple[str, ...] = SECTIONS
) -> dict[str, list[QueueLine]]:
    """The open tickets in the actor's jurisdiction that need staff, by section: unassigned, transfer
    requests, overdue, and escalated to them (refused: not_allowed, for someone with no queue)."""
    mine = grants_for(actor, Action.VIEW_QUEUE)
    nodes = jurisdiction(work, actor)
    if not nodes:
        raise TicketError("not_allowed")
    now = work.now
    compound = aliased(OrgNode)
    building = aliased(OrgNode)
    levels = [(ROLE_LEVEL[g.role], g.node_id) for g in mine if g.role in ROLE_LEVEL]
    # "Escalated to me": at my level on my node because it climbed there (a breach, or 不满意), not because
    # it was queued or assigned there.
    climbed = (
        select(TicketEvent.id)
        .where(TicketEvent.ticket_id == Ticket.id, col(TicketEvent.kind).in_(("escalated", "reopened")))
        .exists()
    )
    escalated = [
        and_(col(Ticket.level) == lvl, col(Ticket.holder_node_id) == node, climbed) for lvl, node in levels
    ]
    late = and_(col(Ticket.clock_due_at) < now, col(Ticket.paused_at).is_(None))
    rows = work.session.exec(
        select(Ticket, compound.name, building.name)
        .join(compound, col(compound.id) == Ticket.compound_id)
        .join(building, col(building.id) == Ticket.building_id, isouter=True)
        .where(
            col(Ticket.state).in_(states.OPEN_STATES),
            in_subtrees(col(compound.path), [n.path for n in nodes]),
            or_(
                col(Ticket.holder_id).is_(None),
                col(Ticket.transfer_requested_by).is_not(None),
                late,
                *escalated,
            ),
        )
        .order_by(col(Ticket.clock_due_at).is_(None), col(Ticket.clock_due_at), col(Ticket.id))
        .limit(SCAN_LIMIT)
    ).all()
    found: dict[str, list[QueueLine]] = {s: [] for s in sections}
    photos = photo_counts(work.session, [id_of(t) for t, _, _ in rows])
    for ticket, compound_name, building_name in rows:
        if ticket.holder_id is None:
            section = "unassigned"
        elif ticket.transfer_requested_by is not None:
            section = "transfer"
        elif ticket.paused_at is None and ticket.clock_due_at is not None and ticket.clock_due_at < now:
            section = "overdue"
        else:
            section = "escalated"  # the query let nothing else through
        if section in found:
            place = f"{compound_name} {building_name or ''}".strip()
            found[section].append(QueueLine(ticket, place, photos.get(id_of(ticket), 0)))
    return found


@dataclass(frozen=True, slots=True)
class Worker:
    """Someone staff may give a ticket to, with what helps them choose."""

    person_id: int
    name: str  # "" when they gave none: the chat says their role and `tail`
    tail: str  # the last four digits of their phone
    own_grid: bool
    off_duty: bool
    holder: bool


def assign_choices(work: Work, actor: permissions.Actor, ticket_id: int) -> tuple[Ticket, list[Worker]]:
    """The grid workers of the ticket's community, its own grid's first (refused like `check_assign`)."""
    ticket = tickets.check_assign(work, actor, ticket_id)
    worker_ids = places.community_workers(work.session, ticket)
    grid = work.session.get(Grid, ticket.grid_id) if ticket.grid_id else None
    own = {grid.worker_id, grid.backup_id} if grid else set()
    found = (
        work.session.exec(select(Person).where(col(Person.id).in_(worker_ids))).all() if worker_ids else []
    )
    ordered = sorted(found, key=lambda p: (p.id not in own, p.off_duty, p.name, p.id))
    workers = [
        Worker(
            id_of(p),
            shown_name(work.session, p),
            phone_tail(p.phone),
            p.id in own,
            p.off_duty,
            p.id == ticket.holder_id,
        )
        for p in ordered
    ]
    return ticket, workers


# --- residents ----------------------------------------------------------------------------------------


def me_too_for(work: Work, actor: permissions.Actor, building_id: int | None, category: str) -> Ticket | None:
    """An open ticket of the same category in the same building that the resident could join instead of
    filing a copy ("me too"), the weightiest first."""
    if actor.person_id is None:
        return None
    return filing.find_open_match(work.session, building_id, category, actor.person_id)


def my_tickets(work: Work, actor: permissions.Actor) -> list[Ticket]:
    """The tickets a resident reported or joined, most recently changed first."""
    return filing.tickets_of(work.session, actor.person_id) if actor.person_id else []


@dataclass(frozen=True, slots=True)
class Page:
    """A resident's view of a ticket: the ticket, its timeline and their home when they reported it."""

    ticket: Ticket
    mine: bool
    home: str
    timeline: list[tuple[TicketEvent, list[Any]]]


def ticket_page(work: Work, actor: permissions.Actor, ticket_id: int) -> Page:
    """A ticket's page, only for its reporter and those who joined it (refused: not_found)."""
    found = filing.visible_ticket(work.session, ticket_id, actor.person_id) if actor.person_id else None
    if found is None:
        raise TicketError("not_found")
    mine = found.reporter_id == actor.person_id
    # Someone who joined with "me too" sees the problem, never the reporter's home.
    view = people.home_view(work.session, found.home_id) if found.home_id and mine else None
    # Internal notes and supervision reminders are the staff's: the residents' view never has them.
    timeline = filing.timeline(work.session, ticket_id)
    timeline = [(event, files) for event, files in timeline if event.kind not in STAFF_ONLY]
    return Page(found, mine, view.label if view else "", timeline)


# --- the desk's ticket page ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One event of the timeline as staff see it: who (by name), their role, what, with its files."""

    event: TicketEvent
    name: str
    files: list[Attachment]
    staff_only: bool


@dataclass(frozen=True, slots=True)
class Reporter:
    """The complainant as DESIGN §3 lets this viewer see them: name, masked phone, home."""

    name: str
    phone: str
    home: str


@dataclass(frozen=True, slots=True)
class DeskTicket:
    """A ticket's page at the desk: the ticket, where it lies, who holds it, the reporter (None when the
    viewer may not see them), the whole timeline, and what the viewer may do to it."""

    ticket: Ticket
    compound: str
    building: str
    entrance: str
    holder: str
    holder_tail: str
    overdue: bool
    reporter: Reporter | None
    steps: list[Step]
    may: dict[str, bool]


def desk_ticket(work: Work, actor: permissions.Actor, ticket_id: int) -> DeskTicket | None:
    """A ticket in the actor's jurisdiction (the same check as `#N` for staff), with its whole timeline
    and internal notes; None outside it or unknown (as not found)."""
    ticket = work.session.get(Ticket, ticket_id)
    if ticket is None:
        return None
    target = places.ticket_target(work.session, ticket)
    if not may(actor, Action.VIEW_QUEUE, target):
        return None
    session = work.session
    sees = may(actor, Action.SEE_REPORTER, target)
    view = people.home_view(session, ticket.home_id) if ticket.home_id else None
    compound = session.get(OrgNode, ticket.compound_id) if ticket.compound_id else None
    building = session.get(OrgNode, ticket.building_id) if ticket.building_id else None
    reporter = None
    if sees:
        person = session.get(Person, ticket.reporter_id)
        reporter = Reporter(
            person.name if person else "",
            mask_phone(person.phone) if person else "",
            view.label if view else "",
        )
    holder = session.get(Person, ticket.holder_id) if ticket.holder_id is not None else None
    names: dict[int, str] = {}
    steps: list[Step] = []
    for event, files in filing.timeline(session, ticket_id):
        if event.actor_id is not None and event.actor_id not in names:
            names[event.actor_id] = shown_name(session, session.get(Person, event.actor_id))
        # The residents' names are the reporter's to show: a viewer who may not see them sees a role.
        name = names.get(event.actor_id, "") if event.actor_id is not None else ""
        if event.actor_role == "resident" and not sees:
            name = ""
        steps.append(Step(event, name, files, event.kind in STAFF_ONLY))
    is_open = states.is_open(ticket)
    allowed = {
        "assign": is_open and may(actor, Action.ASSIGN_TICKET, target),
        "transfer": ticket.transfer_requested_by is not None and may(actor, Action.DECIDE_TRANSFER, target),
        "duplicate": is_open and may(actor, Action.CLOSE_DUPLICATE, target),
        "reclassify": is_open and may(actor, Action.ASSIGN_TICKET, target),
        "resolve": is_open and may(actor, Action.WORK_TICKET, target),
        "supervise": is_open and _supervises(work, actor, ticket),
        "reply": ticket.state in states.FOLLOWED,
        "internal": True,
    }
    return DeskTicket(
        ticket,
        compound.name if compound else (view.compound if view else ""),
        building.name if building else (view.building if view else ""),
        view.entrance if view and sees else "",
        shown_name(session, holder),
        phone_tail(holder.phone) if holder is not None else "",
        overdue(ticket, work.now),
        reporter,
        steps,
        allowed,
    )


def _supervises(work: Work, actor: permissions.Actor, ticket: Ticket) -> bool:
    """Whether the actor is above the ticket's level over its place (the supervise and escalate forms)."""
    try:
        tickets.check_above(work, actor, ticket)
    except TicketError:
        return False
    return True
