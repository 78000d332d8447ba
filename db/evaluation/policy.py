"""The evaluation policy (data/evaluation_policy.yaml): indicators and weights, the base, records, grades and
their cut-offs, the categories a company answers for, the half-year period and the survey's timing.

Every number is exact: integers, or fractions written "1/2" (a float in the file is refused, so no score
ever depends on binary rounding). `load_policy` checks the whole file and raises ValueError naming the
first bad entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from db.categories import load_catalog
from db.sla import parse_duration

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "data" / "evaluation_policy.yaml"
CATEGORIES_PATH = DEFAULT_PATH.parent / "categories.yaml"
KINDS = ("rate", "share", "survey")
# The indicators the score knows how to fill, and the kind each must have.
INDICATOR_KINDS = {
    "response": "rate",
    "resolution": "rate",
    "satisfaction": "rate",
    "overdue": "share",
    "escalated": "share",
    "reopened": "share",
    "repeat": "share",
    "survey": "survey",
}
# The six aspects of the owners' survey, in the order they are asked (column names of survey_answer).
ASPECTS = ("security", "cleaning", "greening", "repairs", "fees", "attitude")
SCALE = (1, 5)
HALF = re.compile(r"^(\d{4})H([12])$")


@dataclass(frozen=True, slots=True)
class Indicator:
    """One indicator of the base: its key, kind, weight (points) and the share of it given when empty."""

    key: str
    kind: str
    weight: Fraction
    empty: Fraction


@dataclass(frozen=True, slots=True)
class Grade:
    """A grade and the lowest total that earns it."""

    name: str
    cutoff: Fraction


@dataclass(frozen=True, slots=True)
class EvaluationPolicy:
    """The whole evaluation policy, checked."""

    indicators: tuple[Indicator, ...]
    base: Fraction
    categories: frozenset[str]
    good_points: tuple[int, int]
    good_cap: Fraction
    bad_points: tuple[int, int]
    minimum: Fraction
    maximum: Fraction
    grades: tuple[Grade, ...]  # from the highest cut-off down; the last one's cut-off is `minimum`
    zone: ZoneInfo
    survey_days: int = 14
    remind_before: timedelta = timedelta(days=3)

    def grade(self, total: Fraction) -> str:
        """The grade of a (rounded) total: the first from the top whose cut-off it reaches."""
        for grade in self.grades:
            if total >= grade.cutoff:
                return grade.name
        return self.grades[-1].name


def exact(value: object, where: str) -> Fraction:
    """A number of the policy file as a Fraction: an integer, or a string "n/d" or "12.5"; floats refused."""
    if isinstance(value, (bool, float)):
        raise ValueError(f'{where}: {value!r} must be an integer or a fraction written like "1/2"')
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, str):
        try:
            return Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            pass
    raise ValueError(f"{where}: {value!r} is not a number")


def _int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}: {value!r} must be a whole number")
    return value


def _indicator(entry: Any, where: str, seen: set[str]) -> Indicator:
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: must be a mapping with key, kind, weight, empty")
    key = str(entry.get("key", ""))
    if key not in INDICATOR_KINDS:
        raise ValueError(f"{where}: key {key!r} must be one of {', '.join(INDICATOR_KINDS)}")
    if key in seen:
        raise ValueError(f"{where}: indicator {key!r} appears twice")
    seen.add(key)
    kind = str(entry.get("kind", ""))
    if kind != INDICATOR_KINDS[key]:
        raise ValueError(f"{where}: indicator {key!r} must be of kind {INDICATOR_KINDS[key]!r}, not {kind!r}")
    weight = exact(entry.get("weight"), f"{where}: weight")
    if weight < 0:
        raise ValueError(f"{where}: weight must not be negative")
    empty = exact(entry.get("empty", 1), f"{where}: empty")
    if not 0 <= empty <= 1:
        raise ValueError(f"{where}: empty must lie between 0 and 1")
    return Indicator(key, kind, weight, empty)


def _range(raw: Any, where: str) -> tuple[int, int]:
    if not isinstance(raw, list) or len(raw) != 2:
        raise ValueError(f"{where}: must be [lowest, highest]")
    low, high = _int(raw[0], where), _int(raw[1], where)
    if not 0 < low <= high:
        raise ValueError(f"{where}: must be whole points with 0 < lowest ≤ highest")
    return low, high


def parse_policy(raw: Any, where: str = "evaluation policy") -> EvaluationPolicy:
    """Check a policy read from YAML; raises ValueError naming the first bad entry."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: must be a mapping")
    if raw.get("period", "half-year") != "half-year":
        raise ValueError(f"{where}: period must be half-year")
    try:
        zone = ZoneInfo(str(raw.get("zone", "Asia/Shanghai")))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{where}: zone {raw.get('zone')!r} is not a time zone") from None
    known = set(load_catalog(CATEGORIES_PATH).by_key)  # categories must name real ones
    categories = raw.get("categories") or []
    if not isinstance(categories, list) or not categories:
        raise ValueError(f"{where}: categories must list the category keys a company answers for")
    unknown = [c for c in categories if c not in known]
    if unknown:
        raise ValueError(f"{where}: categories: unknown {', '.join(map(str, unknown))}")
    seen: set[str] = set()
    indicators = tuple(
        _indicator(entry, f"{where}: indicator {n}", seen)
        for n, entry in enumerate(raw.get("indicators") or [], start=1)
    )
    if not indicators:
        raise ValueError(f"{where}: indicators are missing")
    base = exact(raw.get("base"), f"{where}: base")
    total_weight = sum((i.weight for i in indicators), Fraction(0))
    if total_weight != base:
        raise ValueError(f"{where}: the indicators' weights add up to {total_weight}, not the base {base}")
    records = raw.get("records") or {}
    good, bad = records.get("good") or {}, records.get("bad") or {}
    good_points = _range(good.get("points"), f"{where}: records.good.points")
    bad_points = _range(bad.get("points"), f"{where}: records.bad.points")
    good_cap = exact(good.get("cap", 0), f"{where}: records.good.cap")
    if good_cap < 0:
        raise ValueError(f"{where}: records.good.cap must not be negative")
    minimum = exact(raw.get("min", 0), f"{where}: min")
    maximum = exact(raw.get("max", base + good_cap), f"{where}: max")
    if not minimum < maximum:
        raise ValueError(f"{where}: min must be below max")
    grades: list[Grade] = []
    for n, entry in enumerate(raw.get("grades") or [], start=1):
        if not isinstance(entry, dict) or not str(entry.get("grade", "")).strip():
            raise ValueError(f"{where}: grade {n} must name a grade and its cut-off (from)")
        cutoff = exact(entry.get("from"), f"{where}: grade {n} from")
        if grades and cutoff >= grades[-1].cutoff:
            raise ValueError(f"{where}: grade {n}: cut-offs must go down from the top grade")
        grades.append(Grade(str(entry["grade"]).strip(), cutoff))
    if not grades:
        raise ValueError(f"{where}: grades are missing")
    if grades[-1].cutoff > minimum:
        raise ValueError(f"{where}: the lowest grade must start at min ({minimum}) so every total has one")
    if len({g.name for g in grades}) != len(grades):
        raise ValueError(f"{where}: a grade appears twice")
    survey = raw.get("survey") or {}
    days = _int(survey.get("days", 14), f"{where}: survey.days")
    remind = parse_duration(survey.get("remind_before", "3d"))
    if days <= 0 or remind >= timedelta(days=days):
        raise ValueError(f"{where}: survey: days must be positive and longer than remind_before")
    return EvaluationPolicy(
        indicators=indicators,
        base=base,
        categories=frozenset(categories),
        good_points=good_points,
        good_cap=good_cap,
        bad_points=bad_points,
        minimum=minimum,
        maximum=maximum,
        grades=tuple(grades),
        zone=zone,
        survey_days=days,
        remind_before=remind,
    )


