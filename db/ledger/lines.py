"""Checking the lines of a statement as typed or read from a file: every bad line is named by its number
and why, so a file is taken whole or not at all. Pure: plain values in, plain values out.

Amounts are read as yuan with at most two decimals ("1234.50", "1,234.5", "¥800") and kept in fen as
integers; the arithmetic is Decimal, never float.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from db.ledger.categories import SIDES, LedgerCatalog

MAX_NOTE = 200
MAX_PROJECT = 100
MAX_LINES = 500
MAX_FEN = 10**13  # a hundred billion yuan: beyond it an amount is a typing slip, not an account

# Why a line was refused (the words are the templates' and the CLI's).
REASONS = (
    "unknown_category",  # the category is not in data/ledger_categories.yaml
    "wrong_side",  # the side given is not the category's side
    "wrong_filer",  # a fund category in a company's statement, or the other way round
    "amount",  # not a positive number of yuan with at most two decimals
    "project_required",  # a maintenance-fund expense names no project
    "note_too_long",
    "project_too_long",
    "poll",  # the approving poll is not a whole number
    "too_many_lines",
)


@dataclass(frozen=True, slots=True)
class RawLine:
    """A line as given: its number in the file or the chat (for error messages), and its fields as text."""

    number: int
    category: str
    amount: str | int | float | Decimal | None
    side: str = ""  # optional: the category's side when empty
    note: str = ""
    project: str = ""
    poll: str | int | None = None


@dataclass(frozen=True, slots=True)
class LineDraft:
    """A checked line: its side, category, amount in fen (> 0), note, and for fund lines project and poll."""

    side: str
    category: str
    amount_fen: int
    note: str = ""
    project: str = ""
    poll_id: int | None = None
    vouchers: tuple[tuple[str, str], ...] = ()  # (channel, ref) photos


@dataclass(frozen=True, slots=True)
class BadLine:
    """A refused line: its number and the reason (one of REASONS)."""

    number: int
    reason: str


class LinesError(ValueError):
    """Some lines were refused; `bad` names each one with its reason, in order."""

    def __init__(self, bad: list[BadLine]) -> None:
        super().__init__("; ".join(f"line {b.number}: {b.reason}" for b in bad))
        self.bad = bad


# Digits (thousands may be grouped by commas: "1,234"), at most 12 of them, and at most two decimals.
_PLAIN_YUAN = re.compile(r"(?:[0-9]{1,3}(?:,[0-9]{3}){1,3}|[0-9]{1,12})(?:\.[0-9]{1,2})?", re.ASCII)


def parse_yuan(value: str | int | float | Decimal | None) -> int | None:
    """An amount in yuan as fen, or None when it is not a positive amount with at most two decimals.

    "1234.50" → 123450; "1,234.5" → 123450; "¥8" → 800; 0, -1, "1.234", "1e3", "abc" → None. A float (as YAML
    reads 12.5) is taken by its shortest decimal text, so 0.1 stays 10 fen."""
    if value is None or isinstance(value, bool):
        return None
    text = repr(value) if isinstance(value, float) else str(value)
    text = text.strip().replace("，", ",").replace(" ", "")
    text = text.removeprefix("¥").removeprefix("￥").removesuffix("元")
    # Only the plain written form: an exponent ("1e999997") would build a huge number or overflow.
    if _PLAIN_YUAN.fullmatch(text) is None:
        return None
    whole, _, cents = text.replace(",", "").partition(".")
    fen = int(whole) * 100 + int(cents.ljust(2, "0"))
    return fen if 0 < fen <= MAX_FEN else None


def yuan(fen: int) -> str:
    """Fen as yuan with two decimals and thousands separators ("1,234.50"); negative with a minus."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def check_line(raw: RawLine, catalog: LedgerCatalog, fund: bool) -> LineDraft | str:
    """A checked line, or the first reason it is refused; `fund` says whether the statement is the
    maintenance fund's (filed by the owners' committee) or the fees' (filed by the company)."""
    category = catalog.get(str(raw.category or "").strip())
    if category is None:
        return "unknown_category"
    side = str(raw.side or "").strip().lower()
    if side and (side not in SIDES or side != category.side):
        return "wrong_side"
    if category.fund != fund:
        return "wrong_filer"
    fen = parse_yuan(raw.amount)
    if fen is None:
        return "amount"
    note = str(raw.note or "").strip()
    if len(note) > MAX_NOTE:
        return "note_too_long"
    project = str(raw.project or "").strip()
    if len(project) > MAX_PROJECT:
        return "project_too_long"
    if category.fund and category.side == "expense" and not project:
        return "project_required"
    poll_id: int | None = None
    if raw.poll not in (None, ""):
        text = str(raw.poll).strip().lstrip("#")
        if not text.isdigit() or not 0 < int(text) < 2**31:
            return "poll"
        poll_id = int(text)
    return LineDraft(category.side, category.key, fen, note, project, poll_id)


def check_lines(raws: list[RawLine], catalog: LedgerCatalog, fund: bool) -> list[LineDraft]:
    """Every line checked; LinesError naming every bad line (by its number) if any is bad."""
    bad: list[BadLine] = []
    good: list[LineDraft] = []
    if len(raws) > MAX_LINES:
        raise LinesError([BadLine(raws[MAX_LINES].number, "too_many_lines")])
    for raw in raws:
        checked = check_line(raw, catalog, fund)
        if isinstance(checked, str):
            bad.append(BadLine(raw.number, checked))
        else:
            good.append(checked)
    if bad:
        raise LinesError(bad)
    return good
