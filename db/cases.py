"""Case handling rules (DESIGN §4.1): dispatch, accept, pause, transfer, resolve, rate, escalate.

Every function changes one ticket inside the caller's transaction, writes the timeline event and queues
the pushes it causes in the outbox; the caller commits. Who may act is checked here, against the
database, never taken from button data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from core import permissions
from core.permissions import Action
from db import outbox
from db.models import (
    Attachment,
    Grid,
    GridBuilding,
    OrgNode,
    Person,
    RoleGrant,
    Ticket,
    TicketEvent,
    TicketFollower,
)
from db.people import grants_of, home_view
from db.sla import Policy
from db.tickets import OPEN_STATES

LEVELS = ("grid", "community", "street", "department")
LEVEL_KIND = {"community": "community", "street": "street", "department": "district"}
# Who answers for a ticket held at a level, as the permission policy says (people to tell, not a check).
LEVEL_ROLES = {level: (role.value,) for level, role in permissions.LEVEL_ROLE.items()}
SUPERVISOR_ROLES = tuple(r.value for r in permissions.SUPERVISOR_ROLES)
CLOSURE_KINDS = ("fixed", "partly_fixed", "no_action_needed", "not_responsible")
RATINGS = ("satisfied", "basically", "dissatisfied")
ACTIVE_STATES = ("new", "assigned", "accepted", "reopened")  # a clock runs


class CaseError(Exception):
    """An action the rules refuse; `reason` names the message the user sees."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, and in which role (as shown on the timeline)."""

    person_id: int | None
    role: str  # resident | grid_worker | community_staff | … | system


SYSTEM = Actor(None, "system")


# --- org helpers ----------------------------------------------------------------------------------


def _ancestors(session: Session, node_id: int | None) -> list[OrgNode]:
    """The node and everything above it, from the district down."""
    node = session.get(OrgNode, node_id) if node_id else None
    if node is None:
        return []
    ids = permissions.path_ids(node.path)
    nodes = {n.id: n for n in session.exec(_NODES, params={"b_ids": ids}).all()}
    return [nodes[i] for i in ids if i in nodes]


def level_node(session: Session, ticket: Ticket, level: str) -> int | None:
    """The org node whose staff answer for the ticket at a level (community, street or district)."""
    kind = LEVEL_KIND.get(level, "community")
    for node in _ancestors(session, ticket.compound_id):
        if node.kind == kind:
            return node.id
    return None


def staff_at(session: Session, node_id: int | None, roles: tuple[str, ...]) -> list[int]:
    """People holding one of the roles exactly on that node."""
    if node_id is None:
        return []
    grants = session.exec(_STAFF_AT, params={"b_node_id": node_id, "b_roles": list(roles)}).all()
    return sorted(set(grants))


# Built once: they run on every ticket filed, and building a query costs more than running it on SQLite.
_NODES = select(OrgNode).where(col(OrgNode.id).in_(bindparam("b_ids", expanding=True)))
_STAFF_AT = select(RoleGrant.person_id).where(
    RoleGrant.node_id == bindparam("b_node_id"), col(RoleGrant.role).in_(bindparam("b_roles", expanding=True))
)


def ticket_target(session: Session, ticket: Ticket) -> permissions.Target:
    """A ticket as the permission policy sees it: its compound, holder, level and the reporter's consent."""
    compound = session.get(OrgNode, ticket.compound_id) if ticket.compound_id else None
    return permissions.Target(
        (compound.path,) if compound else (), ticket.holder_id, ticket.level, ticket.share_contact
    )


def jurisdiction_covers(session: Session, person_id: int, ticket: Ticket, action: Action) -> str | None:
    """The role under which a person may do the action to the ticket, or None when the policy says no."""
    actor = permissions.Actor(person_id, grants_of(session, person_id))
    role = permissions.acting_role(actor, action, ticket_target(session, ticket))
    return None if role is None else role.value


