"""The console's permission matrix: every console route and action, tried by a resident and a grid worker
holding a forged session, by staff of another community, by the property company and by the owners'
committee, against one community's ticket, notice, poll, registration, grid and saved filter. Each is
refused where the chat would refuse it, and nothing changes."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.routing import APIRoute
from sqlmodel import func, select

from bot.bootstrap import App
from bot.web import create_web_app
from db.evaluation.tables import CompanyRecord, Survey
from db.ledger.tables import LedgerStatement
from db.models import AuditEntry, Grid, Notice, OrgNode, Poll, Residency, SavedFilter, Ticket
from tests.support import accounts
from tests.support.chat import ChatUser, file_report
from tests.support.console import ELSEWHERE, Desk, another_community, forced_desk, grant, sign_in
from tests.support.rating import SUNNY_COMPOUND, bad_record, open_survey, sunny
from tests.test_polls_flow import make_poll

OPEN = {"/console/signin", "/console/static/{name:path}", "/console/lang", "/console/signout"}
# Which section each route belongs to (by its path), for the profiles that may use some sections only.
SECTION = re.compile(r"^/console/(tickets|stats|notices|polls|residents|org|audit|rating)")


def routes(app: App) -> list[tuple[str, str]]:
    """Every console route as (method, path template), the sign-in and static files aside."""
    found = []
    for route in create_web_app(app).routes:
        if isinstance(route, APIRoute) and route.path.startswith("/console") and route.path not in OPEN:
            found.extend((method, route.path) for method in sorted(route.methods or ()))
    return found


def fill(path: str, ids: dict[str, int]) -> str:
    """A route's path with our objects' ids in it."""
    values = {
        "ticket_id": ids["ticket"],
        "attachment_id": 1,
        "notice_id": ids["notice"],
        "poll_id": ids["poll"],
        "residency_id": ids["residency"],
        "grid_id": ids["grid"],
        "filter_id": ids["filter"],
        "compound_id": ids["compound"],
        "statement_id": ids["statement"],
        "kind": "csv",
        "name": "assign",
        "company_id": ids["company"],
        "record_id": ids["record"],
        "survey_id": ids["survey"],
    }
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: str(values[m.group(1)]), path)


def form(path: str, ids: dict[str, int]) -> dict[str, Any]:
    """What a page of ours would post to the route: our objects, so a refusal is about them."""
    return {
        "/console/tickets/bulk": {"ticket": ids["ticket"], "action": "duplicate", "original": ids["ticket"]},
        "/console/tickets/filters": {"name": "mine", "query": "state=open"},
        "/console/residents/approve": {"ids": ids["residency"]},
        "/console/residents/decide": {"residency": ids["residency"], "verb": "approve"},
        "/console/notices/new": {
            "node": ids["compound"],
            "kind": "policy",
            "title": "t",
            "body": "b",
            "go": "send",
        },
        "/console/notices/preview": {"node": ids["compound"], "roles": "owners"},
        "/console/polls/new": {"node": ids["compound"], "title": "t", "matter": "9"},
    }.get(
        path, {"worker": 1, "note": "n", "reason": "r", "text": "t", "original": ids["ticket"], "value": "1"}
    )


def snapshot(app: App) -> tuple[Any, ...]:
    """What a refused request must leave as it was."""
    with app.sessions() as session:
        tickets = session.exec(select(Ticket.state, Ticket.holder_id, Ticket.category)).all()
        return (
            tuple(tickets),
            session.exec(select(func.count()).select_from(Notice)).one(),
            tuple(session.exec(select(Poll.state)).all()),
            tuple(session.exec(select(Residency.status)).all()),
            tuple(session.exec(select(Grid.backup_id)).all()),
            session.exec(select(func.count()).select_from(SavedFilter)).one(),
            session.exec(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action != "console.signin")
            ).one(),
            tuple(session.exec(select(LedgerStatement.state)).all()),
            tuple(session.exec(select(CompanyRecord.appeal_text, CompanyRecord.decision)).all()),
            tuple(session.exec(select(Survey.state)).all()),
        )


@pytest.fixture
def world(app: App, owner: ChatUser, staff: ChatUser, worker: ChatUser) -> dict[str, int]:
    """One community's objects: a ticket, a notice, a poll, a pending registration, a saved filter."""
    file_report(owner, "1栋门口的路灯不亮了", "公共设施损坏")
    own = sign_in(app, staff)
    with app.sessions() as session:
        compound = session.exec(select(OrgNode).where(OrgNode.name == "阳光花园")).one()
    own.post(
        "/console/notices/new",
        {
            "node": compound.id,
            "kind": "policy",
            "title": "通知",
            "body": "内容",
            "roles": "owners",
            "days": "0",
            "when": "now",
            "go": "send",
        },
    )
    own.post("/console/tickets/filters", {"name": "mine", "query": "state=open"})
    poll_id = make_poll(app, app.clock, open_now=False)  # announced: withdraw is still offered
    statement_id = accounts.published(app)
    walker = ChatUser(app.service, "walk-in", name="赵六")
    walker.say("/start")
    for label in ("选择住址", "阳光花园", "2栋", "1单元", "301", "租户"):
        walker.press(label)
    walker.say("赵六")
    walker.say("13900001111")
    company = sunny(app)
    graded = {
        "company": company,
        "record": bad_record(app, company, SUNNY_COMPOUND, 3),
        "survey": open_survey(app, staff, company),
    }
    with app.sessions() as session:
        ids = {
            "ticket": session.exec(select(Ticket.id)).first(),
            "notice": session.exec(select(Notice.id)).first(),
            "poll": poll_id,
            "residency": session.exec(select(Residency.id).where(Residency.status == "pending")).first(),
            "grid": session.exec(select(Grid.id)).first(),
            "filter": session.exec(select(SavedFilter.id)).first(),
            "compound": compound.id,
            "statement": statement_id,
            **graded,
        }
    assert all(ids.values()), ids
    return {k: int(v) for k, v in ids.items() if v is not None}


