"""Joining without an invite, staff approval, /help, /lang, and conversations that survive a restart."""

from __future__ import annotations

import asyncio

from sqlmodel import select

from bot.bootstrap import App, build
from core.actions import Verify
from db.models import Residency, WebMessage
from tests.support.chat import ChatUser


def test_choose_home_then_staff_approves_and_resident_is_told(app: App) -> None:
    staff = ChatUser(app.service, "staff-1", name="社区张主任")
    staff.say("/start DEMO-STAFF")
    assert "社区工作人员" in staff.text
    resident = ChatUser(app.service, "walk-in", name="赵六")
    resident.say("/start")
    resident.press("选择住址")
    resident.press("阳光花园")
    resident.press("2栋")
    resident.press("1单元")
    resident.press("301")
    assert "业主还是租户" in resident.text
    resident.press("租户")
    assert "姓名" in resident.text
    resident.say("赵六")
    resident.say("139 0000 1111")
    assert "等待" in resident.text or "审核" in resident.text
    resident.say("/report")
    assert "等待社区审核" in resident.text

    # staff got a push through the outbox and can also list pending registrations
    asyncio.run(app.dispatcher.drain())
    with app.sessions() as session:
        pushed = session.exec(select(WebMessage).where(WebMessage.outgoing == True)).all()  # noqa: E712
    assert any("赵六" in m.body["text"] and "2栋 1单元 301" in m.body["text"] for m in pushed)
    staff.say("/pending")
    assert "赵六" in staff.text
    approve = next(data for m in staff.last for row in m.buttons for label, data in row if label == "通过")
    staff.data(approve)
    assert "已通过" in staff.text
    staff.data(approve)  # a double click on the same request
    assert "已经处理过" in staff.text

    asyncio.run(app.dispatcher.drain())
    resident.say("/report")
    assert "类别" in resident.text
    with app.sessions() as session:
        [residency] = session.exec(select(Residency).where(Residency.kind == "tenant")).all()
    assert residency.status == "verified"


def test_residents_cannot_approve_and_staff_outside_jurisdiction_are_refused(app: App) -> None:
    resident = ChatUser(app.service, "walk-in-2")
    resident.say("/start")
    resident.press("选择住址")
    resident.press("和平里小区")
    resident.press("1号楼")
    resident.press("2单元")
    resident.press("101")
    resident.press("业主")
    resident.say("钱七")
    resident.say("13900002222")
    resident.say("钱七")
    resident.say("13900002222")
    with app.sessions() as session:
        pending = session.exec(select(Residency).where(Residency.status == "pending")).one()
    tenant = ChatUser(app.service, "tenant-1")
    tenant.say("/start DEMO-TENANT")
    tenant.data(Verify("y", residency=pending.id).encode())  # the button staff were sent
    assert "仅供" in tenant.text
    tenant.say("/pending")
    assert "仅供" in tenant.text
    with app.sessions() as session:
        assert session.get(Residency, pending.id).status == "pending"  # type: ignore[union-attr]


def test_language_switch_and_help(owner: ChatUser) -> None:
    owner.say("/help")
    assert "📝 报事 — " in owner.text and "📋 我的工单 — " in owner.text and "待审核" not in owner.text
    owner.say("/lang")
    owner.press("English")
    assert "English" in owner.text
    owner.say("/report")
    assert "What kind of problem" in owner.text
    owner.press("Noise")
    assert "Describe the problem" in owner.text


def test_draft_survives_a_restart_of_the_service(app: App, owner: ChatUser) -> None:
    owner.say("/report")
    owner.press("电梯故障")
    owner.say("2号电梯门关不上")
    app.engine.dispose()
    restarted = build(app.settings, clock=app.clock)  # a new process: nothing kept in memory
    again = ChatUser(restarted.service, owner.user_ref)
    again.photo("photo-after-restart")
    assert "2号电梯门关不上" in again.text and "照片：1 张" in again.text
    again.press("提交")
    assert "#1" in again.text
    restarted.engine.dispose()


def test_demo_codes_serve_any_number_of_people(app: App) -> None:
    for n in range(3):
        visitor = ChatUser(app.service, f"visitor-{n}")
        visitor.say("/start DEMO-OWNER")
        assert "绑定成功" in visitor.text
