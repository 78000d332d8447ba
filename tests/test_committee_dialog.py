"""/committee in chat, walked as its users would: community staff set the owners' committee with buttons
(and a typed name), a resident sees who serves them and until when, the street sets up a 物管会 where the
term ran out, the handover is marked done; and every refusal: a grid worker, a bad or too-long date, an
even 物管会, a 物管会 while a committee serves, forged and stale buttons."""

from __future__ import annotations

from datetime import date

from sqlmodel import select

from bot.bootstrap import App
from bot.clock import FixedClock
from core.actions import Committees
from db.committee import rules
from db.committee.tables import Committee, Handover
from db.models import AuditEntry
from tests.support import committees as cm
from tests.support.chat import ChatUser, person_of

STALE = "按钮已失效"


def _street(app: App) -> ChatUser:
    user = ChatUser(app.service, "street-1", name="街道老刘")
    user.say("/start DEMO-STREET")
    return user


def _set_by_staff(staff: ChatUser) -> None:
    """Community staff set 王芳 (主任) and 李强 (委员) for five years from today, not yet filed."""
    staff.say("/committee")
    staff.press("阳光花园")
    assert "目前没有业委会或物管会" in staff.text
    staff.press("设置业委会")
    assert "任期从哪天开始" in staff.text
    staff.press("今天")
    assert "任期从 2026-11-20 开始" in staff.text
    staff.press("任期 5 年")
    assert "2026-11-20 至 2031-11-19" in staff.text
    staff.press("还没有备案")
    assert "还没有选" in staff.text
    staff.press("1栋")
    assert "王芳 · 1栋1单元101" in staff.buttons() and "李强 · 1栋2单元201" in staff.buttons()
    staff.press("王芳 · 1栋1单元101")
    assert "王芳担任什么职务" in staff.text
    staff.press("主任")
    assert "主任：王芳" in staff.text
    staff.say("李强")  # typed: found by name
    staff.press("李强 · 1栋2单元201")
    staff.press("委员")
    staff.press("选好了")
    assert "请核对后确认" in staff.text and "备案：尚未备案" in staff.text
    staff.press("确认设置")


def test_community_staff_set_the_committee_and_a_resident_sees_it(
    app: App, staff: ChatUser, owner: ChatUser, neighbour: ChatUser
) -> None:
    _set_by_staff(staff)
    assert "已设置业主委员会" in staff.text and "主任：王芳" in staff.text
    with app.sessions() as session:
        committee = session.exec(select(Committee)).one()
        assert (committee.starts_on, committee.ends_on, committee.filed_on) == (
            date(2026, 11, 20),
            date(2031, 11, 19),
            None,
        )
        assert session.exec(select(AuditEntry).where(AuditEntry.action == "committee.set")).one()
    assert cm.pushes(app, "committee.push_installed") == {
        person_of(app.sessions, owner): 1,
        person_of(app.sessions, neighbour): 1,
    }
    tenant = ChatUser(app.service, "tenant-1", name="租户小陈")
    tenant.say("/start DEMO-TENANT")
    for resident in (owner, tenant):
        resident.say("/committee")
        text = resident.text
        assert "阳光花园" in text and "业主委员会" in text
        assert "任期：2026-11-20 至 2031-11-19" in text and "主任：王芳" in text and "委员：李强" in text
        assert "设置业委会" not in resident.buttons()  # residents read, never set


def test_the_committee_in_english(app: App, staff: ChatUser, owner: ChatUser, neighbour: ChatUser) -> None:
    _set_by_staff(staff)
    owner.say("/lang")
    owner.press("English")
    owner.say("/committee")
    assert "Term: 2026-11-20 to 2031-11-19" in owner.text and "Chair: 王芳" in owner.text


def test_bad_and_too_long_dates_are_asked_again_and_nothing_is_lost(
    app: App, staff: ChatUser, owner: ChatUser
) -> None:
    staff.say("/committee")
    staff.press("阳光花园")
    staff.press("设置业委会")
    staff.say("下个月")
    assert "没看懂这个日期" in staff.text
    staff.say("2026年12月1日")
    assert "任期从 2026-12-01 开始" in staff.text
    staff.say("2032-01-01")
    assert "任期最长 5 年" in staff.text
    staff.say("2031-11-30")
    staff.say("2026/12/5")
    assert "还没有选" in staff.text
    staff.say("没这个人")
    assert "没有找到姓名含「没这个人」的已核实业主" in staff.text
    staff.press("取消")
    with app.sessions() as session:
        assert session.exec(select(Committee)).first() is None


