"""工单 page: one ticket at the desk — its facts, where it lies, the reporter (only where DESIGN §3 allows),
the whole timeline with photos and internal notes — and its actions as plain forms, each one core use case
(core/tickets.py) in one unit of work, redirecting back with what came of it."""

from __future__ import annotations

import mimetypes
import secrets
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from bot.console import replies
from bot.console.desk import Desk, Kit, PathId, Refused, require
from bot.stores import FileStore
from bot.uploads import NotAnImage, TooManyPixels, reencode
from core import ticket_views as views
from core import tickets
from core.permissions import Action
from core.ticket_cards import shown_name
from core.tickets import TicketError
from core.work import Work
from db.cases.states import CLOSURE_KINDS
from db.models import Attachment, Person
from db.types import parse_id
from handlers.types import KEEPS_FILES

MAX_TEXT = 2000  # a note, reason or reply, as the timeline keeps it
MAX_PHOTO = 10 * 1024 * 1024  # an "after" photo uploaded with a resolution
ACTIONS = (
    "assign",
    "transfer",
    "duplicate",
    "reclassify",
    "escalate",
    "supervise",
    "resolve",
    "internal",
    "reply",
)


def routes(kit: Kit) -> APIRouter:
    """GET /console/tickets/{id} and its files; POST /console/tickets/{id}/{action}."""
    router = APIRouter()
    store = FileStore(kit.files_dir) if kit.files_dir is not None else None

    def visible(work: Work, desk: Desk, ticket_id: int) -> views.DeskTicket:
        """The ticket when it lies in the desk's jurisdiction; 404 otherwise, never saying it exists."""
        found = views.desk_ticket(work, desk.actor, ticket_id)
        if found is None:
            raise Refused(404, "not_found")
        return found

    def on_disk(item: Attachment) -> bool:
        """Whether we hold the file ourselves (a Telegram photo is only Telegram's to show)."""
        return store is not None and item.channel in KEEPS_FILES and store.path(item.ref) is not None

    @router.get("/console/tickets/{ticket_id:int}", include_in_schema=False)
    def page(request: Request, ticket_id: PathId) -> HTMLResponse:
        desk = kit.desk(request)
        require(desk, Action.VIEW_QUEUE)
        with kit.sessions() as session:
            work = Work(session, kit.clock.now(), kit.policy, via="console")
            found = visible(work, desk, ticket_id)
            try:
                workers = views.assign_choices(work, desk.actor, ticket_id)[1] if found.may["assign"] else []
            except TicketError:
                workers = []
            requester = (
                session.get(Person, found.ticket.transfer_requested_by)
                if found.ticket.transfer_requested_by is not None
                else None
            )
            category = kit.catalog.get(found.ticket.category)
            context: dict[str, Any] = {
                "t": found.ticket,
                "found": found,
                "workers": workers,
                "requester": shown_name(session, requester),
                "held": {item.id: _kept(item, on_disk(item)) for step in found.steps for item in step.files},
                "before": [f for s in found.steps if s.event.actor_role == "resident" for f in s.files],
                "after": [f for s in found.steps if s.event.kind == "resolved" for f in s.files],
                "categories": kit.catalog.ordered,
                "sla_class": found.ticket.sla_class,
                "facility": bool(category and category.facility),
                "closure_kinds": CLOSURE_KINDS,
                "replies": replies.load().offered(found.ticket.category, desk.locale),
                "done": request.query_params.get("done", ""),
                "refused": request.query_params.get("refused", ""),
                "now": work.now,
            }
            return kit.page(request, desk, "ticket.html", **context)

    @router.get("/console/tickets/{ticket_id:int}/files/{attachment_id:int}", include_in_schema=False)
    def file(request: Request, ticket_id: PathId, attachment_id: PathId) -> Response:
        desk = kit.desk(request)
        require(desk, Action.VIEW_QUEUE)
        with kit.sessions() as session:
            visible(Work(session, kit.clock.now(), kit.policy, via="console"), desk, ticket_id)
            item = session.get(Attachment, attachment_id)
            if item is None or item.ticket_id != ticket_id or not on_disk(item):
                raise Refused(404, "not_found")
            ref = item.ref
        assert store is not None  # on_disk found the file in it
        path = store.path(ref)
        if path is None:
            raise Refused(404, "not_found")
        media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FileResponse(
            path,
            media_type=media,
            # not kept by the browser: after sign-out on a shared desk computer nothing stays behind
            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
        )

    def act(ticket_id: int, desk: Desk, name: str, run: Callable[[Work], object]) -> RedirectResponse:
        """Run one action's use case in a unit of work; back to the page with what came of it (a refused
        action rolls back whole)."""
        try:
            with kit.work() as work:
                visible(work, desk, ticket_id)
                run(work)
        except TicketError as error:
            return _back(ticket_id, refused=error.reason)
        return _back(ticket_id, done=name)

    @router.post("/console/tickets/{ticket_id:int}/{name}", include_in_schema=False)
    async def post(
        request: Request, ticket_id: PathId, name: str, desk: Desk = Depends(kit.posting)
    ) -> Response:
        require(desk, Action.VIEW_QUEUE)
        if name not in ACTIONS:
            raise Refused(404, "not_found")
        form = await request.form()

        def text(key: str) -> str:
            value = form.get(key, "")
            return value.strip()[:MAX_TEXT] if isinstance(value, str) else ""

        actor = desk.actor
        if name == "assign":
            worker = parse_id(text("worker"))
            if worker is None:
                return _back(ticket_id, refused="no_worker")
            return act(ticket_id, desk, name, lambda w: tickets.assign(w, actor, ticket_id, worker))
        if name == "transfer":
            approve = text("decision") == "approve"
            return act(ticket_id, desk, name, lambda w: tickets.decide_transfer(w, actor, ticket_id, approve))
        if name == "duplicate":
            original = parse_id(text("original").lstrip("#＃").strip())
            return act(
                ticket_id, desk, name, lambda w: tickets.close_duplicate(w, actor, ticket_id, original)
            )
        if name == "reclassify":
            category = kit.catalog.get(text("category"))
            if category is None:
                return _back(ticket_id, refused="bad_category")
            urgent, reason = text("urgent") == "1", text("reason")
            return act(
                ticket_id,
                desk,
                name,
                lambda w: tickets.reclassify(w, actor, ticket_id, category, urgent, reason),
            )
        if name in ("escalate", "supervise"):
            use = tickets.escalate if name == "escalate" else tickets.supervise
            note = text("note")
            return act(ticket_id, desk, name, lambda w: use(w, actor, ticket_id, note))
        if name == "resolve":
            kind, note = text("kind"), text("note")
            upload = form.get("photo")
            photos: list[tuple[str, str]] = []
            if isinstance(upload, UploadFile) and upload.filename:
                with kit.sessions() as session:  # nothing is written to disk for a ticket not theirs
                    visible(Work(session, kit.clock.now(), kit.policy, via="console"), desk, ticket_id)
                stored = await _store_photo(store, upload)
                if stored is None:
                    return _back(ticket_id, refused="bad_photo")
                photos.append(("web", stored))  # our own file: every channel can show it
            return act(ticket_id, desk, name, lambda w: _resolve(kit, w, desk, ticket_id, kind, note, photos))
        if name == "internal":
            note = text("note")
            return act(ticket_id, desk, name, lambda w: tickets.internal_note(w, actor, ticket_id, note))
        # reply: the textarea, when filled, wins over the chosen template (it is the edited one)
        said = text("text") or text("template")
        return act(ticket_id, desk, name, lambda w: tickets.reply(w, actor, ticket_id, said))

    return router


