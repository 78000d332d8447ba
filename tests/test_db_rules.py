"""Rules the database guards, on SQLite and PostgreSQL: once-only updates, single-use invites, tickets."""

from __future__ import annotations

import threading
from datetime import UTC, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.bootstrap import App
from bot.clock import FixedClock
from db import inbound, org, people, tickets
from db.models import InboundLog, Invite, Person, Residency, Ticket, TicketEvent
from handlers.types import Inbound
from tests.support.chat import ChatUser

HOME_101 = "铁西区/北沟街道/英雄社区/阳光花园/1栋/1单元/101"
HOME_302 = "铁西区/北沟街道/英雄社区/阳光花园/1栋/2单元/302"


def count(session: Session, model: type) -> int:
    """Rows in a table."""
    return int(session.exec(select(func.count()).select_from(model)).one())


def person(session: Session, ref: str, now: object) -> int:
    """A person who has written to the bot on the web channel; returns their id."""
    return people.find_or_create_person(session, "web", ref, ref, ref, "zh_CN", now).person_id  # type: ignore[arg-type]


def draft(session: Session) -> tickets.Draft:
    """A water leak report in 1栋."""
    home = org.find_home(session, HOME_101)
    assert home is not None
    return tickets.Draft(
        category="water",
        sla_class="utilities",
        urgent=False,
        description="楼道漏水",
        home_id=home.id,
        building_id=home.building_id,
        compound_id=home.compound_id,
    )


# --- inbound updates are processed once ------------------------------------------------------------


def test_the_inbound_log_stores_an_update_once(any_app: App) -> None:
    first = any_app.service.store("telegram", "1001", {"message": {"text": "hi"}})
    again = any_app.service.store("telegram", "1001", {"message": {"text": "hi"}})
    other_channel = any_app.service.store("web", "1001", {})
    assert first is not None and again is None and other_channel is not None
    update = Inbound(channel="telegram", user_ref="1", chat_ref="1", update_id="1001", text="hi")
    assert not any_app.service.handle(update).duplicate  # the turn claims the stored update
    assert any_app.service.handle(update).duplicate  # a redelivery finds it claimed: no second turn
    with any_app.sessions() as session:
        assert inbound.store(session, "telegram", "1001", {}, any_app.clock.now()) is None
        session.commit()
        assert count(session, InboundLog) == 2
        assert session.get(InboundLog, first).processed_at is not None  # type: ignore[union-attr]


def test_a_redelivered_submit_files_one_ticket(any_app: App) -> None:
    user = ChatUser(any_app.service, "owner-1", name="王芳")
    user.say("/start DEMO-OWNER")
    user.say("/report")
    user.press("停水/漏水")
    user.say("厨房水管爆了")
    while not any("提交" in label for label in user.buttons()):
        user.press("跳过" if any("跳过" in label for label in user.buttons()) else "完成")
    [submit] = [data for m in user.last for row in m.buttons for label, data in row if "提交" in label]
    press = Inbound(
        channel="web", user_ref="owner-1", chat_ref="owner-1", update_id="submit-1", button=submit
    )

    first = any_app.service.handle(press)
    second = any_app.service.handle(press)

    with any_app.sessions() as session:
        [ticket] = session.exec(select(Ticket)).all()
    assert not first.duplicate and any(f"#{ticket.id}" in r.text for r in first.replies)
    assert second.duplicate and second.replies == []


# --- invites -------------------------------------------------------------------------------------


def _single_use_invite(app: App) -> str:
    with app.sessions() as session:
        home = org.find_home(session, HOME_302)
        assert home is not None
        code = people.create_invite(session, "tenant", app.clock.now(), home_id=home.id, uses=1).code
        session.commit()
    return code


