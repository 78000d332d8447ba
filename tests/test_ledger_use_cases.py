"""The use cases of statements of accounts with their permissions: a company files and sees only its
compounds, the committee files the fund, residents see only their compound's published statements and
ask about a line, whose answer then shows under it for everyone (DESIGN §4.4)."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from bot.bootstrap import App
from core import ledger, tickets
from core.permissions import SYSTEM, Actor
from db.ledger.periods import parse_period
from db.ledger.tables import LedgerQuestion
from db.models import AuditEntry, Notice, Outbox, Ticket
from tests.support.chat import ChatUser, person_of
from tests.support.companies import company_serving, company_staff
from tests.support.ledger import PEACE, SUNSHINE, actor_of, expense, income, node_id, work

Q3 = parse_period("2026Q3")


def _join(app: App, ref: str, code: str, name: str = "") -> Actor:
    user = ChatUser(app.service, ref, name=name or ref)
    user.say(f"/start {code}")
    return actor_of(app, person_of(app.sessions, user))


def _user(app: App, user: ChatUser) -> Actor:
    return actor_of(app, person_of(app.sessions, user))


def _file(app: App, who: Actor, compound: str, filer: str = "company", publish: bool = True) -> int:
    lines = (
        (income("parking", 1234550, "地面车位"), expense("cleaning", 800000, "外包保洁"))
        if filer == "company"
        else (income("fund_interest", 32109), expense("fund_use", 500000, project="1栋电梯"))
    )
    where = node_id(app, compound)  # read before the work's write transaction holds SQLite
    with work(app) as w:
        filed = ledger.draft_statement(
            w, who, ledger.StatementDraft(where, Q3, filer, lines, opening_income_fen=100000)
        )
        if publish:
            ledger.publish(w, who, filed.statement_id)
    return filed.statement_id


def _refused(app: App, call: object, reason: str) -> None:
    with pytest.raises(ledger.LedgerError) as caught, work(app) as w:
        call(w)  # type: ignore[operator]
    assert caught.value.reason == reason


def test_a_company_files_and_sees_only_the_compounds_it_serves(app: App) -> None:
    other = company_serving(app, "和平物业", PEACE)
    ours = _join(app, "prop", "DEMO-PROPERTY")
    theirs = _user(app, company_staff(app, other, "peace-clerk"))
    mine = _file(app, ours, SUNSHINE)
    peace = _file(app, theirs, PEACE)
    peace_id, sunshine_id = node_id(app, PEACE), node_id(app, SUNSHINE)
    # Not for a compound another company serves, not the committee's fund.
    _refused(
        app,
        lambda w: ledger.draft_statement(
            w, ours, ledger.StatementDraft(peace_id, parse_period("2026Q2"), "company")
        ),
        "not_allowed",
    )
    _refused(
        app,
        lambda w: ledger.draft_statement(w, ours, ledger.StatementDraft(sunshine_id, Q3, "committee")),
        "not_allowed",
    )
    with work(app) as w:
        assert [s.statement_id for s in ledger.statements_for(w, ours)] == [mine]
        assert [s.statement_id for s in ledger.statements_for(w, theirs)] == [peace]
        assert ledger.statements_for(w, ours, peace_id) == []
        filings = ledger.filings(w, ours)
    assert [(f.compound_name, f.filer, f.company_name) for f in filings] == [
        ("阳光花园", "company", "阳光物业服务有限公司")
    ]
    _refused(app, lambda w: ledger.statement(w, ours, peace), "not_found")
    _refused(app, lambda w: ledger.correct(w, ours, peace, "改", []), "not_found")


def test_residents_see_their_compounds_published_statements_only(app: App, owner: ChatUser) -> None:
    clerk = _join(app, "prop", "DEMO-PROPERTY")
    other = company_serving(app, "和平物业", PEACE)
    peace = _file(app, _user(app, company_staff(app, other, "peace-clerk")), PEACE)
    published = _file(app, clerk, SUNSHINE)
    sunshine_id = node_id(app, SUNSHINE)
    with work(app) as w:
        fund = ledger.draft_statement(
            w,
            SYSTEM,  # the operator's CLI
            ledger.StatementDraft(sunshine_id, Q3, "committee", (income("fund_interest", 100),)),
        ).statement_id  # a draft: nobody but its filers sees it
    me = _user(app, owner)
    with work(app) as w:
        seen = ledger.statements_for(w, me)
        view = ledger.statement(w, me, published)
    assert [s.statement_id for s in seen] == [published]
    assert view.may_ask and not view.may_edit and not view.may_correct
    assert [(line.seq, line.category, line.amount_fen) for line in view.lines] == [
        (1, "parking", 1234550),
        (2, "cleaning", 800000),
    ]
    assert view.summary.totals.income_balance_fen == 100000 + 1234550 - 800000
    assert view.summary.company_name == "阳光物业服务有限公司" and view.summary.label == "2026Q3"
    _refused(app, lambda w: ledger.statement(w, me, peace), "not_found")
    _refused(app, lambda w: ledger.statement(w, me, fund), "not_found")
    _refused(app, lambda w: ledger.publish(w, me, published), "not_allowed")


def test_publishing_sends_a_fees_notice_to_the_compounds_owners_and_tenants(
    app: App, owner: ChatUser
) -> None:
    clerk = _join(app, "prop", "DEMO-PROPERTY")
    statement_id = _file(app, clerk, SUNSHINE)
    with app.sessions() as session:
        notice = session.exec(select(Notice).where(Notice.kind == "fees")).one()
        told = session.exec(select(Outbox.person_id).where(Outbox.notice_id == notice.id)).all()
        actions = session.exec(
            select(AuditEntry.action, AuditEntry.actor_role).order_by(col(AuditEntry.id))
        ).all()
    assert notice.title == "阳光花园 2026Q3 物业费及公共收益收支公示"
    assert "收入合计：12,345.50 元" in notice.body and "支出合计：8,000.00 元" in notice.body
    assert "/accounts" in notice.body
    assert notice.data["ledger"]["statement_id"] == statement_id
    assert person_of(app.sessions, owner) in told
    assert ("ledger.draft", "property_staff") in actions and ("ledger.publish", "property_staff") in actions
    _refused(app, lambda w: ledger.publish(w, clerk, statement_id), "published")


def test_the_committee_files_the_fund_and_a_correction_keeps_both_versions(app: App, owner: ChatUser) -> None:
    committee = _join(app, "cmte", "DEMO-COMMITTEE")
    first = _file(app, committee, SUNSHINE, filer="committee")
    with work(app) as w:
        fixed = ledger.correct(
            w,
            committee,
            first,
            "电梯款以合同为准",
            [income("fund_interest", 32109), expense("fund_use", 480000, project="1栋电梯", note="合同价")],
        )
        with pytest.raises(ledger.LinesError) as caught:
            ledger.edit_draft(
                w, committee, fixed.statement_id, [income("fund_interest", 1), income("parking", 1)]
            )
        assert [(b.number, b.reason) for b in caught.value.bad] == [(2, "wrong_filer")]
        published = ledger.publish(w, committee, fixed.statement_id)
    assert published.changes is not None
    assert [(c.seq, c.kind, c.before_fen, c.after_fen) for c in published.changes.changes] == [
        (2, "changed", 500000, 480000)
    ]
    me = _user(app, owner)
    with work(app) as w:
        listed = ledger.statements_for(w, me)
        old = ledger.statement(w, me, first)
        new = ledger.statement(w, me, fixed.statement_id)
    assert [(s.version, s.superseded_by) for s in listed] == [(2, None), (1, fixed.statement_id)]
    assert old.lines[1].amount_fen == 500000 and new.lines[1].amount_fen == 480000
    assert [v.version for v in new.versions] == [1, 2] and new.change_note == "电梯款以合同为准"
    assert new.summary.totals.fund_balance_fen == 32109 - 480000


def test_a_resident_asks_about_a_line_the_filer_answers_and_everyone_sees_it(
    app: App, owner: ChatUser, neighbour: ChatUser
) -> None:
    clerk = _join(app, "prop", "DEMO-PROPERTY")
    statement_id = _file(app, clerk, SUNSHINE)
    me, them = _user(app, owner), _user(app, neighbour)
    with work(app) as w:
        line_id = ledger.statement(w, me, statement_id).lines[0].line_id
        asked = ledger.ask(w, me, line_id, "停车费收入怎么算的？")
    with app.sessions() as session:
        ticket = session.get(Ticket, asked.ticket_id)
        link = session.exec(select(LedgerQuestion)).one()
        told = session.exec(select(Outbox.person_id).where(Outbox.ticket_id == asked.ticket_id)).all()
    assert ticket is not None and ticket.category == "fees" and "停车费收入怎么算的？" in ticket.description
    assert "2026Q3 第1行 停车费 12,345.50元" in ticket.description
    assert ticket.holder_id == clerk.person_id  # the company that filed the statement answers for it
    assert clerk.person_id in told
    assert link.line_id == line_id and link.text == "停车费收入怎么算的？"
    with work(app) as w:
        waiting = ledger.statement(w, them, statement_id).lines[0].questions
    assert [(q.ticket_id, q.text, q.answers, q.mine) for q in waiting] == [
        (asked.ticket_id, "停车费收入怎么算的？", (), False)
    ]
    with work(app) as w:
        tickets.accept(w, clerk, asked.ticket_id)
        tickets.resolve(
            w, clerk, asked.ticket_id, "fixed", "按 120 个车位每月收费计算，明细见附件。", [], False
        )
    with work(app) as w:
        answered = ledger.statement(w, them, statement_id).lines[0].questions
        mine = ledger.statement(w, me, statement_id).lines[0].questions
    assert (
        answered[0].answers == ("按 120 个车位每月收费计算，明细见附件。",)
        and answered[0].state == "resolved"
    )
    assert answered[0].answered_at is not None and mine[0].mine
    # A correction keeps the question under the line of the same number.
    with work(app) as w:
        fixed = ledger.correct(
            w, clerk, statement_id, "停车费更正", [income("parking", 1234500), expense("cleaning", 800000)]
        )
        ledger.publish(w, clerk, fixed.statement_id)
    with work(app) as w:
        carried = ledger.statement(w, them, fixed.statement_id).lines[0].questions
    assert [(q.ticket_id, q.version) for q in carried] == [(asked.ticket_id, 1)]


def test_asking_is_for_residents_of_that_compound_about_a_published_line(
    app: App, owner: ChatUser, staff: ChatUser
) -> None:
    clerk = _join(app, "prop", "DEMO-PROPERTY")
    other = company_serving(app, "和平物业", PEACE)
    peace = _file(app, _user(app, company_staff(app, other, "peace-clerk")), PEACE)
    draft = _file(app, clerk, SUNSHINE, publish=False)
    me = _user(app, owner)
    with work(app) as w:
        peace_line = ledger.statement(w, SYSTEM, peace).lines[0].line_id
        draft_line = ledger.statement(w, SYSTEM, draft).lines[0].line_id
    _refused(app, lambda w: ledger.ask(w, me, peace_line, "?"), "not_found")  # another compound's line
    _refused(app, lambda w: ledger.ask(w, me, draft_line, "?"), "not_found")  # not published
    _refused(app, lambda w: ledger.ask(w, me, 999999, "?"), "not_found")
    with work(app) as w:
        ledger.publish(w, clerk, draft)
    desk = _user(app, staff)
    _refused(app, lambda w: ledger.ask(w, desk, draft_line, "?"), "not_resident")
    _refused(app, lambda w: ledger.ask(w, me, draft_line, "  "), "text")
    with app.sessions() as session:
        assert session.exec(select(Ticket)).all() == []


def test_a_draft_is_edited_by_its_filer_only_and_vouchers_stay_on_their_line(app: App) -> None:
    clerk = _join(app, "prop", "DEMO-PROPERTY")
    staff = _join(app, "staff", "DEMO-STAFF")
    draft = _file(app, clerk, SUNSHINE, publish=False)
    with work(app) as w:
        line_id = ledger.add_line(w, clerk, draft, income("ads", 50000, "电梯广告"))
        ledger.add_voucher(w, clerk, line_id, "web", "voucher-1.jpg")
        view = ledger.statement(w, clerk, draft)
    assert view.may_edit and view.lines[-1].vouchers == (("web", "voucher-1.jpg"),)
    assert view.lines[-1].seq == 3
    _refused(app, lambda w: ledger.add_line(w, staff, draft, income("ads", 1)), "not_found")
    _refused(app, lambda w: ledger.statement(w, staff, draft), "not_found")  # staff see published ones
    with work(app) as w:
        ledger.remove_line(w, clerk, line_id)
        ledger.publish(w, clerk, draft)
    _refused(app, lambda w: ledger.add_line(w, clerk, draft, income("ads", 1)), "published")
    with work(app) as w:
        assert [s.statement_id for s in ledger.statements_for(w, staff)] == [draft]
