"""Notices: audience resolution, the /notice dialog, delivery through the outbox, acknowledgements,
publicity periods, scheduling and quiet hours, mutes, cancel and remind, staff reports, and the CLI."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.bootstrap import App
from bot.clock import FixedClock
from core import notices as use
from core.actions import Notices
from core.notify.notices import NOTICE
from core.work import Work
from db import notices, org, outbox, people
from db.models import Identity, Notice, NoticeAck, Outbox, WebMessage
from tests.conftest import make_app
from tests.support.chat import ChatUser
from tests.support.cli import run

COMMUNITY = "铁西区/北沟街道/英雄社区"
OTHER_COMMUNITY = "铁西区/北沟街道/幸福社区"
CREATED = re.compile(r"通知 #(\d+) 已保存")


# --- helpers ---------------------------------------------------------------------------------------


def join_home(app: App, ref: str, home: str, kind: str = "owner") -> ChatUser:
    """A resident bound to a home through a fresh invite."""
    with app.sessions() as session:
        found = org.find_home(session, home)
        assert found is not None, home
        code = people.create_invite(session, kind, app.clock.now(), home_id=found.id).code
        session.commit()
    user = ChatUser(app.service, ref, name=ref)
    user.say(f"/start {code}")
    assert "绑定成功" in user.text
    return user


def add_second_community(app: App) -> None:
    """幸福社区, a second community of the same street, with one compound, building and home."""
    with app.sessions() as session:
        names = ("铁西区", "北沟街道", "幸福社区", "幸福小区", "1号楼", "1单元")
        org.load_rows(session, [org.HomeRow(1, names, "101", 8000)], [])
        session.commit()


def node_id(app: App, path: str) -> int:
    with app.sessions() as session:
        node = org.find_node(session, path)
        assert node is not None
        return node.id  # type: ignore[return-value]


def person_id(app: App, user: ChatUser) -> int:
    with app.sessions() as session:
        identity = session.exec(select(Identity).where(Identity.external_id == user.user_ref)).one()
        return identity.person_id


def pushed(app: App, user: ChatUser) -> list[str]:
    """The texts pushed to a web user (ChatUser replies are not stored, so these are all pushes)."""
    with app.sessions() as session:
        rows = session.exec(
            select(WebMessage)
            .join(Identity, Identity.id == WebMessage.identity_id)  # type: ignore[arg-type]
            .where(Identity.external_id == user.user_ref, WebMessage.outgoing == True)  # noqa: E712
            .order_by(WebMessage.id)  # type: ignore[arg-type]
        ).all()
    return [row.body["text"] for row in rows]


def drain(app: App) -> int:
    return asyncio.run(app.dispatcher.drain())


def compose(
    staff: ChatUser,
    kind: str = "【政策宣传】",
    title: str = "垃圾分类宣传",
    body: str = "请按四分类投放生活垃圾。",
    path: tuple[str, ...] = (),
    buildings: tuple[str, ...] = (),
    toggle_roles: tuple[str, ...] = (),
    when: str = "立即发送",
    days: str = "7 天",
    ack: bool = False,
) -> str:
    """Walk the /notice dialog up to the summary and return its text."""
    staff.say("/notice")
    staff.press(kind)
    staff.say(title)
    staff.say(body)
    for name in path:
        staff.press(f"⬇️ {name}")
    staff.press("发给这里")
    if "请选择楼栋" in staff.text:
        for building in buildings:
            staff.press(building)
        staff.press("完成" if buildings else "整个小区")
    for role in toggle_roles:
        staff.press(role)
    staff.press("下一步")
    if when in ("立即发送", "今晚 20:00", "明天 09:00"):
        staff.press(when)
    else:
        staff.say(when)
    staff.press(days)
    staff.press("需要确认" if ack else "不需要")
    assert "请确认通知内容" in staff.text, staff.text
    return staff.text


def send(staff: ChatUser, **kw: object) -> int:
    """Compose and confirm a notice; returns its id."""
    compose(staff, **kw)  # type: ignore[arg-type]
    staff.press("确认发送")
    found = CREATED.search(staff.text)
    assert found, staff.text
    return int(found.group(1))


def outbox_people(app: App, notice_id: int, template: str = NOTICE) -> set[int]:
    with app.sessions() as session:
        rows = session.exec(
            select(Outbox).where(Outbox.notice_id == notice_id, Outbox.template == template)
        ).all()
    return {row.person_id for row in rows}


def report(app: App, notice_id: int) -> dict[str, int]:
    with app.sessions() as session:
        return notices.report(session, notice_id)


@pytest.fixture
def tenant(app: App) -> ChatUser:
    """The demo tenant in 阳光花园 1栋."""
    user = ChatUser(app.service, "tenant-1", name="赵租")
    user.say("/start DEMO-TENANT")
    return user


@pytest.fixture
def heping(app: App) -> ChatUser:
    """An owner in 和平里小区, the community's other compound."""
    return join_home(app, "heping-1", f"{COMMUNITY}/和平里小区/1号楼/1单元/101")