def test_a_single_use_invite_raced_by_two_people_binds_exactly_one(any_app: App) -> None:
    code = _single_use_invite(any_app)
    users = [ChatUser(any_app.service, f"racer-{n}", name=f"racer {n}") for n in range(2)]
    for user in users:
        user.say("/help")  # both exist before the race, so only the redemption competes
    start = threading.Barrier(len(users), timeout=30)

    def redeem(user: ChatUser) -> None:
        start.wait()
        user.say(f"/start {code}")

    threads = [threading.Thread(target=redeem, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    results = sorted("绑定成功" in user.text for user in users)
    assert results == [False, True], [user.text for user in users]
    [loser] = [user for user in users if "绑定成功" not in user.text]
    assert "无效" in loser.text
    with any_app.sessions() as session:
        home = org.find_home(session, HOME_302)
        assert home is not None
        assert len(session.exec(select(Residency).where(Residency.home_id == home.id)).all()) == 1
        invite = session.exec(select(Invite).where(Invite.code == code)).one()
        assert invite.uses_left == 0


def test_a_stale_view_of_the_last_use_cannot_bind_a_second_person(any_app: App) -> None:
    code = _single_use_invite(any_app)
    now = any_app.clock.now()
    with any_app.sessions() as late:
        seen = late.exec(select(Invite).where(Invite.code == code)).one()
        assert seen.uses_left == 1
        late_person = late.get(Person, person(late, "late", now))
        late.commit()  # `seen` still says one use is left

        with any_app.sessions() as early:
            early_person = early.get(Person, person(early, "early", now))
            assert early_person is not None
            assert people.redeem_invite(early, code, early_person.id, now) is not None  # type: ignore[arg-type]
            early.commit()

        assert late_person is not None
        assert people.redeem_invite(late, code, late_person.id, now) is None  # type: ignore[arg-type]
        late.commit()
        assert people.residencies(late, late_person.id) == []  # type: ignore[arg-type]


# --- tickets ---------------------------------------------------------------------------------------


def test_me_too_withdraw_and_visibility(any_app: App, clock: FixedClock) -> None:
    with any_app.sessions() as session:
        now = clock.now()
        reporter, follower, stranger = (person(session, ref, now) for ref in ("rep", "fol", "str"))
        ticket = tickets.file_ticket(session, draft(session), reporter, now)
        assert ticket.weight == 1 and ticket.state == "new"

        assert tickets.find_open_match(session, ticket.building_id, "water", follower) == ticket
        tickets.join_ticket(session, ticket.id, follower, "我家也漏", now)  # type: ignore[arg-type]
        tickets.join_ticket(session, ticket.id, follower, "again", now)  # type: ignore[arg-type]
        assert ticket.weight == 2  # joining twice counts once
        session.commit()
        ticket_id = ticket.id
        assert ticket_id is not None

        assert tickets.visible_ticket(session, ticket_id, reporter) == ticket
        assert tickets.visible_ticket(session, ticket_id, follower) == ticket
        assert tickets.visible_ticket(session, ticket_id, stranger) is None
        assert tickets.visible_ticket(session, ticket_id + 1000, reporter) is None

        tickets.withdraw(session, ticket, stranger, now)  # not theirs: nothing happens
        assert (ticket.state, ticket.weight) == ("new", 2)

        tickets.withdraw(session, ticket, follower, now)  # a follower only leaves
        session.commit()
        assert (ticket.state, ticket.weight) == ("new", 1)
        assert tickets.visible_ticket(session, ticket_id, follower) is None
        assert tickets.visible_ticket(session, ticket_id, reporter) == ticket

        tickets.withdraw(session, ticket, reporter, now)
        session.commit()

    with any_app.sessions() as session:
        stored = session.get(Ticket, ticket_id)
        assert stored is not None and stored.state == "withdrawn"
        kinds = [e.kind for e, _ in tickets.timeline(session, ticket_id)]
        assert kinds == ["created", "me_too", "left", "withdrawn"]
        try:
            tickets.join_ticket(session, ticket_id, stranger, "", now)
        except tickets.TicketError as exc:
            assert exc.reason == "not_open"
        else:
            raise AssertionError("joined a withdrawn ticket")


def test_times_come_back_timezone_aware(any_app: App, clock: FixedClock) -> None:
    from zoneinfo import ZoneInfo

    clock.current = clock.now().astimezone(ZoneInfo("Asia/Shanghai"))  # an aware time in another zone
    with any_app.sessions() as session:
        reporter = person(session, "rep", clock.now())
        ticket = tickets.file_ticket(session, draft(session), reporter, clock.now())
        inbound.store(session, "web", "t-1", {}, clock.now())
        session.commit()
        ticket_id = ticket.id

    with any_app.sessions() as session:
        stored = session.get(Ticket, ticket_id)
        assert stored is not None
        [event] = session.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)).all()
        log = session.exec(select(InboundLog).where(col(InboundLog.update_id) == "t-1")).one()
        someone = session.get(Person, reporter)
        assert someone is not None
        for value in (stored.created_at, stored.updated_at, event.at, log.received_at, someone.created_at):
            assert value.tzinfo is not None and value.utcoffset() == timedelta(0)
            assert value == clock.now() and value.astimezone(UTC).hour == 2


def test_sending_the_same_invite_twice_does_not_use_up_another_place(any_app: App) -> None:
    """A resident who re-sends their one-use code stays bound and leaves the code's count alone."""
    with any_app.sessions() as session:
        home = org.find_home(session, "铁西区/北沟街道/英雄社区/阳光花园/2栋/1单元/101")
        assert home is not None
        code = people.create_invite(session, "owner", any_app.clock.now(), home_id=home.id, uses=2).code
        session.commit()
    first = ChatUser(any_app.service, "repeat-1")
    first.say(f"/start {code}")
    first.say(f"/start {code.lower()}")
    assert "绑定成功" in first.text
    second = ChatUser(any_app.service, "repeat-2")
    second.say(f"/start {code}")
    assert "绑定成功" in second.text


def test_a_polled_batch_is_stored_once_even_when_redelivered(any_app: App) -> None:
    """Telegram redelivers an unconfirmed batch: only the updates not seen before are new."""
    first = any_app.service.store_many("telegram", [("1", {"update_id": 1}), ("2", {"update_id": 2})])
    again = any_app.service.store_many("telegram", [("2", {"update_id": 2}), ("3", {"update_id": 3})])
    assert sorted(first) == ["1", "2"] and again == ["3"]
    with any_app.sessions() as session:
        assert session.exec(select(func.count()).select_from(InboundLog)).one() == 3