def mask_phone(phone: str) -> str:
    """138****1234 for a mainland mobile number; other numbers keep only their last four digits."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) == 11:
        return f"{digits[:3]}****{digits[-4:]}"
    return f"****{digits[-4:]}" if len(digits) >= 4 else ""


# --- clocks ---------------------------------------------------------------------------------------


def _recompute(ticket: Ticket, policy: Policy) -> None:
    """Set next_due_at: the next reminder point of the running clock, its breach, or the follow-up."""
    if ticket.paused_at is not None or not ticket.clock_stage or ticket.clock_due_at is None:
        ticket.next_due_at = None
        return
    if ticket.clock_stage == "followup":
        ticket.next_due_at = ticket.clock_due_at
        return
    start = ticket.clock_started_at or ticket.created_at
    span = ticket.clock_due_at - start
    points = [start + span * f for f in policy.reminders]
    upcoming = points[ticket.reminders_sent :]
    ticket.next_due_at = upcoming[0] if upcoming else ticket.clock_due_at


def _start_clock(
    ticket: Ticket, stage: str, now: datetime, policy: Policy, length: timedelta | None = None
) -> None:
    clocks = policy.clocks(ticket.category, ticket.sla_class, ticket.urgent)
    if length is None:
        length = {"accept": clocks.accept, "resolve": clocks.resolve, "followup": policy.followup}[stage]
    ticket.clock_stage = stage
    ticket.clock_started_at = now
    ticket.clock_due_at = now + length
    ticket.reminders_sent = 0
    _recompute(ticket, policy)


# --- events and pushes ----------------------------------------------------------------------------


def _event(
    session: Session, ticket: Ticket, actor: Actor, kind: str, note: str, now: datetime
) -> TicketEvent:
    event = TicketEvent(
        ticket_id=ticket.id,  # type: ignore[arg-type]
        at=now,
        actor_id=actor.person_id,
        actor_role=actor.role,
        kind=kind,
        note=note[:2000],
    )
    session.add(event)
    session.flush()
    ticket.updated_at = now
    return event


def push(
    session: Session,
    ticket: Ticket,
    person_ids: list[int],
    template: str,
    context: dict[str, Any],
    now: datetime,
    policy: Policy,
    buttons: list[list[dict[str, Any]]] | None = None,
    urgent: bool | None = None,
) -> None:
    """Queue a message about a ticket; non-urgent ones wait for the end of quiet hours."""
    urgent = ticket.urgent if urgent is None else urgent
    not_before = None if urgent else policy.quiet_until(now)
    if not_before == now:
        not_before = None
    base = {"code": ticket.id, "category": ticket.category, **context}
    for person_id in dict.fromkeys(person_ids):
        outbox.enqueue(
            session,
            person_id,
            template,
            base,
            buttons or [],
            now,
            not_before=not_before,
            urgent=urgent,
            ticket_id=ticket.id,
        )


def residents_of(session: Session, ticket: Ticket) -> list[int]:
    """The reporter and everyone who joined with "me too"."""
    followers = session.exec(
        select(TicketFollower.person_id).where(TicketFollower.ticket_id == ticket.id)
    ).all()
    return [ticket.reporter_id, *followers]


def holders_of(session: Session, ticket: Ticket) -> list[int]:
    """Who must act now: the handler, or the staff of the level holding the ticket."""
    if ticket.holder_id is not None:
        return [ticket.holder_id]
    return staff_at(session, ticket.holder_node_id, LEVEL_ROLES.get(ticket.level, LEVEL_ROLES["community"]))


def task_buttons(ticket: Ticket) -> list[list[dict[str, Any]]]:
    """The task card's buttons for whoever holds a ticket."""
    code = ticket.id
    if ticket.state in ("new", "assigned"):
        first = [{"data": f"k:a:{code}", "label": "task_accept"}]
    else:
        first = [
            {"data": f"k:p:{code}", "label": "task_progress"},
            {"data": f"k:q:{code}", "label": "task_ask"},
        ]
    return [
        first,
        [{"data": f"k:r:{code}", "label": "task_resolve"}, {"data": f"k:t:{code}", "label": "task_transfer"}],
    ]


