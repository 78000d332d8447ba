"""The console's 业委会: the committees of the compounds in one's jurisdiction (in office, ending within six
months, expired, none, 物管会), a compound's committee (members, term, filing, handover), setting a committee
or 物管会 with a form, and marking a handover done.

Every read and write goes through core.committee, as /committee does in the chat: the same jurisdiction,
the same rules, the same events (pushes go to the outbox) and the same audit entries.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from bot.console.desk import Desk, Kit, PathId, Refused, require
from core import committee as use
from core.committee import CommitteeError, Seat
from core.permissions import Action
from core.work import Work
from db.committee.rules import MANAGEMENT_POSTS, OWNER_POSTS, default_end
from db.types import parse_id

NEEDS = (Action.SEE_COMMITTEE, Action.MANAGE_COMMITTEE)
LIMIT = 200  # compounds listed: a street has a few dozen, a district a few hundred
OWNERS_SHOWN = 300  # owners offered on the form; more are found by name in the chat
KINDS = ("owners", "management")


def routes(kit: Kit) -> APIRouter:
    """GET /console/committees, GET /console/committees/{compound}, POST …/{compound}/set and
    …/{compound}/handover."""
    router = APIRouter()

    @router.get("/console/committees", include_in_schema=False)
    def listing(request: Request) -> HTMLResponse:
        desk = kit.desk(request)
        require(desk, *NEEDS)
        with kit.work() as work:
            compounds = use.compounds_for(work, desk.actor, Action.SEE_COMMITTEE)
            items = [use.view(work, desk.actor, c.id) for c in compounds[:LIMIT] if c.id is not None]
            return kit.page(request, desk, "committees.html", items=items, more=len(compounds) > LIMIT)

    @router.get("/console/committees/{compound_id:int}", include_in_schema=False)
    def page(request: Request, compound_id: PathId, done: str = "", error: str = "") -> HTMLResponse:
        desk = kit.desk(request)
        require(desk, *NEEDS)
        with kit.work() as work:
            return _page(kit, request, desk, work, compound_id, {}, done=done, error=error)

    @router.post("/console/committees/{compound_id:int}/set", include_in_schema=False)
    async def submit(request: Request, compound_id: PathId, desk: Desk = Depends(kit.posting)) -> Response:
        require(desk, Action.MANAGE_COMMITTEE, Action.SET_UP_MANAGEMENT)
        form = await request.form()
        return await run_in_threadpool(_submit, kit, request, desk, compound_id, form)

    @router.post("/console/committees/{compound_id:int}/handover", include_in_schema=False)
    def handover(compound_id: PathId, desk: Desk = Depends(kit.posting)) -> Response:
        require(desk, *NEEDS)
        try:
            with kit.work() as work:
                seen = _seen(work, desk, compound_id)
                if seen.handover is None or not seen.may_finish_handover:
                    raise Refused(404, "not_found")
                use.finish_handover(work, desk.actor, seen.handover.id or 0)
        except CommitteeError as exc:
            if exc.reason in ("not_found", "not_allowed"):
                raise Refused(404, "not_found") from exc
            return RedirectResponse(f"/console/committees/{compound_id}?error={exc.reason}", status_code=303)
        return RedirectResponse(f"/console/committees/{compound_id}?done=handover", status_code=303)

    return router


def _seen(work: Work, desk: Desk, compound_id: int) -> use.CommitteeView:
    """The compound's committee as the desk may see it; 404 for another jurisdiction's or no compound."""
    try:
        return use.view(work, desk.actor, compound_id)
    except CommitteeError as exc:
        raise Refused(404, "not_found") from exc


def _page(
    kit: Kit,
    request: Request,
    desk: Desk,
    work: Work,
    compound_id: int,
    form: dict[str, Any],
    errors: dict[str, str] | None = None,
    done: str = "",
    error: str = "",
    status: int = 200,
) -> HTMLResponse:
    seen = _seen(work, desk, compound_id)
    words = kit.words(desk.locale)["committees"]
    kinds = [k for k in KINDS if (seen.may_manage if k == "owners" else seen.may_set_up)]
    owners = use.owners(work, desk.actor, compound_id)[:OWNERS_SHOWN] if kinds else []
    staff = use.staff(work, desk.actor, compound_id) if seen.may_set_up else []
    today = work.now.astimezone(kit.zone).date()
    blank = {
        "kind": kinds[0] if kinds else "owners",
        "starts_on": today.isoformat(),
        "ends_on": default_end(today).isoformat(),
        "filed_on": "",
        "posts": {},
    }
    context: dict[str, Any] = {
        "seen": seen,
        "kinds": kinds,
        "owners": owners,
        "staff": staff,
        "owner_posts": OWNER_POSTS,
        "management_posts": MANAGEMENT_POSTS,
        "form": {**blank, **form},
        "errors": errors or {},
        "done": done if done in ("set", "handover") else "",
        "error": error if error in words["errors"] else "",
    }
    return kit.page(request, desk, "committees_show.html", status=status, **context)


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def _submit(kit: Kit, request: Request, desk: Desk, compound_id: int, form: FormData) -> Response:
    """Check the posted committee through the use case and set it, or show the form again with why not."""
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    kind = values.get("kind", "owners")
    posts: dict[int, str] = {}
    for key, post in values.items():
        person = parse_id(key.removeprefix("post_")) if key.startswith("post_") else None
        if person is not None and post:
            posts[person] = post
    shown: dict[str, Any] = {
        "kind": kind,
        "starts_on": values.get("starts_on", ""),
        "ends_on": values.get("ends_on", ""),
        "filed_on": values.get("filed_on", ""),
        "posts": posts,
    }
    with kit.work() as work:
        _seen(work, desk, compound_id)  # another jurisdiction's compound is not there at all
        starts_on, ends_on = _day(shown["starts_on"]), _day(shown["ends_on"])
        filed_on = _day(shown["filed_on"]) if shown["filed_on"] else None
        errors: dict[str, str] = {}
        if kind not in KINDS:
            errors["kind"] = "bad_kind"
        if starts_on is None:
            errors["starts_on"] = "bad_date"
        if ends_on is None:
            errors["ends_on"] = "bad_date"
        if shown["filed_on"] and filed_on is None:
            errors["filed_on"] = "bad_date"
        if errors or starts_on is None or ends_on is None:
            return _page(kit, request, desk, work, compound_id, shown, errors, status=422)
        seats = [Seat(person, post) for person, post in posts.items()]
        try:
            use.set_committee(work, desk.actor, compound_id, kind, starts_on, ends_on, filed_on, seats)
        except CommitteeError as exc:
            if exc.reason in ("not_found", "not_allowed"):
                raise Refused(403 if exc.reason == "not_allowed" else 404, exc.reason) from exc
            field = {"term_order": "ends_on", "term_too_long": "ends_on"}.get(exc.reason, "members")
            work.session.rollback()
            return _page(kit, request, desk, work, compound_id, shown, {field: exc.reason}, status=422)
    return RedirectResponse(f"/console/committees/{compound_id}?done=set", status_code=303)
