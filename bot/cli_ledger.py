"""`linli ledger file`: file a compound's statement of accounts from a YAML or CSV file (DESIGN §4.4).

A YAML statement:

```yaml
compound: 铁西区/北沟街道/英雄社区/阳光花园   # names joined with '/', down to the compound
period: 2026Q3                              # or 2026H2, 2026-07, 2026; or start: / end: dates
filer: 阳光物业服务有限公司                   # the company's registered name, or "committee" (the fund)
author: 12                                  # optional: a person id (files with their rights) or a name
opening:                                    # optional, yuan carried over from the period before
  income: "12000.00"                        # the common-part income
  fund: "0"                                 # the maintenance fund
lines:                                      # one mapping per line; "line N" in errors is the N-th
  - {category: parking, amount: "12345.50", note: 地面车位 120 个}
  - {category: cleaning, side: expense, amount: 8000, note: 外包保洁}
lines_csv: lines.csv                        # instead of lines: a CSV beside the YAML file
```

A CSV of lines has a header row naming its columns: category, amount, and optionally side, note, project,
poll; "line N" in errors is the row of the file (the header is row 1). A CSV can be filed on its own
with --compound, --period and --filer. The file is taken whole or not at all.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session

REASONS = {
    "unknown_category": "unknown category (see data/ledger_categories.yaml)",
    "wrong_side": "the side is not the category's (income or expense)",
    "wrong_filer": "the category belongs to the other filer (the committee files the maintenance fund, "
    "the company the fees and common income)",
    "amount": "the amount must be a positive number of yuan with at most 2 decimals",
    "project_required": "a maintenance fund expense must name its project",
    "note_too_long": "the note is longer than 200 characters",
    "project_too_long": "the project is longer than 100 characters",
    "poll": "the poll must be a poll number",
    "too_many_lines": "more than 500 lines",
}
REFUSALS = {
    "not_allowed": "the author may not file this statement",
    "no_company": "that company does not serve the compound at the period's end",
    "exists": "a statement for this compound, period and filer is already filed (use --corrects ID)",
    "published": "statement is already published",
    "not_published": "only a published statement is corrected (a draft is filed again after discarding it)",
    "superseded": "a newer version exists: correct the newest one",
    "note": "a correction needs --note saying what changed (at most 500 characters)",
    "empty": "a statement without lines cannot be published",
    "not_found": "no such statement",
    "filer": "filer must be a company's name or committee",
    "opening": "the opening balances must be amounts in yuan",
}
YAML_FIELDS = ("compound", "period", "start", "end", "filer", "author", "opening", "lines", "lines_csv")


class LedgerFileError(ValueError):
    """A bad statement file: where (a field, or "line N") and why."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


@dataclass
class StatementFile:
    """A statement file as read, before any name is looked up."""

    compound: str = ""
    period: str = ""
    start: str = ""
    end: str = ""
    filer: str = ""
    author: str | int | None = None
    opening_income: Any = 0
    opening_fund: Any = 0
    lines: list[Any] = field(default_factory=list)  # RawLine


def _opening(value: Any, name: str) -> int:
    """An opening balance in yuan as fen (it may be negative: a deficit carried over)."""
    from db.ledger.lines import parse_yuan

    if value in (None, "", 0, "0"):
        return 0
    text = str(value).strip()
    negative = text.startswith("-")
    fen = parse_yuan(text.lstrip("-"))
    if fen is None:
        raise LedgerFileError(f"opening.{name}", "must be an amount in yuan with at most 2 decimals")
    return -fen if negative else fen


def read_csv_lines(path: Path) -> list[Any]:
    """The lines of a CSV file, each numbered by its row (the header is row 1)."""
    from db.ledger.lines_file import LinesFileError, csv_lines

    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's BOM is no part of the header
    except (OSError, UnicodeDecodeError) as exc:
        raise LedgerFileError(str(path), f"cannot be read as UTF-8 ({exc})") from None
    try:
        return list(csv_lines(text))
    except LinesFileError as exc:
        raise LedgerFileError(f"line {exc.line}" if exc.line else str(path), exc.detail) from None


def _yaml_lines(raw: Any) -> list[Any]:
    from db.ledger.lines import RawLine
    from db.ledger.lines_file import COLUMNS

    if not isinstance(raw, list):
        raise LedgerFileError(
            "lines", "must be a list of lines (category, amount, side, note, project, poll)"
        )
    lines = []
    for number, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            raise LedgerFileError(f"line {number}", "must be a mapping (category: …, amount: …)")
        unknown = [str(k) for k in item if k not in COLUMNS]
        if unknown:
            raise LedgerFileError(
                f"line {number}", f"unknown field {unknown[0]} (known: {', '.join(COLUMNS)})"
            )
        lines.append(
            RawLine(
                number,
                str(item.get("category") or ""),
                item.get("amount"),
                str(item.get("side") or ""),
                str(item.get("note") or ""),
                str(item.get("project") or ""),
                item.get("poll"),
            )
        )
    return lines


