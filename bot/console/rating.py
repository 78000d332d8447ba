"""The console's 物业评价 (DESIGN §4.5): the ranking of the property companies in one's jurisdiction with
grades and a chart, a company's breakdown (every indicator with its inputs), its good and bad records
with evidence, appeals and decisions, the owners' satisfaction surveys with their turnout per compound,
the ranking as CSV, and the 红黑榜.

Every read and write goes through core.evaluation and core.rating_board, as /rating does in the chat:
the same jurisdiction (a company's staff see only their own company), the same rules, the same pushes
and audit entries. Surveys show aggregate numbers only, never who answered what.
"""

from __future__ import annotations

import mimetypes
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from bot.console import sheets
from bot.console.desk import Desk, Kit, PathId, Refused, number, require
from bot.console.ticket_page import _store_photo
from bot.stores import FileStore
from core import evaluation as use
from core import rating_board
from core.permissions import Action, may, place
from core.work import Work
from db.evaluation.gather import previous_half
from db.evaluation.policy import ASPECTS, default_policy, parse_half
from db.models import OrgNode
from db.rows import id_of
from handlers.rating.pages import company_context, ranks, record_item, shown
from handlers.types import KEEPS_FILES

VIEW = Action.VIEW_RATING
REFUSED = ("not_found", "not_allowed")  # another jurisdiction's object: 404, as if there were none
HALVES = 4  # the half-years offered in the chooser: this one and the three before