def card_context(session: Session, ticket: Ticket, private: bool) -> dict[str, Any]:
    """What a task card shows: the problem, where, when due; the complainant only when allowed."""
    photos = session.exec(
        select(Attachment.channel, Attachment.ref)
        .join(TicketEvent, col(TicketEvent.id) == Attachment.event_id)
        .where(
            Attachment.ticket_id == ticket.id,
            Attachment.kind == "photo",
            TicketEvent.actor_role == "resident",
        )
        .order_by(col(Attachment.id))
    ).all()  # what the residents showed; the handler's own photos are on the timeline
    view = home_view(session, ticket.home_id) if ticket.home_id else None
    reporter = session.get(Person, ticket.reporter_id)
    context: dict[str, Any] = {
        "description": ticket.description,
        "building": f"{view.compound} {view.building}" if view else "",
        "home": "" if private or view is None else view.label,
        "phone": "" if private or reporter is None else mask_phone(reporter.phone),
        "location": ticket.location_text
        or (f"{ticket.latitude:.5f}, {ticket.longitude:.5f}" if ticket.latitude is not None else ""),
        "photos": len(photos),
        "weight": ticket.weight,
        "urgent": ticket.urgent,
        "state": ticket.state,
        "level": ticket.level,
        "stage": ticket.clock_stage,
        "due": _iso(ticket.clock_due_at),
        "_photos": [[channel, ref] for channel, ref in photos][:10],
    }
    return context


def sees_reporter(session: Session, person_id: int, ticket: Ticket) -> bool:
    """Whether a person's task card shows the complainant's home and masked phone (DESIGN §3)."""
    actor = permissions.Actor(person_id, grants_of(session, person_id))
    return permissions.may(actor, Action.SEE_REPORTER, ticket_target(session, ticket))