@pytest.fixture
def outsider(app: App) -> ChatUser:
    """An owner in 幸福社区, another community of the same street."""
    add_second_community(app)
    return join_home(app, "outsider-1", f"{OTHER_COMMUNITY}/幸福小区/1号楼/1单元/101")


@pytest.fixture
def residents(owner: ChatUser, neighbour: ChatUser, tenant: ChatUser, heping: ChatUser) -> list[ChatUser]:
    """Every resident of 英雄社区 in these tests."""
    return [owner, neighbour, tenant, heping]


# --- audience --------------------------------------------------------------------------------------


def test_community_notice_reaches_every_resident_under_it_and_nobody_else(
    app: App, staff: ChatUser, residents: list[ChatUser], outsider: ChatUser
) -> None:
    grid = ChatUser(app.service, "grid-1")
    grid.say("/start DEMO-GRID")
    summary = compose(staff, title="小区消防通道清理")
    assert "范围：铁西区 / 北沟街道 / 英雄社区" in summary and "将发送给 4 人" in summary
    staff.press("确认发送")
    notice_id = int(CREATED.search(staff.text).group(1))  # type: ignore[union-attr]
    assert "共 4 位接收人" in staff.text

    expected = {person_id(app, user) for user in residents}
    assert outbox_people(app, notice_id) == expected
    with app.sessions() as session:
        notice = session.get(Notice, notice_id)
        assert notice is not None and notice.audience_size == 4 and not notice.urgent
        assert notices.audience(session, notice.node_id, [], ["owners", "tenants"]) == sorted(expected)

    residents[1].say("/lang")
    residents[1].press("English")  # rendered once per language: each gets their own
    assert drain(app) == 4
    for user in residents:
        [text] = pushed(app, user)
        assert "小区消防通道清理" in text and "请按四分类投放生活垃圾" in text
    assert "【政策宣传】" in pushed(app, residents[0])[0]
    assert (
        "[Policy]" in pushed(app, residents[1])[0]
        and "On public display until" in pushed(app, residents[1])[0]
    )
    for user in (outsider, staff, grid):
        assert not any("小区消防通道清理" in t for t in pushed(app, user))
    assert report(app, notice_id)["sent"] == 4


