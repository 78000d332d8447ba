"""The rules that guard a statement: writing a draft and its lines, publishing it, and correcting a
published one by a new version. A published version is never changed: every change to one raises
LedgerError("published"), and a correction is a new row that `supersedes` it.

Who may do this is asked by the use cases (core/ledger.py); these rules speak in meanings only.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, delete, func, select

from db.ledger.lines import LineDraft
from db.ledger.periods import Period
from db.ledger.tables import FILERS, LedgerLine, LedgerStatement, LedgerVoucher
from db.ledger.totals import Diff, diff
from db.rows import id_of

MAX_CHANGE_NOTE = 500
MAX_VOUCHERS = 9  # photos per line


class LedgerError(ValueError):
    """A statement rule was broken; `reason` is a short key the callers turn into a message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def require_draft(statement: LedgerStatement) -> None:
    """Refuse any change to a published version: it is corrected by a new one, never edited."""
    if statement.state != "draft":
        raise LedgerError("published")


def versions(session: Session, compound_id: int, period_start: object, filer: str) -> list[LedgerStatement]:
    """Every version of one compound's statement for one period and filer, oldest first (indexed)."""
    return list(
        session.exec(
            select(LedgerStatement)
            .where(
                LedgerStatement.compound_id == compound_id,
                LedgerStatement.period_start == period_start,
                LedgerStatement.filer == filer,
            )
            .order_by(col(LedgerStatement.version))
        ).all()
    )


def lines_of(session: Session, statement_id: int) -> list[LedgerLine]:
    """A statement's lines in order."""
    return list(
        session.exec(
            select(LedgerLine).where(LedgerLine.statement_id == statement_id).order_by(col(LedgerLine.seq))
        ).all()
    )