def _task_card(
    session: Session,
    ticket: Ticket,
    now: datetime,
    policy: Policy,
    template: str = "cases.task",
    recipients: list[int] | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Send the task card to whoever must act; property staff see the complainant only if allowed."""
    targets = holders_of(session, ticket) if recipients is None else recipients
    cards: dict[bool, dict[str, Any]] = {}
    for person_id in targets:
        private = not sees_reporter(session, person_id, ticket)
        if private not in cards:
            cards[private] = {**card_context(session, ticket, private=private), **(extra or {})}
        push(
            session,
            ticket,
            [person_id],
            template,
            cards[private],
            now,
            policy,
            task_buttons(ticket),
            urgent=True if ticket.urgent else None,
        )


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


# --- dispatch -------------------------------------------------------------------------------------


def grid_worker_for(session: Session, building_id: int | None) -> tuple[int | None, int | None]:
    """(grid id, worker id) for a building: the primary worker, or the backup when the primary is off duty."""
    if building_id is None:
        return None, None
    row = session.exec(_GRID_WORKERS, params={"b_building_id": building_id}).first()
    if row is None:
        return None, None
    grid_id, primary_id, backup_id = row
    return grid_id, primary_id if primary_id is not None else backup_id


# The building's grid with its worker and backup, each only when on duty: one query, not four.
_PRIMARY, _BACKUP = aliased(Person), aliased(Person)
_GRID_WORKERS = (
    select(Grid.id, _PRIMARY.id, _BACKUP.id)
    .join(GridBuilding, col(GridBuilding.grid_id) == Grid.id)
    .outerjoin(_PRIMARY, and_(col(_PRIMARY.id) == Grid.worker_id, col(_PRIMARY.off_duty).is_(False)))
    .outerjoin(_BACKUP, and_(col(_BACKUP.id) == Grid.backup_id, col(_BACKUP.off_duty).is_(False)))
    .where(GridBuilding.building_id == bindparam("b_building_id"))
)


def dispatch(session: Session, ticket: Ticket, now: datetime, policy: Policy) -> None:
    """Set the promised deadlines and hand a new ticket to its grid worker, or to the community's queue."""
    # Looked up before the ticket changes, and the clock started before the event's flush: the new
    # ticket is then updated once, not once per lookup.
    grid_id, worker_id = grid_worker_for(session, ticket.building_id)
    holder_node_id = level_node(session, ticket, "community")
    clocks = policy.clocks(ticket.category, ticket.sla_class, ticket.urgent)
    ticket.accept_due_at = ticket.created_at + clocks.accept
    ticket.resolve_due_at = ticket.created_at + clocks.resolve
    ticket.grid_id = grid_id
    ticket.holder_node_id = holder_node_id
    if worker_id is not None:
        ticket.level, ticket.holder_id, ticket.state = "grid", worker_id, "assigned"
    else:
        ticket.level, ticket.holder_id, ticket.state = "community", None, "new"
    _start_clock(ticket, "accept", now, policy, ticket.accept_due_at - now)
    _event(session, ticket, SYSTEM, "assigned" if worker_id is not None else "queued", "", now)
    _task_card(session, ticket, now, policy)


# --- the handler's actions ------------------------------------------------------------------------


def require_holder(session: Session, ticket: Ticket, person_id: int) -> Actor:
    """The actor when this person may work the ticket: its handler, or staff of the level holding it."""
    if ticket.state not in OPEN_STATES:
        raise CaseError("not_open")
    role = jurisdiction_covers(session, person_id, ticket, Action.WORK_TICKET)
    if role is None:
        raise CaseError("not_yours")
    return Actor(person_id, role)


def accept(session: Session, ticket: Ticket, person_id: int, now: datetime, policy: Policy) -> None:
    """The handler takes the ticket on: the accept clock stops and the resolve clock runs."""
    actor = require_holder(session, ticket, person_id)
    if ticket.state == "waiting_for_resident":
        raise CaseError("waiting")
    if ticket.state not in ("new", "assigned"):
        raise CaseError("already_accepted")
    ticket.holder_id = person_id
    ticket.state = "accepted"
    if ticket.accepted_at is None:
        ticket.accepted_at = now
    _event(session, ticket, actor, "accepted", "", now)
    clocks = policy.clocks(ticket.category, ticket.sla_class, ticket.urgent)
    promised = ticket.resolve_due_at
    if promised is not None and promised > now:
        start, due = ticket.created_at, promised  # the promise made at filing still stands
    else:
        start, due = now, now + clocks.resolve  # late already: a fresh clock for the new holder
    ticket.clock_stage, ticket.clock_started_at, ticket.clock_due_at = "resolve", start, due
    ticket.reminders_sent = sum(1 for f in policy.reminders if start + (due - start) * f <= now)
    _recompute(ticket, policy)
    push(session, ticket, residents_of(session, ticket), "cases.accepted", {"role": actor.role}, now, policy)


def add_progress(
    session: Session,
    ticket: Ticket,
    person_id: int,
    note: str,
    now: datetime,
    policy: Policy,
    photos: list[tuple[str, str]] | None = None,
) -> None:
    """The handler posts progress (a note, and photos if any); the residents see it."""
    actor = require_holder(session, ticket, person_id)
    event = _event(session, ticket, actor, "progress", note, now)
    _attach(session, ticket, event, photos or [])
    push(
        session,
        ticket,
        residents_of(session, ticket),
        "cases.progress",
        {"role": actor.role, "note": note, "_photos": [list(p) for p in photos or []]},
        now,
        policy,
    )


def _attach(session: Session, ticket: Ticket, event: TicketEvent, photos: list[tuple[str, str]]) -> None:
    for channel, ref in photos[:5]:
        session.add(
            Attachment(ticket_id=ticket.id, event_id=event.id, kind="photo", channel=channel, ref=ref)  # type: ignore[arg-type]
        )


def ask_resident(
    session: Session, ticket: Ticket, person_id: int, question: str, now: datetime, policy: Policy
) -> None:
    """The handler needs something from the resident: the clock pauses until they answer."""
    actor = require_holder(session, ticket, person_id)
    if ticket.state == "waiting_for_resident":
        raise CaseError("waiting")
    ticket.paused_state, ticket.state, ticket.paused_at = ticket.state, "waiting_for_resident", now
    _recompute(ticket, policy)
    _event(session, ticket, actor, "asked", question, now)
    push(
        session,
        ticket,
        [ticket.reporter_id],
        "cases.asked",
        {"role": actor.role, "question": question},
        now,
        policy,
        [[{"data": f"t:n:{ticket.id}", "label": "answer"}]],
    )


def _resume(ticket: Ticket, now: datetime, policy: Policy) -> bool:
    """Restart the clocks of a paused ticket, every deadline shifted by the time it waited."""
    if ticket.state != "waiting_for_resident" or ticket.paused_at is None:
        return False
    paused = now - ticket.paused_at
    for name in ("accept_due_at", "resolve_due_at", "clock_started_at", "clock_due_at"):
        value = getattr(ticket, name)
        if value is not None:
            setattr(ticket, name, value + paused)
    ticket.state, ticket.paused_at, ticket.paused_state = ticket.paused_state or "accepted", None, ""
    _recompute(ticket, policy)
    return True


def resident_answered(session: Session, ticket: Ticket, now: datetime, policy: Policy) -> None:
    """The resident added something while the ticket waited for them: the clocks run again, shifted."""
    if not _resume(ticket, now, policy):
        return
    push(
        session, ticket, holders_of(session, ticket), "cases.answered", {}, now, policy, task_buttons(ticket)
    )


def request_transfer(
    session: Session, ticket: Ticket, person_id: int, reason: str, now: datetime, policy: Policy
) -> None:
    """A designated handler cannot hand a ticket back; they ask the community staff, who decide."""
    actor = require_holder(session, ticket, person_id)
    if not reason.strip():
        raise CaseError("reason_required")
    if ticket.transfer_requested_by is not None:
        raise CaseError("transfer_pending")
    ticket.transfer_reason, ticket.transfer_requested_by = reason.strip()[:500], person_id
    _event(session, ticket, actor, "transfer_requested", reason, now)
    community = level_node(session, ticket, "community")
    staff = staff_at(session, community, LEVEL_ROLES["community"])  # transfers are the community's call
    push(
        session,
        ticket,
        staff,
        "cases.transfer_requested",
        {"reason": reason},
        now,
        policy,
        [
            [
                {"data": f"q:ty:{ticket.id}", "label": "transfer_approve"},
                {"data": f"q:tn:{ticket.id}", "label": "transfer_reject"},
            ]
        ],
    )


def decide_transfer(
    session: Session, ticket: Ticket, staff_id: int, approve: bool, now: datetime, policy: Policy
) -> None:
    """Community staff decide a transfer request: approved returns it to their queue for reassignment."""
    role = jurisdiction_covers(session, staff_id, ticket, Action.DECIDE_TRANSFER)
    if role is None:
        raise CaseError("not_allowed")
    if ticket.transfer_requested_by is None:
        raise CaseError("no_transfer")
    requester = ticket.transfer_requested_by
    ticket.transfer_requested_by, reason = None, ticket.transfer_reason
    ticket.transfer_reason = ""
    actor = Actor(staff_id, role)
    if approve:
        _event(session, ticket, actor, "transfer_approved", reason, now)
        if ticket.holder_id == requester:
            ticket.holder_id = None
            if ticket.level == "grid":
                ticket.level = "community"
                ticket.holder_node_id = level_node(session, ticket, "community")
            if ticket.state in ("assigned", "accepted", "reopened"):
                # Back in the community's queue: whoever is assigned next accepts it afresh.
                ticket.state = "new"
                _start_clock(ticket, "accept", now, policy)
    else:
        _event(session, ticket, actor, "transfer_rejected", reason, now)
    push(session, ticket, [requester], "cases.transfer_decided", {"approved": approve}, now, policy)


def assign(
    session: Session, ticket: Ticket, staff_id: int, worker_id: int, now: datetime, policy: Policy
) -> None:
    """Staff give a ticket in their jurisdiction to a grid worker (or another staff member)."""
    role = jurisdiction_covers(session, staff_id, ticket, Action.ASSIGN_TICKET)
    if role is None:
        raise CaseError("not_allowed")
    if ticket.state not in OPEN_STATES:
        raise CaseError("not_open")
    if jurisdiction_covers(session, worker_id, ticket, Action.HOLD_TICKET) is None:
        raise CaseError("worker_outside")
    ticket.holder_id = worker_id
    ticket.transfer_requested_by, ticket.transfer_reason = None, ""
    escalated = session.exec(
        select(TicketEvent.id).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "escalated")
    ).first()
    if ticket.level == "community" and escalated is None:
        # From the community's queue to a grid worker: the ladder starts at the grid, as after dispatch.
        grid = (
            session.exec(
                select(Grid).where(Grid.community_id == ticket.holder_node_id, Grid.worker_id == worker_id)
            ).first()
            or session.exec(
                select(Grid).where(Grid.community_id == ticket.holder_node_id, Grid.backup_id == worker_id)
            ).first()
        )
        if grid is not None:
            ticket.level, ticket.grid_id = "grid", grid.id
    if ticket.state in ("new", "assigned"):
        ticket.state = "assigned"
        if ticket.clock_stage != "accept":
            _start_clock(ticket, "accept", now, policy)
    worker = session.get(Person, worker_id)
    _event(session, ticket, Actor(staff_id, role), "assigned", worker.name if worker else "", now)
    _task_card(session, ticket, now, policy)


