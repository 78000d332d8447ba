"""Rules of a ticket's life that users notice: what a resolve, a transfer or an assignment does next."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import col, select

from bot.bootstrap import App
from core import notify, tickets
from core.work import Work
from db import people
from db.models import Outbox, Person, Ticket
from tests.support.chat import ChatUser
from tests.test_tasks_flow import inbox, person_id


def act(app: App, use_case: object, ticket_id: int, person: int, *args: object) -> None:
    """Run one ticket use case as a person, publish what it tells and commit, as a handler turn would."""
    with app.sessions() as session:
        work = Work(session, app.clock.now(), app.policy)
        use_case(work, people.actor(session, person), ticket_id, *args)  # type: ignore[operator]
        notify.publish(work)
        session.commit()


def row(app: App, ticket_id: int) -> Ticket:
    with app.sessions() as session:
        found = session.get(Ticket, ticket_id)
        assert found is not None
        return found


def templates_to(app: App, person: int) -> list[str]:
    with app.sessions() as session:
        rows = session.exec(select(Outbox).where(Outbox.person_id == person).order_by(col(Outbox.id))).all()
    return [r.template for r in rows]


def test_resolving_a_waiting_ticket_does_not_claim_the_resident_answered(
    app: App, owner: ChatUser, worker: ChatUser
) -> None:
    owner.report("噪音扰民", "楼上半夜装修")
    code = row(app, 1).id
    me = person_id(app, worker)
    act(app, tickets.ask_resident, code, me, "几点开始的？")
    act(app, tickets.resolve, code, me, "fixed", "已劝导", [], False)
    assert row(app, code).state == "resolved"
    assert "cases.answered" not in templates_to(app, me)


def test_progress_photo_and_after_photos_reach_the_resident(
    app: App, owner: ChatUser, worker: ChatUser
) -> None:
    owner.report("公共设施损坏", "单元门禁坏了")
    me = person_id(app, worker)
    act(app, tickets.accept, 1, me)
    act(app, tickets.post_progress, 1, me, "配件已订", [("web", "progress.png")])
    act(app, tickets.resolve, 1, me, "fixed", "已更换", [("web", "after.png")], True)
    with app.sessions() as session:
        rows = session.exec(select(Outbox).where(Outbox.person_id == person_id(app, owner))).all()
    photos = {r.template: r.context.get("_photos") for r in rows}
    assert photos["cases.progress"] == [["web", "progress.png"]]
    assert photos["cases.resolved"] == [["web", "after.png"]]


def test_a_second_resolution_waits_for_a_new_rating(app: App, owner: ChatUser, worker: ChatUser) -> None:
    owner.report("环境卫生", "垃圾桶满了")
    me, resident = person_id(app, worker), person_id(app, owner)
    act(app, tickets.resolve, 1, me, "fixed", "已清运", [], False)
    act(app, tickets.rate, 1, resident, "dissatisfied", "还是满的")
    assert row(app, 1).state == "reopened"
    act(app, tickets.resolve, 1, me, "fixed", "再次清运", [], False)
    assert (
        row(app, 1).rating == ""
    )  # unrated until they rate again: not counted as dissatisfied, nor satisfied


def test_the_reopened_task_card_carries_the_residents_comment(
    app: App, owner: ChatUser, worker: ChatUser
) -> None:
    owner.report("环境卫生", "垃圾桶满了")
    me, resident = person_id(app, worker), person_id(app, owner)
    act(app, tickets.resolve, 1, me, "fixed", "已清运", [], False)
    act(app, tickets.rate, 1, resident, "dissatisfied", "还是满的，有味道")
    asyncio.run(app.dispatcher.drain())
    assert any("还是满的，有味道" in body["text"] for body in inbox(app, worker))


def test_accepting_a_paused_ticket_says_it_waits_for_the_resident(
    app: App, owner: ChatUser, worker: ChatUser
) -> None:
    owner.report("噪音扰民", "夜里装修")
    me = person_id(app, worker)
    act(app, tickets.ask_resident, 1, me, "哪一户？")
    with pytest.raises(tickets.TicketError) as refused:
        act(app, tickets.accept, 1, me)
    assert refused.value.reason == "waiting"


def test_assigning_from_the_community_queue_starts_the_ladder_at_the_grid(
    app: App, owner: ChatUser, staff: ChatUser
) -> None:
    owner.report("环境卫生", "楼道堆物")  # no grid worker joined yet: the community queue
    assert (row(app, 1).level, row(app, 1).holder_id) == ("community", None)
    worker = ChatUser(app.service, "grid-late")
    worker.say("/start DEMO-GRID")
    act(app, tickets.assign, 1, person_id(app, staff), person_id(app, worker))
    assigned = row(app, 1)
    assert (assigned.level, assigned.holder_id, assigned.state) == (
        "grid",
        person_id(app, worker),
        "assigned",
    )
    assert assigned.grid_id is not None


def test_an_approved_transfer_of_an_accepted_ticket_goes_back_to_the_queue(
    app: App, owner: ChatUser, worker: ChatUser, staff: ChatUser
) -> None:
    owner.report("物业收费", "物业费收取标准不公示")
    me = person_id(app, worker)
    act(app, tickets.accept, 1, me)
    act(app, tickets.request_transfer, 1, me, "属于物业公司职责")
    act(app, tickets.decide_transfer, 1, person_id(app, staff), True)
    back = row(app, 1)
    assert (back.state, back.holder_id, back.level, back.clock_stage) == ("new", None, "community", "accept")


def test_a_photo_taken_in_the_web_chat_reaches_a_grid_worker_on_telegram(app: App, owner: ChatUser) -> None:
    stored = "Zr3v6mPq0xYt8Lk2Wn4Bs9Hd.png"  # a file the web chat stored: any channel can send its bytes
    owner.say("/report")
    owner.press("公共设施损坏")
    owner.say("楼道灯坏了")
    owner.photo(stored)
    owner.press("提交")
    worker = ChatUser(app.service, "tg-worker", channel="telegram")
    worker.say("/start DEMO-GRID")
    holder = person_id(app, worker)
    with app.sessions() as session:
        ticket = session.exec(select(Ticket)).one()
        ticket.holder_id = holder
        session.commit()
    worker.say(f"#{ticket.id}")
    assert [p.ref for m in worker.last for p in m.photos] == [stored]


@pytest.mark.parametrize("share", [False, True])
def test_the_property_company_sees_the_complainant_only_when_allowed(
    app: App, owner: ChatUser, staff: ChatUser, share: bool
) -> None:
    from db import org, people

    with app.sessions() as session:
        compound = org.find_node(session, "铁西区/北沟街道/英雄社区/阳光花园")
        code = people.create_invite(session, "property_staff", app.clock.now(), node_id=compound.id).code  # type: ignore[union-attr]
        session.commit()
    company = ChatUser(app.service, "property-1", name="物业小王")
    company.say(f"/start {code}")
    owner.say("/report")
    owner.press("物业服务")
    owner.say("保洁很久没来了")
    if share:
        owner.press("允许物业看到")
    owner.press("提交")
    act(app, tickets.assign, 1, person_id(app, staff), person_id(app, company))
    with app.sessions() as session:
        [card] = session.exec(
            select(Outbox).where(Outbox.person_id == person_id(app, company), Outbox.template == "cases.task")
        ).all()
    assert (card.context["home"] == "阳光花园 1栋 1单元 101") is share
    assert card.context["building"] == "阳光花园 1栋"  # where to go, always


def test_a_resident_who_blocked_the_bot_gets_the_holder_to_call_them(
    app: App, owner: ChatUser, worker: ChatUser
) -> None:
    owner.report("噪音扰民", "夜里装修")
    me, resident = person_id(app, worker), person_id(app, owner)
    act(app, tickets.accept, 1, me)
    with app.sessions() as session:
        reporter = session.get(Person, resident)
        assert reporter is not None
        reporter.phone = "13812345678"
        session.commit()
        told = session.exec(
            select(Outbox).where(Outbox.person_id == resident, Outbox.template == "cases.accepted")
        ).one()
    app.dispatcher._tell_holder_to_call(told)  # what a 403 "blocked by the user" on that push leads to
    with app.sessions() as session:
        [call] = session.exec(select(Outbox).where(Outbox.template == "cases.resident_unreachable")).all()
    assert (call.person_id, call.ticket_id, call.urgent) == (me, 1, True)
    assert call.context["phone"] == "138****5678" and call.context["code"] == 1
    act(app, tickets.resolve, 1, me, "fixed", "已劝导", [], False)
    act(app, tickets.rate, 1, resident, "satisfied", "")
    app.dispatcher._tell_holder_to_call(told)  # closed: nobody is told any more
    assert templates_to(app, me).count("cases.resident_unreachable") == 1


def test_a_resolved_ticket_opened_by_its_reporter_offers_the_rating_and_rates(
    app: App, owner: ChatUser, neighbour: ChatUser, worker: ChatUser
) -> None:
    # A follow-up link (WeChat's template message) opens the ticket's page: the rating must be there.
    owner.report("环境卫生", "垃圾桶满了")
    act(app, tickets.resolve, 1, person_id(app, worker), "fixed", "已清运", [], False)
    owner.say("#1")
    assert {"😊 满意", "🙂 基本满意", "🙁 不满意"} <= set(owner.buttons())
    owner.press("满意")
    assert row(app, 1).rating == "satisfied"
    owner.say("#1")
    assert not any("满意" in label for label in owner.buttons())  # rated: not offered again
    neighbour.say("#1")
    assert not any("满意" in label for label in neighbour.buttons())


def test_reopening_tells_those_who_joined_with_me_too(
    app: App, owner: ChatUser, neighbour: ChatUser, worker: ChatUser
) -> None:
    owner.report("电梯故障", "1栋电梯停在3楼不动了")
    neighbour.say("/report")
    neighbour.press("电梯故障")
    neighbour.say("电梯坏了")
    neighbour.press("我也遇到")
    act(app, tickets.resolve, 1, person_id(app, worker), "fixed", "已修好", [], False)
    asyncio.run(app.dispatcher.drain())
    told_before = len(inbox(app, neighbour))
    act(app, tickets.rate, 1, person_id(app, owner), "dissatisfied", "还是停在3楼")
    assert row(app, 1).state == "reopened"
    asyncio.run(app.dispatcher.drain())
    told = [body["text"] for body in inbox(app, neighbour)[told_before:]]
    assert any("#1" in text and "重新办理" in text for text in told), told
    assert not any("重新办理" in body["text"] for body in inbox(app, owner))  # the reporter knows: they rated
