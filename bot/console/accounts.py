"""The console's 收支公示: the statements under the desk's jurisdiction with filters (compound, period,
state), one opened (the same table, chart, versions and questions as the residents' page, each question
linked to its ticket), uploading a statement file (YAML/CSV, every bad line shown with its line number,
nothing saved), publishing a draft, and correcting a published statement with a note.

Everything goes through core.ledger inside `kit.work()`: the same permission policy as the chat (a company
sees only the compounds it serves), the same rules, audit entries and pushes. This section also mounts the
residents' statement page (bot/accounts_page.py), which renders with the same kit.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot import accounts_page
from bot.console import accounts_file
from bot.console.desk import Desk, Kit, PathId, QueryId, Refused, require
from core import ledger
from core.permissions import Action
from core.work import Work
from db.ledger.periods import PeriodError, parse_period, previous_quarter

ACTIONS = (Action.SEE_ACCOUNTS, Action.FILE_STATEMENT)
LISTED = 200
DONE = ("published", "saved", "corrected")
Text = Annotated[str, Form(max_length=600)]


def routes(kit: Kit) -> APIRouter:
    """GET /console/accounts (the list), GET/POST /console/accounts/upload, GET /console/accounts/{id},
    POST /console/accounts/{id}/publish and /correct; and the residents' GET /accounts/{id}."""
    router = APIRouter()
    router.include_router(accounts_page.routes(kit))

    @router.get("/console/accounts", include_in_schema=False)
    def listing(
        request: Request,
        compound: QueryId = None,
        period: Annotated[str, Query(max_length=24)] = "",
        state: Annotated[str, Query(max_length=12)] = "",
    ) -> HTMLResponse:
        desk = kit.desk(request)
        require(desk, *ACTIONS)
        with kit.work() as work:
            every = ledger.statements_for(work, desk.actor, limit=LISTED)
            compounds = sorted({(s.compound_id, s.compound_name) for s in every}, key=lambda c: c[1])
            compounds += [
                (f.compound_id, f.compound_name)
                for f in ledger.filings(work, desk.actor)
                if (f.compound_id, f.compound_name) not in compounds
            ]
            items = [
                s
                for s in every
                if (compound is None or s.compound_id == compound)
                and (not period or s.label == period.strip().upper())
                and (not state or s.state == state)
            ]
            periods = sorted({s.label for s in every}, reverse=True)
            may_file = bool(ledger.filings(work, desk.actor))
        return kit.page(
            request,
            desk,
            "accounts/list.html",
            items=items,
            visible={s.statement_id for s in every},  # a draft correction only its filer sees
            compounds=compounds,
            periods=periods,
            chosen={"compound": compound, "period": period, "state": state},
            may_file=may_file,
            period_name=lambda s: accounts_page.period_name(s.label, desk.locale),
        )

    @router.get("/console/accounts/upload", include_in_schema=False)
    def upload_form(request: Request) -> HTMLResponse:
        desk = kit.desk(request)
        require(desk, Action.FILE_STATEMENT)
        with kit.work() as work:
            return _upload_page(kit, request, desk, work, {}, {})

    @router.post("/console/accounts/upload", include_in_schema=False)
    async def upload(
        request: Request,
        desk: Desk = Depends(kit.posting),
        filing: Text = "",
        period: Text = "",
        publish: Text = "",
        file: UploadFile | None = File(None),
    ) -> Response:
        require(desk, Action.FILE_STATEMENT)
        form = {"filing": filing, "period": period, "publish": publish}
        read, problems = await _read_file(file)
        with kit.work() as work:
            chosen = next((f for f in ledger.filings(work, desk.actor) if _key(f) == filing), None)
            errors: dict[str, Any] = {}
            if chosen is None:
                errors["compound"] = True
            wanted = None
            try:
                wanted = parse_period(period)
            except PeriodError:
                errors["period"] = True
            if problems or errors or read is None or chosen is None or wanted is None:
                return _upload_page(kit, request, desk, work, form, {**errors, **problems}, status=422)
            try:
                lines = ledger.check(read.lines, chosen.filer)
                draft = ledger.StatementDraft(
                    chosen.compound_id,
                    wanted,
                    chosen.filer,
                    tuple(lines),
                    opening_income_fen=read.opening_income_fen,
                    opening_fund_fen=read.opening_fund_fen,
                )
                filed = ledger.draft_statement(work, desk.actor, draft)
                if publish:
                    ledger.publish(work, desk.actor, filed.statement_id)
            except ledger.LinesError as exc:
                _undo(work)
                bad = [(b.number, b.reason) for b in exc.bad]
                return _upload_page(kit, request, desk, work, form, {"lines": bad}, status=422)
            except ledger.LedgerError as exc:
                _undo(work)
                return _upload_page(kit, request, desk, work, form, {"refused": exc.reason}, status=422)
        done = "published" if publish else "saved"
        return RedirectResponse(f"/console/accounts/{filed.statement_id}?done={done}", status_code=303)

    @router.get("/console/accounts/{statement_id:int}", include_in_schema=False)
    def show(
        request: Request,
        statement_id: PathId,
        done: Annotated[str, Query(max_length=16)] = "",
        error: Annotated[str, Query(max_length=16)] = "",
    ) -> HTMLResponse:
        desk = kit.desk(request)
        require(desk, *ACTIONS)
        with kit.work() as work:
            return _statement_page(kit, request, desk, work, statement_id, done=done, error=error)

    @router.post("/console/accounts/{statement_id:int}/publish", include_in_schema=False)
    def publish_draft(statement_id: PathId, desk: Desk = Depends(kit.posting)) -> Response:
        require(desk, Action.FILE_STATEMENT)
        try:
            with kit.work() as work:
                ledger.publish(work, desk.actor, statement_id)
        except ledger.LedgerError as exc:
            if exc.reason == "not_found":
                raise Refused(404, "not_found") from exc
            return RedirectResponse(f"/console/accounts/{statement_id}?error={exc.reason}", status_code=303)
        return RedirectResponse(f"/console/accounts/{statement_id}?done=published", status_code=303)

    @router.post("/console/accounts/{statement_id:int}/correct", include_in_schema=False)
    async def correct(
        request: Request,
        statement_id: PathId,
        desk: Desk = Depends(kit.posting),
        note: Text = "",
        file: UploadFile | None = File(None),
    ) -> Response:
        require(desk, Action.FILE_STATEMENT)
        read, problems = await _read_file(file)
        with kit.work() as work:
            if problems or read is None:
                return _statement_page(kit, request, desk, work, statement_id, problems=problems, note=note)
            try:
                view = ledger.statement(work, desk.actor, statement_id)
                lines = ledger.check(read.lines, view.summary.filer)
                filed = ledger.correct(work, desk.actor, statement_id, note, lines)
            except ledger.LinesError as exc:
                bad = {"lines": [(b.number, b.reason) for b in exc.bad]}
                return _statement_page(kit, request, desk, work, statement_id, problems=bad, note=note)
            except ledger.LedgerError as exc:
                if exc.reason == "not_found":
                    raise Refused(404, "not_found") from exc
                refused = {"refused": exc.reason}
                return _statement_page(kit, request, desk, work, statement_id, problems=refused, note=note)
        return RedirectResponse(f"/console/accounts/{filed.statement_id}?done=corrected", status_code=303)

    return router


