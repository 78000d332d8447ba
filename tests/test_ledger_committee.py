"""The owners' committee that files the maintenance fund is the committee in office (its members), not a
role granted by hand: it is reminded of a missing fund statement and answers questions on its lines; a
member voted out is neither."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import select

from bot import ledger_job
from bot.bootstrap import App
from bot.clock import FixedClock
from core import ledger
from db.ledger.periods import parse_period
from db.models import Outbox, Ticket
from tests.support import committees as cs
from tests.support.chat import ChatUser, person_of
from tests.support.ledger import SUNSHINE, actor_of, expense, income, node_id, work

# 2026Q4 ends on 2026-12-31 (Shanghai); its filer is late 30 days later.
LATE = datetime(2027, 1, 30, 16, 0, tzinfo=UTC)
TERM = (date(2026, 1, 1), date(2030, 12, 1))


def _reminded(app: App) -> set[int]:
    with app.sessions() as session:
        return set(session.exec(select(Outbox.person_id).where(Outbox.template == "ledger.late_filer")).all())


def test_the_committee_in_office_is_reminded_of_the_fund_statement(app: App, clock: FixedClock) -> None:
    clock.current = LATE
    chair, member = cs.owner(app, "张三", "1栋/1单元/301"), cs.owner(app, "李四", "1栋/1单元/302")
    cs.set_committee(app, [(chair, "chair"), (member, "member")], *TERM)
    ledger_job.advance(app.sessions, app.clock.now(), app.policy)
    assert {chair, member} <= _reminded(app)


def test_a_member_voted_out_is_not_reminded(app: App, clock: FixedClock) -> None:
    clock.current = LATE
    chair, member = cs.owner(app, "张三", "1栋/1单元/301"), cs.owner(app, "李四", "1栋/1单元/302")
    newcomer = cs.owner(app, "王五", "1栋/2单元/101")
    cs.set_committee(app, [(chair, "chair"), (member, "member")], *TERM)
    cs.set_committee(app, [(chair, "chair"), (newcomer, "member")], *TERM)
    ledger_job.advance(app.sessions, app.clock.now(), app.policy)
    reminded = _reminded(app)
    assert {chair, newcomer} <= reminded and member not in reminded


def test_the_committee_answers_a_question_on_a_fund_line(app: App, owner: ChatUser) -> None:
    today = app.clock.now().date()
    chair, member = cs.owner(app, "张三", "1栋/1单元/301"), cs.owner(app, "李四", "1栋/1单元/302")
    cs.set_committee(
        app, [(chair, "chair"), (member, "member")], date(today.year - 1, 1, 1), date(today.year + 3, 1, 1)
    )
    filer = actor_of(app, member)
    where = node_id(app, SUNSHINE)
    lines = (income("fund_interest", 32109), expense("fund_use", 500000, project="1栋电梯"))
    with work(app) as w:
        filed = ledger.draft_statement(
            w, filer, ledger.StatementDraft(where, parse_period("2026Q3"), "committee", lines)
        )
        ledger.publish(w, filer, filed.statement_id)
    me = actor_of(app, person_of(app.sessions, owner))
    with work(app) as w:
        line_id = ledger.statement(w, me, filed.statement_id).lines[0].line_id
        first = ledger.ask(w, me, line_id, "利息怎么算的？")
    # The filer is voted out: the next question goes to the committee now in office.
    cs.set_committee(app, [(chair, "chair")], date(today.year - 1, 1, 1), date(today.year + 3, 1, 1))
    with work(app) as w:
        second = ledger.ask(w, me, line_id, "还是不明白")
    with app.sessions() as session:
        holders = [session.get(Ticket, t).holder_id for t in (first.ticket_id, second.ticket_id)]  # type: ignore[union-attr]
    assert holders == [member, chair]


def test_a_role_granted_by_hand_is_not_reminded_once_a_committee_is_in_office(
    app: App, clock: FixedClock
) -> None:
    clock.current = LATE
    granted = ChatUser(app.service, "cmte", name="业委会")
    granted.say("/start DEMO-COMMITTEE")
    chair = cs.owner(app, "张三", "1栋/1单元/301")
    cs.set_committee(app, [(chair, "chair")], *TERM)
    ledger_job.advance(app.sessions, app.clock.now(), app.policy)
    reminded = _reminded(app)
    assert chair in reminded and person_of(app.sessions, granted) not in reminded
