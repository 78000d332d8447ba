"""`/newpoll`: staff and the owners' committee create owners' polls in chat; the announcement reaches the
owners in scope; every rule refuses with a message and lets the author fix that step; forged buttons
change nothing; `linli poll create FILE` does the same from YAML."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.bootstrap import App
from bot.cli import build_parser
from bot.clock import FixedClock
from core.actions import Language, NewPoll
from db import org, people
from db.models import Identity, Mute, Notice, Outbox, Poll, WebMessage
from tests.conftest import make_app
from tests.support.chat import ChatUser
from tests.support.cli import run

COMPOUND = "铁西区/北沟街道/英雄社区/阳光花园"
OTHER = "铁西区/北沟街道/英雄社区/和平里小区"
CREATED = re.compile(r"业主表决 #(\d+)")
ZONE = ZoneInfo("Asia/Shanghai")
OK = NewPoll("ok").encode()  # create, on the summary


# --- helpers ---------------------------------------------------------------------------------------


def node_id(app: App, path: str) -> int:
    with app.sessions() as session:
        node = org.find_node(session, path)
        assert node is not None, path
        return node.id  # type: ignore[return-value]


def person_id(app: App, user: ChatUser) -> int:
    with app.sessions() as session:
        return session.exec(select(Identity).where(Identity.external_id == user.user_ref)).one().person_id


def poll_count(app: App) -> int:
    with app.sessions() as session:
        return int(session.exec(select(func.count()).select_from(Poll)).one())


def get_poll(app: App, poll_id: int) -> Poll:
    with app.sessions() as session:
        poll = session.get(Poll, poll_id)
        assert poll is not None
        session.expunge(poll)
        return poll


def local(text: str) -> datetime:
    """A local wall-clock time as an aware datetime."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=ZONE)


def pushed(app: App, user: ChatUser) -> list[str]:
    """The texts pushed to a web user."""
    with app.sessions() as session:
        rows = session.exec(
            select(WebMessage)
            .join(Identity, Identity.id == WebMessage.identity_id)  # type: ignore[arg-type]
            .where(Identity.external_id == user.user_ref, WebMessage.outgoing == True)  # noqa: E712
            .order_by(WebMessage.id)  # type: ignore[arg-type]
        ).all()
    return [row.body["text"] for row in rows]


def up_to_timing(
    user: ChatUser,
    compound: str = "阳光花园",
    buildings: tuple[str, ...] = (),
    title: str = "关于续聘物业服务企业的表决",
    body: str = "现物业服务合同将于年底到期，拟续聘三年，物业费标准不变。",
    matter: str = "选聘/解聘物业",
    candidates: tuple[str, ...] = (),
    seats: str = "",
) -> None:
    """/newpoll through compound, scope, title, body, matter and kind (and candidates, seats)."""
    user.say("/newpoll")
    if "请选择小区" in user.text:
        user.press(compound)
    assert "表决范围" in user.text, user.text
    for name in buildings:
        user.press(name)
    user.press("完成" if buildings else "整个小区")
    assert "请输入表决标题" in user.text
    user.say(title)
    user.say(body)
    assert "请选择表决事项" in user.text
    user.press(matter)
    if candidates:
        user.press("选举")
        user.say("\n".join(candidates))
        user.press(seats)
    else:
        user.press("议题表决")
    assert "何时开始投票" in user.text, user.text


def finish(user: ChatUser, duration: str = "14 天", secret: bool = True, changeable: bool = False) -> str:
    """From the duration (a button, a typed close, or "" when already given) to the summary's text."""
    if duration.endswith(" 天"):
        user.press(duration)
    elif duration:
        user.say(duration)
    user.press("🔒 不记名投票" if secret else "📝 记名投票")
    user.press("允许截止前改票" if changeable else "投出后不能改")
    user.press("否")
    assert "请确认业主表决" in user.text, user.text
    return user.text


def create(user: ChatUser) -> int:
    user.press("确认发起")
    found = CREATED.search(user.text)
    assert found, user.text
    return int(found.group(1))


