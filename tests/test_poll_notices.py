"""What people are told around a poll besides voting: its author at opening and close, a withdrawal,
and a /notices list where a poll's announcement, result and withdrawal are told apart."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.bootstrap import App
from bot.clock import FixedClock
from core.notify.polls import AUTHOR_CLOSED, AUTHOR_OPENED
from db.models import Outbox, Poll
from tests.support import poll_cases
from tests.support.chat import ChatUser
from tests.test_poll_schedule import advance, announce, join


def _pushed(app: App, person_id: int, template: str) -> list[Outbox]:
    with app.sessions() as session:
        return list(
            session.exec(
                select(Outbox).where(Outbox.person_id == person_id, Outbox.template == template)
            ).all()
        )


def test_the_author_hears_when_voting_opens_and_gets_the_result(app: App, clock: FixedClock) -> None:
    staff = join(app, "s1", "DEMO-STAFF")
    join(app, "o1", "DEMO-OWNER")
    announce(app, staff, timedelta(days=15), timedelta(days=7))
    clock.advance(days=15)
    assert advance(app)["opened"] == 1
    [opened] = _pushed(app, staff, AUTHOR_OPENED)
    assert (opened.context["voters"], opened.context["total_owners"]) == (1, 36)
    text = app.renderer.text("zh_CN", opened.template, opened.context)
    assert "投票人名册已冻结" in text and "3559.80 ㎡" in text and "1 位已核实的业主" in text
    clock.advance(days=7)
    assert advance(app)["closed"] == 1
    [closed] = _pushed(app, staff, AUTHOR_CLOSED)
    text = app.renderer.text("zh_CN", closed.template, closed.context)
    assert "已截止并已公示结果" in text and "表决无效" in text and "业主 0 / 共 36 人" in text


def test_a_withdrawal_is_its_own_short_notice_and_the_announcement_leaves_the_list(
    app: App, clock: FixedClock
) -> None:
    staff = join(app, "s1", "DEMO-STAFF")
    owner = ChatUser(app.service, "o1", name="王芳")
    owner.say("/start DEMO-OWNER")
    withdrawn = announce(app, staff, timedelta(days=15), timedelta(days=7))
    kept = announce(app, staff, timedelta(days=16), timedelta(days=7))
    with app.sessions() as session:
        poll_cases.withdraw(session, withdrawn, staff, clock.now(), app.policy)
        session.commit()
        title = session.get(Poll, withdrawn).title  # type: ignore[union-attr]
    owner.say("/notices")
    assert owner.text.count("〔表决撤销〕") == 1 and owner.text.count("〔表决公告〕") == 1  # the kept one
    assert any(label.startswith("⛔ ") for label in owner.buttons())
    owner.press("⛔ ")
    assert "表决已撤销" in owner.text and "不再进行" in owner.text
    assert "如何投票" not in owner.text and title in owner.text  # not a second announcement
    assert kept != withdrawn