def test_who_may_not_use_it_is_told(app: App, worker: ChatUser, owner: ChatUser) -> None:
    worker.say("/committee")
    assert "只向本小区已核实的住户和工作人员开放" in worker.text
    # A resident's forged buttons: setting a committee, a 物管会, a handover, a step of no draft.
    compound = cm.compound_id(app)
    owner.data(Committees("s", compound=compound).encode())
    assert "没有设置这个小区业委会的权限" in owner.text
    owner.data(Committees("g", compound=compound).encode())
    assert "没有设置这个小区业委会的权限" in owner.text
    owner.data(Committees("h", handover=1).encode())
    assert STALE in owner.text
    owner.data(Committees("ok").encode())
    assert STALE in owner.text
    owner.data(Committees("v", compound=999_999).encode())
    assert STALE in owner.text
    with app.sessions() as session:
        assert session.exec(select(Committee)).first() is None


def test_the_street_sets_up_a_management_committee_once_the_term_ran_out(
    app: App, clock: FixedClock, staff: ChatUser, owner: ChatUser, neighbour: ChatUser
) -> None:
    street = _street(app)
    a = person_of(app.sessions, owner)
    cm.set_committee(app, [(a, "chair")], date(2022, 1, 1), date(2026, 12, 31))
    street.say("/committee")
    street.press("阳光花园")
    assert "成立物管会" not in street.buttons()  # the committee still serves
    street.data(Committees("g", compound=cm.compound_id(app)).encode())
    assert "还在任期内" in street.text

    clock.current = clock.current.replace(year=2027, month=1, day=5)
    street.say("/committee")
    street.press("阳光花园")
    assert "任期已满" in street.text
    street.press("成立物管会")
    street.press("今天")
    street.press("任期 1 年")
    street.press("今天已备案")
    street.press("工作人员（街道、社区代表）")
    street.press("街道老刘")
    street.press("主任（街道代表）")
    street.press("1栋")
    street.press("王芳 · 1栋1单元101")
    street.press("业主代表")
    street.press("选好了")
    assert "成员须为单数" in street.text  # two members: one more is needed
    street.press("1栋")
    street.press("李强 · 1栋2单元201")
    street.press("业主代表")
    street.press("选好了")
    assert "物业管理委员会" in street.text and "主任（街道代表）：街道老刘" in street.text
    street.press("确认设置")
    assert "已设置物业管理委员会" in street.text
    compound, chair = cm.compound_id(app), person_of(app.sessions, street)
    with app.sessions() as session:
        held = rules.current(session, compound)
        assert held is not None and held.kind == "management" and held.filed_on == date(2027, 1, 5)
        assert held.chair_id == chair
        assert session.exec(select(AuditEntry).where(AuditEntry.action == "committee.management")).one()
        assert session.exec(select(Handover)).one().done_at is None
    owner.say("/committee")
    assert "物管会" in owner.text and "代行业委会职责" in owner.text

    # Community staff mark the old committee's handover done from the committee's page.
    staff.say("/committee")
    staff.press("阳光花园")
    assert "正在移交资料、印章和账目" in staff.text
    done = next(d for m in staff.last for row in m.buttons for label, d in row if "交接已完成" in label)
    staff.data(done)
    assert "已记录：交接完成" in staff.text
    staff.data(done)  # pressed again: already done
    assert "已经记录为完成" in staff.text
    marker = person_of(app.sessions, staff)
    with app.sessions() as session:
        assert session.exec(select(Handover)).one().done_by == marker


def test_a_management_committee_is_not_for_community_staff(app: App, staff: ChatUser) -> None:
    staff.say("/committee")
    staff.press("阳光花园")
    assert "成立物管会" not in staff.buttons()
    staff.data(Committees("g", compound=cm.compound_id(app)).encode())
    assert "不能设置" in staff.text


def test_back_from_a_list_of_owners_returns_to_the_members(
    app: App, staff: ChatUser, owner: ChatUser, neighbour: ChatUser
) -> None:
    staff.say("/committee")
    staff.press("阳光花园")
    staff.press("设置业委会")
    staff.press("今天")
    staff.press("任期 3 年")
    assert "2026-11-20 至 2029-11-19" in staff.text
    staff.press("今天已备案")
    staff.press("1栋")
    staff.press("王芳 · 1栋1单元101")
    staff.press("委员")
    staff.press("2栋")
    assert "这里还没有可以选的人" in staff.text and "委员：王芳" in staff.text
    staff.press("1栋")
    assert "王芳 · 1栋1单元101" not in staff.buttons()  # already chosen
    staff.press("返回")
    assert "成员（1 人）" in staff.text and "请核对" not in staff.text
    staff.press("去掉 王芳")
    assert "还没有选" in staff.text and "选好了" not in staff.buttons()
