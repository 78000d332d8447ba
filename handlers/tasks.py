"""The handler's side of a case: /tasks, the task card and its buttons (accept, progress, ask the resident,
request a transfer, resolve) and /duty. Who may act is decided by the use cases (core/tickets.py)."""

from __future__ import annotations

from pydantic import Field

from core import actions, tickets
from core import duty as duties
from core import ticket_views as views
from core.permissions import Action, Role, may
from core.tickets import TicketError
from db.cases.resolution import PHOTO_KINDS
from db.cases.states import CLOSURE_KINDS, OPEN_STATES
from db.models import Person
from db.tickets import MAX_NOTE, MAX_PHOTOS
from handlers.common import stale
from handlers.context import Context
from handlers.flows import Command, Draft, Flow
from handlers.types import Attachment, Button, Inbound, Reply, shows_photo

NAME = "task"
MAX_REASON = 500
LISTED = 12  # tasks with a button of their own in /tasks
OFF, ON = ("off", "休息", "离岗"), ("on", "在岗", "上岗")


class TaskDraft(Draft):
    """What the task flow keeps between turns: the ticket, and for a resolution its kind, note and photos."""

    ticket_id: int | None = None
    facility: bool = False  # a facility repair: fixed or partly fixed needs an "after" photo
    kind: str = ""
    note: str = ""
    photos: list[tuple[str, str]] = Field(default_factory=list)
    photo: tuple[str, str] | None = None  # the photo sent with (or before) a progress note


# --- who and what ----------------------------------------------------------------------------------


def is_worker(ctx: Context) -> bool:
    """Whether the person has a task list: they may hold tickets or answer for a level of the ladder."""
    return may(ctx.actor(), Action.LIST_TASKS)


def _facility(ctx: Context, category_key: str) -> bool:
    category = ctx.catalog.get(category_key)
    return bool(category and category.facility)


def _category_name(ctx: Context, key: str) -> str:
    category = ctx.catalog.get(key)
    return category.name(ctx.locale) if category else key


def _refused(ticket_id: int | None, error: TicketError) -> Reply:
    return Reply("tasks.refused", {"reason": error.reason, "code": ticket_id or "", "state": error.state})


def _cancel_row() -> list[Button]:
    return [Button(actions.Task("x").encode(), "cancel")]


def _enter(ctx: Context, step: str, draft: TaskDraft) -> None:
    ctx.state.go(NAME, step)
    draft.keep(ctx.state)


# --- /tasks and the card ---------------------------------------------------------------------------


def list_tasks(ctx: Context) -> list[Reply]:
    """`/tasks`: the open tasks this person holds, the nearest deadline first."""
    try:
        items = views.tasks_for(ctx.work, ctx.actor())
    except TicketError:
        return [Reply("tasks.not_staff")]
    if not items:
        return [Reply("tasks.none", {}, _duty_rows(ctx))]
    rows = [
        {
            "code": t.id,
            "category": _category_name(ctx, t.category),
            "state": t.state,
            "due": t.clock_due_at,
            "stage": t.clock_stage,
            "overdue": views.overdue(t, ctx.now),
            "paused": t.paused_at is not None,
            "mine": t.holder_id == ctx.person_id,
            "urgent": t.urgent,
        }
        for t in items
    ]
    buttons = [
        Button(actions.Task("v", ticket=t.id).encode(), "tasks.btn_open", args={"code": t.id})
        for t in items[:LISTED]
    ]
    return [
        Reply(
            "tasks.list",
            {"tasks": rows, "now": ctx.now},
            [*(buttons[i : i + 3] for i in range(0, len(buttons), 3)), *_duty_rows(ctx)],
        )
    ]


def _duty_rows(ctx: Context) -> list[list[Button]]:
    """A grid worker's duty switch under their task list: off duty, or back on."""
    if not any(g.role == Role.GRID_WORKER for g in ctx.roles()):
        return []
    person = ctx.session.get(Person, ctx.person_id)
    return [_duty_button(bool(person and person.off_duty))]


def _duty_button(off: bool) -> list[Button]:
    return [
        Button(
            actions.Task("n" if off else "f").encode(), "tasks.btn_on_duty" if off else "tasks.btn_off_duty"
        )
    ]


def _files(found: views.TaskCard, channel: str) -> list[Attachment]:
    """The card's photos and the report's voice, as far as this channel can show them."""
    files = [Attachment("photo", ref) for source, ref in found.photos if shows_photo(source, channel)]
    if found.voice is not None and shows_photo(found.voice[0], channel):
        files.append(Attachment("voice", found.voice[1], duration=found.voice[2]))
    return files


def card(ctx: Context, ticket_id: int) -> Reply:
    """The task card: the problem, where, the deadline, with the buttons that fit its state."""
    found = views.task_card(ctx.work, ctx.actor(), ticket_id)
    rows = [[Button(press.encode(), label) for press, label in row] for row in found.actions]
    return Reply(
        "tasks.card",
        found.context,
        [*rows, [Button(actions.Menu(command="/tasks").encode(), "tasks.btn_list")]],
        photos=_files(found, ctx.person.channel),
    )