def test_the_notice_and_its_outbox_rows_are_written_in_one_transaction(
    app: App, staff: ChatUser, owner: ChatUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = outbox.enqueue_many

    def fail_after_writing(session: object, rows: list[dict[str, object]], **shared: object) -> None:
        real(session, rows, **shared)  # type: ignore[arg-type]
        raise RuntimeError("the database went away")

    monkeypatch.setattr(outbox, "enqueue_many", fail_after_writing)
    compose(staff)
    staff.press("确认发送")
    assert "出了点问题" in staff.text
    with app.sessions() as session:
        assert session.exec(select(func.count()).select_from(Notice)).one() == 0
        assert session.exec(select(func.count()).select_from(Outbox)).one() == 0


def test_building_notice_reaches_only_those_buildings(
    app: App, staff: ChatUser, residents: list[ChatUser]
) -> None:
    second = join_home(app, "b2-owner", f"{COMMUNITY}/阳光花园/2栋/1单元/101")
    third = join_home(app, "b3-owner", f"{COMMUNITY}/阳光花园/3栋/2单元/302")
    summary = compose(staff, title="2栋电梯检修", path=("阳光花园",), buildings=("2栋",))
    assert "范围：铁西区 / 北沟街道 / 英雄社区 / 阳光花园（2栋）" in summary and "将发送给 1 人" in summary
    staff.press("确认发送")

    summary = compose(staff, title="1栋和3栋停电", path=("阳光花园",), buildings=("1栋", "3栋"))
    assert "（1栋、3栋）" in summary and "将发送给 4 人" in summary
    staff.press("确认发送")
    notice_id = int(CREATED.search(staff.text).group(1))  # type: ignore[union-attr]
    owner, neighbour, tenant, heping = residents
    assert outbox_people(app, notice_id) == {person_id(app, u) for u in (owner, neighbour, tenant, third)}
    drain(app)
    assert any("2栋电梯检修" in t for t in pushed(app, second))
    assert not any("1栋和3栋停电" in t for t in pushed(app, second))
    assert not any("2栋电梯检修" in t for t in pushed(app, owner))
    assert pushed(app, heping) == []


def test_roles_filter_owners_only_leaves_out_the_tenant(
    app: App, staff: ChatUser, residents: list[ChatUser]
) -> None:
    owner, neighbour, _, heping = residents
    summary = compose(staff, title="业主大会通知", kind="【会议通知】", toggle_roles=("租户",))
    assert "接收人：业主\n" in summary and "将发送给 3 人" in summary
    staff.press("确认发送")
    notice_id = int(CREATED.search(staff.text).group(1))  # type: ignore[union-attr]
    assert outbox_people(app, notice_id) == {person_id(app, u) for u in (owner, neighbour, heping)}

    grid = ChatUser(app.service, "grid-1")
    grid.say("/start DEMO-GRID")
    summary = compose(staff, toggle_roles=("业主", "租户", "网格员", "工作人员"))
    assert "接收人：网格员、工作人员" in summary and "将发送给 2 人" in summary  # the grid worker and staff
    staff.say("/cancel")

    staff.say("/notice")
    staff.press("【安全】")
    staff.say("标题")
    staff.say("正文")
    staff.press("发给这里")
    staff.press("业主")
    staff.press("租户")
    staff.press("下一步")
    assert "至少选择一类" in staff.text


def test_staff_cannot_send_outside_their_jurisdiction(
    app: App, staff: ChatUser, owner: ChatUser, outsider: ChatUser
) -> None:
    other = node_id(app, OTHER_COMMUNITY)
    street = node_id(app, "铁西区/北沟街道")
    staff.say("/notice")
    staff.press("【政策宣传】")
    staff.say("越界通知")
    staff.say("正文")
    assert "幸福社区" not in " ".join(staff.buttons())
    # Refused: the draft's step is asked again, still inside the community.
    staff.data(Notices("d", node=other).encode())
    assert "发布范围：铁西区 / 北沟街道 / 英雄社区。" in staff.text
    staff.data(Notices("d", node=street).encode())
    assert "发布范围：铁西区 / 北沟街道 / 英雄社区。" in staff.text
    staff.data(Notices("u").encode())  # already at the top of their jurisdiction: stays there
    assert "范围：铁西区 / 北沟街道 / 英雄社区" in staff.text
    staff.say("/cancel")
    staff_id = person_id(app, staff)
    with app.sessions() as session:
        work = Work(session, app.clock.now(), app.policy)
        draft = use.NoticeDraft("policy", "t", "b", other, roles=("owners",))
        with pytest.raises(use.NoticeError) as refused:
            use.publish_notice(work, people.actor(session, staff_id), draft)
        assert refused.value.reason == "not_allowed" and work.events == []

    # The street's staff may send to the other community; the community's staff may not manage it.
    street_staff = ChatUser(app.service, "street-1")
    street_staff.say("/start DEMO-STREET")
    summary = compose(street_staff, title="幸福社区通知", path=("幸福社区",))
    assert "将发送给 1 人" in summary
    street_staff.press("确认发送")
    notice_id = int(CREATED.search(street_staff.text).group(1))  # type: ignore[union-attr]
    assert outbox_people(app, notice_id) == {person_id(app, outsider)}
    staff.data(Notices("c", notice=notice_id).encode())
    assert "不在您的管辖" in staff.text
    staff.say("/notices")
    assert "幸福社区通知" not in staff.text
    assert report(app, notice_id)["pending"] == 1

    owner.say("/notice")
    assert "仅供" in owner.text


# --- acknowledgement, listing, timing --------------------------------------------------------------


def test_acknowledgement_works_once_and_forged_or_foreign_acks_change_nothing(
    app: App, staff: ChatUser, owner: ChatUser, neighbour: ChatUser, outsider: ChatUser
) -> None:
    notice_id = send(staff, title="维修资金使用表决", kind="【收支公示】", ack=True)
    drain(app)
    assert "我已知晓" in pushed(app, owner)[0]
    owner.say("/notices")
    assert "维修资金使用表决" in owner.text and "待确认" in owner.text
    owner.press("我已知晓")
    assert "已确认知晓：维修资金使用表决" in owner.text
    owner.data(Notices("a", notice=notice_id).encode())
    assert "已经确认过" in owner.text
    owner.say("/notices")
    assert "✅已知晓" in owner.text and "我已知晓" not in " ".join(owner.buttons())

    neighbour.data(Notices("a", notice=99999).encode())
    assert "操作未完成" in neighbour.text
    for forged in ("n:a:abc", "n:a:"):  # not a button we ever sent: the codec refuses it before any query
        neighbour.data(forged)
        assert "按钮已失效" in neighbour.text
    outsider.data(Notices("a", notice=notice_id).encode())
    assert "不是这条通知的接收人" in outsider.text
    staff.data(Notices("a", notice=notice_id).encode())
    assert "操作未完成" in staff.text
    with app.sessions() as session:
        acks = [(a.notice_id, a.person_id) for a in session.exec(select(NoticeAck)).all()]
    assert acks == [(notice_id, person_id(app, owner))]
    assert report(app, notice_id)["acknowledged"] == 1

    outsider.data(Notices("v", notice=notice_id).encode())  # cannot read it either
    assert "已失效" in outsider.text
    neighbour.data(Notices("v", notice=notice_id).encode())
    assert "维修资金使用表决" in neighbour.text and "我已知晓" in " ".join(neighbour.buttons())


def test_notices_lists_only_notices_in_their_publicity_period(
    app: App, clock: FixedClock, staff: ChatUser, owner: ChatUser
) -> None:
    owner.say("/notices")
    assert "目前没有公示中的通知" in owner.text
    send(staff, title="七天公示", kind="【收支公示】", days="7 天")
    send(staff, title="不设公示期", days="不设公示期")
    drain(app)
    owner.say("/notices")
    assert "七天公示" in owner.text and "不设公示期" in owner.text
    clock.advance(days=8)
    owner.say("/notices")
    assert "七天公示" not in owner.text and "不设公示期" in owner.text  # listed 30 days without a period
    clock.advance(days=23)
    owner.say("/notices")
    assert "目前没有公示中的通知" in owner.text


def test_scheduled_notice_is_not_sent_before_its_time(
    app: App, clock: FixedClock, staff: ChatUser, owner: ChatUser
) -> None:
    summary = compose(staff, title="明早停水", kind="【停水停电】", when="明天 09:00")
    assert "发送时间：2026-11-21 09:00" in summary
    staff.press("确认发送")
    assert "将于 2026-11-21 09:00 发出" in staff.text
    assert drain(app) == 0
    owner.say("/notices")
    assert "明早停水" not in owner.text
    clock.advance(hours=22, minutes=59)  # 08:59 in Shanghai
    assert drain(app) == 0
    clock.advance(minutes=1)
    assert drain(app) == 1
    [text] = pushed(app, owner)
    assert "紧急" in text and "【停水停电】明早停水" in text

    summary = compose(staff, title="输入的时间", when="2026-11-22 15:30")
    assert "发送时间：2026-11-22 15:30" in summary
    staff.say("/cancel")
    staff.say("/notice")
    staff.press("【政策宣传】")
    staff.say("t")
    staff.say("b")
    staff.press("发给这里")
    staff.press("下一步")
    staff.say("2020-01-01 09:00")
    assert "格式不对或已经过去" in staff.text


def test_quiet_hours_hold_a_routine_notice_but_not_a_safety_notice(
    app: App, clock: FixedClock, staff: ChatUser, owner: ChatUser
) -> None:
    clock.current = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    summary = compose(staff, title="夜里决定的宣传")
    assert "2026-11-21 07:00（夜间免打扰" in summary
    staff.press("确认发送")
    compose(staff, title="燃气泄漏请撤离", kind="【安全】")
    staff.press("确认发送")
    assert "正在发送" in staff.text
    assert drain(app) == 1
    [text] = pushed(app, owner)
    assert "🚨【紧急】【安全】燃气泄漏请撤离" in text
    clock.advance(hours=7, minutes=59)  # 06:59
    assert drain(app) == 0
    clock.advance(minutes=1)
    assert drain(app) == 1
    assert "夜里决定的宣传" in pushed(app, owner)[-1]


def test_a_notice_published_in_quiet_hours_is_on_the_board_at_once_while_its_push_waits(
    app: App, clock: FixedClock, staff: ChatUser, owner: ChatUser
) -> None:
    clock.current = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai
    compose(staff, title="明早停水通知的预告", ack=True)
    staff.press("确认发送")
    assert drain(app) == 0  # the push waits for 07:00
    owner.say("/notices")
    assert "明早停水通知的预告" in owner.text  # but a resident who looks finds it published
    owner.press("明早停水通知的预告")
    owner.press("我已知晓")
    assert "已确认知晓：明早停水通知的预告" in owner.text


def test_mute_skips_that_kind_for_that_resident_and_safety_cannot_be_muted(
    app: App, staff: ChatUser, owner: ChatUser, neighbour: ChatUser
) -> None:
    owner.say("/mute")
    assert "始终接收" in owner.text and "屏蔽【安全】" not in " ".join(owner.buttons())
    owner.press("屏蔽【会议通知】")
    assert "【会议通知】 已屏蔽" in owner.text
    owner.data("n:m:safety")  # forged: no button mutes safety notices
    assert "安全类通知不能屏蔽" in owner.text
    owner.data("n:m:bogus")  # forged: no such kind
    assert "类别无效" in owner.text
    owner_id = person_id(app, owner)
    with app.sessions() as session:
        with pytest.raises(notices.NoticeError):
            notices.mute(session, owner_id, "safety")
        assert notices.muted(session, owner_id) == {"meeting"}

    summary = compose(staff, title="居民议事会", kind="【会议通知】")
    assert "将发送给 1 人（另有 1 人屏蔽了此类通知）" in summary
    staff.press("确认发送")
    compose(staff, title="暴雨预警", kind="【安全】")
    staff.press("确认发送")
    drain(app)
    assert [("居民议事会" in t, "暴雨预警" in t) for t in pushed(app, owner)] == [(False, True)]
    assert len(pushed(app, neighbour)) == 2

    owner.say("/mute")
    owner.press("恢复接收【会议通知】")
    assert "【会议通知】 接收" in owner.text
    send(staff, title="第二次议事会", kind="【会议通知】")
    drain(app)
    assert "第二次议事会" in pushed(app, owner)[-1]


# --- staff: cancel, remind, reports ----------------------------------------------------------------


def test_cancel_stops_the_pending_rows(
    app: App, clock: FixedClock, staff: ChatUser, residents: list[ChatUser]
) -> None:
    notice_id = send(staff, title="明天的宣传", when="明天 09:00")
    staff.say("/notices")
    assert "明天的宣传" in staff.text and "待发送 4" in staff.text
    staff.press("撤回未发出的")
    assert f"通知 #{notice_id} 已撤回，4 条" in staff.text
    counts = report(app, notice_id)
    assert (counts["cancelled"], counts["pending"], counts["sent"]) == (4, 0, 0)
    staff.data(Notices("c", notice=notice_id).encode())
    assert "已经撤回" in staff.text
    staff.say("/notices")
    assert "〔已撤回〕" in staff.text and "撤回未发出的" not in " ".join(staff.buttons())
    clock.advance(days=1)
    assert drain(app) == 0
    assert all(pushed(app, user) == [] for user in residents)
    residents[0].data(Notices("c", notice=notice_id).encode())  # residents cannot cancel
    assert "操作未完成" in residents[0].text

    sent_id = send(staff, title="已发出的")
    drain(app)
    staff.data(Notices("c", notice=sent_id).encode())
    assert "没有可撤回" in staff.text


def test_remind_reaches_only_those_who_have_not_acknowledged(
    app: App, staff: ChatUser, residents: list[ChatUser]
) -> None:
    owner, neighbour, tenant, heping = residents
    notice_id = send(staff, title="请确认收到", ack=True)
    drain(app)
    owner.data(Notices("a", notice=notice_id).encode())
    staff.say("/notices")
    staff.press("提醒未确认的")
    assert "已向 3 位尚未确认的接收人发送提醒" in staff.text
    drain(app)
    assert not any("⏰" in t for t in pushed(app, owner))
    for user in (neighbour, tenant, heping):
        texts = pushed(app, user)
        assert len(texts) == 2 and "⏰ 提醒" in texts[1] and "请确认收到" in texts[1]
    counts = report(app, notice_id)
    assert (counts["sent"], counts["audience"]) == (4, 4)  # reminders are not counted as deliveries

    plain = send(staff, title="无需确认")
    staff.data(Notices("r", notice=plain).encode())
    assert "不需要回执" in staff.text
    owner.data(Notices("r", notice=notice_id).encode())
    assert "操作未完成" in owner.text


def test_staff_notices_shows_the_delivery_report(
    app: App, staff: ChatUser, residents: list[ChatUser]
) -> None:
    owner, _, _, heping = residents
    notice_id = send(staff, title="报告测试", ack=True)
    with app.sessions() as session:
        identity = session.exec(select(Identity).where(Identity.external_id == heping.user_ref)).one()
        identity.unreachable = True  # blocked the bot
        session.commit()
    drain(app)
    owner.data(Notices("a", notice=notice_id).encode())
    staff.say("/notices")
    assert "报告测试（#" in staff.text
    assert "接收人 4：已送达 3（75%），待发送 0，失败 0（0%），无法送达 1（25%）" in staff.text
    assert "已确认知晓 1（25%）" in staff.text
    assert report(app, notice_id) == {
        "audience": 4,
        "sent": 3,
        "pending": 0,
        "failed": 0,
        "unreachable": 1,
        "cancelled": 0,
        "acknowledged": 1,
    }
    assert "撤回未发出的" not in staff.buttons() and "提醒未确认的" in staff.buttons()
    staff.say("/help")
    assert "📢 发布通知 — " in staff.text and "📢 发布通知" in staff.buttons()
    owner.say("/help")
    assert "📰 通知 — " in owner.text and "发布通知" not in owner.text and "📰 通知" in owner.buttons()


# --- the CLI ---------------------------------------------------------------------------------------


@pytest.fixture
def cli_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str, clock: FixedClock) -> App:
    """The app and the environment `linli` reads, on the same fresh database."""
    for name in ("DATABASE_URL", "LINLI_VAR_DIR", "TIME_ZONE", "TELEGRAM_BOT_TOKEN", "LINLI_DEMO"):
        monkeypatch.delenv(name, raising=False)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("LINLI_VAR_DIR", str(tmp_path / "var"))
    app = make_app(sqlite_url, tmp_path, clock)
    yield app  # type: ignore[misc]
    app.engine.dispose()