def state(app: App, user: ChatUser) -> tuple[str, str]:
    from db.conversations import load_state

    with app.sessions() as session:
        current = load_state(session, person_id(app, user))
    return current.flow, current.step


# --- creating ------------------------------------------------------------------------------------


def test_staff_creates_a_decision_and_the_owner_receives_the_announcement(
    app: App, owner: ChatUser, neighbour: ChatUser, staff: ChatUser
) -> None:
    up_to_timing(staff)
    assert "2026-12-06 09:00" in staff.text  # 15 days after 2026-11-20 10:00 local, at 09:00
    staff.press("公告满 15 天后开始")
    summary = finish(staff, "14 天", secret=True, changeable=True)
    assert "小区：铁西区 / 北沟街道 / 英雄社区 / 阳光花园" in summary and "范围：整个小区" in summary
    assert "第（四）项 选聘和解聘物业服务企业或者其他管理人" in summary
    assert "过半数" in summary and "三分之二以上" in summary
    assert "议题表决（同意 / 反对 / 弃权）" in summary
    assert "开始投票：2026-12-06 09:00（公告 15 天）" in summary
    assert "截止投票：2026-12-20 09:00" in summary
    assert "不记名；截止前可以改票" in summary and "提前理由" not in summary
    # 阳光花园: 3 buildings × 2 entrances × 6 homes; 6 × 593.30 m²; two owners have joined so far.
    assert "共 36 户，专有部分面积合计 3559.80 ㎡；目前 2 户有已核实的业主" in summary
    assert "公告将立即发送给 2 位业主和租户" in summary
    poll_id = create(staff)
    assert "公告已发送给 2 位业主和租户" in staff.text
    assert "2026-12-06 09:00 开始，2026-12-20 09:00 截止" in staff.text
    assert state(app, staff) == ("", "")

    poll = get_poll(app, poll_id)
    assert (poll.node_id, poll.buildings, poll.matter, poll.kind) == (
        node_id(app, COMPOUND),
        [],
        4,
        "decision",
    )
    assert (poll.secret, poll.changeable, poll.consultative, poll.shortened_reason) == (True, True, False, "")
    assert poll.opens_at == local("2026-12-06 09:00") and poll.closes_at == local("2026-12-20 09:00")
    assert (poll.state, poll.author_id) == ("announced", person_id(app, staff))
    with app.sessions() as session:
        rows = session.exec(select(Outbox).where(Outbox.notice_id == poll.announce_notice_id)).all()
        notice = session.get(Notice, poll.announce_notice_id)
        assert notice is not None and notice.kind == "meeting" and notice.title == poll.title
    assert {r.person_id for r in rows} == {person_id(app, owner), person_id(app, neighbour)}
    assert all(r.template == "notices.notice" and r.context["poll"]["id"] == poll_id for r in rows)
    assert asyncio.run(app.dispatcher.drain()) == 2
    assert any("关于续聘物业服务企业的表决" in text for text in pushed(app, owner))


def test_the_summary_counts_owners_who_muted_meeting_notices_since_the_announcement_reaches_them(
    app: App, owner: ChatUser, neighbour: ChatUser, staff: ChatUser
) -> None:
    """A poll's announcement cannot be muted (a legal requirement), so the summary promises what is sent."""
    with app.sessions() as session:
        session.add(Mute(person_id=person_id(app, owner), kind="meeting"))
        session.commit()
    up_to_timing(staff)
    staff.press("公告满 15 天后开始")
    summary = finish(staff, "14 天", secret=True, changeable=True)
    assert "公告将立即发送给 2 位业主和租户" in summary
    create(staff)
    assert "公告已发送给 2 位业主和租户" in staff.text