def resolve(
    session: Session,
    ticket: Ticket,
    person_id: int,
    kind: str,
    note: str,
    photos: list[tuple[str, str]],
    facility: bool,
    now: datetime,
    policy: Policy,
) -> None:
    """The handler closes the work with a closure kind and a note; residents are asked to rate it."""
    actor = require_holder(session, ticket, person_id)
    if kind not in CLOSURE_KINDS:
        raise CaseError("bad_kind")
    if not note.strip():
        raise CaseError("note_required")
    if facility and kind in ("fixed", "partly_fixed") and not photos:
        raise CaseError("photo_required")  # facility repairs are closed with an "after" photo
    _resume(ticket, now, policy)  # resolving while waiting: the pause ends, nobody answered
    if ticket.accepted_at is None:
        ticket.accepted_at = now
    ticket.state, ticket.closure_kind, ticket.resolved_at = "resolved", kind, now
    ticket.rating, ticket.rating_comment = (
        "",
        "",
    )  # a new result waits for a new rating; unrated is not satisfied
    ticket.transfer_requested_by, ticket.transfer_reason = None, ""
    event = _event(session, ticket, actor, "resolved", note, now)
    _attach(session, ticket, event, photos)
    _start_clock(ticket, "followup", now, policy)
    buttons = [
        [
            {"data": f"f:s:{ticket.id}", "label": "rate_satisfied"},
            {"data": f"f:b:{ticket.id}", "label": "rate_basically"},
            {"data": f"f:d:{ticket.id}", "label": "rate_dissatisfied"},
        ]
    ]
    context = {"role": actor.role, "kind": kind, "note": note, "_photos": [list(p) for p in photos[:5]]}
    push(
        session,
        ticket,
        [ticket.reporter_id],
        "cases.resolved",
        {**context, "rate": True},
        now,
        policy,
        buttons,
    )
    others = [p for p in residents_of(session, ticket) if p != ticket.reporter_id]
    push(session, ticket, others, "cases.resolved", {**context, "rate": False}, now, policy)