def _request(desk: Desk, method: str, path: str, data: dict[str, Any]) -> int:
    if method == "GET":
        return desk.get(path).status_code
    return desk.post(path, data).status_code


Profile = Callable[[App], Desk]


def test_a_forged_session_of_a_resident_or_grid_worker_opens_nothing(
    app: App, world: dict[str, int], owner: ChatUser, worker: ChatUser
) -> None:
    before = snapshot(app)
    for user in (owner, worker):
        desk = forced_desk(app, user)
        for method, path in routes(app):
            status = _request(desk, method, fill(path, world), form(path, world))
            assert status == 403, (user.user_ref, method, path, status)
    assert snapshot(app) == before


def test_staff_of_another_community_reach_none_of_our_objects(app: App, world: dict[str, int]) -> None:
    another_community(app)
    desk = sign_in(
        app, grant(app, ChatUser(app.service, "else", name="陈主任"), "community_staff", ELSEWHERE)
    )
    before = snapshot(app)
    for method, path in routes(app):
        status = _request(desk, method, fill(path, world), form(path, world))
        if "{" in path or method == "POST":
            assert status in (400, 403, 404, 422) or (
                status in (200, 303)
                and path
                in (
                    "/console/tickets/filters",
                    "/console/notices/preview",
                    "/console/notices/new",
                    "/console/polls/new",
                    "/console/tickets/bulk",
                    "/console/residents/approve",
                )
            ), (method, path, status)
        else:
            assert status in (200, 403), (method, path, status)
            if status == 200 and path == "/console/tickets":
                assert f'href="/console/tickets/{world["ticket"]}"' not in desk.get(path).text
    after = snapshot(app)
    # Their own saved filter is theirs to keep; nothing of ours changed.
    assert after[:5] == before[:5] and after[6:] == before[6:], (before, after)


def test_the_property_company_works_tickets_but_never_sees_the_reporter(
    app: App, world: dict[str, int]
) -> None:
    desk = sign_in(
        app,
        grant(
            app,
            ChatUser(app.service, "prop", name="物业小李"),
            "property_staff",
            "铁西区/北沟街道/英雄社区/阳光花园",
        ),
    )
    page = desk.get(f"/console/tickets/{world['ticket']}")
    assert page.status_code == 200 and "路灯不亮" in page.text
    assert "王芳" not in page.text  # the reporter, who did not agree to show the property company
    for method, path in routes(app):
        section = SECTION.match(path)
        if section and section.group(1) in ("polls", "residents", "org", "audit"):
            status = _request(desk, method, fill(path, world), form(path, world))
            assert status == 403, (method, path, status)


def test_the_owners_committee_reaches_only_its_polls(app: App, world: dict[str, int]) -> None:
    desk = sign_in(
        app,
        grant(
            app,
            ChatUser(app.service, "cmte", name="业委会老周"),
            "owners_committee",
            "铁西区/北沟街道/英雄社区/阳光花园",
        ),
    )
    before = snapshot(app)
    for method, path in routes(app):
        section = SECTION.match(path)
        if section is None or section.group(1) == "polls":
            continue
        status = _request(desk, method, fill(path, world), form(path, world))
        assert status == 403, (method, path, status)
    assert desk.get(f"/console/polls/{world['poll']}").status_code == 200
    after = snapshot(app)
    assert after[:6] == before[:6] and after[7:] == before[7:]


@pytest.mark.parametrize("bad", ["2" * 40, str(2**63), "²", "-1", "0"])
def test_ids_that_name_no_row_are_refused_not_crashed(app: App, staff: ChatUser, bad: str) -> None:
    desk = sign_in(app, staff)
    for path in (
        f"/console/tickets/{bad}",
        f"/console/notices/{bad}",
        f"/console/polls/{bad}",
        f"/console/tickets?ok={bad}&done=assign",
        f"/console/notices?after={bad}",
        f"/console/audit?subject_id={bad}",
        f"/console/stats?node=c{bad}",
    ):
        assert desk.get(path).status_code in (200, 400, 404, 422), path
    for path, data in (
        (f"/console/tickets/{bad}/assign", {"worker": bad}),
        ("/console/tickets/bulk", {"ticket": bad, "action": "assign", "worker": bad}),
        ("/console/notices/preview", {"node": bad}),
    ):
        assert desk.post(path, data).status_code in (200, 303, 400, 404, 422), path