def test_staff_creates_an_election_for_some_buildings_with_a_shortened_notice(
    app: App, owner: ChatUser, staff: ChatUser
) -> None:
    up_to_timing(
        staff,
        buildings=("1栋", "2栋"),
        title="选举第一届业主委员会",
        matter="选举/更换业委会",
        candidates=("张伟", "王秀英", "李娜"),
        seats="选 2 人",
    )
    staff.press("更早开始投票")
    assert "请说明提前的理由" in staff.text
    staff.say("原业委会任期已满，街道要求年底前完成换届")
    staff.press("3 天后")
    assert "2026-11-23 09:00 开始" in staff.text
    summary = finish(staff, "2026-12-10 18:00", secret=False)
    assert "范围：1栋、2栋" in summary and "第（三）项 选举业主委员会或者更换业主委员会成员" in summary
    assert "选举，3 位候选人选 2 人：张伟、王秀英、李娜" in summary
    assert "开始投票：2026-11-23 09:00（公告 2 天）" in summary and "截止投票：2026-12-10 18:00" in summary
    assert "提前理由：原业委会任期已满" in summary and "记名；投出后不能修改" in summary
    assert "共 24 户" in summary and "目前 1 户有已核实的业主" in summary
    poll = get_poll(app, create(staff))
    with app.sessions() as session:
        ids = [org.find_node(session, f"{COMPOUND}/{b}").id for b in ("1栋", "2栋")]  # type: ignore[union-attr]
    assert (poll.kind, poll.candidates, poll.seats, poll.matter) == (
        "election",
        ["张伟", "王秀英", "李娜"],
        2,
        3,
    )
    assert poll.buildings == sorted(ids) and poll.secret is False
    assert poll.shortened_reason == "原业委会任期已满，街道要求年底前完成换届"
    assert poll.opens_at == local("2026-11-23 09:00") and poll.closes_at == local("2026-12-10 18:00")


def test_a_photo_with_its_caption_is_attached(app: App, staff: ChatUser) -> None:
    staff.say("/newpoll")
    staff.press("阳光花园")
    staff.press("整个小区")
    staff.say("外墙保温改造")
    staff.photo("photo-plan-1")
    assert "已收到图片" in staff.text
    staff.photo("photo-plan-2", caption="改造方案见图，费用从维修资金列支。")
    staff.press("使用维修资金")
    assert "过半数" in staff.text  # item 5 is ordinary
    staff.press("议题表决")
    staff.press("公告满 15 天后开始")
    assert "图片：1 张" in finish(staff)
    poll = get_poll(app, create(staff))
    assert (poll.attachment_kind, poll.attachment_channel, poll.attachment_ref) == (
        "photo",
        "web",
        "photo-plan-2",
    )
    assert poll.body == "改造方案见图，费用从维修资金列支。"


def test_special_matters_state_the_three_quarters_rule(app: App, staff: ChatUser) -> None:
    staff.say("/newpoll")
    staff.press("阳光花园")
    staff.press("整个小区")
    staff.say("电梯加装")
    staff.say("拟在 1—3 栋加装电梯。")
    staff.press("改建、重建")
    assert "第（七）项 改建、重建建筑物及其附属设施" in staff.text and "四分之三以上" in staff.text


def test_the_owners_committee_runs_polls_in_its_own_compound_only(app: App, owner: ChatUser) -> None:
    with app.sessions() as session:
        code = people.create_invite(
            session, "owners_committee", app.clock.now(), node_id=node_id(app, COMPOUND)
        ).code
        session.commit()
    chair = ChatUser(app.service, "committee-1", name="周主任")
    chair.say(f"/start {code}")
    chair.say("/newpoll")
    assert "表决范围：阳光花园" in chair.text  # one compound: no choice to make
    asked = chair.last
    chair.data(NewPoll("c", compound=node_id(app, OTHER)).encode())
    # Another compound of the community, not the committee's: refused, the step it stands at asked again.
    assert "表决范围：阳光花园" in chair.text and "和平里小区" not in chair.text
    assert state(app, chair) == ("newpoll", "buildings")
    chair.last = asked
    chair.press("整个小区")
    chair.say("修改管理规约")
    chair.say("修改停车管理条款。")
    chair.press("管理规约")
    chair.press("议题表决")
    chair.press("公告满 15 天后开始")
    finish(chair)
    poll = get_poll(app, create(chair))
    assert poll.node_id == node_id(app, COMPOUND) and poll.author_id == person_id(app, chair)


