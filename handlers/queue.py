"""Staff work queue: `/queue` (unassigned, transfer requests, overdue, escalated to me) and its buttons.

Buttons: `q:a:<ticket>` choose a grid worker, `q:w:<ticket>:<person>` assign, `q:ty:<ticket>` /
`q:tn:<ticket>` decide a transfer request, `q:d:<ticket>` close as a duplicate (then the original's #code
is typed), `q:x` cancel. Everything is checked again against the database by the rules in db.cases.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from core.permissions import LEVEL_ROLE, Action, Grant, Role, grants_for
from db import cases
from db.models import Grid, OrgNode, Person, Ticket, TicketEvent
from db.org import in_subtrees
from db.tickets import OPEN_STATES
from handlers.common import parse_id, stale
from handlers.context import Context
from handlers.types import Button, Inbound, Reply

FLOW = "queue"
ROLE_LEVEL = {role: level for level, role in LEVEL_ROLE.items()}
SECTIONS = ("unassigned", "transfer", "overdue", "escalated")
PER_SECTION = 8  # tickets listed per section; the rest are counted
SCAN_LIMIT = 500
CODE = re.compile(r"^[#＃]?\s*(\d{1,12})$")


def grants(ctx: Context, action: Action = Action.VIEW_QUEUE) -> list[Grant]:
    """The person's grants under which the permission policy lets them do the action (their queue)."""
    return grants_for(ctx.actor(), action)


def jurisdiction(ctx: Context, action: Action = Action.VIEW_QUEUE) -> list[OrgNode]:
    """The org nodes a staff member answers for, for the action."""
    nodes = [ctx.session.get(OrgNode, g.node_id) for g in grants(ctx, action)]
    return [n for n in nodes if n is not None]


def queue(ctx: Context) -> list[Reply]:
    """`/queue`: the open tickets in the staff member's jurisdiction that need them, by section."""
    mine = grants(ctx)
    nodes = jurisdiction(ctx)
    if not nodes:
        return [Reply("queue.not_staff")]
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
    escalated = [and_(Ticket.level == lvl, Ticket.holder_node_id == node, climbed) for lvl, node in levels]
    overdue = and_(col(Ticket.clock_due_at) < ctx.now, col(Ticket.paused_at).is_(None))
    rows = ctx.session.exec(
        select(Ticket, compound.name, building.name)
        .join(compound, col(compound.id) == Ticket.compound_id)
        .join(building, col(building.id) == Ticket.building_id, isouter=True)
        .where(
            col(Ticket.state).in_(OPEN_STATES),
            in_subtrees(col(compound.path), [n.path for n in nodes]),
            or_(
                col(Ticket.holder_id).is_(None),
                col(Ticket.transfer_requested_by).is_not(None),
                overdue,
                *escalated,
            ),
        )
        .order_by(col(Ticket.clock_due_at).is_(None), col(Ticket.clock_due_at), col(Ticket.id))
        .limit(SCAN_LIMIT)
    ).all()
    found: dict[str, list[tuple[Ticket, str]]] = {s: [] for s in SECTIONS}
    for ticket, compound_name, building_name in rows:
        place = f"{compound_name} {building_name or ''}".strip()
        if ticket.holder_id is None:
            section = "unassigned"
        elif ticket.transfer_requested_by is not None:
            section = "transfer"
        elif ticket.paused_at is None and ticket.clock_due_at is not None and ticket.clock_due_at < ctx.now:
            section = "overdue"
        else:
            section = "escalated"  # the query let nothing else through
        found[section].append((ticket, place))
    counts = {s: len(found[s]) for s in SECTIONS}
    if not any(counts.values()):
        return [Reply("queue.empty")]
    replies = [Reply("queue.header", {"counts": counts, "total": sum(counts.values())})]
    for section in SECTIONS:
        if found[section]:
            replies.append(_section(ctx, section, found[section]))
    return replies


