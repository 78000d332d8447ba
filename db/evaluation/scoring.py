"""The score of a property company (DESIGN §4.5): a pure function over plain records, exact arithmetic.

`score(records, policy)` takes ticket records (or their counts, as the database aggregates them), the
owners' survey answers and the good and bad records, and returns an `Evaluation` holding every indicator
with its inputs (numerator, denominator, weight, points), the base, the records' part, the total and the
grade. No floats anywhere: points are Fractions, the total a Decimal rounded half up to 0.01.

How things count (the policy file says the weights and cut-offs):
- Only tickets in the categories the company answers for (`policy.categories`) count.
- 响应率 = accepted in time ÷ due to be accepted; 解决率 = resolved in time ÷ due to be resolved; 满意率 =
  (满意 + 基本满意) ÷ rated (unrated is left out, as in db.rates). A `rate` indicator gives
  weight × numerator ÷ denominator.
- overdue, escalated, reopened, repeat are shares of the tickets counted; a `share` indicator gives
  weight × (1 − numerator ÷ denominator): fewer is better.
- The survey: every aspect of every home answered 1–5; it gives weight × Σ(answer − 1) ÷ (4 × answers),
  so all 5s give the full weight and all 1s nothing. Only completed answers (all six aspects) count.
- Empty inputs: an indicator whose denominator is 0 gives `empty` × weight (the policy: the full weight
  for ticket indicators, so a compound without complaints is not punished — the result says "no cases";
  half for a survey nobody answered).
- Good records add their points, capped at `records.good.cap`; bad records subtract theirs, uncapped.
  A record whose appeal was upheld counts for nothing; one still under appeal counts.
- total = base + good − bad, kept within [min, max], rounded half up to 0.01; the grade is read from the
  rounded total, so 85.00 is AAA and 84.99 AA under the default cut-offs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from decimal import Decimal
from fractions import Fraction
from itertools import compress
from operator import attrgetter

from db.evaluation.policy import ASPECTS, EvaluationPolicy

SATISFIED = ("satisfied", "basically")
RATED = ("satisfied", "basically", "dissatisfied")
GOOD, BAD = "good", "bad"
PENDING, UPHELD, REJECTED = "pending", "upheld", "rejected"


@dataclass(frozen=True, slots=True)
class TicketRecord:
    """What the score needs of one ticket. `accepted_in_time`/`resolved_in_time`: None while the ticket is
    not yet due for that deadline (db.rates' rule), else whether it met it."""

    category: str
    accepted_in_time: bool | None = None
    resolved_in_time: bool | None = None
    rating: str = ""  # satisfied | basically | dissatisfied | ""
    overdue: bool = False  # open and past a deadline when evaluated
    escalated: bool = False  # climbed the ladder at least once
    reopened: bool = False  # reopened after a 不满意
    repeat: bool = False  # the home reported this category before in the half-year


@dataclass(frozen=True, slots=True)
class TicketCounts:
    """Ticket records counted: what the indicators' numerators and denominators are made of."""

    tickets: int = 0
    accept_due: int = 0
    accepted_in_time: int = 0
    resolve_due: int = 0
    resolved_in_time: int = 0
    rated: int = 0
    satisfied: int = 0
    overdue: int = 0
    escalated: int = 0
    reopened: int = 0
    repeat: int = 0

    def __add__(self, other: TicketCounts) -> TicketCounts:
        return TicketCounts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


@dataclass(frozen=True, slots=True)
class SurveyResponse:
    """One home's completed survey answer, 1–5 per aspect in ASPECTS order; `count` homes answered alike
    (the database hands identical answers over as one response with their count)."""

    answers: tuple[int, ...]
    count: int = 1


@dataclass(frozen=True, slots=True)
class RecordEntry:
    """A good or bad record as the score sees it: its kind, points and where its appeal stands."""

    kind: str  # good | bad
    points: int
    appeal: str = ""  # "" (none) | pending | upheld | rejected


@dataclass(frozen=True, slots=True)
class Records:
    """Everything a score is computed from; `counts` are ticket records already counted (by SQL)."""

    tickets: Iterable[TicketRecord] = ()
    counts: tuple[TicketCounts, ...] = ()
    survey: tuple[SurveyResponse, ...] = ()
    entries: tuple[RecordEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class Line:
    """One indicator in a result: its inputs and the points they earn (`empty`: the denominator was 0)."""

    key: str
    kind: str
    numerator: int
    denominator: int
    weight: Fraction
    points: Fraction
    empty: bool


@dataclass(frozen=True, slots=True)
class RecordPart:
    """Good or bad records in a result: how many count, their points, those removed by an upheld appeal,
    and the points that count (good: capped)."""

    count: int = 0
    points: int = 0
    removed: int = 0
    counted: Fraction = Fraction(0)


@dataclass(frozen=True, slots=True)
class AspectMean:
    """One aspect of the survey: the sum of its answers over `homes` homes (mean = total ÷ homes)."""

    aspect: str
    total: int
    homes: int

    @property
    def mean(self) -> Fraction | None:
        """The mean answer, or None when nobody answered."""
        return Fraction(self.total, self.homes) if self.homes else None


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A company's evaluation: every indicator with its inputs, the base, records, total and grade."""

    lines: tuple[Line, ...]
    cases: TicketCounts
    base: Fraction  # the indicators' points
    good: RecordPart
    bad: RecordPart
    aspects: tuple[AspectMean, ...]
    survey_homes: int
    exact: Fraction  # base + good − bad before the bounds and rounding
    total: Decimal  # within [min, max], rounded half up to 0.01
    grade: str
    no_cases: bool = field(default=False)

    def line(self, key: str) -> Line | None:
        """The indicator of this key, or None when the policy has none."""
        return next((line for line in self.lines if line.key == key), None)


_CATEGORY, _ACCEPTED, _RESOLVED, _RATING = (
    attrgetter(name) for name in ("category", "accepted_in_time", "resolved_in_time", "rating")
)
_FLAGS = ("overdue", "escalated", "reopened", "repeat")


def tally(tickets: Iterable[TicketRecord], categories: frozenset[str]) -> TicketCounts:
    """Count ticket records of the answered categories.

    Each count is a pass in C (map over an attribute getter, then list.count or sum) rather than a Python
    loop per record, so a million records are counted in a fraction of a second."""
    every = tickets if isinstance(tickets, (list, tuple)) else list(tickets)
    kinds = list(map(_CATEGORY, every))
    scope = every if set(kinds) <= categories else list(compress(every, map(categories.__contains__, kinds)))
    accepted = list(map(_ACCEPTED, scope))
    resolved = list(map(_RESOLVED, scope))
    ratings = list(map(_RATING, scope))
    in_time, late = accepted.count(True), accepted.count(False)
    resolved_in_time, resolved_late = resolved.count(True), resolved.count(False)
    satisfied = sum(ratings.count(r) for r in SATISFIED)
    return TicketCounts(
        tickets=len(scope),
        accept_due=in_time + late,
        accepted_in_time=in_time,
        resolve_due=resolved_in_time + resolved_late,
        resolved_in_time=resolved_in_time,
        rated=satisfied + ratings.count("dissatisfied"),
        satisfied=satisfied,
        **{name: sum(map(attrgetter(name), scope)) for name in _FLAGS},
    )


def _inputs(key: str, cases: TicketCounts, survey: tuple[int, int]) -> tuple[int, int]:
    """(numerator, denominator) of an indicator."""
    if key == "response":
        return cases.accepted_in_time, cases.accept_due
    if key == "resolution":
        return cases.resolved_in_time, cases.resolve_due
    if key == "satisfaction":
        return cases.satisfied, cases.rated
    if key == "survey":
        return survey
    return getattr(cases, key), cases.tickets  # overdue, escalated, reopened, repeat


def _points(kind: str, weight: Fraction, empty: Fraction, numerator: int, denominator: int) -> Fraction:
    if denominator == 0:
        return weight * empty
    share = Fraction(numerator, denominator)
    return weight * (1 - share) if kind == "share" else weight * share


def _records(entries: Iterable[RecordEntry], kind: str) -> tuple[int, int, int]:
    """(count, points, removed) of the records of a kind that count; an upheld appeal removes one."""
    count = points = removed = 0
    for entry in entries:
        if entry.kind != kind:
            continue
        if entry.appeal == UPHELD:
            removed += 1
            continue
        count += 1
        points += entry.points
    return count, points, removed


def round_total(value: Fraction) -> Decimal:
    """A score rounded half up to 0.01, as a Decimal with two places."""
    hundredths = value * 100
    rounded = (hundredths.numerator * 2 + hundredths.denominator) // (2 * hundredths.denominator)
    return Decimal(rounded).scaleb(-2).quantize(Decimal("0.01"))


def score(records: Records, policy: EvaluationPolicy) -> Evaluation:
    """The evaluation of one company (or one of its compounds) from plain records, under the policy."""
    cases = tally(records.tickets, policy.categories)
    for counts in records.counts:
        cases = cases + counts
    sums = [0] * len(ASPECTS)
    homes = 0
    for response in records.survey:
        if len(response.answers) != len(ASPECTS) or response.count <= 0:
            continue
        if any(not 1 <= a <= 5 for a in response.answers):
            continue  # out of the scale: the database never stores it; a bad input counts for nothing
        homes += response.count
        for n, answer in enumerate(response.answers):
            sums[n] += answer * response.count
    survey_inputs = (sum(sums) - len(ASPECTS) * homes, 4 * len(ASPECTS) * homes)
    lines = []
    for indicator in policy.indicators:
        numerator, denominator = _inputs(indicator.key, cases, survey_inputs)
        points = _points(indicator.kind, indicator.weight, indicator.empty, numerator, denominator)
        key, kind, weight = indicator.key, indicator.kind, indicator.weight
        lines.append(Line(key, kind, numerator, denominator, weight, points, not denominator))
    base = sum((line.points for line in lines), Fraction(0))
    good_count, good_points, good_removed = _records(records.entries, GOOD)
    bad_count, bad_points, bad_removed = _records(records.entries, BAD)
    good = RecordPart(good_count, good_points, good_removed, min(Fraction(good_points), policy.good_cap))
    bad = RecordPart(bad_count, bad_points, bad_removed, Fraction(bad_points))
    exact_total = base + good.counted - bad.counted
    total = round_total(min(max(exact_total, policy.minimum), policy.maximum))
    return Evaluation(
        lines=tuple(lines),
        cases=cases,
        base=base,
        good=good,
        bad=bad,
        aspects=tuple(AspectMean(a, s, homes) for a, s in zip(ASPECTS, sums, strict=True)),
        survey_homes=homes,
        exact=exact_total,
        total=total,
        grade=policy.grade(Fraction(total)),
        no_cases=cases.tickets == 0,
    )
