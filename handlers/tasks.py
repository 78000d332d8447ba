"""The handler's side of a case: /tasks, the task card and its buttons (accept, progress, ask the resident,
request a transfer, resolve) and /duty. Who may act is decided by db.cases, against the database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import col, select

from core.permissions import LEVEL_ROLE, Action, may
from db import cases, tickets
from db.models import Grid, Person, Ticket
from handlers.common import parse_id, stale
from handlers.context import Context
from handlers.types import Attachment, Button, Inbound, Reply

FLOW = "task"
PHOTO_KINDS = ("fixed", "partly_fixed")  # closures of a facility repair that need an "after" photo
ACTIONS = ("v", "a", "p", "q", "t", "r")
LIST_LIMIT = 30
MAX_REASON = 500


# --- who and what ----------------------------------------------------------------------------------


def is_worker(ctx: Context) -> bool:
    """Whether the person has a task list: they may hold tickets or answer for a level of the ladder."""
    return may(ctx.actor(), Action.LIST_TASKS)


def _check(ctx: Context, ticket: Ticket) -> None:
    """The holder rule of db.cases, asked before a flow starts so nobody types a note in vain."""
    cases.require_holder(ctx.session, ticket, ctx.person_id)


def _category_name(ctx: Context, ticket: Ticket) -> str:
    category = ctx.catalog.get(ticket.category)
    return category.name(ctx.locale) if category else ticket.category


def _facility(ctx: Context, ticket: Ticket) -> bool:
    category = ctx.catalog.get(ticket.category)
    return bool(category and category.facility)


def _overdue(ctx: Context, ticket: Ticket) -> bool:
    return (
        ticket.paused_at is None
        and ticket.clock_stage in ("accept", "resolve")
        and ticket.clock_due_at is not None
        and ticket.clock_due_at <= ctx.now
    )


def _refused(ticket_id: int | None, error: cases.CaseError, state: str = "") -> Reply:
    return Reply("tasks.refused", {"reason": error.reason, "code": ticket_id or "", "state": state})


def _cancel_row() -> list[Button]:
    return [Button("k:x:0", "cancel")]


# --- /tasks and the card ---------------------------------------------------------------------------


def _open_tasks(ctx: Context) -> list[Ticket]:
    """Open tickets this person holds, and those waiting unassigned at a level they staff."""
    conditions: list[Any] = [Ticket.holder_id == ctx.person_id]
    for grant in ctx.actor().grants:
        for level, role in LEVEL_ROLE.items():
            if grant.role is role:
                conditions.append(
                    and_(
                        col(Ticket.holder_id).is_(None),
                        Ticket.level == level,
                        Ticket.holder_node_id == grant.node_id,
                    )
                )
    return list(
        ctx.session.exec(
            select(Ticket)
            .where(or_(*conditions), col(Ticket.state).in_(tickets.OPEN_STATES))
            .order_by(col(Ticket.clock_due_at).is_(None), col(Ticket.clock_due_at), col(Ticket.id))
            .limit(LIST_LIMIT)
        ).all()
    )


def list_tasks(ctx: Context) -> list[Reply]:
    """`/tasks`: the open tasks this person holds, the nearest deadline first."""
    if not is_worker(ctx):
        return [Reply("tasks.not_staff")]
    items = _open_tasks(ctx)
    if not items:
        return [Reply("tasks.none")]
    rows = [
        {
            "code": t.id,
            "category": _category_name(ctx, t),
            "state": t.state,
            "due": t.clock_due_at,
            "stage": t.clock_stage,
            "overdue": _overdue(ctx, t),
            "paused": t.paused_at is not None,
            "mine": t.holder_id == ctx.person_id,
            "urgent": t.urgent,
        }
        for t in items
    ]
    buttons = [Button(f"k:v:{t.id}", "tasks.btn_open", args={"code": t.id}) for t in items[:12]]
    return [
        Reply(
            "tasks.list",
            {"tasks": rows, "now": ctx.now},
            [buttons[i : i + 3] for i in range(0, len(buttons), 3)],
        )
    ]


def card(ctx: Context, ticket: Ticket) -> Reply:
    """The task card: the problem, where, the deadline, with the buttons that fit its state."""
    private = not may(ctx.actor(), Action.SEE_REPORTER, cases.ticket_target(ctx.session, ticket))
    context = cases.card_context(ctx.session, ticket, private=private)
    photos = context.pop("_photos", [])
    context.update(
        code=ticket.id,
        category=ticket.category,
        overdue=_overdue(ctx, ticket),
        paused=ticket.paused_at is not None,
        transfer_pending=ticket.transfer_requested_by is not None,
    )
    rows = [[Button(b["data"], b["label"]) for b in row] for row in cases.task_buttons(ticket)]
    return Reply(
        "tasks.card",
        context,
        [*rows, [Button("cmd:/tasks", "tasks.btn_list")]],
        photos=[
            Attachment("photo", ref) for channel, ref in photos if channel in (ctx.person.channel, "web")
        ],
    )


def card_for_code(ctx: Context, ticket_id: int) -> Reply | None:
    """The task card of `#code` when this person may work the ticket, else None."""
    ticket = ctx.session.get(Ticket, ticket_id)
    if ticket is None:
        return None
    try:
        _check(ctx, ticket)
    except cases.CaseError:
        return None
    return card(ctx, ticket)


# --- buttons ---------------------------------------------------------------------------------------


def on_button(ctx: Context, data: str) -> list[Reply]:
    """Task buttons `k:<action>:<id>`; every one is checked against the database and the flow's state."""
    parts = data.split(":")
    action = parts[1] if len(parts) > 1 else ""
    if action == "x":
        if ctx.state.flow != FLOW:
            return [stale()]
        ctx.state.clear()
        return [Reply("common.cancelled")]
    if not is_worker(ctx):
        return [Reply("tasks.not_staff")]
    if action in ("c", "d"):
        return _flow_button(ctx, parts)
    if len(parts) != 3 or action not in ACTIONS:
        return [stale()]
    ticket_id = parse_id(parts[2])
    if ticket_id is None:
        return [stale()]
    ticket = ctx.session.get(Ticket, ticket_id)
    if ticket is None:
        return [Reply("tasks.not_found", {"code": ticket_id})]
    try:
        _check(ctx, ticket)
        return _act(ctx, ticket, action)
    except cases.CaseError as error:
        return [_refused(ticket.id, error, ticket.state)]