def rate(
    session: Session, ticket: Ticket, person_id: int, rating: str, comment: str, now: datetime, policy: Policy
) -> None:
    """The reporter rates the result: satisfied closes; dissatisfied reopens one level up, same handler."""
    if ticket.reporter_id != person_id:
        raise CaseError("not_reporter")
    if ticket.state != "resolved":
        raise CaseError("not_resolved")
    if rating not in RATINGS:
        raise CaseError("bad_rating")
    ticket.rating, ticket.rating_comment = rating, comment.strip()[:500]
    actor = Actor(person_id, "resident")
    _event(session, ticket, actor, f"rated_{rating}", comment, now)
    if rating != "dissatisfied":
        ticket.state, ticket.closed_at = "closed", now
        ticket.clock_stage, ticket.clock_due_at, ticket.next_due_at = "", None, None
        return
    ticket.state, ticket.reopen_count = "reopened", ticket.reopen_count + 1
    ticket.resolved_at = None
    _climb(session, ticket, now)
    _start_clock(ticket, "resolve", now, policy)
    _event(session, ticket, SYSTEM, "reopened", ticket.level, now)
    _task_card(session, ticket, now, policy, "cases.reopened", extra={"comment": ticket.rating_comment})
    supervisors = staff_at(session, ticket.holder_node_id, LEVEL_ROLES.get(ticket.level, ()))
    push(
        session,
        ticket,
        supervisors,
        "cases.supervise",
        {"level": ticket.level, "reason": "dissatisfied"},
        now,
        policy,
    )


def close_duplicate(
    session: Session, ticket: Ticket, staff_id: int, original: Ticket, now: datetime, policy: Policy
) -> None:
    """Staff close a ticket as a duplicate of another open one; its residents follow the original."""
    role = jurisdiction_covers(session, staff_id, ticket, Action.CLOSE_DUPLICATE)
    if role is None or jurisdiction_covers(session, staff_id, original, Action.CLOSE_DUPLICATE) is None:
        raise CaseError("not_allowed")
    if ticket.id == original.id or ticket.state not in OPEN_STATES or original.state not in OPEN_STATES:
        raise CaseError("not_open")
    for person_id in residents_of(session, ticket):
        if (
            person_id != original.reporter_id
            and session.get(TicketFollower, (original.id, person_id)) is None
        ):
            session.add(TicketFollower(ticket_id=original.id, person_id=person_id, joined_at=now))  # type: ignore[arg-type]
            original.weight += 1
    ticket.state, ticket.duplicate_of, ticket.closed_at = "duplicate", original.id, now
    ticket.transfer_requested_by, ticket.transfer_reason = None, ""
    ticket.clock_stage, ticket.clock_due_at, ticket.next_due_at = "", None, None
    _event(session, ticket, Actor(staff_id, role), "duplicate", f"#{original.id}", now)
    push(
        session,
        ticket,
        residents_of(session, ticket),
        "cases.duplicate",
        {"original": original.id},
        now,
        policy,
    )


