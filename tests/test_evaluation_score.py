"""The score of a property company: a pure function over plain records, exact, monotonic, graded at its
cut-offs exactly as the policy file says."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from db.evaluation import RecordEntry, Records, SurveyResponse, TicketRecord, default_policy, score
from db.evaluation.policy import DEFAULT_PATH, half_bounds, half_of, parse_policy
from db.evaluation.scoring import TicketCounts, round_total, tally

POLICY = default_policy()
GOOD_TICKET = TicketRecord("water", True, True, "satisfied")

tickets = st.builds(
    TicketRecord,
    category=st.sampled_from(["water", "elevator", "sanitation", "gas", "noise"]),
    accepted_in_time=st.sampled_from([None, True, False]),
    resolved_in_time=st.sampled_from([None, True, False]),
    rating=st.sampled_from(["", "satisfied", "basically", "dissatisfied"]),
    overdue=st.booleans(),
    escalated=st.booleans(),
    reopened=st.booleans(),
    repeat=st.booleans(),
)
answers = st.builds(SurveyResponse, st.tuples(*[st.integers(1, 5)] * 6), st.integers(1, 3))
entries = st.builds(
    RecordEntry,
    st.sampled_from(["good", "bad"]),
    st.integers(1, 20),
    st.sampled_from(["", "pending", "upheld", "rejected"]),
)
inputs = st.builds(
    lambda t, s, e: Records(tickets=tuple(t), survey=tuple(s), entries=tuple(e)),
    st.lists(tickets, max_size=30),
    st.lists(answers, max_size=5),
    st.lists(entries, max_size=8),
)


def _with(
    records: Records, *, ticket: TicketRecord | None = None, entry: RecordEntry | None = None
) -> Records:
    return Records(
        tickets=(*records.tickets, *((ticket,) if ticket else ())),
        survey=records.survey,
        entries=(*records.entries, *((entry,) if entry else ())),
    )


@settings(max_examples=200, deadline=None)
@given(inputs)
def test_one_more_satisfied_ticket_never_lowers_the_score(records: Records) -> None:
    before = score(records, POLICY)
    after = score(_with(records, ticket=GOOD_TICKET), POLICY)
    assert after.exact >= before.exact and after.total >= before.total


@settings(max_examples=200, deadline=None)
@given(inputs, st.integers(1, 20))
def test_one_more_bad_record_never_raises_the_score(records: Records, points: int) -> None:
    before = score(records, POLICY)
    after = score(_with(records, entry=RecordEntry("bad", points)), POLICY)
    assert after.exact <= before.exact and after.total <= before.total


@settings(max_examples=200, deadline=None)
@given(inputs, st.integers(1, 10))
def test_one_more_good_record_never_lowers_the_score(records: Records, points: int) -> None:
    before = score(records, POLICY)
    after = score(_with(records, entry=RecordEntry("good", points)), POLICY)
    assert after.total >= before.total


@settings(max_examples=200, deadline=None)
@given(inputs)
def test_the_score_stays_within_the_bounds_and_its_grade_matches_the_total(records: Records) -> None:
    result = score(records, POLICY)
    assert POLICY.minimum <= Fraction(result.total) <= POLICY.maximum
    assert result.total == result.total.quantize(Decimal("0.01"))
    assert result.grade == POLICY.grade(Fraction(result.total))
    assert result.base == sum((line.points for line in result.lines), Fraction(0))
    assert 0 <= result.base <= POLICY.base
    for line in result.lines:
        assert 0 <= line.numerator <= line.denominator or line.denominator == 0
        assert 0 <= line.points <= line.weight


@settings(max_examples=100, deadline=None)
@given(st.lists(tickets, max_size=40))
def test_counted_records_score_as_the_records_themselves(records: list[TicketRecord]) -> None:
    # The database hands counts over instead of records: the score must not tell them apart.
    counted = tally(records, POLICY.categories)
    assert score(Records(tickets=records), POLICY) == score(Records(counts=(counted,)), POLICY)


@pytest.mark.parametrize(
    ("total", "grade"),
    [
        ("120", "AAA"),
        ("85.01", "AAA"),
        ("85.00", "AAA"),
        ("84.99", "AA"),
        ("80.01", "AA"),
        ("80.00", "AA"),
        ("79.99", "A"),
        ("70.01", "A"),
        ("70.00", "A"),
        ("69.99", "B"),
        ("60.01", "B"),
        ("60.00", "B"),
        ("59.99", "C"),
        ("0.01", "C"),
        ("0", "C"),
    ],
)
def test_grades_at_each_cut_off(total: str, grade: str) -> None:
    assert POLICY.grade(Fraction(total)) == grade


@pytest.mark.parametrize(
    ("good", "bad", "total", "grade"),
    [
        # All tickets perfect and no survey: 80 − 5 (the survey's empty half) = 75.
        (10, 0, "85.00", "AAA"),
        (10, 1, "84.00", "AA"),
        (5, 0, "80.00", "AA"),
        (0, 5, "70.00", "A"),
        (0, 6, "69.00", "B"),
        (0, 15, "60.00", "B"),
        (0, 16, "59.00", "C"),
    ],
)
def test_the_grade_follows_the_rounded_total_at_the_boundaries(
    good: int, bad: int, total: str, grade: str
) -> None:
    entries = (*([RecordEntry("good", good)] if good else []), *([RecordEntry("bad", bad)] if bad else []))
    result = score(Records(tickets=[GOOD_TICKET] * 3, entries=entries), POLICY)
    assert (str(result.total), result.grade) == (total, grade)


def test_a_total_a_hair_under_a_cut_off_rounds_before_it_is_graded() -> None:
    # 84.995 is shown as 85.00, and the grade agrees with what is shown.
    assert round_total(Fraction(84995, 1000)) == Decimal("85.00")
    assert round_total(Fraction(84994, 1000)) == Decimal("84.99")
    assert POLICY.grade(Fraction(round_total(Fraction(84995, 1000)))) == "AAA"


def test_every_indicator_carries_its_inputs() -> None:
    records = Records(
        tickets=[
            TicketRecord("water", True, True, "satisfied"),
            TicketRecord("elevator", False, True, "basically", escalated=True),
            TicketRecord("elevator", True, False, "dissatisfied", overdue=True, reopened=True, repeat=True),
            TicketRecord("sanitation", None, None),
            TicketRecord("gas", False, False, "dissatisfied", overdue=True),  # not the company's to answer
        ],
        survey=(SurveyResponse((5, 5, 5, 5, 5, 5)), SurveyResponse((1, 1, 1, 1, 1, 1))),
    )
    result = score(records, POLICY)
    inputs = {line.key: (line.numerator, line.denominator, line.points) for line in result.lines}
    assert inputs == {
        "response": (2, 3, Fraction(20, 3)),
        "resolution": (2, 3, Fraction(10)),
        "satisfaction": (2, 3, Fraction(10)),
        "overdue": (1, 4, Fraction(15, 2)),
        "escalated": (1, 4, Fraction(15, 4)),
        "reopened": (1, 4, Fraction(15, 2)),
        "repeat": (1, 4, Fraction(15, 4)),
        "survey": (24, 48, Fraction(5)),
    }
    assert result.cases == TicketCounts(4, 3, 2, 3, 2, 3, 2, 1, 1, 1, 1)
    assert (
        result.base == Fraction(20, 3) + 10 + 10 + Fraction(15, 2) + Fraction(15, 4) * 2 + Fraction(15, 2) + 5
    )
    assert result.total == round_total(result.base)
    assert [a.mean for a in result.aspects] == [Fraction(3)] * 6


def test_no_cases_scores_by_the_policys_rule_for_empty_inputs() -> None:
    result = score(Records(), POLICY)
    assert result.no_cases
    assert all(line.empty for line in result.lines)
    # Every ticket indicator gives its full weight (no complaints is not punished); the survey half.
    assert result.base == 70 + 5
    assert (result.total, result.grade) == (Decimal("75.00"), "A")


def test_good_records_are_capped_bad_ones_are_not_and_an_upheld_appeal_removes_a_record() -> None:
    good = tuple(RecordEntry("good", 10) for _ in range(6))
    result = score(Records(tickets=[GOOD_TICKET], entries=good), POLICY)
    assert (result.good.points, result.good.counted) == (60, 40)
    assert result.total == Decimal("115.00")
    bad = tuple(RecordEntry("bad", 20) for _ in range(5))
    result = score(Records(tickets=[GOOD_TICKET], entries=bad), POLICY)
    assert result.bad.counted == 100 and result.total == Decimal("0.00") and result.exact == -25
    appealed = (
        RecordEntry("bad", 20, "upheld"),
        RecordEntry("bad", 5, "pending"),
        RecordEntry("bad", 3, "rejected"),
    )
    result = score(Records(tickets=[GOOD_TICKET], entries=appealed), POLICY)
    assert (result.bad.count, result.bad.points, result.bad.removed) == (2, 8, 1)


def test_half_years_run_on_shanghai_time() -> None:
    from datetime import UTC, datetime

    start, end = half_bounds("2026H2", POLICY.zone)
    assert start == datetime(2026, 6, 30, 16, 0, tzinfo=UTC)
    assert end == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    assert half_of(datetime(2026, 6, 30, 16, 0, tzinfo=UTC), POLICY.zone) == "2026H2"
    assert half_of(datetime(2026, 6, 30, 15, 59, tzinfo=UTC), POLICY.zone) == "2026H1"


def _raw() -> dict[str, object]:
    return yaml.safe_load(Path(DEFAULT_PATH).read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda raw: raw.update(base=79), "add up to 80, not the base 79"),
        (lambda raw: raw["indicators"][0].update(weight=10.5), "must be an integer or a fraction"),
        (lambda raw: raw["indicators"][0].update(key="speed"), "key 'speed' must be one of"),
        (lambda raw: raw["indicators"][0].update(kind="share"), "must be of kind 'rate'"),
        (lambda raw: raw["indicators"][1].update(key="response"), "appears twice"),
        (lambda raw: raw["indicators"][0].update(empty="3/2"), "empty must lie between 0 and 1"),
        (lambda raw: raw.update(categories=["water", "lava"]), "unknown lava"),
        (lambda raw: raw["grades"][1].update({"from": 90}), "cut-offs must go down"),
        (lambda raw: raw["grades"][-1].update({"from": 10}), "lowest grade must start at min"),
        (lambda raw: raw["records"]["bad"].update(points=[0, 5]), "0 < lowest"),
        (lambda raw: raw.update(zone="Mars/Olympus"), "is not a time zone"),
        (lambda raw: raw.update(period="quarter"), "period must be half-year"),
        (lambda raw: raw["survey"].update(remind_before="20d"), "longer than remind_before"),
    ],
)
def test_a_bad_policy_file_is_refused_naming_the_entry(change, message: str) -> None:  # type: ignore[no-untyped-def]
    raw = _raw()
    change(raw)
    with pytest.raises(ValueError, match=message):
        parse_policy(raw, "policy.yaml")


def test_the_shipped_policy_loads() -> None:
    assert parse_policy(_raw()) == POLICY
    assert POLICY.base == 80 and POLICY.good_cap == 40 and POLICY.maximum == 120