def load_policy(path: Path = DEFAULT_PATH) -> EvaluationPolicy:
    """Read and check the policy file; a bad entry raises ValueError naming the file and the entry."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    return parse_policy(raw, str(path))


@cache
def default_policy() -> EvaluationPolicy:
    """The policy in data/evaluation_policy.yaml, read once."""
    return load_policy(DEFAULT_PATH)


# --- the half-year --------------------------------------------------------------------------------------


def parse_half(text: str) -> tuple[int, int]:
    """`2026H2` as (2026, 2); anything else raises ValueError."""
    match = HALF.match(text.strip().upper())
    if not match:
        raise ValueError(f"half-year {text!r} must look like 2026H1 or 2026H2")
    return int(match.group(1)), int(match.group(2))


def half_days(half: str) -> tuple[date, date]:
    """The first and last day of a half-year: H1 = 1 Jan – 30 Jun, H2 = 1 Jul – 31 Dec."""
    year, part = parse_half(half)
    return (date(year, 1, 1), date(year, 6, 30)) if part == 1 else (date(year, 7, 1), date(year, 12, 31))


def half_bounds(half: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The half-year as [start, end) moments in the zone (midnight of its first day, of the next's)."""
    first, last = half_days(half)
    start = datetime(first.year, first.month, first.day, tzinfo=zone)
    following = last + timedelta(days=1)
    return start, datetime(following.year, following.month, following.day, tzinfo=zone)


def half_of(moment: datetime, zone: ZoneInfo) -> str:
    """The half-year a moment falls in, in the zone: `2026H2`."""
    local = moment.astimezone(zone)
    return f"{local.year}H{1 if local.month <= 6 else 2}"