def _act(ctx: Context, ticket: Ticket, action: str) -> list[Reply]:
    code = {"code": ticket.id}
    if action == "v":
        return [card(ctx, ticket)]
    if action == "a":
        cases.accept(ctx.session, ticket, ctx.person_id, ctx.now, ctx.policy)
        return [Reply("tasks.accepted", code), card(ctx, ticket)]
    if action == "p":
        ctx.state.go(FLOW, "progress", ticket_id=ticket.id)
        return [Reply("tasks.ask_progress", code, [_cancel_row()])]
    if action == "q":
        if ticket.state == "waiting_for_resident":
            raise cases.CaseError("waiting")
        ctx.state.go(FLOW, "ask", ticket_id=ticket.id)
        return [Reply("tasks.ask_question", code, [_cancel_row()])]
    if action == "t":
        if ticket.transfer_requested_by is not None:
            raise cases.CaseError("transfer_pending")
        ctx.state.go(FLOW, "transfer", ticket_id=ticket.id)
        return [Reply("tasks.ask_reason", code, [_cancel_row()])]
    ctx.state.go(FLOW, "kind", ticket_id=ticket.id)
    return [_kind_reply(ctx, ticket)]


def _kind_reply(ctx: Context, ticket: Ticket) -> Reply:
    rows = [[Button(f"k:c:{ticket.id}:{kind}", f"tasks.btn_{kind}")] for kind in cases.CLOSURE_KINDS]
    return Reply(
        "tasks.choose_kind",
        {"code": ticket.id, "facility": _facility(ctx, ticket)},
        [*rows, _cancel_row()],
    )


