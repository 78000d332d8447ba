"""Staff and grid workers at work in the chat: what a queue line tells, people named by name, their own
menus first, a readable /stats table, who has not acknowledged a notice, editing a notice or a poll from
its summary, and the poll summary's warning when verified owners cannot reach the quorum."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlmodel import select

from bot.bootstrap import App
from core.actions import NewPoll
from db import org, people
from db.conversations import load_state
from db.models import Home, Identity, Notice, Person, Poll, Residency, Ticket
from db.people import Who
from db.rows import id_of
from handlers import newpoll
from handlers.common import bottom_menu
from handlers.context import Context
from handlers.notices import board
from handlers.notices import compose as notice_compose
from handlers.types import Reply
from tests.support.chat import ChatUser
from tests.test_newpoll import finish, up_to_timing
from tests.test_notices import compose, drain, send
from tests.test_polls_flow import COMPOUND
from tests.test_queue import HEPING_HOME, file_report, invite_home, person_id


def heping_owner(app: App) -> ChatUser:
    """An owner in 和平里小区 1号楼, whose grid has no worker: their reports wait in the queue."""
    invite_home(app, "HEPING-OWNER", HEPING_HOME)
    user = ChatUser(app.service, "owner-heping", name="陈和平")
    user.say("/start HEPING-OWNER")
    return user


# --- the queue ------------------------------------------------------------------------------------


def test_a_queue_line_shows_the_start_of_the_description_its_photos_and_households(
    app: App, staff: ChatUser, worker: ChatUser
) -> None:
    heping = heping_owner(app)
    long = "楼下商铺半夜装修，电钻声不断，\n已经连续三个晚上了，老人孩子都睡不着觉，请尽快处理"
    text = heping.report("噪音扰民", long, photos=2)
    assert "#" in text
    with app.sessions() as session:
        ticket = session.exec(select(Ticket)).one()
        ticket.weight = 3  # two neighbours said "me too"
        session.add(ticket)
        session.commit()

    staff.say("/queue")
    line = next(line for line in staff.text.splitlines() if "楼下商铺" in line)
    # on its own line under the item, line breaks folded
    assert line.startswith("   “楼下商铺半夜装修，电钻声不断， 已经连续三个晚上了")
    assert "请尽快处理" not in line and "…" in line  # cut near 30 characters
    assert "照片 2 张" in line and "3 户反映" in line

    staff.say("/lang")
    staff.press("English")
    staff.say("/queue")
    line = next(line for line in staff.text.splitlines() if "楼下商铺" in line)
    assert "2 photos" in line and "3 households" in line


# --- names ----------------------------------------------------------------------------------------


def test_workers_are_named_by_name_or_by_the_tail_of_their_phone_never_a_database_id(
    app: App, staff: ChatUser, worker: ChatUser
) -> None:
    heping = heping_owner(app)
    code = file_report(heping, "噪音扰民", "楼下商铺半夜装修")
    staff.say("/queue")
    staff.press(f"指派 #{code}")
    assert staff.buttons()[0] == "刘网格"  # the name they go by

    worker_id = person_id(app, worker)
    with app.sessions() as session:  # a worker who joined without a name on any account
        person = session.get(Person, worker_id)
        assert person is not None
        person.name, person.phone = "", "13812345678"
        for identity in session.exec(select(Identity).where(Identity.person_id == worker_id)).all():
            identity.display_name = ""
            session.add(identity)
        session.add(person)
        session.commit()
    staff.say("/queue")
    staff.press(f"指派 #{code}")
    assert staff.buttons()[0] == "网格员 尾号 5678"
    assert all(f"网格员 {worker_id}" not in b for b in staff.buttons())
    staff.press("尾号 5678")
    assert f"已把工单 #{code} 指派给 网格员（尾号 5678）" in staff.text

    staff.say(f"#{code}")
    assert "办理人：网格员（尾号 5678）" in staff.text and f"#{worker_id}" not in staff.text.replace(
        f"#{code}", ""
    )

    with app.sessions() as session:  # with a display name on their chat account, that is shown
        identity = session.exec(select(Identity).where(Identity.person_id == worker_id)).first()
        assert identity is not None
        identity.display_name = "小刘"
        session.add(identity)
        session.commit()
    staff.say(f"#{code}")
    assert "办理人：小刘" in staff.text


# --- menus ----------------------------------------------------------------------------------------


def menu(user: ChatUser) -> list[str]:
    user.say("/help")
    return user.buttons()


def test_each_role_sees_its_own_work_first_and_a_worker_without_a_home_cannot_report(
    app: App, owner: ChatUser, worker: ChatUser, staff: ChatUser
) -> None:
    worker_menu = menu(worker)
    assert "任务" in worker_menu[0]
    assert not any("报事" in b for b in worker_menu)  # no verified home of their own

    staff_menu = menu(staff)
    assert "队列" in staff_menu[0]

    owner_menu = menu(owner)
    assert "报事" in owner_menu[0] and not any("队列" in b or "任务" in b for b in owner_menu)

    ids = [person_id(app, user) for user in (worker, staff, owner)]
    with app.sessions() as session:
        worker_actor, staff_actor, owner_actor = (people.actor(session, i) for i in ids)
    assert bottom_menu(worker_actor)[0] == "/tasks" and "/report" not in bottom_menu(worker_actor)
    assert bottom_menu(staff_actor) == ("/queue", "/pending", "/stats", "/polls", "/help")
    assert bottom_menu(owner_actor)[0] == "/report"


# --- who has not acknowledged a notice ------------------------------------------------------------


def test_the_delivery_report_lists_who_has_not_acknowledged_by_building_and_home(
    app: App, staff: ChatUser, owner: ChatUser, neighbour: ChatUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = ChatUser(app.service, "tenant-1", name="赵小租")
    tenant.say("/start DEMO-TENANT")
    send(staff, title="请确认收到停水通知", ack=True)
    drain(app)
    owner.say("/notices")
    owner.press("我已知晓")

    staff.say("/notices")
    item = next(m.text for m in staff.last if "请确认收到停水通知" in m.text)
    assert "尚未确认：" in item
    # a line per building, then the homes; names masked
    assert "尚未确认：\n阳光花园 1栋：1单元102（赵**）、2单元201（李*）" in item
    assert "王芳" not in item and "王*" not in item  # she acknowledged
    assert "李强" not in item and "赵小租" not in item

    monkeypatch.setattr(board, "WAITING_SHOWN", 1)  # more than fit under the notice
    staff.say("/notices")
    item = next(m.text for m in staff.last if "请确认收到停水通知" in m.text)
    assert "1单元102（赵**）" in item and "201" not in item and "还有 1 人" in item
    staff.press("查看全部未确认（2 人）")
    page = staff.last[-1].text
    assert "尚未确认的接收人（共 2 人）" in page and "1单元102（赵**）、2单元201（李*）" in page

    monkeypatch.setattr(board, "WAITING_PAGE", 1)  # a very long list stops after so many messages
    monkeypatch.setattr(board, "WAITING_PAGES", 1)
    staff.say("/notices")
    staff.press("查看全部未确认（2 人）")
    assert "1单元102（赵**）" in staff.last[-1].text and "另有 1 人未列出" in staff.last[-1].text


def test_a_notice_without_acknowledgement_lists_no_one(app: App, staff: ChatUser, owner: ChatUser) -> None:
    send(staff, title="垃圾分类宣传", ack=False)
    staff.say("/notices")
    assert "尚未确认" not in staff.text


# --- editing a field from the summary -------------------------------------------------------------


def test_a_notice_summary_edits_one_field_and_comes_back(app: App, staff: ChatUser, owner: ChatUser) -> None:
    summary = compose(staff, title="垃圾分类宣转", ack=False)
    assert "标题：垃圾分类宣转" in summary and "需要确认：否" in summary
    staff.press("改标题")
    assert "请输入通知标题" in staff.text
    staff.say("垃圾分类宣传")
    assert "请确认通知内容" in staff.text and "标题：垃圾分类宣传" in staff.text
    assert "正文：请按四分类投放生活垃圾。" in staff.text  # the rest as it was

    staff.press("改是否确认")
    staff.press("需要确认")
    assert "请确认通知内容" in staff.text and "需要确认：是" in staff.text

    staff.press("改范围")  # a field of several steps: back to the summary after its last one
    staff.press("⬇️ 阳光花园")
    staff.press("发给这里")
    staff.press("1栋")
    staff.press("完成")
    assert "请选择接收人" in staff.text
    staff.press("下一步")
    assert "请确认通知内容" in staff.text and "阳光花园（1栋）" in staff.text
    assert "标题：垃圾分类宣传" in staff.text

    staff.press("确认发送")
    with app.sessions() as session:
        notice = session.exec(select(Notice)).one()
    assert (notice.title, notice.ack_required, len(notice.buildings)) == ("垃圾分类宣传", True, 1)


def test_a_poll_summary_edits_one_field_and_comes_back(app: App, staff: ChatUser) -> None:
    up_to_timing(staff, title="关于续聘物业的表绝")
    staff.press("公告满 15 天后开始")
    summary = finish(staff, "14 天")
    assert "标题：关于续聘物业的表绝" in summary and "截止投票：2026-12-20 09:00" in summary
    staff.press("改标题")
    assert "请输入表决标题" in staff.text
    staff.say("关于续聘物业的表决")
    assert "请确认业主表决" in staff.text and "标题：关于续聘物业的表决" in staff.text
    assert "截止投票：2026-12-20 09:00" in staff.text and "不记名" in staff.text  # the rest kept

    staff.press("改截止时间")
    staff.press("30 天")
    assert "请确认业主表决" in staff.text and "截止投票：2027-01-05 09:00" in staff.text

    staff.press("改投票规则")
    staff.press("📝 记名投票")
    staff.press("投出后不能改")
    staff.press("否")
    assert "请确认业主表决" in staff.text and "投票方式：记名" in staff.text
    assert "标题：关于续聘物业的表决" in staff.text
    staff.press("确认发起")
    with app.sessions() as session:
        poll = session.exec(select(Poll)).one()
    assert (poll.title, poll.secret) == ("关于续聘物业的表决", False)


# --- the quorum warning ---------------------------------------------------------------------------


def verify_owners(app: App, building: str) -> int:
    """A verified owner for every home of a building of 阳光花园; how many homes."""
    now = app.clock.now()
    with app.sessions() as session:
        node = org.find_node(session, f"{COMPOUND}/{building}")
        assert node is not None
        homes = session.exec(select(Home).where(Home.building_id == node.id)).all()
        for n, home in enumerate(homes):
            person = Person(name=f"业主{n}", created_at=now)
            session.add(person)
            session.flush()
            session.add(
                Residency(
                    person_id=person.id, home_id=home.id, kind="owner", status="verified", created_at=now
                )
            )
        session.commit()
        return len(homes)


def test_the_poll_summary_warns_when_verified_owners_cannot_reach_the_quorum(
    app: App, staff: ChatUser, owner: ChatUser, neighbour: ChatUser
) -> None:
    up_to_timing(staff)
    staff.press("公告满 15 天后开始")
    summary = finish(staff)
    # two of 36 homes: even if both vote, far from two thirds of the owners and of the area
    assert "只有 2/36 户有已核实的业主（面积 174.80/3559.80 ㎡）" in summary
    assert "达不到人数和面积三分之二的参与要求" in summary
    staff.say("/lang")
    staff.press("English")
    staff.data(NewPoll("k", kind="closes").encode())  # the summary's edit button, the draft kept
    staff.press("30 days")
    assert "⚠️ Only 2 of 36 owners are verified here (area 174.80 of 3559.80 m²)" in staff.text
    assert "the two-thirds turnout of owners and of area cannot be reached" in staff.text
    staff.say("/lang")
    staff.press("中文")
    staff.data(NewPoll("k", kind="closes").encode())
    staff.press("14 天")

    homes = verify_owners(app, "3栋")
    staff.press("改范围")
    staff.press("3栋")
    staff.press("完成")
    summary = staff.text
    assert "请确认业主表决" in summary and "范围：3栋" in summary
    assert f"共 {homes} 户" in summary and "达不到" not in summary and "只有" not in summary


# --- plain words ----------------------------------------------------------------------------------


def test_notice_screens_point_to_buttons_not_commands(app: App, staff: ChatUser, owner: ChatUser) -> None:
    staff.say("/notices")
    assert "/notice" not in staff.text and "发布通知" in staff.buttons()[0]
    staff.press("发布通知")
    assert "请选择类别" in staff.text

    send(staff, title="垃圾分类宣传")
    assert "/notices" not in staff.text
    staff.press("通知")
    assert "送达" in staff.text

    owner.say("/notices")
    assert "/mute" not in owner.text
    owner.press("通知接收设置")
    assert "通知接收设置（点击按钮切换）" in owner.text


# --- resume: what a parked draft shows when the author comes back ---------------------------------


def resumed(app: App, user: ChatUser, resume: Callable[[Context], list[Reply]]) -> list[str]:
    """The texts a flow's resume() gives for the user's conversation as it stands."""
    with app.sessions() as session:
        identity = session.exec(select(Identity).where(Identity.external_id == user.user_ref)).one()
        who = Who(identity.person_id, id_of(identity), identity.channel, user.name, "zh_CN")
        state = load_state(session, identity.person_id)
        ctx = Context(session, who, state, app.clock.now(), app.catalog, app.policy)
        replies = resume(ctx)
        session.rollback()
    return [app.renderer.render(r, "zh_CN").text for r in replies]


def test_the_compose_flows_can_show_their_current_step_again(app: App, staff: ChatUser) -> None:
    assert resumed(app, staff, notice_compose.resume) == [app.renderer.text("zh_CN", "common.stale_button")]
    compose(staff)
    staff.press("改正文")
    assert "请输入通知正文" in resumed(app, staff, notice_compose.resume)[-1]
    staff.say("新的正文")
    assert "请确认通知内容" in resumed(app, staff, notice_compose.resume)[-1]
    staff.press("取消")

    up_to_timing(staff)
    assert "何时开始投票" in resumed(app, staff, newpoll.resume)[-1]
    staff.press("公告满 15 天后开始")
    finish(staff)
    assert "请确认业主表决" in resumed(app, staff, newpoll.resume)[-1]