def routes(kit: Kit) -> APIRouter:
    """GET /console/rating, /console/rating/export.csv, /console/rating/companies/{id},
    /console/rating/records/{id}/photo, /console/rating/surveys, /console/rating/surveys/{id},
    /console/rating/board; POST /console/rating/records, /console/rating/records/{id}/appeal and /decide,
    /console/rating/surveys, /console/rating/surveys/{id}/close, /console/rating/board."""
    router = APIRouter()
    store = FileStore(kit.files_dir) if kit.files_dir is not None else None

    def half_or_now(work: Work, half: str) -> str:
        """The half-year asked for, or the current one when none (or a malformed one) is asked."""
        try:
            parse_half(half)
        except ValueError:
            return use.current_half(work.now)
        return half

    def halves(now_half: str) -> list[str]:
        found = [now_half]
        while len(found) < HALVES:
            found.append(previous_half(found[-1]))
        return found

    @router.get("/console/rating", include_in_schema=False)
    def ranking(request: Request, half: str = "", done: str = "", n: int = 0) -> Response:
        desk = kit.desk(request)
        require(desk, VIEW)
        with kit.work() as work:
            half = half_or_now(work, half)
            if not ranks(desk.actor):
                own = use.companies_for(work, desk.actor, VIEW)
                if len(own) == 1:  # a company's staff: their own breakdown is the section
                    return RedirectResponse(f"/console/rating/companies/{own[0].company_id}?half={half}", 303)
            rows = use.ranking(work, desk.actor, half)
            items = [_row(row) for row in rows]
            words = kit.words(desk.locale)["rating"]
            context: dict[str, Any] = {
                "half": half,
                "halves": halves(use.current_half(work.now)),
                "items": items,
                "chart": _chart(items, words, kit.half_name(half, desk.locale)) if items else None,
                "may_publish": desk.may(Action.PUBLISH_RATING) and bool(items),
                "may_survey": desk.may(Action.RUN_SURVEY),
                "may_enter": desk.may(Action.ENTER_RECORD),
                "done": done if done in words["done"] else "",
                "n": n,
            }
            return kit.page(request, desk, "rating.html", **context)

    @router.get("/console/rating/export.csv", include_in_schema=False)
    def export(request: Request, half: str = "") -> Response:
        desk = kit.desk(request)
        require(desk, VIEW)
        with kit.work() as work:
            half = half_or_now(work, half)
            rows = use.ranking(work, desk.actor, half)
        words = kit.words(desk.locale)["rating"]
        keys = [i.key for i in default_policy().indicators]
        header = [
            words["col"]["rank"],
            words["col"]["company"],
            words["col"]["grade"],
            words["col"]["total"],
            *[words["indicators"].get(k, k) for k in keys],
            words["col"]["good"],
            words["col"]["bad"],
        ]
        body = sheets.csv_bytes(header, (_cells(row, keys) for row in rows))
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="rating-{half}.csv"',
                "Cache-Control": "no-store",
            },
        )

    @router.get("/console/rating/companies/{company_id:int}", include_in_schema=False)
    def company(
        request: Request, company_id: PathId, half: str = "", done: str = "", error: str = ""
    ) -> HTMLResponse:
        desk = kit.desk(request)
        require(desk, VIEW)
        with kit.work() as work:
            half = half_or_now(work, half)
            try:
                found = use.breakdown(work, desk.actor, company_id, half)
                records = use.records(work, desk.actor, company_id, half)
            except use.EvaluationError as exc:
                raise Refused(404, "not_found") from exc
            entering = [c for c in use.companies_for(work, desk.actor, Action.ENTER_RECORD)]
            choice = next((c for c in entering if c.company_id == company_id), None)
            mine = set(use.own_company_ids(work, desk.actor))

            words = kit.words(desk.locale)["rating"]
            items = []
            for record in records:
                item = record_item(record)
                item["photo"] = _photo_state(record, store)
                # moments as datetimes: the page shows them in the service's time zone
                item["when"] = {
                    "entered": record.entered_at,
                    "appealed": record.appealed_at,
                    "decided": record.decided_at,
                }
                item["may_appeal"] = (
                    not record.appeal_text and company_id in mine and desk.may(Action.APPEAL_RECORD)
                )
                item["may_decide"] = _may_decide(work, desk, record)
                items.append(item)
            context: dict[str, Any] = {
                "company_id": company_id,
                "half": half,
                "halves": halves(use.current_half(work.now)),
                "c": company_context(found.name, half, found.evaluation),
                "compounds": [
                    {"name": c.name, "total": shown(c.evaluation.total), "grade": c.evaluation.grade}
                    for c in found.compounds
                ],
                "records": items,
                "entry": choice,
                "points": {"good": default_policy().good_points, "bad": default_policy().bad_points},
                "ranks": ranks(desk.actor),
                "done": done if done in words["done"] else "",
                "error": error if error in words["errors"] else "",
            }
            return kit.page(request, desk, "rating_company.html", **context)

    @router.get("/console/rating/records/{record_id:int}/photo", include_in_schema=False)
    def photo(request: Request, record_id: PathId) -> Response:
        desk = kit.desk(request)
        require(desk, VIEW)
        with kit.work() as work:
            try:
                record = use.record(work, desk.actor, record_id)
            except use.EvaluationError as exc:
                raise Refused(404, "not_found") from exc
        if _photo_state(record, store) != "disk" or store is None or record.evidence is None:
            raise Refused(404, "not_found")
        path = store.path(record.evidence[1])
        if path is None:
            raise Refused(404, "not_found")
        media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FileResponse(
            path, media_type=media, headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
        )

    @router.post("/console/rating/records", include_in_schema=False)
    async def enter(request: Request, desk: Desk = Depends(kit.posting)) -> Response:
        require(desk, Action.ENTER_RECORD)
        form = await request.form()
        company_id = _number(form.get("company"))
        compound_id = _number(form.get("compound"))
        points = _number(form.get("points"))
        good = form.get("kind") == "good"
        reason = _text(form.get("reason"))
        if company_id is None:
            raise Refused(404, "not_found")
        back = f"/console/rating/companies/{company_id}"
        upload = form.get("photo")
        evidence: tuple[str, str] | None = None
        with kit.work() as work:  # nothing is written to disk for a company not theirs to grade
            if not any(
                c.company_id == company_id for c in use.companies_for(work, desk.actor, Action.ENTER_RECORD)
            ):
                raise Refused(404, "not_found")
        if isinstance(upload, UploadFile) and upload.filename:
            stored = await _store_photo(store, upload)
            if stored is None:
                return RedirectResponse(f"{back}?error=bad_photo", status_code=303)
            evidence = ("web", stored)  # our own file: every channel can show it
        try:
            with kit.work() as work:
                use.enter_record(
                    work, desk.actor, company_id, compound_id or 0, good, points or 0, reason, evidence
                )
        except use.EvaluationError as exc:
            if exc.reason in REFUSED:
                raise Refused(404, "not_found") from exc
            return RedirectResponse(f"{back}?error={exc.reason}", status_code=303)
        return RedirectResponse(f"{back}?done=entered", status_code=303)

    @router.post("/console/rating/records/{record_id:int}/appeal", include_in_schema=False)
    async def appeal(request: Request, record_id: PathId, desk: Desk = Depends(kit.posting)) -> Response:
        require(desk, Action.APPEAL_RECORD)
        form = await request.form()
        return _act(
            record_id,
            desk,
            "appealed",
            lambda w: use.appeal_record(w, desk.actor, record_id, _text(form.get("reason"))),
        )

    @router.post("/console/rating/records/{record_id:int}/decide", include_in_schema=False)
    async def decide(request: Request, record_id: PathId, desk: Desk = Depends(kit.posting)) -> Response:
        require(desk, Action.ENTER_RECORD)
        form = await request.form()
        uphold = form.get("decision") == "upheld"
        note = _text(form.get("note"))
        return _act(
            record_id, desk, "decided", lambda w: use.decide_appeal(w, desk.actor, record_id, uphold, note)
        )

    def _act(record_id: int, desk: Desk, done: str, run: Any) -> Response:
        """Run a record's use case; back to its company's page with what came of it."""
        try:
            with kit.work() as work:
                record = use.record(work, desk.actor, record_id)
                back = f"/console/rating/companies/{record.company_id}?half={record.half}"
                run(work)
        except use.EvaluationError as exc:
            if exc.reason in REFUSED:
                raise Refused(404, "not_found") from exc
            with kit.work() as work:
                record = use.record(work, desk.actor, record_id)
            return RedirectResponse(
                f"/console/rating/companies/{record.company_id}?half={record.half}&error={exc.reason}", 303
            )
        return RedirectResponse(f"{back}&done={done}", status_code=303)

    @router.get("/console/rating/surveys", include_in_schema=False)
    def surveys(request: Request, done: str = "", error: str = "") -> HTMLResponse:
        desk = kit.desk(request)
        require(desk, Action.RUN_SURVEY)
        with kit.work() as work:
            found = use.surveys_for(work, desk.actor)
            names = {c.company_id: c.name for c in use.companies_for(work, desk.actor, Action.RUN_SURVEY)}
            items = []
            for survey in found:
                turnout = use.turnout(work, desk.actor, id_of(survey))
                answered = sum(t.answered for t in turnout)
                homes = sum(t.homes for t in turnout)
                items.append(
                    {
                        "survey": survey,
                        "company": names.get(survey.company_id, ""),
                        "answered": answered,
                        "homes": homes,
                    }
                )
            words = kit.words(desk.locale)["rating"]
            context: dict[str, Any] = {
                "items": items,
                "companies": sorted(names.items(), key=lambda pair: pair[1]),
                "half": use.current_half(work.now),
                "halves": halves(use.current_half(work.now))[:2],
                "done": done if done in words["done"] else "",
                "error": error if error in words["errors"] else "",
            }
            return kit.page(request, desk, "rating_surveys.html", **context)

    @router.post("/console/rating/surveys", include_in_schema=False)
    async def open_survey(request: Request, desk: Desk = Depends(kit.posting)) -> Response:
        require(desk, Action.RUN_SURVEY)
        form = await request.form()
        company_id = _number(form.get("company"))
        half = _text(form.get("half")) or None
        if company_id is None:
            raise Refused(404, "not_found")
        try:
            with kit.work() as work:
                survey = use.open_survey(work, desk.actor, company_id, half)
                survey_id = survey.id
        except use.EvaluationError as exc:
            if exc.reason in REFUSED:  # another jurisdiction's company: as if there were none
                raise Refused(404, "not_found") from exc
            return RedirectResponse(f"/console/rating/surveys?error={exc.reason}", status_code=303)
        return RedirectResponse(f"/console/rating/surveys/{survey_id}?done=opened", status_code=303)

    @router.get("/console/rating/surveys/{survey_id:int}", include_in_schema=False)
    def survey_page(request: Request, survey_id: PathId, done: str = "", error: str = "") -> HTMLResponse:
        desk = kit.desk(request)
        require(desk, Action.RUN_SURVEY)
        with kit.work() as work:
            found = {s.id: s for s in use.surveys_for(work, desk.actor)}.get(survey_id)
            if found is None:
                raise Refused(404, "not_found")
            try:
                turnout = use.turnout(work, desk.actor, survey_id)
            except use.EvaluationError as exc:
                raise Refused(404, "not_found") from exc
            names = {c.company_id: c.name for c in use.companies_for(work, desk.actor, Action.RUN_SURVEY)}
            words = kit.words(desk.locale)["rating"]
            context: dict[str, Any] = {
                "survey": found,
                "company": names.get(found.company_id, ""),
                "turnout": turnout,
                "answered": sum(t.answered for t in turnout),
                "homes": sum(t.homes for t in turnout),
                "chart": _turnout_chart(turnout, words) if turnout else None,
                "aspects": ASPECTS,
                "done": done if done in words["done"] else "",
                "error": error if error in words["errors"] else "",
            }
            return kit.page(request, desk, "rating_survey.html", **context)

    @router.post("/console/rating/surveys/{survey_id:int}/close", include_in_schema=False)
    def close_survey(survey_id: PathId, desk: Desk = Depends(kit.posting)) -> Response:
        require(desk, Action.RUN_SURVEY)
        try:
            with kit.work() as work:
                use.close_survey(work, desk.actor, survey_id)
        except use.EvaluationError as exc:
            if exc.reason in REFUSED:
                raise Refused(404, "not_found") from exc
            return RedirectResponse(
                f"/console/rating/surveys/{survey_id}?error={exc.reason}", status_code=303
            )
        return RedirectResponse(f"/console/rating/surveys/{survey_id}?done=closed", status_code=303)

    @router.get("/console/rating/board", include_in_schema=False)
    def board(request: Request, half: str = "") -> HTMLResponse:
        desk = kit.desk(request)
        require(desk, Action.PUBLISH_RATING)
        with kit.work() as work:
            half = half_or_now(work, half)
            try:
                shown_board = rating_board.board(work, desk.actor, half)
            except rating_board.BoardError as exc:
                raise Refused(404 if exc.reason == "not_allowed" else 409, "not_found") from exc
            return kit.page(
                request, desk, "rating_board.html", board=shown_board, half=half, score=rating_board.score
            )

    @router.post("/console/rating/board", include_in_schema=False)
    async def publish(request: Request, desk: Desk = Depends(kit.posting)) -> Response:
        require(desk, Action.PUBLISH_RATING)
        form = await request.form()
        half = _text(form.get("half"))
        try:
            with kit.work() as work:
                half = half_or_now(work, half)
                done = rating_board.publish_board(work, desk.actor, half)
        except rating_board.BoardError as exc:
            raise Refused(404, "not_found") from exc
        return RedirectResponse(
            f"/console/rating?half={half}&done=published&n={done.audience}", status_code=303
        )

    return router


