"""The three rates (DESIGN §4.1) on a hand-computed fixture, their boundaries, and report periods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from db.rates import Record, by_group, compute, percent
from db.reports import parse_period, report_rows, to_csv

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 11, 10, 0, 0, tzinfo=UTC)
DAY, HOUR = timedelta(days=1), timedelta(hours=1)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def ticket(**kw: object) -> Record:
    """A general ticket filed at T0: accept within a day, resolve within 7 days, unless told otherwise."""
    values: dict[str, object] = {
        "created_at": T0,
        "accept_due_at": T0 + DAY,
        "accepted_at": None,
        "resolve_due_at": T0 + 7 * DAY,
        "resolved_at": None,
    }
    values.update(kw)
    return Record(**values)  # type: ignore[arg-type]


# Hand-computed: see the comment on each line for how it counts (accept / resolve / rating).
FIXTURE = {
    # in time / in time / 满意
    "A": ticket(accepted_at=T0 + 2 * HOUR, resolved_at=T0 + 3 * DAY, rating="satisfied", state="closed",
                grid="一网格", category="water", compound="阳光花园"),
    # accepted late (an hour after the deadline) / resolved in time / 基本满意
    "B": ticket(accepted_at=T0 + DAY + HOUR, resolved_at=T0 + 5 * DAY, rating="basically", state="closed",
                grid="一网格", category="water", compound="阳光花园"),
    # in time / in time / never rated (closed unrated after 3 days): not satisfied, not in 满意率
    "C": ticket(accepted_at=T0 + HOUR, resolved_at=T0 + 2 * DAY, state="closed",
                grid="一网格", category="elevator", compound="阳光花园"),
    # reopened (不满意), not resolved again, its resolve deadline long past: due and missed; open, overdue
    "D": ticket(accepted_at=T0 + HOUR, rating="dissatisfied", state="reopened",
                grid="二网格", category="elevator", compound="和平里小区"),
    # accepted exactly at the deadline: in time; resolve deadline tomorrow: not due yet
    "E": ticket(created_at=NOW - DAY, accept_due_at=NOW - HOUR, accepted_at=NOW - HOUR,
                resolve_due_at=NOW + DAY, state="accepted",
                grid="二网格", category="water", compound="和平里小区"),
    # never accepted, accept deadline an hour ago: due and missed; open, overdue
    "F": ticket(created_at=NOW - 2 * HOUR, accept_due_at=NOW - HOUR, resolve_due_at=NOW + 5 * DAY,
                state="new", grid="二网格", category="water", compound="和平里小区"),
    # not accepted, deadline is exactly now: not due yet (it can still be accepted in time)
    "G": ticket(created_at=NOW - DAY, accept_due_at=NOW, resolve_due_at=NOW + 6 * DAY, state="new",
                grid="二网格", category="water", compound="和平里小区"),
    # withdrawn before its accept deadline: due for nothing
    "H": ticket(created_at=NOW - 2 * HOUR, accept_due_at=NOW + 22 * HOUR, resolve_due_at=NOW + 7 * DAY,
                ended_at=NOW - HOUR, state="withdrawn", category="heating", compound="阳光花园"),
    # reopened, then resolved again two days after the original promise: counts by that final resolution
    # (late); its final rating is 满意
    "I": ticket(accepted_at=T0 + HOUR, resolved_at=T0 + 9 * DAY, rating="satisfied", state="closed",
                grid="一网格", category="elevator", compound="阳光花园"),
    # waiting for the resident for 2 days: its resolve deadline (a day ago) moves on by 2 days, not due
    "J": ticket(accepted_at=T0 + 2 * HOUR, resolve_due_at=NOW - DAY, paused_at=NOW - 2 * DAY,
                state="waiting_for_resident", grid="二网格", category="water", compound="和平里小区"),
}  # fmt: skip


def test_the_three_rates_on_the_hand_computed_fixture() -> None:
    total = compute(FIXTURE.values(), NOW)
    # due to be accepted: A B C D E F I J (8); in time: A C D E I J (6) — B late, F never
    assert (total.accept_due, total.accepted_in_time) == (8, 6)
    assert total.response == Fraction(3, 4)
    # due to be resolved: A B C D I (5); in time: A B C (3) — D reopened and open, I resolved late
    assert (total.resolve_due, total.resolved_in_time) == (5, 3)
    assert total.resolution == Fraction(3, 5)
    # rated: A B D I (4); satisfied + basically: A B I (3); C never rated is left out, not satisfied
    assert (total.rated, total.satisfied, total.unrated) == (4, 3, 1)
    assert total.satisfaction == Fraction(3, 4)
    assert (total.filed, total.open, total.overdue) == (10, 5, 2)  # open: D E F G J; overdue: D F


def test_rates_by_grid_category_and_compound() -> None:
    grids = by_group(FIXTURE.values(), NOW, "grid")
    assert list(grids) == ["", "一网格", "二网格"]
    first, second, none = grids["一网格"], grids["二网格"], grids[""]
    assert (first.response, first.resolution, first.satisfaction) == (Fraction(3, 4), Fraction(3, 4), 1)
    assert (second.response, second.resolution, second.satisfaction) == (Fraction(3, 4), 0, 0)
    assert (second.open, second.overdue, first.unrated) == (5, 2, 1)
    assert (none.filed, none.response, none.resolution, none.satisfaction) == (1, None, None, None)
    categories = by_group(FIXTURE.values(), NOW, "category")
    # elevator: C D I — accepted in time 3/3, resolved in time C of C D I, rated D I, satisfied I
    assert categories["elevator"].response == 1
    assert categories["elevator"].resolution == Fraction(1, 3)
    assert categories["elevator"].satisfaction == Fraction(1, 2)
    compounds = by_group(FIXTURE.values(), NOW, "compound")
    assert compounds["阳光花园"].filed == 5
    assert compounds["和平里小区"].response == Fraction(3, 4)  # D E J in time, F missed; G not due


def test_accepted_or_resolved_exactly_at_the_deadline_is_in_time() -> None:
    due = T0 + DAY
    on_time = ticket(accepted_at=due, resolve_due_at=T0 + 2 * DAY, resolved_at=T0 + 2 * DAY, state="resolved")
    a_second_late = ticket(
        accepted_at=due + timedelta(seconds=1), resolve_due_at=T0 + 2 * DAY, resolved_at=T0 + 2 * DAY
    )
    assert compute([on_time], NOW).response == 1
    assert compute([on_time], NOW).resolution == 1
    assert compute([a_second_late], NOW).response == 0
    # not accepted: due once the deadline has passed, not at the deadline itself
    waiting = ticket(accept_due_at=NOW, resolve_due_at=NOW + DAY)
    assert compute([waiting], NOW).accept_due == 0
    assert compute([waiting], NOW + timedelta(microseconds=1)).accept_due == 1


def test_tickets_closed_unworked_count_only_for_deadlines_passed_while_open() -> None:
    withdrawn_late = ticket(
        ended_at=T0 + 2 * DAY, state="withdrawn"
    )  # accept deadline missed, then withdrawn
    duplicate_early = ticket(ended_at=T0 + HOUR, state="duplicate")
    rates = compute([withdrawn_late, duplicate_early], NOW)
    assert (rates.accept_due, rates.accepted_in_time, rates.resolve_due) == (1, 0, 0)
    assert (rates.open, rates.overdue) == (0, 0)


def test_no_denominator_means_no_rate() -> None:
    empty = compute([], NOW)
    assert (empty.response, empty.resolution, empty.satisfaction) == (None, None, None)
    assert percent(None) == ""


def test_percent_rounds_half_up_from_the_exact_fraction() -> None:
    assert percent(Fraction(2, 3)) == "66.7"
    assert percent(Fraction(1, 3)) == "33.3"
    assert percent(Fraction(1, 16)) == "6.3"  # 6.25 exactly: half up
    assert percent(Fraction(1)) == "100.0"
    assert percent(Fraction(0)) == "0.0"


def test_report_rows_and_csv() -> None:
    rows = report_rows(list(FIXTURE.values()), NOW, category_name={"water": "停水/漏水"}.get)  # type: ignore[arg-type]
    assert [r.group for r in rows][:1] == ["total"]
    lines = to_csv(rows).splitlines()
    assert lines[0].startswith("group,name,filed,open,overdue,unrated,accept_due,accepted_in_time,response")
    assert lines[1] == "total,合计,10,5,2,1,8,6,75.0,5,3,60.0,4,3,75.0,0"  # the last: hot spots opened
    assert "grid,—,1,0,0,0,0,0,,0,0,,0,0,,0" in lines  # no grid, nothing due: empty rates
    assert any(line.startswith("category,停水/漏水,") for line in lines)


def test_periods_are_local_months_or_recent_days() -> None:
    november = parse_period("2026-11", NOW, SHANGHAI)
    assert november is not None
    assert november.start == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 11-01 00:00 in Shanghai
    assert november.end == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    december = parse_period("2026-12", NOW, SHANGHAI)
    assert december is not None and december.end == datetime(2027, 1, 1, tzinfo=SHANGHAI)
    week = parse_period("7d", NOW, SHANGHAI)
    assert week is not None and (week.start, week.end, week.label) == (NOW - 7 * DAY, NOW, "7d")
    late_evening = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # already 12-01 01:00 in Shanghai
    current = parse_period("", late_evening, SHANGHAI)
    assert current is not None and current.label == "2026-12"
    for bad in ("2026-13", "november", "0d", "-7d", "2026-1-1"):
        assert parse_period(bad, NOW, SHANGHAI) is None, bad