GOOD = """\
kind: meeting
title: 业主大会筹备组会议
body: |
  本周六上午九点在社区活动室召开筹备组会议。
node: 铁西区/北沟街道/英雄社区
buildings: [阳光花园/1栋]
roles: [owners]
publicity_days: 7
ack: true
author: DEMO-STAFF
"""


def test_cli_notice_send_with_a_good_file(
    cli_app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    owner = ChatUser(cli_app.service, "cli-owner")
    owner.say("/start DEMO-OWNER")
    neighbour = ChatUser(cli_app.service, "cli-owner-2")
    neighbour.say("/start DEMO-OWNER2")
    tenant = ChatUser(cli_app.service, "cli-tenant")
    tenant.say("/start DEMO-TENANT")
    staff = ChatUser(cli_app.service, "cli-staff")
    staff.say("/start DEMO-STAFF")
    path = tmp_path / "notice.yaml"
    path.write_text(GOOD, encoding="utf-8")
    status, out, err = run(["notice", "send", str(path)], capsys)
    assert (status, err) == (0, "")
    assert out.startswith("notice #1: audience 2")
    staff_id = person_id(cli_app, staff)
    with cli_app.sessions() as session:
        notice = session.get(Notice, 1)
        assert notice is not None
        assert (notice.kind, notice.author_id, notice.ack_required) == ("meeting", staff_id, True)
        assert notice.publicity_until is not None
        assert notice.buildings == [org.find_node(session, f"{COMMUNITY}/阳光花园/1栋").id]  # type: ignore[union-attr]
    assert outbox_people(cli_app, 1) == {person_id(cli_app, owner), person_id(cli_app, neighbour)}

    path.write_text("kind: safety\ntitle: 系统通知\nbody: 全区演练\nnode: 铁西区\n", encoding="utf-8")
    status, out, _ = run(["notice", "send", str(path)], capsys)  # no author: the system sends it
    assert status == 0 and "audience 3" in out


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (("title: 业主大会筹备组会议\n", ""), "title: is missing"),
        (("kind: meeting", "kind: party"), "kind: 'party' must be one of"),
        (("node: 铁西区/北沟街道/英雄社区", "node: 铁西区/没有这个社区"), "node: no org node"),
        (("[阳光花园/1栋]", "[阳光花园/9栋]"), "buildings: no building '阳光花园/9栋'"),
        (("roles: [owners]", "roles: [landlords]"), "roles: must be some of"),
        (("publicity_days: 7", "publicity_days: forever"), "publicity_days:"),
        (("ack: true", "ack: maybe"), "ack: 'maybe' must be true or false"),
        (("author: DEMO-STAFF", "author: NOPE-CODE"), "author: 'NOPE-CODE' is neither"),
        (("author: DEMO-STAFF", "author: DEMO-GRID"), "author: nobody has joined"),
        (("node: 铁西区/北沟街道/英雄社区\nbuildings: [阳光花园/1栋]", "node: 铁西区"), "author: refused"),
        (
            ("ack: true", "ack: true\nsend_at: 2020-01-01 09:00"),
            "send_at: 2020-01-01 09:00 has already passed",
        ),
        (("ack: true", "colour: red"), "colour: unknown field"),
    ],
)
def test_cli_notice_send_rejects_a_bad_file_naming_the_field(
    cli_app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str], change: tuple[str, str], says: str
) -> None:
    staff = ChatUser(cli_app.service, "cli-staff")
    staff.say("/start DEMO-STAFF")
    owner = ChatUser(cli_app.service, "cli-owner")
    owner.say("/start DEMO-OWNER")
    path = tmp_path / "notice.yaml"
    assert change[0] in GOOD
    path.write_text(GOOD.replace(*change), encoding="utf-8")
    status, out, err = run(["notice", "send", str(path)], capsys)
    assert status == 1 and out == ""
    assert says in err and err.count("\n") == 1 and "nothing was sent" in err
    with cli_app.sessions() as session:
        assert session.exec(select(func.count()).select_from(Notice)).one() == 0
        assert session.exec(select(func.count()).select_from(Outbox)).one() == 0