def _key(filing: ledger.Filing) -> str:
    """A filing as a form's value: compound id and filer."""
    return f"{filing.compound_id}:{filing.filer}"


async def _read_file(file: UploadFile | None) -> tuple[accounts_file.Upload | None, dict[str, Any]]:
    """The lines of an uploaded file, or the problem to show (no file, unreadable, too big)."""
    if file is None or not file.filename:
        return None, {"file": "empty"}
    data = await file.read(accounts_file.MAX_FILE + 1)
    if len(data) > accounts_file.MAX_FILE:
        return None, {"file": "too_big"}
    try:
        return accounts_file.read(file.filename, data), {}
    except accounts_file.FileError as exc:
        return None, {"unreadable": (exc.line, exc.detail)}


def _undo(work: Work) -> None:
    """Forget what a refused upload wrote (a draft saved before its publishing was refused): the file is
    taken whole or not at all, and the refusal page is shown over nothing changed."""
    work.session.rollback()
    work.events.clear()


def _upload_page(
    kit: Kit,
    request: Request,
    desk: Desk,
    work: Work,
    form: dict[str, str],
    errors: dict[str, Any],
    status: int = 200,
) -> HTMLResponse:
    filings = ledger.filings(work, desk.actor)
    if not filings:
        raise Refused(403, "not_allowed")
    today = work.now.astimezone(kit.zone).date()
    context = {
        "filings": [(_key(f), f) for f in filings],
        "form": {"filing": "", "period": previous_quarter(today).label(), "publish": "", **form},
        "errors": errors,
    }
    return kit.page(request, desk, "accounts/upload.html", status=status, **context)


def _statement_page(
    kit: Kit,
    request: Request,
    desk: Desk,
    work: Work,
    statement_id: int,
    done: str = "",
    error: str = "",
    problems: dict[str, Any] | None = None,
    note: str = "",
) -> HTMLResponse:
    try:
        view = ledger.statement(work, desk.actor, statement_id)
    except ledger.LedgerError as exc:  # not there, or another jurisdiction's: the same answer
        raise Refused(404, "not_found") from exc
    words = kit.words(desk.locale)["accounts"]
    context = accounts_page.statement_context(
        kit, view, desk.locale, lambda other: f"/console/accounts/{other}"
    )
    return kit.page(
        request,
        desk,
        "accounts/show.html",
        status=422 if problems else 200,
        ticket_link=lambda number: f"/console/tickets/{number}",
        done=done if done in DONE else "",
        error=error if error in words["errors"] else "",
        problems=problems or {},
        note=note,
        **context,
    )