def test_english_walk_renders_every_step(app: App, staff: ChatUser) -> None:
    staff.data(Language(locale="en").encode())
    staff.say("/newpoll")
    assert "choose the compound" in staff.text
    staff.press("阳光花园")
    staff.press("Whole compound")
    staff.say("Renew the property company")
    staff.say("Three more years at the same fee.")
    staff.press("Raise maintenance fund")
    assert "three quarters or more" in staff.text
    staff.press("Election")
    staff.say("Zhang\nWang")
    staff.press("1 seat")
    staff.press("Open earlier")
    staff.say("The contract ends this month")
    staff.press("Open now")
    staff.press("7 days")
    staff.press("Secret ballot")
    staff.press("Final once cast")
    staff.press("Yes, consultative")
    assert "Please confirm the owners' vote" in staff.text and "Voting opens: now" in staff.text
    assert "consultative" in staff.text and "36 homes, 3559.80 m²" in staff.text
    staff.press("Start and announce")
    assert "is set up" in staff.text
    poll = get_poll(app, 1)
    assert poll.consultative and poll.opens_at == app.clock.now() and poll.matter == 6


# --- refusals ------------------------------------------------------------------------------------


def test_a_resident_cannot_start_a_poll_nor_press_its_buttons(app: App, owner: ChatUser) -> None:
    owner.say("/newpoll")
    assert "只有社区、街道" in owner.text and "业主委员会" in owner.text
    assert state(app, owner) == ("", "")
    for data in (OK, NewPoll("c", compound=node_id(app, COMPOUND)).encode(), NewPoll("x").encode()):
        owner.data(data)
        assert owner.text == owner.service.renderer.text("zh_CN", "common.stale_button")
    assert poll_count(app) == 0


def test_a_shortened_notice_needs_a_reason(app: App, staff: ChatUser) -> None:
    up_to_timing(staff)
    staff.say("2026-11-25 09:00")  # 5 days ahead
    assert "至少提前 15 天公告" in staff.text and "须说明理由" in staff.text
    assert state(app, staff) == ("newpoll", "reason")
    staff.data(
        NewPoll("d", days=14).encode()
    )  # a later step's button before the reason: stale, nothing moves
    assert state(app, staff) == ("newpoll", "reason")
    staff.say("供暖季前必须确定")
    assert "持续多久" in staff.text and "2026-11-25 09:00 开始" in staff.text
    summary = finish(staff)
    assert "（公告 4 天）" in summary and "提前理由：供暖季前必须确定" in summary
    poll = get_poll(app, create(staff))
    assert poll.shortened_reason == "供暖季前必须确定"


def test_days_for_an_early_opening_need_the_reason_first(app: App, staff: ChatUser) -> None:
    up_to_timing(staff)
    staff.press("更早开始投票")
    staff.data(NewPoll("o", opening="3").encode())  # forged: the days come after the reason
    assert state(app, staff) == ("newpoll", "reason")
    staff.say("x" * 301)
    assert "最多 300 字" in staff.text and state(app, staff) == ("newpoll", "reason")
    staff.say("紧急维修")
    staff.press("公告满 15 天后开始")  # changed their mind: the full notice drops the reason
    summary = finish(staff)
    assert "提前理由" not in summary and "（公告 15 天）" in summary


def test_a_voting_window_shorter_than_a_day_is_refused(app: App, staff: ChatUser) -> None:
    up_to_timing(staff)
    staff.press("公告满 15 天后开始")
    staff.say("2026-12-06 20:00")  # 11 hours after it opens
    assert "投票期须在 24 小时到 90 天之间" in staff.text and state(app, staff) == ("newpoll", "closes")
    staff.say("2027-03-20 09:00")  # more than 90 days
    assert "投票期须在 24 小时到 90 天之间" in staff.text and state(app, staff) == ("newpoll", "closes")
    staff.say("2026-12-01 09:00")  # before it opens
    assert "早于投票开始时间" in staff.text
    summary = finish(staff, "2026-12-07")  # a date alone: 23:59 that day
    assert "截止投票：2026-12-07 23:59" in summary