def _number(value: object) -> int | None:
    """An id or a count posted in a form, or None."""
    return number(value) if isinstance(value, str) else None


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _row(row: Any) -> dict[str, Any]:
    """A ranking row as the page shows it."""
    before = row.previous
    moved = Decimal(row.evaluation.total) - Decimal(before.total) if before is not None else None
    return {
        "rank": row.place,
        "company_id": row.company_id,
        "name": row.name,
        "grade": row.evaluation.grade,
        "total": shown(row.evaluation.total),
        "value": float(row.evaluation.total),
        "change": shown(moved) if moved is not None else None,
        "up": moved is not None and moved > 0,
        "down": moved is not None and moved < 0,
        "compounds": len(row.compounds),
    }


def _cells(row: Any, keys: list[str]) -> list[sheets.Cell]:
    """A ranking row as spreadsheet cells: points as numbers with two decimals."""
    evaluation = row.evaluation
    points = {line.key: float(shown(line.points)) for line in evaluation.lines}
    return [
        row.place,
        row.name,
        evaluation.grade,
        float(evaluation.total),
        *[points.get(k) for k in keys],
        float(shown(evaluation.good.counted)),
        float(shown(evaluation.bad.counted)),
    ]


def _photo_state(record: Any, store: FileStore | None) -> str:
    """Where a record's evidence photo is: none, on our disk, gone, or with the platform it came through."""
    if record.evidence is None:
        return "none"
    channel, ref = record.evidence
    if channel not in KEEPS_FILES:
        return "platform"
    return "disk" if store is not None and store.path(ref) is not None else "missing"


