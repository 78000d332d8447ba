"""The rules of statements of accounts over plain values: lines checked with their numbers, amounts in
fen by Decimal, totals and balances, periods, the diff of two versions; and that a published version is
never changed (DESIGN §4.4)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.bootstrap import App
from db.ledger import statements
from db.ledger.categories import default_catalog, load_ledger_catalog
from db.ledger.lines import BadLine, LineDraft, LinesError, RawLine, check_lines, parse_yuan, yuan
from db.ledger.periods import PeriodError, late_at, parse_period, previous_quarter, quarter_of
from db.ledger.statements import LedgerError
from db.ledger.totals import diff, totals
from tests.support.ledger import SUNSHINE, node_id

CATALOG = default_catalog()
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


# --- amounts -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("1234.50", 123450),
        ("1234.5", 123450),
        ("1,234.56", 123456),
        ("12,345.6", 1234560),
        ("¥8", 800),
        ("0.01", 1),
        ("12元", 1200),
        (12, 1200),
        (0.1, 10),  # YAML's float 0.1 is read by its decimal text, not as 0.1000000000000000055…
        (Decimal("99.99"), 9999),
    ],
)
def test_yuan_become_fen_exactly(text: object, fen: int) -> None:
    assert parse_yuan(text) == fen  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "-1",
        "1.234",
        "abc",
        "",
        None,
        "NaN",
        "Infinity",
        "1e3.5",
        True,
        "0.00",
        "1e3",
        "1E3",
        "1e999997",
        "1e1000000",
        "-5",
        "1,2,3",
        "1234567890123",
    ],
)
def test_amounts_that_are_not_positive_yuan_with_two_decimals_are_refused(text: object) -> None:
    assert parse_yuan(text) is None  # type: ignore[arg-type]


@given(st.integers(min_value=1, max_value=10**12))
def test_fen_written_as_yuan_read_back_the_same(fen: int) -> None:
    assert parse_yuan(yuan(fen)) == fen


# --- lines -------------------------------------------------------------------------------------------


def test_every_bad_line_is_named_with_its_number_and_reason() -> None:
    raws = [
        RawLine(1, "parking", "100"),
        RawLine(2, "nonsense", "100"),
        RawLine(3, "parking", "100", side="expense"),
        RawLine(4, "cleaning", "1.005"),
        RawLine(5, "fund_use", "100", project="电梯"),
        RawLine(6, "ads", "10", note="长" * 201),
        RawLine(7, "rent", "10", side="sideways"),
    ]
    with pytest.raises(LinesError) as caught:
        check_lines(raws, CATALOG, fund=False)
    assert caught.value.bad == [
        BadLine(2, "unknown_category"),
        BadLine(3, "wrong_side"),
        BadLine(4, "amount"),
        BadLine(5, "wrong_filer"),
        BadLine(6, "note_too_long"),
        BadLine(7, "wrong_side"),
    ]
    assert "line 2: unknown_category" in str(caught.value)


def test_fund_lines_need_a_project_for_spending_and_may_name_the_poll() -> None:
    with pytest.raises(LinesError) as caught:
        check_lines([RawLine(1, "fund_interest", "5"), RawLine(2, "fund_use", "500")], CATALOG, fund=True)
    assert caught.value.bad == [BadLine(2, "project_required")]
    good = check_lines([RawLine(1, "fund_use", "500", project="1栋电梯", poll="#12")], CATALOG, fund=True)
    assert good == [LineDraft("expense", "fund_use", 50000, "", "1栋电梯", 12)]
    with pytest.raises(LinesError) as caught:
        check_lines([RawLine(9, "fund_use", "500", project="x", poll="twelve")], CATALOG, fund=True)
    assert caught.value.bad == [BadLine(9, "poll")]


def test_the_side_is_the_categorys_when_left_out() -> None:
    lines = check_lines(
        [RawLine(1, "parking", "1"), RawLine(2, "cleaning", "2", note=" 保洁 ")], CATALOG, False
    )
    assert [(line.side, line.amount_fen, line.note) for line in lines] == [
        ("income", 100, ""),
        ("expense", 200, "保洁"),
    ]


def test_a_categories_file_with_a_bad_entry_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("- {key: a, zh_CN: 甲, side: both, fund: false}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="entry 1 \\(a\\): side"):
        load_ledger_catalog(path)
    path.write_text(
        "- {key: a, zh_CN: 甲, side: income, fund: false}\n- {key: a, zh_CN: 乙, side: income, fund: false}\n"
    )
    with pytest.raises(ValueError, match="unique"):
        load_ledger_catalog(path)
    assert all(c.names["en"] for c in CATALOG.ordered)
    assert {c.side for c in CATALOG.of("expense", True)} == {"expense"}


# --- totals and balances -----------------------------------------------------------------------------


def test_totals_per_side_and_category_and_the_two_balances_in_fen() -> None:
    lines = [
        LineDraft("income", "parking", 345670),
        LineDraft("income", "service_fee", 12000050),
        LineDraft("expense", "cleaning", 800000),
        LineDraft("income", "parking", 30),
        LineDraft("income", "fund_interest", 1000),
        LineDraft("expense", "fund_use", 50000, project="电梯"),
    ]
    sums = totals(lines, CATALOG, opening_income_fen=100000, opening_fund_fen=-500)
    assert sums.income_fen == 345670 + 12000050 + 30 + 1000
    assert sums.expense_fen == 850000
    assert sums.by_category == (
        ("income", "service_fee", 12000050),
        ("income", "parking", 345700),
        ("income", "fund_interest", 1000),
        ("expense", "cleaning", 800000),
        ("expense", "fund_use", 50000),
    )
    assert sums.income_balance_fen == 100000 + 12000050 + 345700 - 800000
    assert sums.fund_balance_fen == -500 + 1000 - 50000
    assert sums.net_fen == sums.income_fen - sums.expense_fen


@given(st.lists(st.tuples(st.sampled_from(["parking", "cleaning", "fund_interest"]), st.integers(1, 10**9))))
def test_the_balances_add_up_to_the_openings_and_the_net(items: list[tuple[str, int]]) -> None:
    lines = [LineDraft(CATALOG.by_key[k].side, k, fen) for k, fen in items]
    sums = totals(lines, CATALOG, 7, 11)
    assert sums.income_balance_fen + sums.fund_balance_fen == 7 + 11 + sums.net_fen
    assert sum(fen for _, _, fen in sums.by_category) == sums.income_fen + sums.expense_fen


# --- periods -----------------------------------------------------------------------------------------


def test_periods_by_name_and_by_dates() -> None:
    q3 = parse_period("2026Q3")
    assert (q3.start, q3.end, q3.label()) == (date(2026, 7, 1), date(2026, 9, 30), "2026Q3")
    assert parse_period("2026h1").end == date(2026, 6, 30)
    assert parse_period("2026-02").end == date(2026, 2, 28)
    assert parse_period("2026").label() == "2026"
    odd = parse_period("2026-07-15~2026-08-14")
    assert odd.label() == "2026-07-15~2026-08-14"
    assert parse_period("2026-10-01..2026-12-31").label() == "2026Q4"
    for bad in ("2026Q5", "Q3", "2026-13", "2026-09-01~2026-08-01", "2026-01-01~2027-06-30"):
        with pytest.raises(PeriodError):
            parse_period(bad)
    assert quarter_of(date(2026, 11, 20)).label() == "2026Q4"
    assert previous_quarter(date(2026, 1, 5)).label() == "2025Q4"


def test_a_quarter_is_late_thirty_days_after_midnight_local_time() -> None:
    from zoneinfo import ZoneInfo

    late = late_at(parse_period("2026Q4"), ZoneInfo("Asia/Shanghai"))
    assert late == datetime(2027, 1, 30, 16, 0, tzinfo=UTC)


# --- versions ----------------------------------------------------------------------------------------


def _line(seq: int, category: str, fen: int, note: str = "") -> statements.LedgerLine:
    side = CATALOG.by_key[category].side
    return statements.LedgerLine(
        statement_id=1, seq=seq, side=side, category=category, amount_fen=fen, note=note
    )


def test_the_diff_pairs_lines_by_number() -> None:
    before = [_line(1, "parking", 100), _line(2, "cleaning", 50), _line(3, "ads", 7)]
    after = [_line(1, "parking", 120), _line(2, "cleaning", 50, "发票"), _line(4, "rent", 9)]
    found = diff(before, after, (0, 0), (10, 0))
    assert [(c.seq, c.kind, c.fields) for c in found.changes] == [
        (1, "changed", ("amount_fen",)),
        (2, "changed", ("note",)),
        (3, "removed", ()),
        (4, "added", ()),
    ]
    assert found.changes[0].before_fen == 100 and found.changes[0].after_fen == 120
    assert found.opening_changed == ("opening_income_fen",)
    assert (found.count("added"), found.count("removed"), found.count("changed")) == (1, 1, 2)
    assert diff(before, before).empty


def test_a_published_version_is_never_changed_and_a_correction_is_a_new_one(app: App) -> None:
    compound = node_id(app, SUNSHINE)
    period = parse_period("2026Q3")
    with app.sessions() as session:
        first = statements.create(
            session,
            compound,
            period,
            "company",
            1,
            None,
            "",
            0,
            0,
            [LineDraft("income", "parking", 100)],
            NOW,
        )
        statements.replace_lines(session, first, [LineDraft("income", "parking", 200)])  # a draft may change
        statements.publish(session, first, None, NOW)
        line = statements.lines_of(session, first.id or 0)[0]
        for change in (
            lambda: statements.replace_lines(session, first, []),
            lambda: statements.add_line(session, first, LineDraft("income", "ads", 1)),
            lambda: statements.remove_line(session, first, line),
            lambda: statements.add_voucher(session, first, line, "web", "x.jpg"),
            lambda: statements.publish(session, first, None, NOW),
        ):
            with pytest.raises(LedgerError) as caught:
                change()
            assert caught.value.reason == "published"
        with pytest.raises(LedgerError) as caught:
            statements.create(session, compound, period, "company", 1, None, "", 0, 0, [], NOW)
        assert caught.value.reason == "exists"
        with pytest.raises(LedgerError) as caught:
            statements.correct(session, first, " ", None, "", None, None, [], NOW)
        assert caught.value.reason == "note"
        second = statements.correct(
            session,
            first,
            "停车费以票据为准",
            None,
            "",
            None,
            None,
            [LineDraft("income", "parking", 250)],
            NOW,
        )
        assert (second.version, second.supersedes, second.state) == (2, first.id, "draft")
        with pytest.raises(LedgerError) as caught:
            statements.correct(session, second, "x", None, "", None, None, [], NOW)
        assert caught.value.reason == "not_published"
        statements.publish(session, second, None, NOW)
        with pytest.raises(LedgerError) as caught:
            statements.correct(session, first, "again", None, "", None, None, [], NOW)
        assert caught.value.reason == "superseded"
        changes = statements.changes(session, second)
        assert changes is not None and [
            (c.seq, c.kind, c.before_fen, c.after_fen) for c in changes.changes
        ] == [(1, "changed", 200, 250)]
        assert [v.version for v in statements.versions(session, compound, period.start, "company")] == [1, 2]
        assert statements.lines_of(session, first.id or 0)[0].amount_fen == 200  # untouched
        with pytest.raises(LedgerError) as caught:
            statements.publish(
                session,
                statements.create(session, compound, period, "committee", None, None, "", 0, 0, [], NOW),
                None,
                NOW,
            )
        assert caught.value.reason == "empty"
