"""A property company that hands a compound over still files the last quarter it served; the company
that takes over files from its own first quarter and never the old company's."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.bootstrap import App
from bot.clock import FixedClock
from core import ledger
from db import companies
from db.ledger.periods import parse_period
from tests.support.chat import person_of
from tests.support.companies import company_serving, company_staff
from tests.support.ledger import PEACE, actor_of, income, node_id, work


def test_the_outgoing_company_files_its_last_quarter_and_the_new_one_its_own(
    app: App, clock: FixedClock
) -> None:
    clock.current = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    peace = node_id(app, PEACE)
    old = company_serving(app, "旧物业", PEACE, since=date(2025, 1, 1))
    old_clerk = person_of(app.sessions, company_staff(app, old, "old-clerk"))
    with app.sessions() as session:
        companies.end_contracts(session, peace, date(2026, 9, 30))
        new = companies.ensure(session, "新物业", app.clock.now())
        companies.sign(session, new.id, peace, date(2026, 10, 1), None)  # type: ignore[arg-type]
        session.commit()
        new_id = new.id
    new_clerk = person_of(app.sessions, company_staff(app, new_id, "new-clerk"))  # type: ignore[arg-type]
    q3, q4 = parse_period("2026Q3"), parse_period("2026Q4")

    outgoing = actor_of(app, old_clerk)
    with work(app) as w:
        offered = [(f.compound_name, f.company_name) for f in ledger.filings(w, outgoing)]
        filed = ledger.draft_statement(
            w, outgoing, ledger.StatementDraft(peace, q3, "company", (income("parking", 100),))
        )
        ledger.publish(w, outgoing, filed.statement_id)
    assert ("和平里小区", "旧物业") in offered

    incoming = actor_of(app, new_clerk)
    with pytest.raises(ledger.LedgerError) as refused, work(app) as w:
        ledger.draft_statement(
            w,
            incoming,
            ledger.StatementDraft(peace, q3, "company", (income("parking", 1),), company_id=new_id),
        )
    assert refused.value.reason in ("no_company", "not_allowed")
    with pytest.raises(ledger.LedgerError), work(app) as w:
        ledger.correct(w, incoming, filed.statement_id, "改", [income("parking", 1)])

    clock.current = datetime(2027, 1, 5, 2, 0, tzinfo=UTC)
    incoming = actor_of(app, new_clerk)
    with work(app) as w:
        mine = ledger.draft_statement(
            w, incoming, ledger.StatementDraft(peace, q4, "company", (income("parking", 200),))
        )
        ledger.publish(w, incoming, mine.statement_id)
    outgoing = actor_of(app, old_clerk)
    with pytest.raises(ledger.LedgerError), work(app) as w:
        ledger.draft_statement(
            w, outgoing, ledger.StatementDraft(peace, q4, "company", (income("parking", 1),))
        )