def test_audience_counts_grid_workers_and_staff_under_the_node(app: App, staff: ChatUser) -> None:
    grid = ChatUser(app.service, "grid-1")
    grid.say("/start DEMO-GRID")
    street = ChatUser(app.service, "street-1")
    street.say("/start DEMO-STREET")
    community, street_node = node_id(app, COMMUNITY), node_id(app, "铁西区/北沟街道")
    grid_id, staff_id, street_id = person_id(app, grid), person_id(app, staff), person_id(app, street)
    with app.sessions() as session:
        assert notices.audience(session, community, [], ["grid_workers"]) == [grid_id]
        assert notices.audience(session, community, [], ["staff"]) == [staff_id]  # not the street's
        both = notices.audience(session, street_node, [], ["staff", "staff"])
        assert both == sorted({staff_id, street_id})
        assert notices.audience(session, 999_999, [], ["owners"]) == []


def test_a_notice_round_trip_on_every_database(any_app: App) -> None:
    """Create, deliver, list, acknowledge, remind and report, on SQLite and on PostgreSQL."""
    staff = ChatUser(any_app.service, "staff-1")
    staff.say("/start DEMO-STAFF")
    owner = ChatUser(any_app.service, "owner-1")
    owner.say("/start DEMO-OWNER")
    tenant = ChatUser(any_app.service, "tenant-1")
    tenant.say("/start DEMO-TENANT")
    notice_id = send(staff, title="双库通知", kind="【安全】", ack=True)
    assert len(outbox_people(any_app, notice_id)) == 2
    assert drain(any_app) == 2
    owner.say("/notices")
    assert "双库通知" in owner.text
    owner.data(Notices("a", notice=notice_id).encode())
    owner.data(Notices("a", notice=notice_id).encode())
    assert "已经确认过" in owner.text
    staff.data(Notices("r", notice=notice_id).encode())
    assert "已向 1 位" in staff.text
    assert drain(any_app) == 1
    assert report(any_app, notice_id) == {
        "audience": 2,
        "sent": 2,
        "pending": 0,
        "failed": 0,
        "unreachable": 0,
        "cancelled": 0,
        "acknowledged": 1,
    }
