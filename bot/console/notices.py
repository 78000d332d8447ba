"""通知: the notices of one's jurisdiction with their delivery counts, composing one with the audience
shown before sending, and a notice's delivery report with cancel and remind.

Every read and write goes through core.notices, as /notice and /notices do in the chat: the same
jurisdiction, the same rules, the same events (pushes go to the outbox) and the same audit entries.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.console import notice_form
from bot.console.desk import Desk, Kit, PathId, QueryId, Refused, require
from bot.console.notice_form import NoticeForm
from bot.console.when import local_input
from core import notices as use
from core.permissions import Action
from core.work import Work
from db import notices as rules
from db import org
from db.models import OrgNode

PAGE = 50
ACTION = Action.SEND_NOTICE


def routes(kit: Kit) -> APIRouter:
    """GET /console/notices, GET/POST /console/notices/new, POST /console/notices/preview (the audience
    as a fragment), GET /console/notices/{id}, POST /console/notices/{id}/cancel and /remind."""
    router = APIRouter()

    @router.get("/console/notices", include_in_schema=False)
    def listing(request: Request, after: QueryId = None) -> HTMLResponse:
        desk = kit.desk(request)
        require(desk, ACTION)
        with kit.work() as work:
            try:
                rows = use.managed_page(work, desk.actor, PAGE + 1, after)
            except use.NoticeError as exc:
                raise Refused(404, "not_found") from exc
            shown = rows[:PAGE]
            items = [{"m": m, "state": use.state_of(work, m.notice)} for m in shown]
            more = shown[-1].notice.id if len(rows) > PAGE else None
            return kit.page(request, desk, "notices/list.html", items=items, more=more, after=after)

    @router.get("/console/notices/new", include_in_schema=False)
    def compose(request: Request) -> HTMLResponse:
        desk = kit.desk(request)
        require(desk, ACTION)
        with kit.work() as work:
            return _compose(kit, request, desk, work, notice_form.blank(), {}, fragment=False)

    @router.post("/console/notices/new", include_in_schema=False)
    def submit(
        request: Request, form: Annotated[NoticeForm, Form()], desk: Desk = Depends(kit.posting)
    ) -> Response:
        require(desk, ACTION)
        with kit.work() as work:
            draft, errors = notice_form.checked(work, desk.actor, form, kit.zone)
            if draft is None or form.go != "send":
                status = 422 if errors and form.go == "send" else 200
                return _compose(kit, request, desk, work, form, errors, fragment=False, status=status)
            try:
                published = use.publish_notice(work, desk.actor, draft)
            except use.NoticeError as exc:  # a rule that changed since the check (a grant gone)
                field = notice_form.FIELD_OF.get(exc.reason, "form")
                return _compose(kit, request, desk, work, form, {field: exc.reason}, False, 422)
        done = f"/console/notices/{published.notice_id}?done=published&n={published.audience}"
        return RedirectResponse(done, status_code=303)

    @router.post("/console/notices/preview", include_in_schema=False)
    def preview(
        request: Request, form: Annotated[NoticeForm, Form()], desk: Desk = Depends(kit.posting)
    ) -> HTMLResponse:
        require(desk, ACTION)
        with kit.work() as work:
            return _compose(kit, request, desk, work, form, {}, fragment=True)

    @router.get("/console/notices/{notice_id:int}", include_in_schema=False)
    def report(
        request: Request, notice_id: PathId, done: str = "", n: int = 0, error: str = ""
    ) -> HTMLResponse:
        desk = kit.desk(request)
        require(desk, ACTION)
        with kit.work() as work:
            try:
                managed = use.managed_notice(work, desk.actor, notice_id)
            except use.NoticeError as exc:  # not there, or another jurisdiction's: the same answer
                raise Refused(404, "not_found") from exc
            notice = managed.notice
            state = use.state_of(work, notice)
            counts = managed.counts
            context: dict[str, Any] = {
                "m": managed,
                "notice": notice,
                "state": state,
                "place": _place(work, notice.node_id),
                "buildings": _names(work, list(notice.buildings)),
                "cancellable": state != "cancelled" and counts.get("pending", 0) > 0,
                "remindable": notice.ack_required
                and state != "cancelled"
                and counts.get("sent", 0) > 0
                and bool(managed.waiting),
                "done": done if done in ("published", "cancelled", "reminded") else "",
                "n": n,
                "error": error if error in rules_errors(kit, desk) else "",
            }
            return kit.page(request, desk, "notices/show.html", **context)

    @router.post("/console/notices/{notice_id:int}/cancel", include_in_schema=False)
    def cancel(notice_id: PathId, desk: Desk = Depends(kit.posting)) -> Response:
        require(desk, ACTION)
        return _act(kit, desk, notice_id, use.cancel_notice, "cancelled")

    @router.post("/console/notices/{notice_id:int}/remind", include_in_schema=False)
    def remind(notice_id: PathId, desk: Desk = Depends(kit.posting)) -> Response:
        require(desk, ACTION)
        return _act(kit, desk, notice_id, use.remind, "reminded")

    return router


def rules_errors(kit: Kit, desk: Desk) -> dict[str, str]:
    """The refusals the report page can explain (the words' error keys)."""
    errors: dict[str, str] = kit.words(desk.locale)["notices"]["errors"]
    return errors


def _act(kit: Kit, desk: Desk, notice_id: int, action: Any, done: str) -> Response:
    """Cancel or remind through the use case, then back to the report saying what happened."""
    try:
        with kit.work() as work:
            count = action(work, desk.actor, notice_id)
    except use.NoticeError as exc:
        if exc.reason in ("not_found", "not_allowed"):
            raise Refused(404, "not_found") from exc
        return RedirectResponse(f"/console/notices/{notice_id}?error={exc.reason}", status_code=303)
    return RedirectResponse(f"/console/notices/{notice_id}?done={done}&n={count}", status_code=303)


def _place(work: Work, node_id: int) -> str:
    """A node's names from the top of the tree, e.g. 铁西区 / 北沟街道 / 英雄社区."""
    node = work.session.get(OrgNode, node_id)
    if node is None:
        return ""
    names = _names(work, rules.ancestor_ids(node))
    return " / ".join(names)


def _names(work: Work, ids: list[int]) -> list[str]:
    """The names of org nodes, in the order of their ids."""
    found = [work.session.get(OrgNode, i) for i in ids]
    return [n.name for n in found if n is not None]


def _compose(
    kit: Kit,
    request: Request,
    desk: Desk,
    work: Work,
    form: NoticeForm,
    errors: dict[str, str],
    fragment: bool,
    status: int = 200,
) -> HTMLResponse:
    """The compose page (or, for htmx, its live part: buildings and audience) for what was typed."""
    places = use.places(work, desk.actor)
    if not places:
        raise Refused(403, "not_allowed")
    chosen = next((p for p in places if str(p.id) == form.node), places[0])
    if not form.node:
        form = form.model_copy(update={"node": str(chosen.id)})
    buildings = org.children(work.session, chosen.id, "building") if chosen.kind == "compound" else []
    seen = None
    draft, unread = notice_form.read(form, kit.zone, work.now)
    # Only a node the person may send to is counted: a typed id of another community's node counts nothing.
    if draft is not None and draft.node_id == chosen.id and use.may_send(desk.actor, chosen):
        seen = use.preview_notice(work, draft)
    context: dict[str, Any] = {
        "form": form,
        "errors": errors or ({k: v for k, v in unread.items()} if form.go else {}),
        "places": [(p, _place(work, p.id or 0)) for p in places],
        "building_options": buildings,
        "kinds": rules.KINDS,
        "all_roles": rules.ROLES,
        "preview": seen,
        "now_input": local_input(work.now, kit.zone),
        "max_title": rules.MAX_TITLE,
        "max_body": rules.MAX_BODY,
    }
    name = "notices/_live.html" if fragment else "notices/new.html"
    return kit.page(request, desk, name, status=status, **context)
