"""Staff work queue: `/queue` (unassigned, transfer requests, overdue, escalated to me) and its buttons:
choose a grid worker and assign, decide a transfer request, close as a duplicate (then the original's
#code is typed), cancel. Everything is checked again by the use cases (core/tickets.py)."""

from __future__ import annotations

import re
from typing import Any

from core import actions, tickets
from core import ticket_views as views
from core.permissions import Action, may
from core.ticket_cards import phone_tail, shown_name
from core.tickets import TicketError
from db.models import Person
from db.types import parse_id
from handlers.common import stale
from handlers.context import Context
from handlers.flows import Command, Draft, Flow
from handlers.types import Button, Inbound, Reply

NAME = "queue"
PER_SECTION = 8  # tickets listed per section; the rest are counted
GIST = 30  # characters of a ticket's description a queue line shows
WORKERS = 20  # workers offered as buttons
CODE = re.compile(r"^[#＃]?\s*(\d{1,12})$")


class QueueDraft(Draft):
    """The duplicate question: which ticket is to be closed as a duplicate."""

    ticket: int | None = None


def queue(ctx: Context) -> list[Reply]:
    """`/queue`: the open tickets in the staff member's jurisdiction that need them, by section."""
    try:
        found = views.queue_for(ctx.work, ctx.actor())
    except TicketError:
        return [Reply("queue.not_staff")]
    counts = {s: len(found[s]) for s in views.SECTIONS}
    if not any(counts.values()):
        return [Reply("queue.empty")]
    replies = [Reply("queue.header", {"counts": counts, "total": sum(counts.values())})]
    for section in views.SECTIONS:
        if found[section]:
            replies.append(_section(ctx, section, found[section]))
    return replies


def _item(ctx: Context, line: views.QueueLine) -> dict[str, Any]:
    ticket = line.ticket
    return {
        "code": ticket.id,
        "category": ticket.category,
        "place": line.place,
        "state": ticket.state,
        "level": ticket.level,
        "stage": ticket.clock_stage,
        "due": ticket.clock_due_at.isoformat() if ticket.clock_due_at else "",
        "overdue": bool(
            ticket.paused_at is None and ticket.clock_due_at is not None and ticket.clock_due_at < ctx.now
        ),
        "urgent": ticket.urgent,
        "reason": ticket.transfer_reason,
        "gist": gist(ticket.description),
        "photos": line.photos,
        "weight": ticket.weight,
    }


def gist(text: str, size: int = GIST) -> str:
    """The start of a description on one line: spaces and line breaks folded, cut with "…"."""
    flat = " ".join(text.split())
    return flat if len(flat) <= size else flat[: size - 1] + "…"


def _button(verb: str, ticket_id: int, label: str) -> Button:
    return Button(actions.Queue(verb, ticket=ticket_id).encode(), label, args={"code": ticket_id})


def _section(ctx: Context, section: str, lines: list[views.QueueLine]) -> Reply:
    shown = lines[:PER_SECTION]
    rows: list[list[Button]] = []
    for line in shown:
        code = line.ticket.id
        assert code is not None
        if section == "transfer":
            rows.append([_button("ty", code, "queue.btn_approve"), _button("tn", code, "queue.btn_reject")])
        else:
            assign = "queue.btn_assign" if line.ticket.holder_id is None else "queue.btn_reassign"
            rows.append([_button("a", code, assign), _button("d", code, "queue.btn_duplicate")])
    items = [_item(ctx, line) for line in shown]
    return Reply("queue.section", {"section": section, "items": items, "more": len(lines) - len(shown)}, rows)


# --- buttons --------------------------------------------------------------------------------------


def on_press(ctx: Context, press: actions.Queue) -> list[Reply]:
    """Every queue button, checked against the database before anything changes."""
    if press.verb == "x":
        return cancel(ctx)
    if not may(ctx.actor(), Action.VIEW_QUEUE):
        return [Reply("queue.not_staff")]
    ticket_id = press.ticket
    assert ticket_id is not None  # every other verb carries a ticket: decode checked the shape
    try:
        if press.verb == "a":
            return _choose_worker(ctx, ticket_id)
        if press.verb == "w":
            assert press.worker is not None  # the verb carries a worker: decode checked the shape
            return _assign(ctx, ticket_id, press.worker)
        if press.verb in ("ty", "tn"):
            return _decide(ctx, ticket_id, press.verb == "ty")
        return _ask_original(ctx, ticket_id)
    except TicketError as error:
        if error.reason in ("not_found", "no_worker"):
            return [stale()]
        return _refused(error, ticket_id)


