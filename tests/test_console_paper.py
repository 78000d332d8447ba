"""纸质票 at the console: the printable ballots of a poll (a page per home, for those who run polls or enter
ballots, nobody else), a CSV of paper ballots taken whole or not at all, a secret poll's stubs and
register, and the sealed batch entered by one person and confirmed by another (never the same one)."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

from bot.bootstrap import App
from bot.clock import FixedClock
from db import org
from db.models import PollBatch, PollPaper, PollStub
from tests.support.chat import ChatUser
from tests.support.console import Desk, forced_desk, other_community_staff, sign_in
from tests.test_polls_flow import make_poll, run_due

COMPOUND = "铁西区/北沟街道/英雄社区/阳光花园"
ZONE = ZoneInfo("Asia/Shanghai")
SHEET = re.compile(r'<section class="sheet[^"]*" data-home="(\d+)"')
TICKET = re.compile(r'<section class="ticket" data-code="([^"]+)"')
HEADER = "building,entrance,number,choice,method,collector,collected_at,photo\n"


def committee(app: App) -> ChatUser:
    """A member of 阳光花园's owners' committee."""
    member = ChatUser(app.service, "committee-1", name="赵委员")
    member.say("/start DEMO-COMMITTEE")
    return member


def node_id(app: App, path: str) -> int:
    with app.sessions() as session:
        node = org.find_node(session, path)
        assert node is not None, path
        return int(node.id or 0)


def count(app: App, model: type) -> int:
    with app.sessions() as session:
        return len(session.exec(select(model)).all())


def local(clock: FixedClock, hours: float = 0) -> str:
    return (clock.now() + timedelta(hours=hours)).astimezone(ZONE).strftime("%Y-%m-%d %H:%M")


def upload(desk: Desk, poll_id: int, text: str) -> object:
    return desk.post(
        f"/console/polls/{poll_id}/paper/file", files={"file": ("ballots.csv", text.encode(), "text/csv")}
    )


# --- the printable ballots -----------------------------------------------------------------------------


def test_the_poll_page_links_the_printable_ballots_a_page_per_home(
    app: App, clock: FixedClock, staff: ChatUser
) -> None:
    poll_id = make_poll(app, clock, buildings=("1栋",), secret=False)
    desk = sign_in(app, staff)
    page = desk.get(f"/console/polls/{poll_id}")
    assert page.status_code == 200 and f'href="/console/polls/{poll_id}/print"' in page.text
    assert "纸质票" in page.text and "已录入纸质票 0 张" in page.text

    printed = desk.get(f"/console/polls/{poll_id}/print")
    assert printed.status_code == 200 and printed.headers["cache-control"] == "no-store"
    assert len(set(SHEET.findall(printed.text))) == 12
    assert '<link rel="stylesheet" href="/console/static/print.css">' in printed.text  # no inline style
    assert "1栋 1单元 101 室" in printed.text and "76.80 ㎡" in printed.text and "业主签名" in printed.text
    css = desk.get("/console/static/print.css")
    assert css.status_code == 200 and "size: A4" in css.text

    one = desk.get(f"/console/polls/{poll_id}/print?building={node_id(app, COMPOUND + '/1栋')}")
    assert len(SHEET.findall(one.text)) == 12
    outside = desk.get(f"/console/polls/{poll_id}/print?building={node_id(app, COMPOUND + '/2栋')}")
    assert outside.status_code == 404


def test_district_staff_who_run_polls_print_them_but_enter_no_ballots(app: App, clock: FixedClock) -> None:
    poll_id = make_poll(app, clock)
    district = ChatUser(app.service, "district-1", name="区住建局")
    district.say("/start DEMO-DISTRICT")
    desk = sign_in(app, district)
    page = desk.get(f"/console/polls/{poll_id}")
    assert page.status_code == 200 and 'id="print-link"' in page.text
    assert 'name="building"' in page.text and "打印这一栋" in page.text  # the whole compound: 3 buildings
    assert 'id="paper"' not in page.text  # entering paper ballots is not theirs
    printed = desk.get(f"/console/polls/{poll_id}/print?building={node_id(app, COMPOUND + '/3栋')}")
    assert (
        printed.status_code == 200
        and len(SHEET.findall(printed.text)) == 12
        and "3栋 2单元 302 室" in printed.text
    )
    assert desk.post(f"/console/polls/{poll_id}/stubs", {"count": "2"}).status_code == 403
    assert count(app, PollStub) == 0


def test_only_those_who_run_the_poll_or_enter_its_ballots_print_it(
    app: App, clock: FixedClock, owner: ChatUser
) -> None:
    poll_id = make_poll(app, clock)
    resident = forced_desk(app, owner)
    assert resident.get(f"/console/polls/{poll_id}/print").status_code == 403
    stranger = sign_in(app, other_community_staff(app))
    refused = stranger.get(f"/console/polls/{poll_id}/print")
    assert refused.status_code == 404 and "1单元" not in refused.text
    assert stranger.post(f"/console/polls/{poll_id}/stubs", {"count": "3"}).status_code == 404
    assert count(app, PollStub) == 0


# --- paper ballots of an open poll ---------------------------------------------------------------------


def test_a_csv_of_paper_ballots_is_taken_whole_or_not_at_all(
    app: App, clock: FixedClock, staff: ChatUser
) -> None:
    poll_id = make_poll(app, clock, secret=False)
    clock.advance(hours=2)
    desk = sign_in(app, staff)
    at = local(clock, -1)
    bad = (
        HEADER
        + f"1栋,1单元,101,同意,扫楼,赵委员,{at},\n"
        + f"1栋,1单元,102,也许,扫楼,赵委员,{at},\n"
        + f"1栋,1单元,201,反对,电话,赵委员,{at},\n"
    )
    refused = upload(desk, poll_id, bad)
    assert refused.status_code == 422
    errors = re.findall(r'<li class="line-error">([^<]+)</li>', refused.text)
    assert errors[0].startswith("第 3 行：选择无效") and errors[1].startswith("第 4 行：收票方式无效"), errors
    assert "没有录入任何选票" in refused.text and count(app, PollPaper) == 0

    good = HEADER + f"1栋,1单元,101,同意,扫楼,赵委员,{at},\n" + f"2栋,1单元,102,弃权,现场,钱委员,{at},\n"
    done = upload(desk, poll_id, good)
    assert done.status_code == 303 and "paper_done=entered&n=2" in done.headers["location"]
    page = desk.get(done.headers["location"])
    assert "已录入 2 张纸质票。" in page.text and "已录入纸质票 2 张" in page.text
    assert count(app, PollPaper) == 2


def test_stubs_are_only_for_secret_polls(app: App, clock: FixedClock, staff: ChatUser) -> None:
    open_poll = make_poll(app, clock, secret=False)
    desk = sign_in(app, staff)
    refused = desk.post(f"/console/polls/{open_poll}/stubs", {"count": "3"})
    assert refused.status_code == 422 and "存根只用于不记名投票" in refused.text
    assert count(app, PollStub) == 0

    secret = make_poll(app, clock, buildings=("1栋",))
    page = desk.get(f"/console/polls/{secret}")
    assert f'action="/console/polls/{secret}/stubs"' in page.text and 'value="12"' in page.text
    printed = desk.post(f"/console/polls/{secret}/stubs", {"count": "4"})
    assert printed.status_code == 200 and printed.headers["cache-control"] == "no-store"
    codes = TICKET.findall(printed.text)
    assert len(set(codes)) == 4 and count(app, PollStub) == 4
    assert printed.text.count("存根（业主保存）") == 4 and "专有部分面积 ________ ㎡" in printed.text


# --- the sealed batch of a secret poll -----------------------------------------------------------------


def test_the_sealed_batch_is_entered_by_one_person_and_confirmed_by_another(
    app: App, clock: FixedClock, staff: ChatUser
) -> None:
    poll_id = make_poll(app, clock, buildings=("1栋",))
    member = committee(app)
    clock.advance(hours=2)
    entering = sign_in(app, member)
    # Two sealed envelopes handed in (the choice stays in them), and the register shows the homes.
    at = local(clock, -1)
    sealed = HEADER + f"1栋,1单元,101,,投票箱,赵委员,{at},\n" + f"1栋,1单元,102,,扫楼,赵委员,{at},\n"
    assert upload(entering, poll_id, sealed).status_code == 303
    page = entering.get(f"/console/polls/{poll_id}")
    assert "密封选票登记：已交回 2 户" in page.text and 'id="paper-register"' in page.text
    assert f'action="/console/polls/{poll_id}/paper/batch"' not in page.text  # not before the close
    codes = TICKET.findall(entering.post(f"/console/polls/{poll_id}/stubs", {"count": "3"}).text)
    assert len(set(codes)) == 3

    clock.advance(days=8)  # voting ended
    run_due(app, clock)
    entering, checking = sign_in(app, member), sign_in(app, staff)
    page = entering.get(f"/console/polls/{poll_id}")
    assert f'action="/console/polls/{poll_id}/paper/batch"' in page.text

    # A bad line: every one named, nothing entered, what was typed kept.
    typed = f"{codes[0]}, 76.80, 同意\nNOPE-NOPE-NOPE, 143.20, 反对\n"
    refused = entering.post(f"/console/polls/{poll_id}/paper/batch", {"lines": typed})
    assert refused.status_code == 422 and "没有录入任何选票" in refused.text
    assert re.findall(r'<li class="line-error">第 (\d+) 行', refused.text) == ["2"]
    assert "NOPE-NOPE-NOPE, 143.20, 反对" in refused.text and count(app, PollBatch) == 0

    good = f"{codes[0]}, 76.80, 同意\n{codes[1]}, 143.20, 反对\n"
    entered = entering.post(f"/console/polls/{poll_id}/paper/batch", {"lines": good})
    assert entered.status_code == 303 and "paper_done=batch&n=2" in entered.headers["location"]
    page = entering.get(entered.headers["location"])
    assert "已录入 2 张密封选票，等待另一位工作人员确认。" in page.text
    assert "待确认的录入：2 张选票，由 赵委员" in page.text and 'id="same-person"' in page.text
    assert f'action="/console/polls/{poll_id}/paper/confirm"' not in page.text

    # The one who entered it cannot confirm it, even by posting the form.
    same = entering.post(f"/console/polls/{poll_id}/paper/confirm")
    assert same.status_code == 409 and "录入和确认须是两个人" in same.text
    with app.sessions() as session:
        batch = session.exec(select(PollBatch)).one()
        assert batch.state == "pending" and batch.confirmed_by is None

    page = checking.get(f"/console/polls/{poll_id}")
    assert (
        f'action="/console/polls/{poll_id}/paper/confirm"' in page.text
        and 'id="same-person"' not in page.text
    )
    confirmed = checking.post(f"/console/polls/{poll_id}/paper/confirm")
    assert confirmed.status_code == 303 and "paper_done=confirmed" in confirmed.headers["location"]
    page = checking.get(confirmed.headers["location"])
    assert "密封选票已确认，将在下一次统计时计入结果。" in page.text and "由 张主任" in page.text
    with app.sessions() as session:
        assert session.exec(select(PollBatch)).one().state == "confirmed"


def test_a_wrong_batch_is_discarded_and_entered_again(app: App, clock: FixedClock, staff: ChatUser) -> None:
    poll_id = make_poll(app, clock, buildings=("1栋",))
    clock.advance(hours=2)
    desk = sign_in(app, staff)
    upload(desk, poll_id, HEADER + f"1栋,1单元,101,,投票箱,张主任,{local(clock, -1)},\n")
    codes = TICKET.findall(desk.post(f"/console/polls/{poll_id}/stubs", {"count": "1"}).text)
    clock.advance(days=8)
    run_due(app, clock)
    desk = sign_in(app, staff)
    assert (
        desk.post(f"/console/polls/{poll_id}/paper/batch", {"lines": f"{codes[0]}, 76.80, 弃权"}).status_code
        == 303
    )
    dropped = desk.post(f"/console/polls/{poll_id}/paper/discard")
    assert dropped.status_code == 303 and "paper_done=discarded" in dropped.headers["location"]
    page = desk.get(dropped.headers["location"])
    assert "这批录入已作废，没有计入任何选票。" in page.text
    assert f'action="/console/polls/{poll_id}/paper/batch"' in page.text


def test_a_lost_envelope_is_voided_and_the_poll_is_counted_without_it(
    app: App, clock: FixedClock, staff: ChatUser
) -> None:
    from db.models import Poll, PollTurnout

    poll_id = make_poll(app, clock, buildings=("1栋",))
    clock.advance(hours=2)
    desk = sign_in(app, staff)
    at = local(clock, -1)
    upload(desk, poll_id, HEADER + f"1栋,1单元,101,,投票箱,张主任,{at},\n1栋,1单元,102,,扫楼,张主任,{at},\n")
    clock.advance(days=8)
    run_due(app, clock)  # the count waits for the two envelopes
    desk = sign_in(app, staff)
    with app.sessions() as session:
        home = session.exec(  # 1栋 1单元 101's envelope is the one lost
            select(PollPaper.home_id).where(PollPaper.poll_id == poll_id).order_by(PollPaper.home_id)
        ).first()
    page = desk.get(f"/console/polls/{poll_id}")
    assert f'action="/console/polls/{poll_id}/paper/void"' in page.text and "信封遗失" in page.text
    voided = desk.post(f"/console/polls/{poll_id}/paper/void", {"home": str(home)})
    assert voided.status_code == 303 and "paper_done=voided" in voided.headers["location"]
    again = desk.post(f"/console/polls/{poll_id}/paper/void", {"home": str(home)})
    assert again.status_code == 409 and "不在密封选票登记里" in again.text
    page = desk.get(f"/console/polls/{poll_id}")
    assert "密封选票登记：已交回 1 户" in page.text and 'id="paper-voided"' in page.text
    with app.sessions() as session:
        assert len(session.exec(select(PollTurnout).where(PollTurnout.poll_id == poll_id)).all()) == 1
    # The other envelope is spoiled when opened: the batch counts it as taking part, approving nothing.
    entered = desk.post(f"/console/polls/{poll_id}/paper/batch", {"lines": ", 143.20, 废票"})  # 102's
    assert entered.status_code == 303, entered.text
    checker = sign_in(app, committee(app))
    assert checker.post(f"/console/polls/{poll_id}/paper/confirm").status_code == 303
    run_due(app, clock)
    with app.sessions() as session:
        poll = session.get(Poll, poll_id)
        assert poll is not None and poll.state == "closed"
        assert (poll.result["ballots"], poll.result["abstain_owners"]) == (1, 1)