def vouchers_of(session: Session, line_ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    """The voucher photos of these lines, by line id, as (channel, ref)."""
    found: dict[int, list[tuple[str, str]]] = {}
    if not line_ids:
        return found
    rows = session.exec(
        select(LedgerVoucher).where(col(LedgerVoucher.line_id).in_(line_ids)).order_by(col(LedgerVoucher.id))
    ).all()
    for v in rows:
        found.setdefault(v.line_id, []).append((v.channel, v.ref))
    return found


def _write_lines(session: Session, statement: LedgerStatement, lines: list[LineDraft]) -> None:
    """Write a draft's lines, numbered 1, 2, … in the order given, with their voucher photos."""
    for seq, draft in enumerate(lines, start=1):
        _write_line(session, statement, seq, draft)


def _write_line(session: Session, statement: LedgerStatement, seq: int, draft: LineDraft) -> LedgerLine:
    """Write one line with its voucher photos under a given number."""
    assert statement.id is not None
    line = LedgerLine(
        statement_id=statement.id,
        seq=seq,
        side=draft.side,
        category=draft.category,
        amount_fen=draft.amount_fen,
        note=draft.note,
        project=draft.project,
        poll_id=draft.poll_id,
    )
    session.add(line)
    session.flush()
    for channel, ref in draft.vouchers[:MAX_VOUCHERS]:
        session.add(LedgerVoucher(line_id=id_of(line), channel=channel, ref=ref))
    session.flush()
    return line


def _check_openings(opening_income_fen: int, opening_fund_fen: int) -> None:
    # An opening balance may be negative (a deficit carried over), but it is a whole number of fen.
    for value in (opening_income_fen, opening_fund_fen):
        if type(value) is not int or abs(value) > 10**13:
            raise LedgerError("opening")


def create(
    session: Session,
    compound_id: int,
    period: Period,
    filer: str,
    company_id: int | None,
    author_id: int | None,
    author_name: str,
    opening_income_fen: int,
    opening_fund_fen: int,
    lines: list[LineDraft],
    now: datetime,
) -> LedgerStatement:
    """Write version 1 of a statement as a draft; LedgerError("exists") when one is already filed for
    that compound, period and filer (edit the draft, or correct the published one)."""
    if filer not in FILERS:
        raise LedgerError("filer")
    if (filer == "company") != (company_id is not None):
        raise LedgerError("filer")
    _check_openings(opening_income_fen, opening_fund_fen)
    if versions(session, compound_id, period.start, filer):
        raise LedgerError("exists")
    statement = LedgerStatement(
        compound_id=compound_id,
        period_start=period.start,
        period_end=period.end,
        filer=filer,
        company_id=company_id,
        author_id=author_id,
        author_name=author_name.strip()[:100],
        version=1,
        state="draft",
        created_at=now,
        opening_income_fen=opening_income_fen,
        opening_fund_fen=opening_fund_fen,
    )
    session.add(statement)
    session.flush()
    _write_lines(session, statement, lines)
    return statement


def replace_lines(
    session: Session,
    statement: LedgerStatement,
    lines: list[LineDraft],
    opening_income_fen: int | None = None,
    opening_fund_fen: int | None = None,
) -> None:
    """Replace a draft's lines (and, when given, its openings); a published version raises."""
    require_draft(statement)
    assert statement.id is not None
    line_ids = [line.id for line in lines_of(session, statement.id)]
    if line_ids:
        session.exec(delete(LedgerVoucher).where(col(LedgerVoucher.line_id).in_(line_ids)))
        session.exec(delete(LedgerLine).where(col(LedgerLine.statement_id) == statement.id))
    if opening_income_fen is not None or opening_fund_fen is not None:
        income = statement.opening_income_fen if opening_income_fen is None else opening_income_fen
        fund = statement.opening_fund_fen if opening_fund_fen is None else opening_fund_fen
        _check_openings(income, fund)
        statement.opening_income_fen, statement.opening_fund_fen = income, fund
    _write_lines(session, statement, lines)


def add_line(session: Session, statement: LedgerStatement, draft: LineDraft) -> LedgerLine:
    """Append a line to a draft (the next seq); a published version raises."""
    require_draft(statement)
    assert statement.id is not None
    last = session.exec(select(func.max(LedgerLine.seq)).where(LedgerLine.statement_id == statement.id)).one()
    return _write_line(session, statement, (last or 0) + 1, draft)


def remove_line(session: Session, statement: LedgerStatement, line: LedgerLine) -> None:
    """Take a line off a draft (the others keep their seq); a published version raises."""
    require_draft(statement)
    if line.statement_id != statement.id:
        raise LedgerError("not_found")
    session.exec(delete(LedgerVoucher).where(col(LedgerVoucher.line_id) == line.id))
    session.delete(line)
    session.flush()


def add_voucher(
    session: Session, statement: LedgerStatement, line: LedgerLine, channel: str, ref: str
) -> None:
    """Attach a voucher photo to a draft's line; a published version raises."""
    require_draft(statement)
    if line.statement_id != statement.id:
        raise LedgerError("not_found")
    count = session.exec(select(func.count()).where(LedgerVoucher.line_id == line.id)).one()
    if count >= MAX_VOUCHERS:
        raise LedgerError("too_many_vouchers")
    session.add(LedgerVoucher(line_id=id_of(line), channel=channel[:16], ref=ref[:200]))
    session.flush()


def correct(
    session: Session,
    published: LedgerStatement,
    note: str,
    author_id: int | None,
    author_name: str,
    opening_income_fen: int | None,
    opening_fund_fen: int | None,
    lines: list[LineDraft],
    now: datetime,
) -> LedgerStatement:
    """Write the next version of a published statement as a draft, saying what changed; the published one
    stays as it is. LedgerError: "not_published" (correct a draft by editing it), "superseded" (correct the
    newest version), "note" (a correction says what changed)."""
    if published.state != "published":
        raise LedgerError("not_published")
    note = note.strip()
    if not note or len(note) > MAX_CHANGE_NOTE:
        raise LedgerError("note")
    chain = versions(session, published.compound_id, published.period_start, published.filer)
    if chain[-1].id != published.id:
        raise LedgerError("superseded")
    income = published.opening_income_fen if opening_income_fen is None else opening_income_fen
    fund = published.opening_fund_fen if opening_fund_fen is None else opening_fund_fen
    _check_openings(income, fund)
    statement = LedgerStatement(
        compound_id=published.compound_id,
        period_start=published.period_start,
        period_end=published.period_end,
        filer=published.filer,
        company_id=published.company_id,
        author_id=author_id,
        author_name=author_name.strip()[:100],
        version=published.version + 1,
        supersedes=published.id,
        change_note=note,
        state="draft",
        created_at=now,
        opening_income_fen=income,
        opening_fund_fen=fund,
    )
    session.add(statement)
    session.flush()
    _write_lines(session, statement, lines)
    return statement


def changes(session: Session, statement: LedgerStatement) -> Diff | None:
    """What a version changed from the one it supersedes (None for a first version)."""
    if statement.supersedes is None or statement.id is None:
        return None
    before = session.get(LedgerStatement, statement.supersedes)
    if before is None or before.id is None:
        return None
    return diff(
        lines_of(session, before.id),
        lines_of(session, statement.id),
        (before.opening_income_fen, before.opening_fund_fen),
        (statement.opening_income_fen, statement.opening_fund_fen),
    )


def publish(session: Session, statement: LedgerStatement, notice_id: int | None, now: datetime) -> None:
    """Mark a draft published (as notice `notice_id`); LedgerError "published" when it already is,
    "empty" when it has no lines."""
    require_draft(statement)
    assert statement.id is not None
    if not lines_of(session, statement.id):
        raise LedgerError("empty")
    statement.state, statement.published_at, statement.notice_id = "published", now, notice_id
    session.flush()
