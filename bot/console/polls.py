"""表决: the polls of one's jurisdiction with live turnout against the two-thirds quorum, a poll's page
(turnout while open, the result and receipts digest after the close, withdrawal before it opens), and
creating a poll as /newpoll does.

Every read and write goes through core.polls, as /polls and /newpoll do in the chat: the same right to
run polls in a compound, the same rules, the same announcement and audit entry. Nothing here shows who
voted what: turnout is counted by owner units, never by name.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.console import paper, poll_form
from bot.console.desk import Desk, Kit, PathId, Refused, require
from bot.console.poll_form import PollForm
from bot.print_pages import scope_buildings
from core import polls as use
from core.permissions import Action
from core.work import Work
from db.polls import KINDS, MATTERS, NOTICE_PERIOD, buildings_of
from db.polls.views import CHANNELS, path_names
from db.tally import QUORUM

ACTION = Action.RUN_POLL
LIMIT = 100  # the latest polls of one's compounds: a compound holds a few a year


def routes(kit: Kit) -> APIRouter:
    """GET /console/polls, GET/POST /console/polls/new, GET /console/polls/{id},
    POST /console/polls/{id}/withdraw, and the poll's paper ballots (bot.console.paper)."""
    router = APIRouter()

    @router.get("/console/polls", include_in_schema=False)
    def listing(request: Request) -> HTMLResponse:
        desk = kit.desk(request)
        require(desk, ACTION)
        with kit.work() as work:
            polls = use.polls_for(work, desk.actor, run_limit=LIMIT).run
            items = []
            for poll in polls:
                live = use.turnout(work, desk.actor, poll) if poll.state == "open" else None
                place = use.place_of(work, poll)[0]
                items.append({"poll": poll, "place": place, "turnout": live[0] if live else None})
            can_create = bool(use.compounds_for(work, desk.actor))
            return kit.page(request, desk, "polls/list.html", items=items, can_create=can_create)

    @router.get("/console/polls/new", include_in_schema=False)
    def new(request: Request) -> HTMLResponse:
        desk = kit.desk(request)
        require(desk, ACTION)
        with kit.work() as work:
            form = poll_form.blank(work.now, kit.zone)
            return _new_page(kit, request, desk, work, form, None, {})

    @router.post("/console/polls/new", include_in_schema=False)
    def submit(
        request: Request, form: Annotated[PollForm, Form()], desk: Desk = Depends(kit.posting)
    ) -> Response:
        require(desk, ACTION)
        with kit.work() as work:
            summary, errors = poll_form.summarised(work, desk.actor, form, kit.zone)
            if summary is None or form.go != "create":
                status = 422 if errors else 200
                return _new_page(kit, request, desk, work, form, summary, errors, status)
            try:
                created = use.create_poll(work, desk.actor, summary.draft)
            except use.PollError as exc:
                errors = {poll_form.FIELD_OF.get(exc.reason, "form"): exc.reason}
                return _new_page(kit, request, desk, work, form, None, errors, 422)
            poll_id = use.id_of(created.poll)
        done = f"/console/polls/{poll_id}?done=created&n={created.audience}"
        return RedirectResponse(done, status_code=303)

    def show(
        request: Request,
        desk: Desk,
        work: Work,
        poll_id: int,
        status: int = 200,
        extra: dict[str, Any] | None = None,
    ) -> HTMLResponse:
        """The poll's page; `extra` carries what the 纸质票 section has to say (done, refused, bad lines)."""
        seen = use.view(work, desk.actor, poll_id)
        if seen is None or not seen.author:  # another compound's poll: as if there were none
            raise Refused(404, "not_found")
        poll = seen.poll
        extra = extra or {}
        words = kit.words(desk.locale)["polls"]
        error = extra.get("error", "")
        done = extra.get("done_poll", "")
        context: dict[str, Any] = {
            "poll": poll,
            "place": use.place_of(work, poll),
            "turnout": seen.turnout,
            "buildings": seen.buildings,
            "quorum": _quorum(seen.turnout) if seen.turnout else None,
            "chart": _chart(seen.turnout, seen.buildings, words) if seen.turnout else None,
            "result": use.shown_result(poll) if poll.state == "closed" and poll.result else None,
            "special": poll.matter in use.SPECIAL_MATTERS,
            "withdrawable": poll.state == "announced",
            "done": done if done in ("created", "withdrawn") else "",
            "n": extra.get("n", 0),
            "error": error if error in words["errors"] else "",
            "print_buildings": scope_buildings(work.session, poll),
            "paper": paper.section(work, desk, poll, extra),
        }
        return kit.page(request, desk, "polls/show.html", status=status, **context)

    @router.get("/console/polls/{poll_id:int}", include_in_schema=False)
    def page(
        request: Request,
        poll_id: PathId,
        done: str = "",
        n: int = 0,
        error: str = "",
        paper_done: Annotated[str, Query(max_length=16)] = "",
    ) -> HTMLResponse:
        desk = kit.desk(request)
        require(desk, ACTION)
        with kit.work() as work:
            extra = {"done_poll": done, "n": n, "error": error, **paper.done_of(paper_done, n)}
            return show(request, desk, work, poll_id, 200, extra)

    router.include_router(paper.routes(kit, show))

    @router.post("/console/polls/{poll_id:int}/withdraw", include_in_schema=False)
    def withdraw(poll_id: PathId, desk: Desk = Depends(kit.posting)) -> Response:
        require(desk, ACTION)
        try:
            with kit.work() as work:
                use.withdraw_poll(work, desk.actor, poll_id)
        except use.PollError as exc:
            if exc.reason in ("not_found", "not_allowed"):
                raise Refused(404, "not_found") from exc
            return RedirectResponse(f"/console/polls/{poll_id}?error={exc.reason}", status_code=303)
        return RedirectResponse(f"/console/polls/{poll_id}?done=withdrawn", status_code=303)

    return router