# --- the scheduler's steps ------------------------------------------------------------------------


def _climb(session: Session, ticket: Ticket, now: datetime) -> bool:
    """Move the ticket one level up the ladder; False when it is already at the top."""
    index = LEVELS.index(ticket.level) if ticket.level in LEVELS else 0
    if index + 1 >= len(LEVELS):
        return False
    ticket.level = LEVELS[index + 1]
    ticket.holder_node_id = level_node(session, ticket, ticket.level) or ticket.holder_node_id
    return True


def step(session: Session, ticket: Ticket, now: datetime, policy: Policy) -> str:
    """Apply whatever is due on a ticket now: a reminder, an escalation, or the unrated close."""
    if ticket.next_due_at is None or ticket.next_due_at > now:
        return ""
    if ticket.clock_stage == "followup":
        if ticket.state != "resolved":
            ticket.clock_stage, ticket.next_due_at = "", None
            return ""
        ticket.state, ticket.closed_at = "closed", now
        ticket.clock_stage, ticket.clock_due_at, ticket.next_due_at = "", None, None
        _event(session, ticket, SYSTEM, "closed_unrated", "", now)
        return "closed_unrated"
    if ticket.state not in ACTIVE_STATES or ticket.clock_due_at is None:
        ticket.next_due_at = None
        return ""
    if now < ticket.clock_due_at:
        # After an outage several reminder points may have passed: send only the latest one.
        start = ticket.clock_started_at or ticket.created_at
        span = ticket.clock_due_at - start
        ticket.reminders_sent = max(
            ticket.reminders_sent + 1, sum(1 for f in policy.reminders if start + span * f <= now)
        )
        percent = round(policy.reminders[ticket.reminders_sent - 1] * 100)
        _recompute(ticket, policy)
        push(
            session,
            ticket,
            holders_of(session, ticket),
            "cases.reminder",
            {"percent": percent, "due": _iso(ticket.clock_due_at), "stage": ticket.clock_stage},
            now,
            policy,
            task_buttons(ticket),
        )
        return f"reminder_{percent}"
    # The clock has run out: climb one level and start a new clock there.
    previous = ticket.level
    if not _climb(session, ticket, now):
        ticket.clock_due_at = None
        ticket.next_due_at = None
        supervisors = staff_at(
            session, level_node(session, ticket, "department"), SUPERVISOR_ROLES
        ) or staff_at(session, level_node(session, ticket, "department"), LEVEL_ROLES["department"])
        _event(session, ticket, SYSTEM, "supervisor_alert", ticket.clock_stage, now)
        push(
            session,
            ticket,
            supervisors,
            "cases.supervise",
            {"level": ticket.level, "reason": "top"},
            now,
            policy,
            urgent=True,
        )
        return "supervisor_alert"
    if ticket.state in ("new", "assigned"):
        # Nobody took it on: the new level's staff must act (accept or assign) themselves.
        ticket.holder_id, ticket.state = None, "new"
    stage = ticket.clock_stage
    _event(session, ticket, SYSTEM, "escalated", f"{previous}>{ticket.level}", now)
    _start_clock(ticket, stage, now, policy)
    staff = staff_at(session, ticket.holder_node_id, LEVEL_ROLES[ticket.level])
    holder = [ticket.holder_id] if ticket.holder_id is not None else []
    # The whole task card (its template needs it): the new level's staff may never have seen the ticket.
    _task_card(session, ticket, now, policy, "cases.escalated_task", list(dict.fromkeys([*staff, *holder])))
    push(
        session,
        ticket,
        residents_of(session, ticket),
        "cases.escalated",
        {"level": ticket.level},
        now,
        policy,
    )
    return f"escalated_{ticket.level}"