def _kept(item: Attachment, on_disk: bool) -> str:
    """Where a ticket's file is: on our disk, gone from it, or with the platform it came through."""
    if on_disk:
        return "disk"
    return "missing" if item.channel in KEEPS_FILES else "platform"


def _resolve(
    kit: Kit, work: Work, desk: Desk, ticket_id: int, kind: str, note: str, photos: list[tuple[str, str]]
) -> object:
    """Close honestly: a closure kind and a note (a facility's repair with its "after" photo)."""
    found = views.desk_ticket(work, desk.actor, ticket_id)
    category = kit.catalog.get(found.ticket.category) if found is not None else None
    facility = bool(category and category.facility)
    return tickets.resolve(work, desk.actor, ticket_id, kind, note, photos, facility)


async def _store_photo(store: FileStore | None, upload: UploadFile) -> str | None:
    """Keep an uploaded "after" photo as our own file (decoded and written anew, without its metadata)
    under a random name; None when it is no photo, too big, or there is nowhere to keep it. A photo of
    a refused resolution is no row's: the nightly clean-up removes it."""
    if store is None:
        return None
    data = await upload.read(MAX_PHOTO + 1)
    if not data or len(data) > MAX_PHOTO:
        return None
    try:
        stored, ext = reencode(data)
    except (NotAnImage, TooManyPixels):
        return None
    name = f"{secrets.token_urlsafe(24)}.{ext}"
    store.save(name, stored)
    return name


def _back(ticket_id: int, done: str = "", refused: str = "") -> RedirectResponse:
    """Back to the ticket's page, saying what came of the action."""
    query = f"done={done}" if done else f"refused={refused}"
    return RedirectResponse(f"/console/tickets/{ticket_id}?{query}#result", status_code=303)