def staff_card_for_code(ctx: Context, ticket_id: int) -> Reply | None:
    """`#code` for staff: the card of any ticket in their jurisdiction with who holds it, and (re)assign
    and mark-duplicate while it is open; None outside their jurisdiction."""
    found = views.staff_card(ctx.work, ctx.actor(), ticket_id)
    if found is None:
        return None
    rows: list[list[Button]] = []
    if found.context["state"] in OPEN_STATES:
        assign = "queue.btn_reassign" if found.context["held"] else "queue.btn_assign"
        rows.append(
            [
                Button.of(actions.Queue("a", ticket=ticket_id), assign, args={"code": ticket_id}),
                Button.of(
                    actions.Queue("d", ticket=ticket_id), "queue.btn_duplicate", args={"code": ticket_id}
                ),
            ]
        )
    return Reply(
        "tasks.card",
        found.context,
        rows,
        photos=_files(found, ctx.person.channel),
    )


def card_for_code(ctx: Context, ticket_id: int) -> Reply | None:
    """The task card of `#code` when this person may work the ticket, else None."""
    try:
        return card(ctx, ticket_id)
    except TicketError:
        return None


# --- buttons ---------------------------------------------------------------------------------------


def on_press(ctx: Context, press: actions.Task) -> list[Reply]:
    """Task buttons; every one is checked against the database and the flow's state."""
    if press.verb == "x":
        if ctx.state.flow != NAME:
            return [stale()]
        ctx.state.clear()
        return [Reply("common.cancelled")]
    if press.verb in ("f", "n"):
        return duty(ctx, "off" if press.verb == "f" else "on")
    if not is_worker(ctx):
        return [Reply("tasks.not_staff")]
    if press.verb in ("c", "d"):
        return _flow_press(ctx, press)
    ticket_id = press.ticket
    assert ticket_id is not None  # every other verb carries a ticket: decode checked the shape
    try:
        return _act(ctx, ticket_id, press.verb)
    except TicketError as error:
        if error.reason == "not_found":
            return [Reply("tasks.not_found", {"code": ticket_id})]
        return [_refused(ticket_id, error)]


def _act(ctx: Context, ticket_id: int, verb: str) -> list[Reply]:
    code = {"code": ticket_id}
    work, actor = ctx.work, ctx.actor()
    if verb == "v":
        return [card(ctx, ticket_id)]
    if verb == "a":
        tickets.accept(work, actor, ticket_id)
        return [Reply("tasks.accepted", code), card(ctx, ticket_id)]
    intent = {"q": "ask", "t": "transfer"}.get(verb, "")
    found = tickets.check_work(work, actor, ticket_id, intent)
    if verb == "p":
        _enter(ctx, "progress", TaskDraft(ticket_id=ticket_id))
        return [Reply("tasks.ask_progress", code, [_cancel_row()])]
    if verb == "q":
        _enter(ctx, "ask", TaskDraft(ticket_id=ticket_id))
        return [Reply("tasks.ask_question", code, [_cancel_row()])]
    if verb == "t":
        _enter(ctx, "transfer", TaskDraft(ticket_id=ticket_id))
        return [Reply("tasks.ask_reason", code, [_cancel_row()])]
    draft = TaskDraft(ticket_id=ticket_id, facility=_facility(ctx, found.category))
    _enter(ctx, "kind", draft)
    return [_kind_reply(draft)]


def _kind_reply(draft: TaskDraft) -> Reply:
    rows = [
        [Button(actions.Task("c", ticket=draft.ticket_id, closure=kind).encode(), f"tasks.btn_{kind}")]
        for kind in CLOSURE_KINDS
    ]
    return Reply(
        "tasks.choose_kind",
        {"code": draft.ticket_id, "facility": draft.facility},
        [*rows, _cancel_row()],
    )


def _flow_press(ctx: Context, press: actions.Task) -> list[Reply]:
    """Buttons inside the resolve flow: the closure kind and 完成 (done with the "after" photos)."""
    draft = TaskDraft.of(ctx.state)
    if ctx.state.flow != NAME or draft.ticket_id != press.ticket:
        return [stale()]
    step = ctx.state.step
    if press.verb == "c" and step == "kind" and press.closure in CLOSURE_KINDS:
        draft.kind = press.closure
        ctx.state.step = "note"
        draft.keep(ctx.state)
        return [_ask_result(draft)]
    if press.verb == "d" and step == "photos":
        return _finish_resolve(ctx, draft)
    return [stale()]


def _ask_result(draft: TaskDraft) -> Reply:
    return Reply("tasks.ask_result", {"code": draft.ticket_id, "kind": draft.kind}, [_cancel_row()])


def _photos_reply(draft: TaskDraft) -> Reply:
    done = actions.Task("d", ticket=draft.ticket_id).encode()
    return Reply(
        "tasks.ask_after_photos",
        {"code": draft.ticket_id, "count": len(draft.photos), "limit": MAX_PHOTOS},
        [[Button(done, "tasks.btn_done")], _cancel_row()],
    )


# --- typed text and photos inside the flow ---------------------------------------------------------


