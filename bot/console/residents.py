"""居民: residents waiting for verification (approve, reject, in bulk), finding people of the jurisdiction,
printable entrance invites with QR codes, and the grids' workers, backups and duty.

Every decision runs the chat's use cases (core.people.decide_residency, core.duty) inside `kit.work()`:
the same jurisdiction checks, the same message to the resident, the same audit entry (via "console").
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import segno
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from bot import invite_qr
from bot.console.desk import Desk, Kit, Refused, require
from bot.stores import FileStore
from core import duty, people
from core.people import PeopleError
from core.permissions import Action
from db.cases.states import TicketError
from db.models import Home, OrgNode, Residency

APPROVE = Action.APPROVE_RESIDENT
MAX_PENDING = 200  # one page of requests; a community rarely has more waiting at once
MAX_BULK = 200
PHOTO_TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".gif": "image/gif", ".webp": "image/webp"}
# Notices after a decision, by the key the redirect carries (words: w.residents.done[key]).
DONE = ("approved", "rejected", "already_decided", "document_missing", "duty", "backup", "bad_backup")


def qr_svg(content: str) -> str:
    """A QR code as an SVG data address for an <img> (no inline styles: the page's CSP forbids them)."""
    qr = segno.make_qr(content, error="m")
    buffer = io.BytesIO()
    qr.save(buffer, kind="svg", scale=6, border=invite_qr.BORDER, xmldecl=False)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _int(value: str) -> int | None:
    """A form or path id, or None when it is not one."""
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() and 0 < len(value) <= 12 else None


def routes(kit: Kit) -> APIRouter:
    """GET /console/residents (waiting, search), POST decide / approve-many, GET the certificate photo,
    GET /console/residents/invites, GET /console/residents/grids and POST duty / backup."""
    router = APIRouter()
    store = FileStore(kit.files_dir) if kit.files_dir is not None else None

    def on_disk(document: tuple[str, str] | None) -> bool:
        return document is not None and store is not None and store.path(document[1]) is not None

    @router.get("/console/residents", include_in_schema=False)
    def residents(request: Request, q: str = "", done: str = "", count: int = 0) -> HTMLResponse:
        desk = kit.desk(request)
        require(desk, APPROVE)
        q = q.strip()[:40]
        with kit.work() as work:
            waiting = people.pending_for(work, desk.actor, limit=MAX_PENDING)
            found = people.search(work, desk.actor, q) if q else []
        rows = [{"w": w, "photo": on_disk(w.document)} for w in waiting]
        return kit.page(
            request,
            desk,
            "residents.html",
            rows=rows,
            q=q,
            found=found,
            searched=bool(q),
            done=done if done in DONE else "",
            count=max(0, min(count, MAX_BULK)),
        )

    def decide_one(desk: Desk, residency_id: int, approve: bool) -> str:
        """Run the chat's decision; the notice key it leads to (refusals of access are raised)."""
        try:
            with kit.work() as work:
                people.decide_residency(work, desk.actor, residency_id, approve)
        except PeopleError as refused:
            if refused.reason in ("already_decided", "document_missing"):
                return refused.reason
            if refused.reason == "stale":
                raise Refused(404, "not_found") from None
            raise Refused(403, "not_allowed") from None
        return "approved" if approve else "rejected"

    @router.post("/console/residents/decide", include_in_schema=False)
    def decide(
        desk: Desk = Depends(kit.posting),
        residency: str = Form(""),
        verb: str = Form(""),
    ) -> RedirectResponse:
        require(desk, APPROVE)
        residency_id = _int(residency)
        if residency_id is None or verb not in ("approve", "reject"):
            raise Refused(400, "bad_request")
        outcome = decide_one(desk, residency_id, verb == "approve")
        return RedirectResponse(f"/console/residents?done={outcome}&count=1", status_code=303)

    @router.post("/console/residents/approve", include_in_schema=False)
    def approve_many(
        desk: Desk = Depends(kit.posting),
        ids: list[str] | None = Form(None),
    ) -> RedirectResponse:
        require(desk, APPROVE)
        chosen = [i for i in (_int(v) for v in (ids or [])[:MAX_BULK]) if i is not None]
        if not chosen:
            raise Refused(400, "bad_request")
        approved, other, refused = 0, "", None
        for residency_id in chosen:
            # Each on its own: one already decided, missing its certificate or (a forged id) not ours
            # does not hold up the rest.
            try:
                outcome = decide_one(desk, residency_id, True)
            except Refused as refusal:
                refused = refused or refusal
                continue
            if outcome == "approved":
                approved += 1
            else:
                other = other or outcome
        if refused is not None and not approved and not other:
            raise refused
        done = "approved" if approved or not other else other
        return RedirectResponse(f"/console/residents?done={done}&count={approved}", status_code=303)

    @router.get("/console/residents/{residency_id}/document", include_in_schema=False)
    def document(request: Request, residency_id: str) -> FileResponse:
        desk = kit.desk(request)
        require(desk, APPROVE)
        number = _int(residency_id)
        with kit.sessions() as session:
            residency = session.get(Residency, number) if number is not None else None
            home = session.get(Home, residency.home_id) if residency is not None else None
            compound = session.get(OrgNode, home.compound_id) if home is not None else None
            if residency is None or compound is None:
                raise Refused(404, "not_found")
            if not people.may_approve(desk.actor, compound):
                raise Refused(404, "not_found")  # as unknown: another community's registrations stay unseen
            ref = residency.document_ref
        path = store.path(ref) if store is not None and ref else None
        if path is None or Path(path).suffix not in PHOTO_TYPES:
            raise Refused(404, "not_found")
        return FileResponse(
            path,
            media_type=PHOTO_TYPES[Path(path).suffix],
            headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
        )

    @router.get("/console/residents/invites", include_in_schema=False)
    def invites(request: Request, node: str = "") -> HTMLResponse:
        desk = kit.desk(request)
        require(desk, APPROVE)
        under = _int(node) if node else None
        if node and under is None:
            raise Refused(400, "bad_request")
        try:
            with kit.work() as work:  # codes are made the first time an entrance is printed
                entrances = people.entrance_invites(work, desk.actor, under)
                compounds = people.compounds_of(work, desk.actor)
        except PeopleError:
            raise Refused(403, "not_allowed") from None
        sheets = [
            {"place": e.place, "code": e.code, "qr": qr_svg(invite_qr.web_link(kit.public_url, e.code))}
            for e in entrances
        ]
        return kit.page(
            request,
            desk,
            "residents_invites.html",
            sheets=sheets,
            compounds=compounds,
            node=under,
            sheet=kit.words("zh_CN")["residents"],  # the sheets are for residents: always in Chinese
        )

    @router.get("/console/residents/grids", include_in_schema=False)
    def grids(request: Request, done: str = "") -> HTMLResponse:
        desk = kit.desk(request)
        require(desk, APPROVE)
        with kit.work() as work:
            rows = duty.managed_grids(work, desk.actor)
        return kit.page(request, desk, "residents_grids.html", grids=rows, done=done if done in DONE else "")

    def grid_change(desk: Desk, change: str, grid_id: int, value: str) -> str:
        try:
            with kit.work() as work:
                if change == "duty":
                    duty.set_worker_duty(work, desk.actor, grid_id, value == "off")
                else:
                    duty.set_backup(work, desk.actor, grid_id, _int(value) if value else None)
        except TicketError as refused:
            if refused.args and refused.args[0] == "bad_backup":
                return "bad_backup"
            if refused.args and refused.args[0] == "not_allowed":
                raise Refused(403, "not_allowed") from None
            raise Refused(404, "not_found") from None
        return change

    @router.post("/console/residents/grids/{grid_id}/duty", include_in_schema=False)
    def set_duty(
        grid_id: str,
        desk: Desk = Depends(kit.posting),
        state: str = Form(""),
    ) -> RedirectResponse:
        require(desk, APPROVE)
        number = _int(grid_id)
        if number is None or state not in ("on", "off"):
            raise Refused(400, "bad_request")
        done = grid_change(desk, "duty", number, state)
        return RedirectResponse(f"/console/residents/grids?done={done}", status_code=303)

    @router.post("/console/residents/grids/{grid_id}/backup", include_in_schema=False)
    def set_backup(
        grid_id: str, desk: Desk = Depends(kit.posting), backup: str = Form("")
    ) -> RedirectResponse:
        require(desk, APPROVE)
        number = _int(grid_id)
        if number is None or (backup and _int(backup) is None):
            raise Refused(400, "bad_request")
        done = grid_change(desk, "backup", number, backup)
        return RedirectResponse(f"/console/residents/grids?done={done}", status_code=303)

    return router
