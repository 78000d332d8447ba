"""Totals, balances and the difference between two versions of a statement, computed from its lines
(never typed). Pure: plain values in fen in, plain values out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from db.ledger.categories import LedgerCatalog


class Line(Protocol):
    """What totals and diffs read of a line (a LineDraft, a LedgerLine, a view)."""

    side: str
    category: str
    amount_fen: int
    note: str
    project: str


class Numbered(Line, Protocol):
    """A line with its place in the statement."""

    seq: int


@dataclass(frozen=True, slots=True)
class Totals:
    """A statement's totals in fen: per side, per category (in the categories file's order), and the
    balances of the common-part income and of the maintenance fund (opening + income − expense)."""

    income_fen: int
    expense_fen: int
    by_category: tuple[tuple[str, str, int], ...]  # (side, category key, fen)
    fund_income_fen: int
    fund_expense_fen: int
    opening_income_fen: int
    opening_fund_fen: int
    income_balance_fen: int
    fund_balance_fen: int
    net_fen: int = field(default=0)  # income − expense, over all lines


def totals(
    lines: Iterable[Line], catalog: LedgerCatalog, opening_income_fen: int = 0, opening_fund_fen: int = 0
) -> Totals:
    """Sum the lines per side and category, and the two balances; fund categories count to the fund."""
    sums: dict[tuple[str, str], int] = {}
    common = {"income": 0, "expense": 0}
    fund = {"income": 0, "expense": 0}
    for line in lines:
        sums[(line.side, line.category)] = sums.get((line.side, line.category), 0) + line.amount_fen
        category = catalog.get(line.category)
        (fund if category is not None and category.fund else common)[line.side] += line.amount_fen
    ordered = sorted(sums.items(), key=lambda item: (item[0][0] != "income", catalog.order(item[0][1])))
    income = common["income"] + fund["income"]
    expense = common["expense"] + fund["expense"]
    return Totals(
        income_fen=income,
        expense_fen=expense,
        by_category=tuple((side, key, fen) for (side, key), fen in ordered),
        fund_income_fen=fund["income"],
        fund_expense_fen=fund["expense"],
        opening_income_fen=opening_income_fen,
        opening_fund_fen=opening_fund_fen,
        income_balance_fen=opening_income_fen + common["income"] - common["expense"],
        fund_balance_fen=opening_fund_fen + fund["income"] - fund["expense"],
        net_fen=income - expense,
    )


@dataclass(frozen=True, slots=True)
class Change:
    """One line's change between two versions, paired by seq: added, removed, or changed (and what)."""

    seq: int
    kind: str  # added | removed | changed
    fields: tuple[str, ...] = ()  # for changed: side, category, amount_fen, note, project
    before_fen: int | None = None
    after_fen: int | None = None


@dataclass(frozen=True, slots=True)
class Diff:
    """What a correction changed: lines added, removed and changed (by seq), and the openings."""

    changes: tuple[Change, ...]
    opening_changed: tuple[str, ...] = ()  # opening_income_fen | opening_fund_fen

    @property
    def empty(self) -> bool:
        """Whether nothing changed at all."""
        return not self.changes and not self.opening_changed

    def count(self, kind: str) -> int:
        """How many lines were added, removed or changed."""
        return sum(1 for c in self.changes if c.kind == kind)


COMPARED = ("side", "category", "amount_fen", "note", "project")


def diff(
    before: Sequence[Numbered],
    after: Sequence[Numbered],
    openings_before: tuple[int, int] = (0, 0),
    openings_after: tuple[int, int] = (0, 0),
) -> Diff:
    """The changes from one version's lines to the next, paired by seq; openings are (income, fund)."""
    old = {line.seq: line for line in before}
    new = {line.seq: line for line in after}
    changes: list[Change] = []
    for seq in sorted(old.keys() | new.keys()):
        a, b = old.get(seq), new.get(seq)
        if a is None and b is not None:
            changes.append(Change(seq, "added", after_fen=b.amount_fen))
        elif b is None and a is not None:
            changes.append(Change(seq, "removed", before_fen=a.amount_fen))
        elif a is not None and b is not None:
            fields = tuple(f for f in COMPARED if getattr(a, f) != getattr(b, f))
            if fields:
                changes.append(Change(seq, "changed", fields, a.amount_fen, b.amount_fen))
    opening = tuple(
        name
        for name, x, y in zip(
            ("opening_income_fen", "opening_fund_fen"), openings_before, openings_after, strict=True
        )
        if x != y
    )
    return Diff(tuple(changes), opening)