def test_too_many_candidates_are_refused(app: App, staff: ChatUser) -> None:
    staff.say("/newpoll")
    staff.press("阳光花园")
    staff.press("整个小区")
    staff.say("选举业委会")
    staff.say("第一届业委会选举。")
    staff.press("选举/更换业委会")
    staff.press("选举")
    staff.say("\n".join(f"候选人{n}" for n in range(1, 12)))
    assert "候选人有 11 位，最多 10 位" in staff.text and state(app, staff) == ("newpoll", "candidates")
    staff.say("张伟\n张伟")
    assert "重复" in staff.text and state(app, staff) == ("newpoll", "candidates")
    staff.say("\n".join(f"候选人{n}" for n in range(1, 11)))
    assert state(app, staff) == ("newpoll", "seats") and "选 10 人" in staff.buttons()
    staff.data(NewPoll("n", seats=11).encode())  # more seats than candidates
    assert state(app, staff) == ("newpoll", "seats")
    staff.data(NewPoll("n", seats=5).encode())
    assert state(app, staff) == ("newpoll", "opens")


def test_forged_compound_and_building_ids_change_nothing(app: App, staff: ChatUser) -> None:
    with app.sessions() as session:
        names = ("铁西区", "北沟街道", "幸福社区", "幸福小区", "1号楼", "1单元")
        org.load_rows(session, [org.HomeRow(1, names, "101", 8000)], [])
        session.commit()
    elsewhere = node_id(app, "铁西区/北沟街道/幸福社区/幸福小区")
    foreign_building = node_id(app, "铁西区/北沟街道/幸福社区/幸福小区/1号楼")
    other_compound_building = node_id(app, f"{OTHER}/1号楼")
    stale = staff.service.renderer.text("zh_CN", "common.stale_button")

    def compound(node: int) -> str:
        return NewPoll("c", compound=node).encode()

    def building(node: int) -> str:
        return NewPoll("b", building=node).encode()

    def matter(item: int) -> str:
        return NewPoll("m", matter=item).encode()

    scope_done = NewPoll("bd").encode()
    # Well-formed presses naming what is not the author's, or out of step (built by the codec), and
    # malformed data (raw: the codec writes no such thing).
    # A refused press inside the draft answers stale (malformed) or asks its step again (what the router
    # does for a press that does not fit the draft): either way nothing moves.
    asked = staff.say("/newpoll")
    again = staff.text
    for data in (
        compound(elsewhere),
        compound(999999),
        "w:c:abc",
        f"w:c:{node_id(app, COMPOUND)}/1",
        scope_done,
    ):
        staff.data(data)
        assert staff.text in (stale, again), data
        assert state(app, staff) == ("newpoll", "compound")
    staff.last = asked
    asked = staff.press("阳光花园")
    again = staff.text
    for data in (building(foreign_building), building(other_compound_building), "w:b:0", matter(4), OK):
        staff.data(data)
        assert staff.text in (stale, again), data
        assert state(app, staff) == ("newpoll", "buildings")
    staff.last = asked
    staff.press("整个小区")
    staff.say("标题")
    staff.say("说明")
    again = staff.text
    for data in (matter(0), matter(10), "w:m:x"):
        staff.data(data)
        assert staff.text in (stale, again), data
    assert state(app, staff) == ("newpoll", "matter")
    assert poll_count(app) == 0


def test_a_rule_broken_by_the_time_of_the_summary_or_of_create_sends_the_author_back(
    app: App, clock: FixedClock, staff: ChatUser
) -> None:
    up_to_timing(staff)
    staff.press("更早开始投票")
    staff.say("紧急维修")
    staff.say("2026-11-20 12:00")  # two hours from now
    staff.press("7 天")
    clock.advance(hours=3)  # the opening time passes while the author answers: check() before the summary
    staff.press("不记名投票")
    staff.press("投出后不能改")
    staff.press("否")
    assert "开始投票的时间已经过去" in staff.text and state(app, staff) == ("newpoll", "short")
    staff.say("2026-11-20 14:00")  # one hour from the new now; the reason is kept
    assert "请确认业主表决" in staff.text and "开始投票：2026-11-20 14:00" in staff.text
    clock.advance(hours=2)  # and again before create: the same check, the same way back
    staff.press("确认发起")
    assert "开始投票的时间已经过去" in staff.text and state(app, staff) == ("newpoll", "short")
    assert poll_count(app) == 0
    staff.press("立即开始")
    assert "开始投票：立即" in staff.text and "提前理由：紧急维修" in staff.text
    poll = get_poll(app, create(staff))
    assert poll.opens_at == clock.now() and poll.closes_at == clock.now() + timedelta(days=7)