def _may_decide(work: Work, desk: Desk, record: Any) -> bool:
    node = work.session.get(OrgNode, record.compound_id)
    return (
        bool(record.appeal_text)
        and not record.decision
        and node is not None
        and may(desk.actor, Action.ENTER_RECORD, place(node.path))
    )


# Grade colours: readable on white, and told apart without colour by the label on each bar.
GRADE_COLOURS = {"AAA": "#17803d", "AA": "#1d5fbf", "A": "#3f6212", "B": "#b45309", "C": "#b91c1c"}


def _chart(items: list[dict[str, Any]], words: dict[str, Any], half: str) -> dict[str, Any]:
    """Horizontal bars of the totals, best on top, each coloured and labelled with its grade."""
    return {
        "aria": {"enabled": True},
        "animation": False,  # drawn at once: a printed or captured page shows the real lengths
        "title": {"text": words["chart_title"], "subtext": half, "left": 0, "textStyle": {"fontSize": 15}},
        "tooltip": {"trigger": "axis", "confine": True, "renderMode": "richText"},
        "textStyle": {"fontFamily": "Noto Sans CJK SC, PingFang SC, Microsoft YaHei, sans-serif"},
        "grid": {"left": 8, "right": 72, "top": 64, "bottom": 16, "containLabel": True},
        "xAxis": {"type": "value", "min": 0, "max": 120, "interval": 20},
        "yAxis": {
            "type": "category",
            "data": [i["name"] for i in items],
            "inverse": True,
            "axisLabel": {"width": 160, "overflow": "truncate"},
        },
        "series": [
            {
                "name": words["col"]["total"],
                "type": "bar",
                "barMaxWidth": 22,
                "data": [
                    {
                        "value": i["value"],
                        "itemStyle": {"color": GRADE_COLOURS.get(i["grade"], "#52606d")},
                        "label": {
                            "show": True,
                            "position": "right",
                            "formatter": f"{i['grade']} {i['total']}",
                        },
                    }
                    for i in items
                ],
            }
        ],
    }


def _turnout_chart(turnout: list[Any], words: dict[str, Any]) -> dict[str, Any]:
    """Turnout per compound: answered homes against homes with an owner, as percentages."""
    return {
        "aria": {"enabled": True},
        "animation": False,
        "title": {"text": words["turnout"], "left": 0, "textStyle": {"fontSize": 15}},
        "tooltip": {"trigger": "axis", "confine": True, "renderMode": "richText"},
        "grid": {"left": 8, "right": 56, "top": 48, "bottom": 16, "containLabel": True},
        "xAxis": {"type": "value", "min": 0, "max": 100, "axisLabel": {"formatter": "{value}%"}},
        "yAxis": {"type": "category", "data": [t.name for t in turnout], "inverse": True},
        "series": [
            {
                "type": "bar",
                "barMaxWidth": 22,
                "color": "#1d5fbf",
                "data": [round(100 * t.answered / t.homes, 1) if t.homes else 0 for t in turnout],
                "label": {"show": True, "position": "right", "formatter": "{c}%"},
            }
        ],
    }
