"""纸质票 on a poll's console page (DESIGN §4.8): the printable ballots, the count of paper ballots, a CSV of
an open poll's paper ballots, and for a secret poll the register of sealed ballots handed in, the stubs,
and the sealed batch entered after the close by one person and confirmed by another.

Every write goes through core.paper with the desk's actor, which asks `Action.ENTER_BALLOT` over the
poll's compound; a file or a batch is taken whole or not at all, its bad lines shown by number.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.console.desk import Desk, Kit, PathId, QueryId, Refused, require
from bot.print_pages import Printer, scope_buildings, scope_count, scope_homes
from core import paper, proxies
from core import polls as use
from core.people import area_text
from core.permissions import Action
from core.work import Work
from db.models import Person, Poll
from db.polls.terms import PollError

MAX_FILE = 900 * 1024  # under the console's request limit; a bigger file goes by `linli poll ballots`
MAX_BATCH = 400_000  # characters typed or pasted: some 20 000 sealed ballots
MAX_STUBS = 10_000
DONE = ("entered", "batch", "confirmed", "discarded", "voided")

# Renders the poll's page with the paper section's problems: (request, desk, work, poll id, status, extra).
ShowPage = Callable[[Request, Desk, Work, int, int, dict[str, Any]], HTMLResponse]


def allowed(work: Work, desk: Desk, poll: Poll) -> bool:
    """Whether the desk may enter this poll's paper ballots (ENTER_BALLOT over its compound)."""
    return desk.may(Action.ENTER_BALLOT) and paper.may_enter(work, desk.actor, poll)


def _poll(work: Work, desk: Desk, poll_id: int) -> Poll:
    """The poll, for those who run it or enter its ballots (as if there were none for anyone else)."""
    poll = work.session.get(Poll, poll_id)
    if poll is None or not (use.runs(work, desk.actor, poll) or allowed(work, desk, poll)):
        raise Refused(404, "not_found")
    return poll


def _name(work: Work, person_id: int | None) -> str:
    person = work.session.get(Person, person_id) if person_id is not None else None
    return person.name if person is not None and person.name else f"#{person_id}"


def section(
    work: Work, desk: Desk, poll: Poll, extra: dict[str, Any], key: bytes = b""
) -> dict[str, Any] | None:
    """What the poll page's 纸质票 section shows this desk (None: the section is not theirs); a waiting
    batch's ballots are listed for the second person to check them against the opened papers."""
    if not allowed(work, desk, poll):
        return None
    poll_id = use.id_of(poll)
    by_method = paper.counts(work, poll)
    total = sum(by_method.values())
    ended = poll.state == "closed" or work.now >= poll.closes_at
    found: dict[str, Any] = {
        "total": total,
        "by_method": by_method,
        "ended": ended,
        "open": poll.state == "open" and not ended,
        "homes": scope_count(work.session, poll),
        "register": None,
        "batch": None,
        "flagged": proxies.flagged(work, desk.actor, poll.node_id),
        "problems": extra.get("problems", []),
        "refused": extra.get("refused", ""),
        "done": extra.get("done", ""),
        "n": extra.get("n", 0),
        "typed": extra.get("typed", ""),
    }
    if poll.secret:
        register = paper.register(work, desk.actor, poll_id)
        found["register"] = register
        if register.batch is not None:
            batch = register.batch
            found["batch"] = {
                "count": batch.count,
                "by": _name(work, batch.entered_by),
                "at": batch.entered_at,
                "mine": batch.entered_by == desk.person_id,
                "confirmed": batch.confirmed_by is not None,
                "confirmed_by": _name(work, batch.confirmed_by) if batch.confirmed_by is not None else "",
                "confirmed_at": batch.confirmed_at,
                "lines": [
                    (code or "—", area_text(area), choice)
                    for code, area, choice in paper.pending_lines(work, desk.actor, poll_id, key)
                ]
                if key and batch.confirmed_by is None
                else [],
            }
    return found