def _quorum(turnout: use.Turnout) -> dict[str, Any]:
    """What the quorum line asks of this poll: area and owners needed, and whether each is reached."""
    area, owners = turnout.area_needed, turnout.owners_needed
    return {
        "area": area,
        "owners": owners,
        "area_met": turnout.total_area > 0 and turnout.area >= area,
        "owners_met": turnout.total_owners > 0 and turnout.owners >= owners,
    }


def _percent(part: int, whole: int) -> float:
    return round(float(Fraction(part * 100, whole)), 2) if whole else 0.0


def _chart(overall: use.Turnout, buildings: list[use.Turnout], words: dict[str, Any]) -> dict[str, Any]:
    """The ECharts option: area and owner turnout overall and per building, each bar stacked by the
    channel its ballots came by (online, paper, proxy), the quorum as a line across both."""
    rows = [overall, *buildings]
    line = {
        "symbol": "none",
        "lineStyle": {"type": "dashed", "color": "#b3261e"},
        "label": {"formatter": words["quorum_line"], "position": "insideEndTop"},
        "data": [{"yAxis": round(float(QUORUM * 100), 2)}],
    }
    series: list[dict[str, Any]] = []
    names: list[str] = []
    for measure in ("area", "owners"):
        for channel in CHANNELS:
            name = f"{words[measure]} · {words['channels'][channel]}"
            names.append(name)
            data = [
                _percent(t.channels[channel].area, t.total_area)
                if measure == "area"
                else _percent(t.channels[channel].owners, t.total_owners)
                for t in rows
            ]
            series.append({"name": name, "type": "bar", "stack": measure, "data": data})
    series[0]["markLine"] = line
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": names},
        "grid": {"left": 48, "right": 24, "bottom": 40, "containLabel": True},
        "xAxis": {"type": "category", "data": [words["overall"], *(t.name for t in buildings)]},
        "yAxis": {"type": "value", "min": 0, "max": 100, "axisLabel": {"formatter": "{value}%"}},
        "series": series,
    }


def _new_page(
    kit: Kit,
    request: Request,
    desk: Desk,
    work: Work,
    form: PollForm,
    summary: use.Summary | None,
    errors: dict[str, str],
    status: int = 200,
) -> HTMLResponse:
    """The new-poll form for what was typed, with the summary once it passes every rule."""
    compounds = use.compounds_for(work, desk.actor)
    if not compounds:
        raise Refused(403, "not_allowed")
    chosen = next((c for c in compounds if str(c.id) == form.node), compounds[0])
    if not form.node:
        form = form.model_copy(update={"node": str(chosen.id)})
    context: dict[str, Any] = {
        "form": form,
        "summary": summary,
        "errors": errors,
        "compounds": [(c, " / ".join(path_names(work.session, c))) for c in compounds],
        "building_options": buildings_of(work.session, use.id_of(chosen)),
        "matters": list(MATTERS),
        "kinds": KINDS,
        "shortened": summary is not None and summary.draft.opens_at < work.now + NOTICE_PERIOD,
        "notice_days": (summary.draft.opens_at - work.now).days if summary is not None else 0,
        "opens_now": summary is not None and summary.draft.opens_at <= work.now,
    }
    return kit.page(request, desk, "polls/new.html", status=status, **context)
