"""表决 at the console: a committee member creates a poll as /newpoll does (summary and notice period
first, audited, announced in the chat), refused in another compound; live turnout that matches the use
case, the result with the receipts digest, withdrawal, another community's staff, escaping, languages."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

from sqlmodel import select

from bot.bootstrap import App
from bot.clock import FixedClock
from core import polls
from core.work import Work
from db import org, people
from db.models import AuditEntry, Poll
from tests.support.chat import ChatUser
from tests.support.console import Desk, sign_in
from tests.test_notices import add_second_community, person_id, pushed
from tests.test_polls_flow import make_poll, run_due, vote_yes

COMPOUND = "铁西区/北沟街道/英雄社区/阳光花园"
OTHER_COMPOUND = "铁西区/北沟街道/英雄社区/和平里小区"
XSS = "<script>alert(1)</script>"


def node_id(app: App, path: str) -> int:
    with app.sessions() as session:
        node = org.find_node(session, path)
        assert node is not None, path
        return int(node.id or 0)


def committee(app: App) -> ChatUser:
    """A member of 阳光花园's owners' committee."""
    member = ChatUser(app.service, "committee-1", name="赵委员")
    member.say("/start DEMO-COMMITTEE")
    return member


def local(app: App, clock: FixedClock, days: float) -> str:
    """A moment `days` from now as a datetime-local field holds it."""
    return (clock.now() + timedelta(days=days)).astimezone(app.policy.zone).strftime("%Y-%m-%dT%H:%M")


def fields(app: App, clock: FixedClock, **overrides: Any) -> dict[str, Any]:
    """A new-poll form: renew the property company in 阳光花园, voting from 16 days on for a week."""
    return {
        "node": str(node_id(app, COMPOUND)),
        "title": "续聘阳光物业",
        "body": "是否续聘阳光物业服务有限公司，合同三年。",
        "matter": "4",
        "kind": "decision",
        "seats": "1",
        "opens": local(app, clock, 16),
        "closes": local(app, clock, 23),
        "secret": "1",
        "changeable": "0",
        "consultative": "0",
        **overrides,
    }


def audits(app: App, action: str) -> list[AuditEntry]:
    with app.sessions() as session:
        return list(session.exec(select(AuditEntry).where(AuditEntry.action == action)).all())


def poll_count(app: App) -> int:
    with app.sessions() as session:
        return len(session.exec(select(Poll)).all())


def staff_desk(app: App, staff: ChatUser) -> Desk:
    return sign_in(app, staff)


def test_a_committee_member_creates_a_poll_in_their_compound(
    app: App, clock: FixedClock, owner: ChatUser
) -> None:
    desk = sign_in(app, committee(app))
    blank = desk.get("/console/polls/new")
    assert blank.status_code == 200 and "阳光花园" in blank.text and "和平里小区" not in blank.text
    checked = desk.post("/console/polls/new", {**fields(app, clock), "go": "check"})
    assert checked.status_code == 200 and "发起前请核对" in checked.text
    assert 'id="notice-period">公告期 16 天' in checked.text
    assert re.search(r"表决公告将发给 \d+ 位业主和租户", checked.text)
    assert poll_count(app) == 0  # the summary creates nothing
    created = desk.post("/console/polls/new", {**fields(app, clock), "go": "create"})
    assert created.status_code == 303, created.text
    poll_id = int(re.findall(r"/console/polls/(\d+)", created.headers["location"])[0])
    page = desk.get(created.headers["location"])
    assert "续聘阳光物业" in page.text and "公告中" in page.text and "撤销表决" in page.text
    [entry] = audits(app, "poll.create")
    assert (entry.via, entry.subject_id, entry.actor_role) == ("console", poll_id, "owners_committee")
    asyncio.run(app.dispatcher.drain())
    assert any("续聘阳光物业" in text for text in pushed(app, owner))  # the announcement reached the chat
    assert "续聘阳光物业" in desk.get("/console/polls").text


def test_a_committee_member_is_refused_another_compound(app: App, clock: FixedClock) -> None:
    desk = sign_in(app, committee(app))
    other = fields(app, clock, node=str(node_id(app, OTHER_COMPOUND)))
    for go in ("check", "create"):
        refused = desk.post("/console/polls/new", {**other, "go": go})
        assert refused.status_code == 422 and "您不能在这个小区发起表决" in refused.text
    assert poll_count(app) == 0


def test_a_short_notice_needs_its_reason_and_the_form_keeps_what_was_typed(
    app: App, clock: FixedClock, staff: ChatUser
) -> None:
    desk = staff_desk(app, staff)
    body = "车棚改建方案见附件，请各位业主表决。"
    soon = fields(app, clock, body=body, opens=local(app, clock, 2), closes=local(app, clock, 9))
    refused = desk.post("/console/polls/new", {**soon, "go": "check"})
    assert refused.status_code == 422 and "请写明原因" in refused.text and body in refused.text
    assert 'aria-invalid="true" aria-describedby="err-reason"' in refused.text
    with_reason = desk.post("/console/polls/new", {**soon, "reason": "合同月底到期", "go": "check"})
    assert with_reason.status_code == 200 and "公告期不足 15 天" in with_reason.text
    assert "合同月底到期" in with_reason.text
    untitled = desk.post("/console/polls/new", {**fields(app, clock, title="", body=body), "go": "create"})
    assert untitled.status_code == 422 and "请填写议题" in untitled.text and body in untitled.text
    assert poll_count(app) == 0


def test_turnout_matches_the_use_case_and_after_the_close_the_result_and_receipts_show(
    app: App, clock: FixedClock, staff: ChatUser, owner: ChatUser
) -> None:
    poll_id = make_poll(app, clock)
    vote_yes(owner, poll_id)
    desk = staff_desk(app, staff)
    page = desk.get(f"/console/polls/{poll_id}")
    assert page.status_code == 200
    staff_id = person_id(app, staff)
    with app.sessions() as session:
        work = Work(session, clock.now(), app.policy)
        poll = session.get(Poll, poll_id)
        assert poll is not None
        live = polls.turnout(work, people.actor(session, staff_id), poll)
    assert live is not None
    overall, buildings = live
    assert overall.owners == 1
    area_row = page.text.split('id="turnout-area"')[1].split("</tr>")[0]
    assert f"{overall.area // 100}.{overall.area % 100:02d}" in area_row
    assert f"{overall.total_area // 100}.{overall.total_area % 100:02d}" in area_row
    owners_row = page.text.split('id="turnout-owners"')[1].split("</tr>")[0]
    assert f">{overall.owners}<" in owners_row and f">{overall.total_owners}<" in owners_row
    assert 'data-chart="turnout-chart"' in page.text and '"markLine"' in page.text
    assert "echarts-6.1.0.common.min.js" in page.text
    assert all(b.name in page.text for b in buildings)
    assert "王芳" not in page.text  # nothing says who voted
    listing = desk.get("/console/polls")
    assert "续聘阳光物业" in listing.text and "投票中" in listing.text

    clock.advance(days=7, minutes=1)
    assert "closed" in run_due(app, clock)
    closed = staff_desk(app, staff).get(f"/console/polls/{poll_id}")  # a week on: signed in afresh
    with app.sessions() as session:
        poll = session.get(Poll, poll_id)
        assert poll is not None
        digest = poll.result["digest"]
    assert "表决结果" in closed.text and f'<code id="digest">{digest}</code>' in closed.text
    assert f'href="/polls/{poll_id}/receipts.txt"' in closed.text
    assert "撤销表决" not in closed.text and "王芳" not in closed.text


def test_withdrawing_before_voting_opens_is_audited_and_another_communitys_staff_get_404(
    app: App, clock: FixedClock, staff: ChatUser
) -> None:
    running = make_poll(app, clock)
    coming = make_poll(app, clock, open_now=False, title="改建车棚", matter=7)
    add_second_community(app)
    with app.sessions() as session:
        node = org.find_node(session, "铁西区/北沟街道/幸福社区")
        assert node is not None
        code = people.create_invite(session, "community_staff", app.clock.now(), node_id=node.id).code
        session.commit()
    stranger_user = ChatUser(app.service, "staff-other", name="孙主任")
    stranger_user.say(f"/start {code}")
    stranger = sign_in(app, stranger_user)
    assert stranger.get(f"/console/polls/{coming}").status_code == 404
    assert stranger.post(f"/console/polls/{coming}/withdraw").status_code == 404
    assert "改建车棚" not in stranger.get("/console/polls").text
    assert audits(app, "poll.withdraw") == []

    desk = staff_desk(app, staff)
    assert "撤销表决" not in desk.get(f"/console/polls/{running}").text
    refused = desk.post(f"/console/polls/{running}/withdraw")
    assert "error=not_cancellable" in refused.headers["location"]
    done = desk.post(f"/console/polls/{coming}/withdraw")
    assert done.status_code == 303 and "done=withdrawn" in done.headers["location"]
    assert "已撤销" in desk.get(done.headers["location"]).text
    [entry] = audits(app, "poll.withdraw")
    assert entry.via == "console" and entry.before == {"state": "announced"}
    assert entry.after == {"state": "cancelled"}


def test_titles_and_bodies_are_escaped_everywhere_in_both_languages(
    app: App, clock: FixedClock, staff: ChatUser, owner: ChatUser
) -> None:
    running = make_poll(app, clock, title=XSS, body=XSS)
    vote_yes(owner, running)
    desk = staff_desk(app, staff)
    paths = ("/console/polls", f"/console/polls/{running}", "/console/polls/new")
    for locale in ("zh_CN", "en"):
        if locale == "en":
            assert desk.post("/console/lang", {"locale": "en"}).status_code == 303
        pages = [desk.get(path) for path in paths]
        pages.append(
            desk.post("/console/polls/new", {**fields(app, clock, title=XSS, body=XSS), "go": "check"})
        )
        assert all(page.status_code == 200 for page in pages)
        for page in (pages[0], pages[1], pages[3]):
            assert XSS not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        if locale == "zh_CN":
            assert (
                "发起表决" in pages[0].text and "须达到" in pages[1].text and "公告期 16 天" in pages[3].text
            )
        else:
            assert "New poll" in pages[0].text and "Check and preview" in pages[2].text
            assert "Turnout" in pages[1].text and "Two thirds" in pages[1].text
            assert "Check before creating" in pages[3].text and "Notice period: 16 days." in pages[3].text