def routes(kit: Kit, show: ShowPage) -> APIRouter:
    """GET /console/polls/{id}/print, POST /console/polls/{id}/stubs, POST /console/polls/{id}/paper/file,
    POST /console/polls/{id}/paper/batch, POST /console/polls/{id}/paper/confirm, …/paper/discard and
    …/paper/void (a lost envelope)."""
    router = APIRouter()

    @router.get("/console/polls/{poll_id:int}/print", include_in_schema=False)
    def sheets(request: Request, poll_id: PathId, building: QueryId = None) -> HTMLResponse:
        desk = kit.desk(request)
        require(desk, Action.RUN_POLL, Action.ENTER_BALLOT)
        with kit.work() as work:
            poll = _poll(work, desk, poll_id)
            if building is not None and building not in {b.id for b in scope_buildings(work.session, poll)}:
                raise Refused(404, "not_found")
            homes = scope_homes(work.session, poll, building)
            html = Printer(kit.zone, desk.locale).sheets(work.session, poll, homes)
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    @router.post("/console/polls/{poll_id:int}/stubs", include_in_schema=False)
    def stubs(
        request: Request,
        poll_id: PathId,
        count: Annotated[str, Form(max_length=10)] = "",
        desk: Desk = Depends(kit.posting),
    ) -> Response:
        require(desk, Action.ENTER_BALLOT)
        wanted = int(count) if count.strip().isdigit() else 0
        with kit.work() as work:
            poll = _poll(work, desk, poll_id)
            if not poll.secret:
                return show(request, desk, work, poll_id, 422, {"refused": "not_secret"})
            if not 1 <= wanted <= MAX_STUBS:
                return show(request, desk, work, poll_id, 422, {"refused": "count_limit"})
            try:
                codes = paper.issue_stubs(work, desk.actor, poll_id, wanted)
            except PollError as exc:
                work.session.rollback()
                work.events.clear()
                return show(request, desk, work, poll_id, 422, {"refused": exc.reason})
            html = Printer(kit.zone, desk.locale).stubs(work.session, poll, codes)
        # The codes are shown this once: the page must not be kept by the browser or a proxy.
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    @router.post("/console/polls/{poll_id:int}/paper/file", include_in_schema=False)
    async def upload(
        request: Request,
        poll_id: PathId,
        desk: Desk = Depends(kit.posting),
        file: UploadFile | None = File(None),
    ) -> Response:
        require(desk, Action.ENTER_BALLOT)
        text, problem = await _read(file)
        with kit.work() as work:
            _poll(work, desk, poll_id)
            if problem:
                return show(request, desk, work, poll_id, 422, {"refused": problem})
            try:
                entered = paper.enter_file(work, desk.actor, poll_id, text)
            except paper.PaperFileError as exc:
                _undo(work)
                problems = [(p.line, p.reason, p.detail) for p in exc.problems]
                return show(request, desk, work, poll_id, 422, {"problems": problems})
            except PollError as exc:
                _undo(work)
                return show(request, desk, work, poll_id, 422, {"refused": exc.reason})
        return _done(poll_id, "entered", len(entered))

    @router.post("/console/polls/{poll_id:int}/paper/batch", include_in_schema=False)
    def batch(
        request: Request,
        poll_id: PathId,
        lines: Annotated[str, Form(max_length=MAX_BATCH)] = "",
        desk: Desk = Depends(kit.posting),
    ) -> Response:
        require(desk, Action.ENTER_BALLOT)
        with kit.work() as work:
            _poll(work, desk, poll_id)
            try:
                typed = paper.parse_batch(work, desk.actor, poll_id, lines)
                entered = paper.enter_batch(work, desk.actor, poll_id, typed, kit.seal_key)
            except paper.PaperFileError as exc:
                _undo(work)
                problems = [(p.line, p.reason, p.detail) for p in exc.problems]
                return show(request, desk, work, poll_id, 422, {"problems": problems, "typed": lines})
            except PollError as exc:
                _undo(work)
                return show(request, desk, work, poll_id, 422, {"refused": exc.reason, "typed": lines})
        return _done(poll_id, "batch", entered.count)

    @router.post("/console/polls/{poll_id:int}/paper/confirm", include_in_schema=False)
    def confirm(request: Request, poll_id: PathId, desk: Desk = Depends(kit.posting)) -> Response:
        require(desk, Action.ENTER_BALLOT)
        with kit.work() as work:
            _poll(work, desk, poll_id)
            try:
                done = paper.confirm_batch(work, desk.actor, poll_id, kit.seal_key)
            except PollError as exc:
                _undo(work)
                return show(request, desk, work, poll_id, 409, {"refused": exc.reason})
        return _done(poll_id, "confirmed", done.count)

    @router.post("/console/polls/{poll_id:int}/paper/discard", include_in_schema=False)
    def discard(request: Request, poll_id: PathId, desk: Desk = Depends(kit.posting)) -> Response:
        require(desk, Action.ENTER_BALLOT)
        with kit.work() as work:
            _poll(work, desk, poll_id)
            try:
                paper.discard_batch(work, desk.actor, poll_id)
            except PollError as exc:
                _undo(work)
                return show(request, desk, work, poll_id, 409, {"refused": exc.reason})
        return _done(poll_id, "discarded", 0)

    @router.post("/console/polls/{poll_id:int}/paper/void", include_in_schema=False)
    def void(
        request: Request,
        poll_id: PathId,
        home: Annotated[int, Form(ge=1, le=2**31 - 1)],
        desk: Desk = Depends(kit.posting),
    ) -> Response:
        require(desk, Action.ENTER_BALLOT)
        with kit.work() as work:
            _poll(work, desk, poll_id)
            try:
                paper.void_sealed(work, desk.actor, poll_id, home)
            except PollError as exc:
                _undo(work)
                return show(request, desk, work, poll_id, 409, {"refused": exc.reason})
        return _done(poll_id, "voided", 0)

    return router


def done_of(paper_done: str, n: int) -> dict[str, Any]:
    """What a redirect after a paper action says it did (anything else is ignored)."""
    return {"done": paper_done, "n": n} if paper_done in DONE else {}


def _done(poll_id: int, what: str, n: int) -> RedirectResponse:
    return RedirectResponse(f"/console/polls/{poll_id}?paper_done={what}&n={n}#paper", status_code=303)


async def _read(file: UploadFile | None) -> tuple[str, str]:
    """The text of an uploaded CSV, or the reason it cannot be read."""
    if file is None or not file.filename:
        return "", "empty"
    data = await file.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        return "", "too_many_lines"
    try:
        return data.decode("utf-8-sig"), ""
    except UnicodeDecodeError:
        return "", "encoding"


def _undo(work: Work) -> None:
    """Forget whatever a refused file or batch wrote: it is taken whole or not at all."""
    work.session.rollback()
    work.events.clear()