def on_message(ctx: Context, inbound: Inbound) -> list[Reply]:
    """Text and photos in the task flow: a progress note, a question, a transfer reason, a result note."""
    draft = TaskDraft.of(ctx.state)
    if draft.ticket_id is None:
        ctx.state.clear()
        return [stale()]
    step = ctx.state.step
    text = inbound.text.strip()
    limit = MAX_REASON if step == "transfer" else MAX_NOTE
    if len(text) > limit:
        return [Reply("report.too_long", {"limit": limit, "length": len(text)})]
    photos = [(inbound.channel, a.ref) for a in inbound.attachments if a.kind == "photo"]
    try:
        if step == "progress":
            return _progress(ctx, draft, text, photos)
        if step in ("ask", "transfer"):
            return _ask_or_transfer(ctx, draft.ticket_id, step, text)
        if step == "note":
            if not text:
                return [Reply("tasks.note_needed"), _ask_result(draft)]
            draft.note, draft.photos = text, photos[-1:]
            if draft.facility and draft.kind in PHOTO_KINDS:
                ctx.state.step = "photos"
                draft.keep(ctx.state)
                return [_photos_reply(draft)]
            draft.keep(ctx.state)
            return _finish_resolve(ctx, draft)
        if step == "photos":
            if not photos:
                return [Reply("tasks.photos_expected"), _photos_reply(draft)]
            draft.photos.extend(photos[: MAX_PHOTOS - len(draft.photos)])
            draft.keep(ctx.state)
            if len(draft.photos) >= MAX_PHOTOS:
                return _finish_resolve(ctx, draft)
            return [_photos_reply(draft)]
        if step == "kind":
            return [Reply("tasks.use_buttons"), _kind_reply(draft)]
    except TicketError as error:
        ctx.state.clear()
        return [stale()] if error.reason == "not_found" else [_refused(draft.ticket_id, error)]
    ctx.state.clear()
    return [stale()]


def _progress(ctx: Context, draft: TaskDraft, text: str, photos: list[tuple[str, str]]) -> list[Reply]:
    code = {"code": draft.ticket_id}
    if photos:
        draft.photo = photos[-1]
        draft.keep(ctx.state)
    if not text:
        block = "tasks.progress_need_text" if photos else "tasks.ask_progress"
        return [Reply(block, code, [_cancel_row()])]
    sent = [draft.photo] if draft.photo else []
    assert draft.ticket_id is not None  # on_message answers a draft without one as stale
    tickets.post_progress(ctx.work, ctx.actor(), draft.ticket_id, text, sent)
    ctx.state.clear()
    return [Reply("tasks.progress_sent", {**code, "photo": bool(sent)})]


def _ask_or_transfer(ctx: Context, ticket_id: int, step: str, text: str) -> list[Reply]:
    code = {"code": ticket_id}
    if not text:
        return [Reply("tasks.ask_question" if step == "ask" else "tasks.ask_reason", code, [_cancel_row()])]
    if step == "ask":
        tickets.ask_resident(ctx.work, ctx.actor(), ticket_id, text)
        reply = Reply("tasks.asked", code)
    else:
        tickets.request_transfer(ctx.work, ctx.actor(), ticket_id, text)
        reply = Reply("tasks.transfer_sent", code)
    ctx.state.clear()
    return [reply]


def _finish_resolve(ctx: Context, draft: TaskDraft) -> list[Reply]:
    ticket_id = draft.ticket_id
    assert ticket_id is not None  # reached only with the draft's ticket, checked against the press or text
    try:
        tickets.resolve(
            ctx.work, ctx.actor(), ticket_id, draft.kind, draft.note, list(draft.photos), draft.facility
        )
    except TicketError as error:
        if error.reason == "photo_required":
            ctx.state.step = "photos"  # stay: one "after" photo is all it takes
            draft.keep(ctx.state)
            return [_refused(ticket_id, error), _photos_reply(draft)]
        ctx.state.clear()
        return [stale()] if error.reason == "not_found" else [_refused(ticket_id, error)]
    ctx.state.clear()
    return [Reply("tasks.resolved", {"code": ticket_id, "kind": draft.kind, "photos": len(draft.photos)})]


# --- /duty -----------------------------------------------------------------------------------------


def duty(ctx: Context, args: str = "") -> list[Reply]:
    """`/duty [on|off]`: a grid worker goes off duty (their grid's backup gets new tickets) or back on."""
    wanted = args.strip().lower()
    try:
        found = duties.set_duty(
            ctx.work, ctx.actor(), True if wanted in OFF else False if wanted in ON else None
        )
    except TicketError as error:
        return [stale()] if error.reason == "not_found" else [Reply("tasks.duty_not_grid")]
    grids = [{"name": g.name, "backup": g.backup, "backup_name": g.backup_name} for g in found.grids]
    return [
        Reply("tasks.duty", {"off": found.off, "grids": grids, "held": found.held}, [_duty_button(found.off)])
    ]


FLOW = Flow(
    NAME,
    {
        "/tasks": Command(lambda ctx, _: list_tasks(ctx), leaves_flow=True),
        "/duty": Command(duty, typed_only=True),
    },
    actions.Task,
    on_press,
    on_message,
)
