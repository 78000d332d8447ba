"""Statements of accounts for the surfaces' tests: one published by the company serving a compound."""

from __future__ import annotations

from bot.bootstrap import App
from core import ledger
from db import companies
from db.ledger.lines import LineDraft
from db.ledger.periods import parse_period
from db.rows import id_of
from tests.support.chat import person_of
from tests.support.companies import company_serving, company_staff
from tests.support.ledger import SUNSHINE, actor_of, expense, income, node_id, work

DEMO_COMPANY = "阳光物业服务有限公司"
LINES = (income("parking", 50000, "地面车位"), expense("cleaning", 20000, "外包保洁"))


def published(
    app: App,
    path: str = SUNSHINE,
    company: str = DEMO_COMPANY,
    period: str = "2026Q3",
    lines: tuple[LineDraft, ...] = LINES,
) -> int:
    """A statement of the compound at `path`, filed and published by a clerk of `company` (which is made
    to serve the compound when it does not yet); its id."""
    with app.sessions() as session:
        found = companies.by_name(session, company)
        company_id = id_of(found) if found is not None else None
    if company_id is None:
        company_id = company_serving(app, company, path)
    clerk = company_staff(app, company_id, f"clerk-{company_id}-{period}")
    with work(app) as unit:
        actor = actor_of(app, person_of(app.sessions, clerk))
        draft = ledger.StatementDraft(node_id(app, path), parse_period(period), "company", lines)
        filed = ledger.draft_statement(unit, actor, draft)
        ledger.publish(unit, actor, filed.statement_id)
    return filed.statement_id
