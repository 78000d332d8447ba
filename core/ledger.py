"""Statements of accounts (收支公示, DESIGN §4.4): drafting, publishing and correcting a compound's
statement, reading the statements one may see, and asking about a line.

Each use case runs in the turn's `Work`, asks the permission policy (Action.FILE_STATEMENT to write,
Action.SEE_ACCOUNTS to read) over the statement's compound, calls the rules of db/ledger, records the
events and writes the audit log (`ledger.draft`, `ledger.publish`, `ledger.correct`). A refusal raises
`LedgerError` whose `reason` names the message the user sees; bad lines raise `LinesError` naming each
line by its number.

Who files what: the property company serving the compound files the fees and the income of the common
parts (filer "company"); the owners' committee files the maintenance fund (filer "committee"); an admin
(and the operator's CLI) may file either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import col, select

from core import audit, tickets
from core.events import LineQuestioned, StatementPublished
from core.permissions import (
    VERIFIED,
    Action,
    Actor,
    Role,
    covers,
    grants_for,
    may,
    outermost,
    place,
    under,
)
from core.work import Work
from db import companies, notices
from db import tickets as filing
from db.cases import dispatch
from db.cases.timeline import SYSTEM as TIMELINE_SYSTEM
from db.categories import Category
from db.ledger import reminders
from db.ledger import statements as rules
from db.ledger.categories import LedgerCatalog, default_catalog
from db.ledger.lines import (
    MAX_FEN,
    MAX_NOTE,
    MAX_PROJECT,
    BadLine,
    LineDraft,
    LinesError,
    RawLine,
    check_lines,
    yuan,
)
from db.ledger.periods import Period
from db.ledger.statements import LedgerError
from db.ledger.tables import LedgerLine, LedgerQuestion, LedgerStatement
from db.ledger.totals import Diff, Totals, totals
from db.models import Home, OrgNode, Person, Ticket, TicketEvent
from db.org import in_subtrees
from db.rows import id_of

__all__ = [
    "Asked",
    "Filed",
    "Filing",
    "LedgerError",
    "LineDraft",
    "LineView",
    "LinesError",
    "PublishedStatement",
    "Question",
    "RawLine",
    "StatementDraft",
    "StatementView",
    "Summary",
    "VersionRef",
]

ASK_CATEGORY = "fees"  # 物业收费: a question about a line is a ticket of this category
ASK_SLA = "complex"  # its SLA class when the caller passes no catalog entry (as data/categories.yaml)
MAX_QUESTION = 500
OUTGOING = timedelta(days=120)  # how long a company that left a compound may still file its last periods
LIST_LIMIT = 50
ANSWERED = ("resolved", "closed")  # a linked ticket in these states shows its resolution under the line


# --- what the use cases take and give ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatementDraft:
    """A statement as its filer asks to write it: the compound, the period, who files it (company: the
    company serving the compound, found when `company_id` is None), the openings in fen, the lines."""

    compound_id: int
    period: Period
    filer: str  # company | committee
    lines: tuple[LineDraft, ...] = ()
    company_id: int | None = None
    opening_income_fen: int = 0
    opening_fund_fen: int = 0
    author_name: str = ""  # as a file names the author when they are not a known person


@dataclass(frozen=True, slots=True)
class Filing:
    """A compound and filer the actor may file a statement for (with the company, for filer company)."""

    compound_id: int
    compound_name: str
    filer: str
    company_id: int | None
    company_name: str


@dataclass(frozen=True, slots=True)
class Filed:
    """A draft written or changed: its id, version, line count and totals."""

    statement_id: int
    version: int
    lines: int
    totals: Totals


@dataclass(frozen=True, slots=True)
class PublishedStatement:
    """A statement published: its id, version, the notice it went out as, and how many it reaches."""

    statement_id: int
    version: int
    notice_id: int
    audience: int
    totals: Totals
    changes: Diff | None  # what a correction changed (None for a first version)


@dataclass(frozen=True, slots=True)
class Summary:
    """A statement in a list: which compound and period, who filed it, its state and version, its totals;
    `superseded_by` is the id of the version that corrects it (both stay visible)."""

    statement_id: int
    compound_id: int
    compound_name: str
    period: Period
    label: str  # 2026Q3, 2026H2, …
    filer: str
    company_name: str
    version: int
    state: str
    published_at: datetime | None
    superseded_by: int | None
    totals: Totals


@dataclass(frozen=True, slots=True)
class Question:
    """A question asked about a line (or about the line of the same number in an earlier version): its
    ticket, the ticket's state, what was asked, and the answer (the resolution note, once the ticket is
    resolved or closed; empty before)."""

    ticket_id: int
    state: str
    asked_at: datetime
    mine: bool
    answers: tuple[str, ...]
    text: str = ""
    answered_at: datetime | None = None
    version: int = 1  # the version of the statement the question was asked on


@dataclass(frozen=True, slots=True)
class LineView:
    """A line as shown: number, side, category key (names: `catalog().get(key).name(locale)`), amount in
    fen, note, project and approving poll, voucher photos (channel, ref), and its questions."""

    line_id: int
    seq: int
    side: str
    category: str
    amount_fen: int
    note: str
    project: str
    poll_id: int | None
    vouchers: tuple[tuple[str, str], ...]
    questions: tuple[Question, ...]


@dataclass(frozen=True, slots=True)
class VersionRef:
    """One version of the same compound, period and filer."""

    statement_id: int
    version: int
    state: str
    published_at: datetime | None
    change_note: str


@dataclass(frozen=True, slots=True)
class StatementView:
    """One statement opened: its summary, author, change note, lines with their questions and answers,
    totals, every version, what this version changed, and what the viewer may do with it."""

    summary: Summary
    author_name: str
    change_note: str
    supersedes: int | None
    notice_id: int | None
    lines: tuple[LineView, ...]
    versions: tuple[VersionRef, ...]
    changes: Diff | None
    may_edit: bool  # a draft the viewer may change and publish
    may_correct: bool  # the newest published version, which the viewer may correct
    may_ask: bool  # a published statement of the viewer's own compound


@dataclass(frozen=True, slots=True)
class Asked:
    """A question filed: the ticket it became (#ticket_id), and the line and statement it is about."""

    ticket_id: int
    line_id: int
    statement_id: int


def catalog() -> LedgerCatalog:
    """The line categories (data/ledger_categories.yaml)."""
    return default_catalog()


# --- who may file -----------------------------------------------------------------------------------


def _compound(work: Work, compound_id: int) -> OrgNode:
    node = work.session.get(OrgNode, compound_id)
    if node is None or node.kind != "compound":
        raise LedgerError("not_found")
    return node


def _filing_roles(actor: Actor, compound: OrgNode) -> set[Role]:
    """The roles under which the actor may file over the compound."""
    target = place(compound.path)
    return {g.role for g in grants_for(actor, Action.FILE_STATEMENT) if covers(g, target)}


def _filing_role(
    work: Work,
    actor: Actor,
    compound: OrgNode,
    filer: str,
    company_id: int | None,
    period_end: date | None = None,
) -> str:
    """The role the actor files as for this compound and filer ("system" for the CLI and scheduler);
    LedgerError("not_allowed") when they may not. Company staff file only for their own company; an
    outgoing company still files a period it served on the last day of, for `OUTGOING` days after it."""
    if actor.person_id is None:
        return "system"
    roles = _filing_roles(actor, compound)
    if Role.ADMIN in roles:
        return Role.ADMIN.value
    if filer == "committee" and Role.OWNERS_COMMITTEE in roles:
        return Role.OWNERS_COMMITTEE.value
    if filer == "company" and Role.PROPERTY_STAFF in roles and company_id is not None:
        mine = {c.id for c in companies.companies_of(work.session, actor.person_id)}
        if company_id in mine:
            return Role.PROPERTY_STAFF.value
    if filer == "company" and company_id is not None and period_end is not None:
        mine = {c.id for c in companies.companies_of(work.session, actor.person_id)}
        if company_id in mine and _served_lately(work, id_of(compound), company_id, period_end):
            return Role.PROPERTY_STAFF.value
    raise LedgerError("not_allowed")


def _served_lately(work: Work, compound_id: int, company_id: int, period_end: date) -> bool:
    """Whether the company served the compound on a period's last day, and that day is recent enough for
    an outgoing company to still file it."""
    today = work.now.astimezone(work.policy.zone).date()
    if period_end < today - OUTGOING or period_end >= today:
        return False
    served = companies.serving(work.session, compound_id, period_end)
    return served is not None and served.id == company_id


def _may_file(work: Work, actor: Actor, statement: LedgerStatement) -> str | None:
    """The role the actor may change this statement as, or None."""
    compound = work.session.get(OrgNode, statement.compound_id)
    if compound is None:
        return None
    try:
        return _filing_role(
            work, actor, compound, statement.filer, statement.company_id, statement.period_end
        )
    except LedgerError:
        return None


def filings(work: Work, actor: Actor) -> list[Filing]:
    """The compounds and filers the actor may file statements for, today, by compound name: company staff
    their company's compounds; a committee its compound's fund; an admin every compound under them."""
    today = work.now.astimezone(work.policy.zone).date()
    found: list[Filing] = []
    grants = grants_for(actor, Action.FILE_STATEMENT)
    mine = companies.companies_of(work.session, actor.person_id) if actor.person_id is not None else []
    for company in mine:
        for compound_id in companies.compounds_of(work.session, id_of(company), today):
            node = work.session.get(OrgNode, compound_id)
            if node is not None:
                found.append(Filing(compound_id, node.name, "company", company.id, company.name))
        # A compound it left lately: it still files the periods it served to their last day.
        for compound_id in _left_lately(work, id_of(company), today):
            node = work.session.get(OrgNode, compound_id)
            if node is not None:
                found.append(Filing(compound_id, node.name, "company", company.id, company.name))
    committee = [g for g in grants if g.role is Role.OWNERS_COMMITTEE]
    admin = [g for g in grants if g.role is Role.ADMIN]
    roots = outermost(g.path for g in admin)
    nodes: list[OrgNode] = []
    if roots:
        nodes = list(
            work.session.exec(
                select(OrgNode)
                .where(OrgNode.kind == "compound", in_subtrees(col(OrgNode.path), roots))
                .order_by(col(OrgNode.path))
                .limit(200)
            ).all()
        )
    for node in nodes:
        serving = companies.serving(work.session, id_of(node), today)
        if serving is not None:
            found.append(Filing(id_of(node), node.name, "company", serving.id, serving.name))
    for g in committee:
        node = work.session.get(OrgNode, g.node_id)
        if node is not None and node.kind == "compound":
            found.append(Filing(id_of(node), node.name, "committee", None, ""))
    for node in nodes:
        found.append(Filing(id_of(node), node.name, "committee", None, ""))
    unique = {(f.compound_id, f.filer): f for f in found}
    return sorted(unique.values(), key=lambda f: (f.compound_name, f.filer))


def _left_lately(work: Work, company_id: int, today: date) -> list[int]:
    """The compounds whose contract with the company ended within the last `OUTGOING` days."""
    rows = work.session.exec(
        select(companies.CompanyContract.compound_id).where(
            companies.CompanyContract.company_id == company_id,
            col(companies.CompanyContract.ends_on) >= today - OUTGOING,
            col(companies.CompanyContract.ends_on) < today,
        )
    ).all()
    return sorted(set(rows))


# --- the audit log ----------------------------------------------------------------------------------


def _snapshot(work: Work, statement: LedgerStatement) -> dict[str, Any]:
    """What the audit log keeps of a statement: its period, filer, version, state, line count, totals."""
    sums = _totals(work, statement)
    return {
        "period": Period(statement.period_start, statement.period_end).label(),
        "filer": statement.filer,
        "version": statement.version,
        "state": statement.state,
        "lines": len(rules.lines_of(work.session, id_of(statement))),
        "income_fen": sums.income_fen,
        "expense_fen": sums.expense_fen,
    }


def _audit(
    work: Work,
    actor: Actor,
    role: str,
    action: str,
    statement: LedgerStatement,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    compound = work.session.get(OrgNode, statement.compound_id)
    path = compound.path if compound is not None else ""
    audit.record(work, actor, role, action, "statement", statement.id, path, before, after)


def _totals(work: Work, statement: LedgerStatement) -> Totals:
    return totals(
        rules.lines_of(work.session, id_of(statement)),
        catalog(),
        statement.opening_income_fen,
        statement.opening_fund_fen,
    )


def _filed(work: Work, statement: LedgerStatement) -> Filed:
    lines = rules.lines_of(work.session, id_of(statement))
    sums = totals(lines, catalog(), statement.opening_income_fen, statement.opening_fund_fen)
    return Filed(id_of(statement), statement.version, len(lines), sums)


# --- writing ----------------------------------------------------------------------------------------


def check(raws: list[RawLine], filer: str) -> list[LineDraft]:
    """Check typed or filed lines for a filer's statement; LinesError names every bad line by number."""
    return check_lines(raws, catalog(), fund=filer == "committee")


def check_one(raw: RawLine, filer: str) -> LineDraft:
    """Check one line typed in the chat; LinesError naming it when it is bad."""
    return check([raw], filer)[0]


def _misfit(filer: str, line: LineDraft) -> str:
    """Why a line built by a caller (not read by `check`) is not one this filer files, or ""."""
    category = catalog().get(line.category)
    if category is None:
        return "unknown_category"
    if category.side != line.side:
        return "wrong_side"
    if category.fund != (filer == "committee"):
        return "wrong_filer"
    if type(line.amount_fen) is not int or not 0 < line.amount_fen <= MAX_FEN:
        return "amount"
    if len(line.note) > MAX_NOTE:
        return "note_too_long"
    if len(line.project) > MAX_PROJECT:
        return "project_too_long"
    if category.fund and category.side == "expense" and not line.project.strip():
        return "project_required"
    return ""


def _lines_fit(filer: str, lines: Sequence[LineDraft], first: int = 1) -> None:
    """LinesError naming every line (numbered from `first`) this filer may not file as it is."""
    bad = [BadLine(n, why) for n, line in enumerate(lines, start=first) if (why := _misfit(filer, line))]
    if bad:
        raise LinesError(bad)


def draft_statement(work: Work, actor: Actor, draft: StatementDraft) -> Filed:
    """Write version 1 of a compound's statement for a period as a draft.

    LedgerError: not_found (no such compound), no_company (filer company, but no company serves the
    compound at the period's end, or not the one named), not_allowed, exists (already filed: edit the
    draft or correct the published one), filer, opening. LinesError for lines that do not fit the filer."""
    compound = _compound(work, draft.compound_id)
    company_id = _company(work, draft)
    role = _filing_role(work, actor, compound, draft.filer, company_id, draft.period.end)
    _lines_fit(draft.filer, draft.lines)
    statement = rules.create(
        work.session,
        draft.compound_id,
        draft.period,
        draft.filer,
        company_id,
        actor.person_id,
        draft.author_name,
        draft.opening_income_fen,
        draft.opening_fund_fen,
        list(draft.lines),
        work.now,
    )
    _audit(work, actor, role, "ledger.draft", statement, after=_snapshot(work, statement))
    return _filed(work, statement)


def _company(work: Work, draft: StatementDraft) -> int | None:
    """The company filing a company statement: the one serving the compound when the period ends."""
    if draft.filer != "company":
        if draft.company_id is not None:
            raise LedgerError("filer")
        return None
    serving = companies.serving(work.session, draft.compound_id, draft.period.end)
    if serving is None or (draft.company_id is not None and serving.id != draft.company_id):
        raise LedgerError("no_company")
    return serving.id


def _statement(work: Work, statement_id: int) -> LedgerStatement:
    statement = work.session.get(LedgerStatement, statement_id)
    if statement is None:
        raise LedgerError("not_found")
    return statement


def _editable(work: Work, actor: Actor, statement_id: int) -> tuple[LedgerStatement, str]:
    """A statement the actor may change, and the role they change it as; a published one raises
    "published", another filer's "not_found" (its id says nothing to those who may not see it)."""
    statement = _statement(work, statement_id)
    role = _may_file(work, actor, statement)
    if role is None:
        raise LedgerError("not_found" if not _may_see(work, actor, statement) else "not_allowed")
    rules.require_draft(statement)
    return statement, role


def edit_draft(
    work: Work,
    actor: Actor,
    statement_id: int,
    lines: list[LineDraft],
    opening_income_fen: int | None = None,
    opening_fund_fen: int | None = None,
) -> Filed:
    """Replace a draft's lines (and openings, when given); LedgerError("published") for a published one."""
    statement, role = _editable(work, actor, statement_id)
    _lines_fit(statement.filer, lines)
    before = _snapshot(work, statement)
    rules.replace_lines(work.session, statement, lines, opening_income_fen, opening_fund_fen)
    _audit(work, actor, role, "ledger.draft", statement, before, _snapshot(work, statement))
    return _filed(work, statement)


def add_line(work: Work, actor: Actor, statement_id: int, line: LineDraft) -> int:
    """Append a checked line to a draft; the new line's id."""
    statement, _ = _editable(work, actor, statement_id)
    _lines_fit(statement.filer, [line], len(rules.lines_of(work.session, statement_id)) + 1)
    return id_of(rules.add_line(work.session, statement, line))


def _draft_line(work: Work, actor: Actor, line_id: int) -> tuple[LedgerStatement, LedgerLine]:
    line = work.session.get(LedgerLine, line_id)
    if line is None:
        raise LedgerError("not_found")
    statement, _ = _editable(work, actor, line.statement_id)
    return statement, line


def remove_line(work: Work, actor: Actor, line_id: int) -> None:
    """Take a line off a draft."""
    statement, line = _draft_line(work, actor, line_id)
    rules.remove_line(work.session, statement, line)


def add_voucher(work: Work, actor: Actor, line_id: int, channel: str, ref: str) -> None:
    """Attach a voucher photo (a channel's file reference) to a draft's line (at most 9 per line)."""
    statement, line = _draft_line(work, actor, line_id)
    rules.add_voucher(work.session, statement, line, channel, ref)


def discard_draft(work: Work, actor: Actor, statement_id: int) -> None:
    """Throw away a draft that was never published (a correction's draft leaves its version as it was)."""
    statement, role = _editable(work, actor, statement_id)
    before = _snapshot(work, statement)
    rules.replace_lines(work.session, statement, [])
    work.session.delete(statement)
    work.session.flush()
    _audit(work, actor, role, "ledger.discard", statement, before)


def correct(
    work: Work,
    actor: Actor,
    statement_id: int,
    note: str,
    lines: list[LineDraft],
    opening_income_fen: int | None = None,
    opening_fund_fen: int | None = None,
) -> Filed:
    """Write the next version of a published statement as a draft, with a note of what changed; the
    published version stays as it was. LedgerError: not_published, superseded, note, not_allowed."""
    statement = _statement(work, statement_id)
    role = _may_file(work, actor, statement)
    if role is None:
        raise LedgerError("not_found" if not _may_see(work, actor, statement) else "not_allowed")
    _lines_fit(statement.filer, lines)
    corrected = rules.correct(
        work.session,
        statement,
        note,
        actor.person_id,
        "",
        opening_income_fen,
        opening_fund_fen,
        lines,
        work.now,
    )
    diff = rules.changes(work.session, corrected)
    after = {
        **_snapshot(work, corrected),
        "corrects": statement.id,
        "note": corrected.change_note,
        "added": diff.count("added") if diff else 0,
        "removed": diff.count("removed") if diff else 0,
        "changed": diff.count("changed") if diff else 0,
    }
    _audit(work, actor, role, "ledger.correct", corrected, after=after)
    return _filed(work, corrected)


def notice_text(
    compound: OrgNode, statement: LedgerStatement, sums: Totals, diff: Diff | None
) -> tuple[str, str]:
    """The notice's title and body (stored text, in Chinese as the compound's notices are): the period,
    the totals, what a correction changed, and how to open the statement (/accounts)."""
    label = Period(statement.period_start, statement.period_end).label()
    what = "维修资金" if statement.filer == "committee" else "物业费及公共收益"
    title = f"{compound.name} {label} {what}收支公示"
    if statement.version > 1:
        title += f"（更正 第{statement.version}版）"
    parts = [
        f"期间：{statement.period_start.isoformat()} 至 {statement.period_end.isoformat()}",
        f"收入合计：{yuan(sums.income_fen)} 元",
        f"支出合计：{yuan(sums.expense_fen)} 元",
    ]
    if statement.filer == "committee":
        parts.append(f"维修资金期末余额：{yuan(sums.fund_balance_fen)} 元")
    else:
        parts.append(f"公共收益期末结余：{yuan(sums.income_balance_fen)} 元")
    if statement.version > 1:
        parts.append(f"更正说明：{statement.change_note}")
        if diff is not None:
            parts.append(
                f"本次更正：新增 {diff.count('added')} 行，删除 {diff.count('removed')} 行，"
                f"修改 {diff.count('changed')} 行；原版本仍可查看。"
            )
    parts.append("发送 /accounts 查看明细；对某一行有疑问，可在明细中点「提问」。")
    return title[: notices.MAX_TITLE], "\n".join(parts)


def publish(work: Work, actor: Actor, statement_id: int) -> PublishedStatement:
    """Publish a draft as a 收支公示 notice to the compound's owners and tenants; a correction's notice
    says what changed. LedgerError: published (already), empty (no lines), not_allowed, not_found."""
    statement, role = _editable(work, actor, statement_id)
    compound = _compound(work, statement.compound_id)
    sums = _totals(work, statement)
    diff = rules.changes(work.session, statement)
    title, body = notice_text(compound, statement, sums, diff)
    if not rules.lines_of(work.session, id_of(statement)):
        raise LedgerError("empty")
    label = Period(statement.period_start, statement.period_end).label()
    notice, published = notices.create(
        work.session,
        actor.person_id,
        "fees",
        title,
        body,
        id_of(compound),
        [],
        list(notices.DEFAULT_ROLES),
        None,
        work.now + timedelta(days=30),
        False,
        None,
        work.now,
        data={
            "ledger": {
                "statement_id": statement.id,
                "period": label,
                "filer": statement.filer,
                "version": statement.version,
                "income_fen": sums.income_fen,
                "expense_fen": sums.expense_fen,
                "income_balance_fen": sums.income_balance_fen,
                "fund_balance_fen": sums.fund_balance_fen,
            }
        },
    )
    rules.publish(work.session, statement, notice.id, work.now)
    reminders.settle(work.session, statement)
    work.record(
        published,
        StatementPublished(id_of(statement), statement.compound_id, id_of(notice), statement.version),
    )
    after = {**_snapshot(work, statement), "notice_id": notice.id, "audience": notice.audience_size}
    _audit(work, actor, role, "ledger.publish", statement, {"state": "draft"}, after)
    return PublishedStatement(
        id_of(statement), statement.version, id_of(notice), notice.audience_size, sums, diff
    )


# --- reading ----------------------------------------------------------------------------------------


def _may_see(work: Work, actor: Actor, statement: LedgerStatement) -> bool:
    """Published: whoever may see the compound's accounts (its verified residents, staff over it, the
    company serving it). A draft: only those who may file it."""
    if statement.state != "published":
        return _may_file(work, actor, statement) is not None
    compound = work.session.get(OrgNode, statement.compound_id)
    return compound is not None and may(actor, Action.SEE_ACCOUNTS, place(compound.path))


def _roots(work: Work, actor: Actor) -> list[str]:
    """The paths under which the actor may see accounts: their jurisdiction, and their own compounds."""
    paths = [g.path for g in grants_for(actor, Action.SEE_ACCOUNTS)]
    home_ids = [r.home_id for r in actor.residences if r.status == VERIFIED]
    if home_ids:
        compound_ids = set(
            work.session.exec(select(Home.compound_id).where(col(Home.id).in_(home_ids))).all()
        )
        for compound_id in compound_ids:
            node = work.session.get(OrgNode, compound_id)
            if node is not None:
                paths.append(node.path)
    if actor.person_id is None:
        paths = ["/"]
    return outermost(paths)


def _summaries(work: Work, rows: list[tuple[LedgerStatement, OrgNode]]) -> list[Summary]:
    """Summaries of statements, each with the id of the version that supersedes it."""
    ids = [id_of(s) for s, _ in rows]
    later: dict[int, int] = {}
    if ids:
        for newer_id, old_id in work.session.exec(
            select(LedgerStatement.id, LedgerStatement.supersedes).where(
                col(LedgerStatement.supersedes).in_(ids)
            )
        ).all():
            if old_id is not None and newer_id is not None:
                later[old_id] = newer_id
    names: dict[int, str] = {}
    found: list[Summary] = []
    for statement, node in rows:
        company_name = ""
        if statement.company_id is not None:
            if statement.company_id not in names:
                company = work.session.get(companies.PropertyCompany, statement.company_id)
                names[statement.company_id] = company.name if company else ""
            company_name = names[statement.company_id]
        period = Period(statement.period_start, statement.period_end)
        found.append(
            Summary(
                statement_id=id_of(statement),
                compound_id=statement.compound_id,
                compound_name=node.name,
                period=period,
                label=period.label(),
                filer=statement.filer,
                company_name=company_name,
                version=statement.version,
                state=statement.state,
                published_at=statement.published_at,
                superseded_by=later.get(id_of(statement)),
                totals=_totals(work, statement),
            )
        )
    return found


def statements_for(
    work: Work, actor: Actor, compound_id: int | None = None, limit: int = LIST_LIMIT
) -> list[Summary]:
    """The statements the actor may see, newest period first (versions newest first): residents their
    compound's published ones; staff those under their jurisdiction; company staff their compounds';
    drafts only to those who may file them. `compound_id` narrows to one compound (refused: empty)."""
    roots = _roots(work, actor)
    if not roots:
        return []
    query = (
        select(LedgerStatement, OrgNode)
        .join(OrgNode, col(OrgNode.id) == LedgerStatement.compound_id)
        .where(in_subtrees(col(OrgNode.path), roots))
    )
    if compound_id is not None:
        query = query.where(LedgerStatement.compound_id == compound_id)
    query = query.order_by(
        col(LedgerStatement.period_start).desc(),
        col(OrgNode.name),
        col(LedgerStatement.filer),
        col(LedgerStatement.version).desc(),
    ).limit(limit * 3)
    rows = [(s, n) for s, n in work.session.exec(query).all() if _may_see(work, actor, s)]
    return _summaries(work, rows[:limit])


def _questions(work: Work, actor: Actor, line_ids: dict[int, int]) -> dict[int, list[Question]]:
    """The questions on these lines (line id → the version it belongs to), by line id, with their tickets'
    states and, once resolved, their answers."""
    found: dict[int, list[Question]] = {}
    if not line_ids:
        return found
    rows = work.session.exec(
        select(LedgerQuestion, Ticket)
        .join(Ticket, col(Ticket.id) == LedgerQuestion.ticket_id)
        .where(col(LedgerQuestion.line_id).in_(list(line_ids)))
        .order_by(col(LedgerQuestion.id))
    ).all()
    answered = [id_of(t) for _, t in rows if t.state in ANSWERED]
    notes: dict[int, tuple[str, datetime]] = {}
    if answered:
        for ticket_id, note, at in work.session.exec(
            select(TicketEvent.ticket_id, TicketEvent.note, TicketEvent.at)
            .where(col(TicketEvent.ticket_id).in_(answered), TicketEvent.kind == "resolved")
            .order_by(col(TicketEvent.id))
        ).all():
            if note.strip():
                notes[ticket_id] = (note.strip(), at)  # the latest resolution answers
    for question, ticket in rows:
        answer = notes.get(id_of(ticket)) if ticket.state in ANSWERED else None
        found.setdefault(question.line_id, []).append(
            Question(
                ticket_id=id_of(ticket),
                state=ticket.state,
                asked_at=question.asked_at,
                mine=question.asked_by == actor.person_id,
                answers=(answer[0],) if answer else (),
                text=question.text,
                answered_at=answer[1] if answer else None,
                version=line_ids[question.line_id],
            )
        )
    return found


def _questions_by_seq(
    work: Work, actor: Actor, chain: list[LedgerStatement], shown: LedgerStatement
) -> dict[int, list[Question]]:
    """The questions asked about each line number of this version and of the published versions before
    it: a question asked on version 1 still shows under the same line of its correction."""
    seq_of: dict[int, int] = {}
    version_of: dict[int, int] = {}
    for version in chain:
        if version.version > shown.version or (version.state != "published" and version.id != shown.id):
            continue
        for line in rules.lines_of(work.session, id_of(version)):
            seq_of[id_of(line)], version_of[id_of(line)] = line.seq, version.version
    by_seq: dict[int, list[Question]] = {}
    for line_id, items in _questions(work, actor, version_of).items():
        by_seq.setdefault(seq_of[line_id], []).extend(items)
    for items in by_seq.values():
        items.sort(key=lambda q: (q.asked_at, q.ticket_id))
    return by_seq


def _person_name(work: Work, person_id: int | None) -> str:
    person = work.session.get(Person, person_id) if person_id is not None else None
    return person.name if person is not None else ""


def _asker_home(work: Work, actor: Actor, compound: OrgNode) -> Home | None:
    """A home of the compound the actor is a verified resident of."""
    for residence in actor.residences:
        if residence.status == VERIFIED and under(residence.path, compound.path):
            home = work.session.get(Home, residence.home_id)
            if home is not None and home.compound_id == compound.id:
                return home
    return None


def statement(work: Work, actor: Actor, statement_id: int) -> StatementView:
    """One statement the actor may see, with its lines, vouchers, questions and answers, totals, versions
    and changes; LedgerError("not_found") for any other (another compound's id says nothing)."""
    found = _statement(work, statement_id)
    if not _may_see(work, actor, found):
        raise LedgerError("not_found")
    compound = _compound(work, found.compound_id)
    summary = _summaries(work, [(found, compound)])[0]
    lines = rules.lines_of(work.session, statement_id)
    line_ids = [id_of(line) for line in lines]
    vouchers = rules.vouchers_of(work.session, line_ids)
    chain = rules.versions(work.session, found.compound_id, found.period_start, found.filer)
    questions = _questions_by_seq(work, actor, chain, found) if found.state == "published" else {}
    role = _may_file(work, actor, found)
    newest = chain[-1].id == found.id
    return StatementView(
        summary=summary,
        author_name=found.author_name or _person_name(work, found.author_id),
        change_note=found.change_note,
        supersedes=found.supersedes,
        notice_id=found.notice_id,
        lines=tuple(
            LineView(
                id_of(line),
                line.seq,
                line.side,
                line.category,
                line.amount_fen,
                line.note,
                line.project,
                line.poll_id,
                tuple(vouchers.get(id_of(line), [])),
                tuple(questions.get(line.seq, [])),
            )
            for line in lines
        ),
        versions=tuple(
            VersionRef(id_of(v), v.version, v.state, v.published_at, v.change_note)
            for v in chain
            if _may_see(work, actor, v)
        ),
        changes=rules.changes(work.session, found),
        may_edit=found.state == "draft" and role is not None,
        may_correct=found.state == "published" and newest and role is not None,
        may_ask=found.state == "published" and _asker_home(work, actor, compound) is not None,
    )


# --- asking about a line ----------------------------------------------------------------------------


def ask(work: Work, actor: Actor, line_id: int, text: str, fees: Category | None = None) -> Asked:
    """A verified resident of the compound asks about a line of a published statement: a 物业收费 ticket
    filed through the normal ticket use case and linked to the line; its resolution is shown under the
    line to everyone. `fees` is the report catalog's "fees" category (its SLA class).
    LedgerError: not_found (no such line, a draft's, or one the actor may not see), not_resident, text."""
    line = work.session.get(LedgerLine, line_id)
    if line is None:
        raise LedgerError("not_found")
    found = _statement(work, line.statement_id)
    if found.state != "published" or not _may_see(work, actor, found):
        raise LedgerError("not_found")
    compound = _compound(work, found.compound_id)
    home = _asker_home(work, actor, compound)
    if home is None or actor.person_id is None:
        raise LedgerError("not_resident")
    text = text.strip()
    if not text or len(text) > MAX_QUESTION:
        raise LedgerError("text")
    name = catalog().get(line.category)
    label = Period(found.period_start, found.period_end).label()
    # The ticket's handler reads which line is meant; the stored text is in the compound's language.
    category = name.name("zh_CN") if name else line.category
    about = f"【收支公示 {label} 第{line.seq}行 {category} {yuan(line.amount_fen)}元】"
    draft = filing.Draft(
        category=fees.key if fees is not None else ASK_CATEGORY,
        sla_class=fees.sla if fees is not None else ASK_SLA,
        urgent=False,
        description=f"{about}\n{text}"[:2000],
        home_id=home.id,
        building_id=home.building_id,
        compound_id=home.compound_id,
    )
    done = tickets.report(work, actor, draft)
    work.session.add(
        LedgerQuestion(
            line_id=line_id, ticket_id=done.ticket_id, asked_by=actor.person_id, asked_at=work.now, text=text
        )
    )
    work.session.flush()
    _route(work, found, done.ticket_id)
    work.record(LineQuestioned(id_of(found), line_id, done.ticket_id))
    return Asked(done.ticket_id, line_id, id_of(found))


def answerer(work: Work, statement: LedgerStatement) -> int | None:
    """Who answers questions about a statement: its author while they still file for it (staff of the
    filing company, or a member of the compound's committee), else the first such person; None when
    nobody does (the ticket then stays with whom dispatch gave it)."""
    if statement.filer == "company":
        if statement.company_id is None:
            return None
        staff = work.session.exec(
            select(companies.CompanyStaff.person_id)
            .where(companies.CompanyStaff.company_id == statement.company_id)
            .order_by(col(companies.CompanyStaff.person_id))
        ).all()
    else:
        today = work.now.astimezone(work.policy.zone).date()
        staff = reminders.committee_people(work.session, statement.compound_id, today)
    if statement.author_id in staff:
        return statement.author_id
    return staff[0] if staff else None


def _route(work: Work, statement: LedgerStatement, ticket_id: int) -> None:
    """Give a question's ticket to whoever filed the statement: they know the accounts and answer under
    the line; the ticket's clocks and the ladder above them are the normal ones (DESIGN §4.1, §4.4)."""
    person_id = answerer(work, statement)
    ticket = work.session.get(Ticket, ticket_id)
    if person_id is None or ticket is None or ticket.holder_id == person_id:
        return
    work.record(*dispatch.assign(work.session, ticket, TIMELINE_SYSTEM, person_id, work.now, work.policy))
