"""Turnout and results by the channel ballots came by (DESIGN §4.8): the runner's chat page, the console's
table and chart against the two-thirds line, and the published result ("网上 N 票 · 纸质 N 票 · 委托 N
票"); results stored before channels still read as they did."""

from __future__ import annotations

import json
import secrets
from datetime import datetime

from sqlmodel import select

from bot.bootstrap import App
from bot.clock import FixedClock
from core.actions import Language
from db.models import Notice, Poll, PollBallot, PollHome, PollTurnout
from db.polls import ballots, unit_area
from tests.support.chat import ChatUser
from tests.support.console import sign_in
from tests.test_notices import person_id
from tests.test_polls_flow import button, make_poll, run_due


def cast(app: App, poll_id: int, channel: str, by: int, at: datetime, choice: str = "yes") -> str:
    """Store one ballot of an open (non-secret) poll for the next owner unit that has not voted, by
    `channel`, as the paper entry, the proxy or the online vote stores it; returns the unit."""
    with app.sessions() as session:
        voted = select(PollTurnout.unit).where(PollTurnout.poll_id == poll_id)
        unit, home = session.exec(
            select(PollHome.unit, PollHome.home_id)
            .where(PollHome.poll_id == poll_id, PollHome.unit.not_in(voted))  # type: ignore[attr-defined]
            .order_by(PollHome.home_id)
        ).first()  # type: ignore[misc]
        session.add(
            PollTurnout(poll_id=poll_id, unit=unit, person_id=by, voted_at=at, channel=channel, home_id=home)
        )
        session.add(
            PollBallot(
                id=secrets.token_hex(16),
                poll_id=poll_id,
                seal=secrets.token_hex(32),
                area_centi_m2=unit_area(session, poll_id, unit),
                choice=choice,
                receipt=ballots.receipt_hash(poll_id, choice, ballots.new_code()),
                unit=unit,
            )
        )
        session.commit()
        return unit


def chart_of(page: str) -> dict[str, object]:
    raw = page.split('<script type="application/json" id="turnout-chart">')[1].split("</script>")[0]
    return json.loads(raw)  # type: ignore[no-any-return]


def test_turnout_and_the_result_by_channel_in_chat_and_console(
    app: App, clock: FixedClock, staff: ChatUser
) -> None:
    poll_id = make_poll(app, clock, secret=False)
    by = person_id(app, staff)
    for channel in ("online", "paper", "paper", "proxy"):
        cast(app, poll_id, channel, by, clock.now())
    with app.sessions() as session:
        poll = session.get(Poll, poll_id)
        assert poll is not None
        total_owners = poll.total_owners

    staff.data(button("v", poll_id))
    assert "实时参与情况" in staff.text
    assert f"业主 4 / {total_owners} 人" in staff.text
    assert "网上" in staff.text and "、2 人 · 委托" in staff.text  # paper: two owners
    assert "三分之二线：面积" in staff.text and f"业主 {-(-total_owners * 2 // 3)} 人" in staff.text

    desk = sign_in(app, staff)
    page = desk.get(f"/console/polls/{poll_id}").text
    paper_row = page.split('id="channel-paper"')[1].split("</tr>")[0]
    assert "纸质" in paper_row and ">2<" in paper_row
    proxy_row = page.split('id="channel-proxy"')[1].split("</tr>")[0]
    assert "委托" in proxy_row and ">1<" in proxy_row
    chart = chart_of(page)
    series = chart["series"]
    assert isinstance(series, list) and len(series) == 6  # area and owners, each stacked by channel
    assert [s["name"] for s in series[:3]] == ["面积 · 网上", "面积 · 纸质", "面积 · 委托"]
    assert {s["stack"] for s in series} == {"area", "owners"}
    assert series[0]["markLine"]["data"] == [{"yAxis": 66.67}]
    owners_paper = series[4]["data"][0]
    assert owners_paper == round(200 / total_owners, 2)

    clock.advance(days=7, minutes=1)
    assert "closed" in run_due(app, clock)
    with app.sessions() as session:
        poll = session.get(Poll, poll_id)
        assert poll is not None and poll.result["channels"] == {"online": 1, "paper": 2, "proxy": 1}
        notice = session.get(Notice, poll.result_notice_id)
        assert notice is not None
    closed = sign_in(app, staff).get(f"/console/polls/{poll_id}").text
    line = closed.split('id="result-channels">')[1].split("</p>")[0]
    assert line == "网上 1 票 · 纸质 2 票 · 委托 1 票"
    staff.data(button("v", poll_id))
    assert "共 4 张选票：网上 1 票 · 纸质 2 票 · 委托 1 票。" in staff.text


def test_a_result_stored_before_channels_still_shows(app: App, clock: FixedClock, staff: ChatUser) -> None:
    poll_id = make_poll(app, clock, secret=False)
    cast(app, poll_id, "online", person_id(app, staff), clock.now())
    clock.advance(days=7, minutes=1)
    assert "closed" in run_due(app, clock)
    with app.sessions() as session:
        poll = session.get(Poll, poll_id)
        assert poll is not None
        poll.result = {k: v for k, v in poll.result.items() if k != "channels"}
        session.add(poll)
        session.commit()
    page = sign_in(app, staff).get(f"/console/polls/{poll_id}")
    assert page.status_code == 200 and "表决结果" in page.text and 'id="result-channels"' not in page.text
    staff.data(button("v", poll_id))
    assert "共 1 张选票。" in staff.text and "网上" not in staff.text


def test_the_split_reads_in_english(app: App, clock: FixedClock, staff: ChatUser) -> None:
    staff.data(Language(locale="en").encode())
    poll_id = make_poll(app, clock, secret=False)
    by = person_id(app, staff)
    for channel in ("paper", "proxy", "proxy"):
        cast(app, poll_id, channel, by, clock.now())
    staff.data(button("v", poll_id))
    assert "by channel: online 0.00 m², 0 owners · on paper" in staff.text
    assert ", 2 owners" in staff.text and "Two-thirds line: area" in staff.text
    desk = sign_in(app, staff)
    assert desk.post("/console/lang", {"locale": "en"}).status_code == 303
    page = desk.get(f"/console/polls/{poll_id}").text
    assert "By channel" in page and "Proxy" in page
    assert [s["name"] for s in chart_of(page)["series"]][3:] == [  # type: ignore[index]
        "Owners · Online",
        "Owners · Paper",
        "Owners · Proxy",
    ]
    clock.advance(days=7, minutes=1)
    assert "closed" in run_due(app, clock)
    staff.data(button("v", poll_id))
    assert "3 ballots: 0 online · 1 on paper · 2 by proxy." in staff.text
    desk = sign_in(app, staff)  # a week on: signed in afresh
    assert desk.post("/console/lang", {"locale": "en"}).status_code == 303
    closed = desk.get(f"/console/polls/{poll_id}").text
    assert '<p id="result-channels">Online 0 · Paper 1 · Proxy 2</p>' in closed