def read_yaml(path: Path) -> StatementFile:
    """A YAML statement file's fields (lines from the file or the CSV it names); LedgerFileError."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise LedgerFileError("file", f"not valid UTF-8 YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise LedgerFileError("file", "must be a mapping of fields (compound, period, filer, lines, …)")
    unknown = [str(k) for k in raw if k not in YAML_FIELDS]
    if unknown:
        raise LedgerFileError(unknown[0], f"unknown field (known: {', '.join(YAML_FIELDS)})")
    opening = raw.get("opening") or {}
    if not isinstance(opening, dict) or not set(opening) <= {"income", "fund"}:
        raise LedgerFileError("opening", "must be a mapping with income and/or fund (yuan)")
    spec = StatementFile(
        compound=str(raw.get("compound") or ""),
        period=str(raw.get("period") or ""),
        start=str(raw.get("start") or ""),
        end=str(raw.get("end") or ""),
        filer=str(raw.get("filer") or ""),
        author=raw.get("author"),
        opening_income=opening.get("income"),
        opening_fund=opening.get("fund"),
    )
    if raw.get("lines") is not None and raw.get("lines_csv"):
        raise LedgerFileError("lines_csv", "give lines or lines_csv, not both")
    if raw.get("lines_csv"):
        spec.lines = read_csv_lines((path.parent / str(raw["lines_csv"])).resolve())
    else:
        spec.lines = _yaml_lines(raw.get("lines") or [])
    return spec


@dataclass(frozen=True, slots=True)
class Resolved:
    """A statement file with its names looked up: what the use cases take."""

    draft: Any  # core.ledger.StatementDraft
    author_id: int | None


def resolve(session: Session, spec: StatementFile) -> Resolved:
    """Look the file's names up and check its lines; LedgerFileError naming the first field at fault, or
    every bad line."""
    from core import ledger
    from db import companies, org
    from db.ledger.periods import PeriodError, between, parse_period
    from db.models import Person
    from db.rows import id_of

    if not spec.compound:
        raise LedgerFileError("compound", "is missing (names joined with '/', down to the compound)")
    node = org.find_node(session, spec.compound)
    if node is None or node.kind != "compound":
        raise LedgerFileError("compound", f"{spec.compound!r} is not a compound")
    try:
        if spec.period:
            period = parse_period(spec.period)
        elif spec.start and spec.end:
            period = between(spec.start, spec.end)
        else:
            raise LedgerFileError("period", "is missing (2026Q3, or start: and end: dates)")
    except PeriodError as exc:
        raise LedgerFileError("period", str(exc)) from None
    if not spec.filer:
        raise LedgerFileError("filer", "is missing (the company's name, or committee)")
    company_id: int | None = None
    filer = "committee" if spec.filer.strip().lower() in ("committee", "业委会", "业主委员会") else "company"
    if filer == "company":
        company = companies.by_name(session, spec.filer)
        if company is None:
            raise LedgerFileError("filer", f"no property company named {spec.filer!r}")
        company_id = id_of(company)
    author_id: int | None = None
    author_name = ""
    if isinstance(spec.author, int) and not isinstance(spec.author, bool):
        if session.get(Person, spec.author) is None:
            raise LedgerFileError("author", f"no person with id {spec.author}")
        author_id = spec.author
    elif spec.author not in (None, ""):
        author_name = str(spec.author).strip()[:100]
    income = _opening(spec.opening_income, "income")
    fund = _opening(spec.opening_fund, "fund")
    try:
        lines = ledger.check(spec.lines, filer)
    except ledger.LinesError as exc:
        raise LinesFileError(exc) from None
    draft = ledger.StatementDraft(
        compound_id=id_of(node),
        period=period,
        filer=filer,
        lines=tuple(lines),
        company_id=company_id,
        opening_income_fen=income,
        opening_fund_fen=fund,
        author_name=author_name,
    )
    return Resolved(draft, author_id)


class LinesFileError(LedgerFileError):
    """Some lines of the file were refused: every one of them, with its number."""

    def __init__(self, error: Any) -> None:
        self.bad = [(b.number, REASONS.get(b.reason, b.reason)) for b in error.bad]
        super().__init__(f"line {self.bad[0][0]}", self.bad[0][1])


def _say_error(path: Path, exc: LedgerFileError) -> None:
    if isinstance(exc, LinesFileError):
        for number, reason in exc.bad:
            print(f"line {number}: {reason}", file=sys.stderr)
    else:
        print(f"{exc.where}: {exc.reason}", file=sys.stderr)
    print(f"linli: {path}: nothing was filed", file=sys.stderr)


def cmd_ledger_file(args: argparse.Namespace) -> int:
    """File (and with --publish publish) the statement a YAML or CSV file describes, or with --corrects a
    correction of a published one; a bad file prints every bad line and changes nothing."""
    from bot.cli import _file_run
    from core import ledger, notify
    from core.permissions import SYSTEM
    from core.work import Work
    from db import people
    from db.ledger.lines import yuan

    run = _file_run(args)
    if run is None:
        return 2
    path, now = run.path, run.now
    with run.sessions() as session:
        try:
            if path.suffix.lower() == ".csv":
                if not (args.compound and args.period and args.filer):
                    raise LedgerFileError("file", "a CSV of lines needs --compound, --period and --filer")
                spec = StatementFile(
                    compound=args.compound,
                    period=args.period,
                    filer=args.filer,
                    author=int(args.author) if str(args.author or "").isdigit() else args.author,
                    opening_income=args.opening_income,
                    opening_fund=args.opening_fund,
                    lines=read_csv_lines(path),
                )
            else:
                spec = read_yaml(path)
            resolved = resolve(session, spec)
            actor = (
                people.actor(session, resolved.author_id, now.astimezone(run.settings.zone).date())
                if resolved.author_id
                else SYSTEM
            )
            work = Work(session, now, run.policy, via="cli")
            draft = resolved.draft
            if args.corrects is not None:
                old = ledger.statement(work, actor, args.corrects).summary
                if (old.compound_id, old.period.start, old.filer) != (
                    draft.compound_id,
                    draft.period.start,
                    draft.filer,
                ):
                    raise LedgerFileError(
                        "file", f"names another compound, period or filer than statement {args.corrects}"
                    )
                filed = ledger.correct(
                    work,
                    actor,
                    args.corrects,
                    args.note or "",
                    list(draft.lines),
                    draft.opening_income_fen,
                    draft.opening_fund_fen,
                )
            else:
                filed = ledger.draft_statement(work, actor, draft)
            published = ledger.publish(work, actor, filed.statement_id) if args.publish else None
            notify.publish(work)
        except LedgerFileError as exc:
            session.rollback()
            _say_error(path, exc)
            return 1
        except ledger.LinesError as exc:
            session.rollback()
            _say_error(path, LinesFileError(exc))
            return 1
        except ledger.LedgerError as exc:
            session.rollback()
            print(f"refused: {REFUSALS.get(exc.reason, exc.reason)}", file=sys.stderr)
            print(f"linli: {path}: nothing was filed", file=sys.stderr)
            return 1
        session.commit()
    sums = filed.totals
    state = "published" if published else "draft"
    print(
        f"statement #{filed.statement_id} ({draft.period.label()}, version {filed.version}, {state}): "
        f"{filed.lines} lines, income {yuan(sums.income_fen)}, expense {yuan(sums.expense_fen)} yuan"
    )
    if draft.filer == "committee":
        print(f"maintenance fund balance {yuan(sums.fund_balance_fen)} yuan")
    else:
        print(f"common-part income balance {yuan(sums.income_balance_fen)} yuan")
    if published is not None:
        print(f"published as notice #{published.notice_id} to {published.audience} owners and tenants")
    return 0


def add_ledger(sub: Any) -> None:
    """Register the subcommand on the `linli` parser's subparsers."""
    ledger = sub.add_parser(
        "ledger",
        help="statements of accounts (收支公示)",
        description="File compounds' statements of accounts (DESIGN §4.4).",
    )
    ledger_sub = ledger.add_subparsers(dest="ledger_command", required=True)
    file = ledger_sub.add_parser(
        "file",
        help="file the statement a YAML (or CSV) file describes",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
FILE is YAML with
  compound   names joined with '/', down to the compound
  period     2026Q3 (a quarter, the default kind), 2026H2, 2026-07, 2026 — or start: and end: dates
  filer      the property company's registered name, or "committee" (the maintenance fund)
  author     optional: a person id (who files with their own rights) or a name to record
  opening    optional: income: and fund: balances carried over, in yuan
  lines      a list of {category, amount (yuan, at most 2 decimals), side, note, project, poll}
  lines_csv  instead of lines: a CSV file beside the YAML
or FILE is a CSV of lines (header: category,amount[,side,note,project,poll]) with --compound, --period
and --filer. Categories are the keys of data/ledger_categories.yaml; side may be left out.

The file is taken whole or not at all: each bad line is printed as "line N: reason" (N is the N-th
entry of lines:, or the CSV's row with the header as row 1) and nothing is filed. Without --publish
the statement stays a draft; --publish publishes it as a 收支公示 notice to the compound's owners and
tenants. --corrects ID --note TEXT files the next version of published statement ID (it stays
visible) with a note of what changed.""",
    )
    file.add_argument("file", help="the statement's .yaml file, or a .csv of lines")
    file.add_argument("--publish", action="store_true", help="publish it now (default: keep a draft)")
    file.add_argument(
        "--corrects", type=int, default=None, metavar="ID", help="correct published statement ID"
    )
    file.add_argument("--note", default="", help="what the correction changed (required with --corrects)")
    file.add_argument("--compound", default="", help="CSV only: the compound (names joined with '/')")
    file.add_argument("--period", default="", help="CSV only: the period, e.g. 2026Q3")
    file.add_argument("--filer", default="", help="CSV only: the company's name, or committee")
    file.add_argument("--author", default="", help="CSV only: a person id or a name")
    file.add_argument("--opening-income", default="0", help="CSV only: common-part income carried over, yuan")
    file.add_argument("--opening-fund", default="0", help="CSV only: maintenance fund carried over, yuan")
    file.set_defaults(func=cmd_ledger_file)