def test_cancel_at_any_step_creates_nothing(app: App, staff: ChatUser) -> None:
    up_to_timing(staff)
    staff.press("取消")
    assert "已取消，表决没有发起" in staff.text and state(app, staff) == ("", "")
    staff.data(OK)
    assert staff.text == staff.service.renderer.text("zh_CN", "common.stale_button")
    up_to_timing(staff)
    staff.press("公告满 15 天后开始")
    finish(staff)
    staff.say("/cancel")  # a whole draft: asked before it is thrown away
    assert "放弃这份表决草稿吗" in staff.text and state(app, staff)[0] == "newpoll"
    staff.press("放弃")
    assert state(app, staff) == ("", "") and poll_count(app) == 0


def test_typed_text_where_buttons_are_expected_asks_again(app: App, staff: ChatUser) -> None:
    staff.say("/newpoll")
    staff.say("没有这个小区")
    assert "没有找到" in staff.text
    staff.say("和平")
    assert "表决范围：和平里小区" in staff.text
    staff.say("全部")
    assert "请点击下方按钮选择" in staff.text and state(app, staff) == ("newpoll", "buildings")


def test_a_double_click_on_create_makes_one_poll(app: App, staff: ChatUser) -> None:
    up_to_timing(staff)
    staff.press("公告满 15 天后开始")
    finish(staff)
    staff.press("确认发起")
    staff.data(OK)
    assert staff.text == staff.service.renderer.text("zh_CN", "common.stale_button")
    assert poll_count(app) == 1


# --- the command line ------------------------------------------------------------------------------


@pytest.fixture
def cli_app(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str, clock: FixedClock
) -> Iterator[App]:
    """The app and the environment `linli` reads, on the same fresh database."""
    for name in ("DATABASE_URL", "LINLI_VAR_DIR", "TIME_ZONE", "TELEGRAM_BOT_TOKEN", "LINLI_DEMO"):
        monkeypatch.delenv(name, raising=False)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("LINLI_VAR_DIR", str(tmp_path / "var"))
    app = make_app(sqlite_url, tmp_path, clock)
    yield app
    app.engine.dispose()


GOOD = """\
compound: 铁西区/北沟街道/英雄社区/阳光花园
buildings: [1栋]
title: 选举第一届业主委员会
body: |
  经业主大会筹备组推荐，以下候选人参加选举。
matter: 3
kind: election
candidates: [张伟, 王秀英, 李娜]
seats: 2
opens: +15d
closes: +14d
secret: true
changeable: true
"""