def _item(ctx: Context, ticket: Ticket, place: str) -> dict[str, Any]:
    return {
        "code": ticket.id,
        "category": ticket.category,
        "place": place,
        "state": ticket.state,
        "level": ticket.level,
        "stage": ticket.clock_stage,
        "due": ticket.clock_due_at.isoformat() if ticket.clock_due_at else "",
        "overdue": bool(
            ticket.paused_at is None and ticket.clock_due_at is not None and ticket.clock_due_at < ctx.now
        ),
        "urgent": ticket.urgent,
        "reason": ticket.transfer_reason,
    }


def _section(ctx: Context, section: str, tickets: list[tuple[Ticket, str]]) -> Reply:
    shown = tickets[:PER_SECTION]
    rows: list[list[Button]] = []
    for ticket, _ in shown:
        args = {"code": ticket.id}
        if section == "transfer":
            rows.append(
                [
                    Button(f"q:ty:{ticket.id}", "queue.btn_approve", args=args),
                    Button(f"q:tn:{ticket.id}", "queue.btn_reject", args=args),
                ]
            )
        else:
            assign = "queue.btn_assign" if ticket.holder_id is None else "queue.btn_reassign"
            rows.append(
                [
                    Button(f"q:a:{ticket.id}", assign, args=args),
                    Button(f"q:d:{ticket.id}", "queue.btn_duplicate", args=args),
                ]
            )
    items = [_item(ctx, ticket, place) for ticket, place in shown]
    return Reply(
        "queue.section", {"section": section, "items": items, "more": len(tickets) - len(shown)}, rows
    )


# --- buttons --------------------------------------------------------------------------------------


def on_button(ctx: Context, data: str) -> list[Reply]:
    """Every `q:` button, checked against the database before anything changes."""
    parts = data.split(":")
    action = parts[1] if len(parts) > 1 else ""
    if action == "x":
        return cancel(ctx)
    if not grants(ctx):
        return [Reply("queue.not_staff")]
    ticket_id = parse_id(parts[2]) if len(parts) > 2 else None
    ticket = ctx.session.get(Ticket, ticket_id) if ticket_id else None
    if ticket is None:
        return [stale()]
    if action == "a" and len(parts) == 3:
        return _choose_worker(ctx, ticket)
    if action == "w" and len(parts) == 4:
        worker_id = parse_id(parts[3])
        return _assign(ctx, ticket, worker_id) if worker_id else [stale()]
    if action in ("ty", "tn") and len(parts) == 3:
        return _decide(ctx, ticket, action == "ty")
    if action == "d" and len(parts) == 3:
        return _ask_original(ctx, ticket)
    return [stale()]


def _refused(error: cases.CaseError, code: int | None) -> list[Reply]:
    return [Reply("queue.refused", {"reason": error.reason, "code": code})]


def _choose_worker(ctx: Context, ticket: Ticket) -> list[Reply]:
    """List the grid workers of the ticket's community as assign buttons."""
    if cases.jurisdiction_covers(ctx.session, ctx.person_id, ticket, Action.ASSIGN_TICKET) is None:
        return _refused(cases.CaseError("not_allowed"), ticket.id)
    if ticket.state not in OPEN_STATES:
        return _refused(cases.CaseError("not_open"), ticket.id)
    community = cases.level_node(ctx.session, ticket, "community")
    worker_ids = cases.staff_at(ctx.session, community, (Role.GRID_WORKER.value,))
    if not worker_ids:
        return [Reply("queue.no_workers", {"code": ticket.id})]
    grid = ctx.session.get(Grid, ticket.grid_id) if ticket.grid_id else None
    own = {grid.worker_id, grid.backup_id} if grid else set()
    workers = ctx.session.exec(select(Person).where(col(Person.id).in_(worker_ids))).all()
    workers = sorted(workers, key=lambda p: (p.id not in own, p.off_duty, p.name, p.id))
    rows = [
        [
            Button(
                f"q:w:{ticket.id}:{person.id}",
                "queue.btn_worker",
                args={
                    "name": person.name,
                    "id": person.id,
                    "own_grid": person.id in own,
                    "off_duty": person.off_duty,
                    "holder": person.id == ticket.holder_id,
                },
            )
        ]
        for person in workers[:20]
    ]
    return [Reply("queue.choose_worker", {"code": ticket.id, "category": ticket.category}, rows)]