def _flow_button(ctx: Context, parts: list[str]) -> list[Reply]:
    """Buttons inside the resolve flow: the closure kind (`k:c:<id>:<kind>`) and 完成 (`k:d:<id>`)."""
    ticket_id = parse_id(parts[2]) if len(parts) > 2 else None
    if ctx.state.flow != FLOW or ticket_id is None or ctx.state.data.get("ticket_id") != ticket_id:
        return [stale()]
    ticket = ctx.session.get(Ticket, ticket_id)
    if ticket is None:
        ctx.state.clear()
        return [stale()]
    action, step = parts[1], ctx.state.step
    if action == "c" and step == "kind" and len(parts) == 4 and parts[3] in cases.CLOSURE_KINDS:
        ctx.state.data["kind"] = parts[3]
        ctx.state.step = "note"
        return [_ask_result(ticket.id, parts[3])]  # type: ignore[arg-type]
    if action == "d" and step == "photos" and len(parts) == 3:
        return _finish_resolve(ctx, ticket)
    return [stale()]


def _ask_result(ticket_id: int, kind: str) -> Reply:
    return Reply("tasks.ask_result", {"code": ticket_id, "kind": kind}, [_cancel_row()])


def _photos_reply(ctx: Context, ticket: Ticket) -> Reply:
    count = len(ctx.state.data.get("photos", []))
    return Reply(
        "tasks.ask_after_photos",
        {"code": ticket.id, "count": count, "limit": tickets.MAX_PHOTOS},
        [[Button(f"k:d:{ticket.id}", "tasks.btn_done")], _cancel_row()],
    )


# --- typed text and photos inside the flow ---------------------------------------------------------


def on_message(ctx: Context, inbound: Inbound) -> list[Reply]:
    """Text and photos in the task flow: a progress note, a question, a transfer reason, a result note."""
    data = ctx.state.data
    ticket_id = data.get("ticket_id")
    ticket = ctx.session.get(Ticket, ticket_id) if isinstance(ticket_id, int) else None
    if ticket is None:
        ctx.state.clear()
        return [stale()]
    step = ctx.state.step
    text = inbound.text.strip()
    limit = MAX_REASON if step == "transfer" else tickets.MAX_NOTE
    if len(text) > limit:
        return [Reply("report.too_long", {"limit": limit, "length": len(text)})]
    photos = [[inbound.channel, a.ref] for a in inbound.attachments if a.kind == "photo"]
    try:
        if step == "progress":
            return _progress(ctx, ticket, text, photos)
        if step in ("ask", "transfer"):
            return _ask_or_transfer(ctx, ticket, step, text)
        if step == "note":
            if not text:
                return [Reply("tasks.note_needed"), _ask_result(ticket.id, data.get("kind", ""))]  # type: ignore[arg-type]
            data["note"] = text
            data["photos"] = photos[-1:]
            if _facility(ctx, ticket) and data.get("kind") in PHOTO_KINDS:
                ctx.state.step = "photos"
                return [_photos_reply(ctx, ticket)]
            return _finish_resolve(ctx, ticket)
        if step == "photos":
            if not photos:
                return [Reply("tasks.photos_expected"), _photos_reply(ctx, ticket)]
            stored = data.setdefault("photos", [])
            stored.extend(photos[: tickets.MAX_PHOTOS - len(stored)])
            if len(stored) >= tickets.MAX_PHOTOS:
                return _finish_resolve(ctx, ticket)
            return [_photos_reply(ctx, ticket)]
        if step == "kind":
            return [Reply("tasks.use_buttons"), _kind_reply(ctx, ticket)]
    except cases.CaseError as error:
        ctx.state.clear()
        return [_refused(ticket.id, error, ticket.state)]
    ctx.state.clear()
    return [stale()]