def test_cli_poll_create_with_a_good_file(
    cli_app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    owner = ChatUser(cli_app.service, "cli-owner")
    owner.say("/start DEMO-OWNER")
    tenant = ChatUser(cli_app.service, "cli-tenant")
    tenant.say("/start DEMO-TENANT")
    path = tmp_path / "poll.yaml"
    path.write_text(GOOD, encoding="utf-8")
    before = datetime.now(UTC)
    status, out, err = run(["poll", "create", str(path)], capsys)
    assert (status, err) == (0, ""), err
    lines = out.splitlines()
    assert lines[0].startswith("poll #1: voting opens ") and ", closes " in lines[0]
    assert lines[1] == "scope: 阳光花园 (1栋): 12 homes, 1186.60 m2, 1 with a verified owner now"
    assert lines[2] == "announced to 2 owners and tenants (notice #1)"
    poll = get_poll(cli_app, 1)
    assert (poll.kind, poll.candidates, poll.seats, poll.matter, poll.author_id) == (
        "election",
        ["张伟", "王秀英", "李娜"],
        2,
        3,
        None,
    )
    assert poll.secret and poll.changeable and not poll.consultative and poll.shortened_reason == ""
    assert before + timedelta(days=15) <= poll.opens_at <= datetime.now(UTC) + timedelta(days=15)
    assert poll.closes_at - poll.opens_at == timedelta(days=14)
    assert lines[0].endswith(poll.closes_at.astimezone(ZONE).strftime("%Y-%m-%d %H:%M"))
    with cli_app.sessions() as session:
        rows = session.exec(select(Outbox).where(Outbox.notice_id == poll.announce_notice_id)).all()
    assert {r.person_id for r in rows} == {person_id(cli_app, owner), person_id(cli_app, tenant)}

    opens = (datetime.now(ZONE) + timedelta(days=20)).strftime("%Y-%m-%d 09:00")
    path.write_text(
        f"compound: {COMPOUND}\ntitle: 改建车棚\nbody: 拆除旧车棚改建充电车棚。\nmatter: 7\n"
        f"opens: {opens}\ncloses: +7d\n",
        encoding="utf-8",
    )
    status, out, _ = run(["poll", "create", str(path)], capsys)
    assert (
        status == 0
        and out.startswith(f"poll #2: voting opens {opens}")
        and "(all buildings): 36 homes" in out
    )
    assert get_poll(cli_app, 2).kind == "decision"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (("title: 选举第一届业主委员会\n", ""), "title: is missing"),
        (("matter: 3", "matter: 10"), "matter: 10 must be a Civil Code Art. 278 item"),
        (("matter: 3", "matter: three"), "matter: 'three' must be a whole number"),
        (("kind: election", "kind: referendum"), "kind: 'referendum' must be one of decision, election"),
        (("阳光花园\n", "阳光花园/1栋\n"), "compound: no compound"),
        (("[1栋]", "[9栋]"), "buildings: no building '9栋' in 阳光花园"),
        (
            ("[张伟, 王秀英, 李娜]", str([f"候选人{n}" for n in range(11)])),
            "candidates: an election needs 1 to 10",
        ),
        (("seats: 2", "seats: 4"), "seats: must be a whole number from 1 to the number of candidates"),
        (("opens: +15d", "opens: +3d"), "shortened_reason: voting opens less than 15 days from now"),
        (("opens: +15d", "opens: 2020-01-01 09:00"), "opens: has passed"),
        (("opens: +15d", "opens: next week"), "opens: 'next week' must look like"),
        (("closes: +14d", "closes: +12h"), "closes: voting must last from 24 hours to 90 days"),
        (("closes: +14d\n", ""), "closes: is missing"),
        (("secret: true", "secret: maybe"), "secret: 'maybe' must be true or false"),
        (("secret: true", "colour: red"), "colour: unknown field"),
        (("compound:", "- compound:"), "file: not valid UTF-8 YAML"),
    ],
)
def test_cli_poll_create_rejects_a_bad_file_naming_the_field(
    cli_app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str], change: tuple[str, str], says: str
) -> None:
    owner = ChatUser(cli_app.service, "cli-owner")
    owner.say("/start DEMO-OWNER")
    path = tmp_path / "poll.yaml"
    assert change[0] in GOOD
    path.write_text(GOOD.replace(*change), encoding="utf-8")
    status, out, err = run(["poll", "create", str(path)], capsys)
    assert status == 1 and out == ""
    assert err.startswith(f"linli: {path}: ") and says in err, err
    assert err.count("\n") == 1 and "nothing was created" in err
    assert poll_count(cli_app) == 0
    with cli_app.sessions() as session:
        assert session.exec(select(func.count()).select_from(Notice)).one() == 0
        assert session.exec(select(func.count()).select_from(Outbox)).one() == 0


def test_cli_poll_create_of_a_missing_file_and_its_help(
    cli_app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(["poll", "create", str(tmp_path / "nope.yaml")], capsys)
    assert status == 2 and "no such file" in err
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["poll", "create", "--help"])
    assert exit_.value.code == 0
    says = capsys.readouterr().out.replace("\n", " ")
    assert "shortened_reason" in says and "nothing is created" in says