def _refused(error: TicketError, code: int | None) -> list[Reply]:
    return [Reply("queue.refused", {"reason": error.reason, "code": code})]


def _choose_worker(ctx: Context, ticket_id: int) -> list[Reply]:
    """List the grid workers of the ticket's community as assign buttons."""
    ticket, workers = views.assign_choices(ctx.work, ctx.actor(), ticket_id)
    if not workers:
        return [Reply("queue.no_workers", {"code": ticket_id})]
    rows = [
        [
            Button(
                actions.Queue("w", ticket=ticket_id, worker=worker.person_id).encode(),
                "queue.btn_worker",
                args={
                    "name": worker.name,
                    "tail": worker.tail,
                    "number": number,
                    "own_grid": worker.own_grid,
                    "off_duty": worker.off_duty,
                    "holder": worker.holder,
                },
            )
        ]
        for number, worker in enumerate(workers[:WORKERS], 1)
    ]
    return [Reply("queue.choose_worker", {"code": ticket_id, "category": ticket.category}, rows)]


def _assign(ctx: Context, ticket_id: int, worker_id: int) -> list[Reply]:
    tickets.assign(ctx.work, ctx.actor(), ticket_id, worker_id)
    worker = ctx.session.get(Person, worker_id)
    name = shown_name(ctx.session, worker)
    tail = phone_tail(worker.phone) if worker is not None else ""
    return [Reply("queue.assigned", {"code": ticket_id, "name": name, "tail": tail})]


def _decide(ctx: Context, ticket_id: int, approve: bool) -> list[Reply]:
    tickets.decide_transfer(ctx.work, ctx.actor(), ticket_id, approve)
    buttons = [[_button("a", ticket_id, "queue.btn_assign")]] if approve else []
    return [Reply("queue.transfer_decided", {"code": ticket_id, "approved": approve}, buttons)]


def _cancel_row() -> list[Button]:
    return [Button(actions.Queue("x").encode(), "cancel")]


def _ask_original(ctx: Context, ticket_id: int) -> list[Reply]:
    tickets.check_duplicate(ctx.work, ctx.actor(), ticket_id)
    ctx.state.go(NAME, "original")
    QueueDraft(ticket=ticket_id).keep(ctx.state)
    return [Reply("queue.ask_original", {"code": ticket_id}, [_cancel_row()])]


def cancel(ctx: Context) -> list[Reply]:
    """Leave the duplicate question without changing anything."""
    if ctx.state.flow != NAME:
        return [stale()]
    ctx.state.clear()
    return [Reply("common.cancelled")]


def on_message(ctx: Context, inbound: Inbound) -> list[Reply]:
    """The original's #code, typed after pressing "duplicate"."""
    ticket_id = QueueDraft.of(ctx.state).ticket
    if ticket_id is None or ctx.state.step != "original":
        ctx.state.clear()
        return [stale()]
    match = CODE.match(inbound.text.strip())
    original_id = parse_id(match.group(1)) if match else None
    try:
        tickets.close_duplicate(ctx.work, ctx.actor(), ticket_id, original_id)
    except TicketError as error:
        if error.reason == "no_such_original":  # a ticket outside the jurisdiction is not shown to exist
            return [Reply("queue.no_such_ticket", {"code": ticket_id}, [_cancel_row()])]
        if error.reason == "bad_original":  # a slip of the finger: ask again rather than end the question
            same = original_id == ticket_id
            context = {"code": ticket_id, "original": original_id, "same": same}
            return [Reply("queue.bad_original", context, [_cancel_row()])]
        ctx.state.clear()
        return [stale()] if error.reason == "not_found" else _refused(error, ticket_id)
    ctx.state.clear()
    return [Reply("queue.duplicate_done", {"code": ticket_id, "original": original_id})]


FLOW = Flow(
    NAME,
    {"/queue": Command(lambda ctx, _: queue(ctx), leaves_flow=True)},
    actions.Queue,
    on_press,
    on_message,
)