def _progress(ctx: Context, ticket: Ticket, text: str, photos: list[list[str]]) -> list[Reply]:
    data = ctx.state.data
    if photos:
        data["photo"] = photos[-1]
    if not text:
        if photos:
            return [Reply("tasks.progress_need_text", {"code": ticket.id}, [_cancel_row()])]
        return [Reply("tasks.ask_progress", {"code": ticket.id}, [_cancel_row()])]
    photo = data.get("photo")
    photos = [(str(photo[0]), str(photo[1]))] if photo else []
    cases.add_progress(ctx.session, ticket, ctx.person_id, text, ctx.now, ctx.policy, photos)
    ctx.state.clear()
    return [Reply("tasks.progress_sent", {"code": ticket.id, "photo": bool(photo)})]


def _ask_or_transfer(ctx: Context, ticket: Ticket, step: str, text: str) -> list[Reply]:
    if not text:
        block = "tasks.ask_question" if step == "ask" else "tasks.ask_reason"
        return [Reply(block, {"code": ticket.id}, [_cancel_row()])]
    if step == "ask":
        cases.ask_resident(ctx.session, ticket, ctx.person_id, text, ctx.now, ctx.policy)
        reply = Reply("tasks.asked", {"code": ticket.id})
    else:
        cases.request_transfer(ctx.session, ticket, ctx.person_id, text, ctx.now, ctx.policy)
        reply = Reply("tasks.transfer_sent", {"code": ticket.id})
    ctx.state.clear()
    return [reply]


def _finish_resolve(ctx: Context, ticket: Ticket) -> list[Reply]:
    data = ctx.state.data
    photos = [(str(p[0]), str(p[1])) for p in data.get("photos", [])]
    kind = str(data.get("kind", ""))
    try:
        cases.resolve(
            ctx.session,
            ticket,
            ctx.person_id,
            kind,
            str(data.get("note", "")),
            photos,
            _facility(ctx, ticket),
            ctx.now,
            ctx.policy,
        )
    except cases.CaseError as error:
        if error.reason == "photo_required":
            ctx.state.step = "photos"  # stay: one "after" photo is all it takes
            return [_refused(ticket.id, error, ticket.state), _photos_reply(ctx, ticket)]
        ctx.state.clear()
        return [_refused(ticket.id, error, ticket.state)]
    ctx.state.clear()
    return [Reply("tasks.resolved", {"code": ticket.id, "kind": kind, "photos": len(photos)})]


# --- /duty -----------------------------------------------------------------------------------------


def duty(ctx: Context, args: str = "") -> list[Reply]:
    """`/duty [on|off]`: a grid worker goes off duty (their grid's backup gets new tickets) or back on."""
    if not may(ctx.actor(), Action.DUTY):
        return [Reply("tasks.duty_not_grid")]
    person = ctx.session.get(Person, ctx.person_id)
    if person is None:
        return [stale()]
    wanted = args.strip().lower()
    if wanted in ("off", "休息", "离岗"):
        person.off_duty = True
    elif wanted in ("on", "在岗", "上岗"):
        person.off_duty = False
    else:
        person.off_duty = not person.off_duty
    grids = []
    for grid in ctx.session.exec(
        select(Grid).where(Grid.worker_id == ctx.person_id).order_by(col(Grid.id))
    ).all():
        backup = ctx.session.get(Person, grid.backup_id) if grid.backup_id else None
        grids.append(
            {
                "name": grid.name,
                "backup": bool(backup and not backup.off_duty),
                "backup_name": backup.name if backup else "",
            }
        )
    held = len(
        ctx.session.exec(
            select(Ticket.id).where(
                Ticket.holder_id == ctx.person_id, col(Ticket.state).in_(tickets.OPEN_STATES)
            )
        ).all()
    )
    return [Reply("tasks.duty", {"off": person.off_duty, "grids": grids, "held": held})]