def _assign(ctx: Context, ticket: Ticket, worker_id: int) -> list[Reply]:
    worker = ctx.session.get(Person, worker_id)
    if worker is None:
        return [stale()]
    try:
        cases.assign(ctx.session, ticket, ctx.person_id, worker_id, ctx.now, ctx.policy)
    except cases.CaseError as error:
        return _refused(error, ticket.id)
    return [Reply("queue.assigned", {"code": ticket.id, "name": worker.name})]


def _decide(ctx: Context, ticket: Ticket, approve: bool) -> list[Reply]:
    try:
        cases.decide_transfer(ctx.session, ticket, ctx.person_id, approve, ctx.now, ctx.policy)
    except cases.CaseError as error:
        return _refused(error, ticket.id)
    buttons = [[Button(f"q:a:{ticket.id}", "queue.btn_assign", args={"code": ticket.id})]] if approve else []
    return [Reply("queue.transfer_decided", {"code": ticket.id, "approved": approve}, buttons)]


def _ask_original(ctx: Context, ticket: Ticket) -> list[Reply]:
    if cases.jurisdiction_covers(ctx.session, ctx.person_id, ticket, Action.CLOSE_DUPLICATE) is None:
        return _refused(cases.CaseError("not_allowed"), ticket.id)
    if ticket.state not in OPEN_STATES:
        return _refused(cases.CaseError("not_open"), ticket.id)
    ctx.state.go(FLOW, "original", ticket=ticket.id)
    return [Reply("queue.ask_original", {"code": ticket.id}, [[Button("q:x", "cancel")]])]


def cancel(ctx: Context) -> list[Reply]:
    """Leave the duplicate question without changing anything."""
    if ctx.state.flow != FLOW:
        return [stale()]
    ctx.state.clear()
    return [Reply("common.cancelled")]


def on_message(ctx: Context, inbound: Inbound) -> list[Reply]:
    """The original's #code, typed after pressing "duplicate"."""
    ticket_id = ctx.state.data.get("ticket")
    ticket = ctx.session.get(Ticket, ticket_id) if isinstance(ticket_id, int) else None
    if ticket is None or ctx.state.step != "original":
        ctx.state.clear()
        return [stale()]
    match = CODE.match(inbound.text.strip())
    original_id = parse_id(match.group(1)) if match else None
    original = ctx.session.get(Ticket, original_id) if original_id else None
    if original is None or (
        cases.jurisdiction_covers(ctx.session, ctx.person_id, original, Action.CLOSE_DUPLICATE) is None
    ):  # a ticket outside the jurisdiction is not shown to exist
        return [Reply("queue.no_such_ticket", {"code": ticket.id}, [[Button("q:x", "cancel")]])]
    if ticket.state in OPEN_STATES and (original.id == ticket.id or original.state not in OPEN_STATES):
        # a slip of the finger: ask again rather than end the question
        return [
            Reply(
                "queue.bad_original",
                {"code": ticket.id, "original": original.id, "same": original.id == ticket.id},
                [[Button("q:x", "cancel")]],
            )
        ]
    try:
        cases.close_duplicate(ctx.session, ticket, ctx.person_id, original, ctx.now, ctx.policy)
    except cases.CaseError as error:
        ctx.state.clear()
        return _refused(error, ticket.id)
    ctx.state.clear()
    return [Reply("queue.duplicate_done", {"code": ticket.id, "original": original.id})]
