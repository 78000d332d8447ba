"""The three rates of DESIGN §4.1 (响应率, 解决率, 满意率) and ticket counts, over plain ticket records.

How tickets count (all comparisons against the promise made at filing, `accept_due_at` and
`resolve_due_at`, which pauses for the resident extend):

- 响应率 = tickets accepted by their accept deadline ÷ tickets due to be accepted. A ticket is due to be
  accepted once it has been accepted, or once its accept deadline has passed (strictly: at the deadline
  itself it can still be accepted in time). Accepted exactly at the deadline counts as in time.
- 解决率 = tickets resolved by their resolve deadline ÷ tickets due to be resolved, likewise.
- A ticket waiting for the resident has its deadlines moved on by the time waited so far, as they will
  be when the resident answers; a ticket withdrawn or closed as a duplicate before a deadline passed is not
  due for that deadline (nobody could act on it any more), one closed after it is due and missed it.
- A reopened ticket (the resident was dissatisfied) counts by its final resolution: reopening clears
  `resolved_at`, so until it is resolved again it is an unresolved ticket past or before its original
  resolve deadline, and when it is resolved again the new `resolved_at` is judged against that deadline.
  Its rating is the latest one given: 不满意 until the resident rates the new result.
- 满意率 = (满意 + 基本满意) ÷ rated tickets. Unrated is not satisfied: a resolution nobody rated (still
  waiting, or closed unrated after 3 days) never counts as 满意; it is left out of 满意率 and shown in the
  `unrated` count, so a low answer rate cannot hide behind a high 满意率.
- Every rate is an exact Fraction, or None when nothing is due (a denominator of 0).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Literal

from db.cases.states import OPEN_STATES

SATISFIED = ("satisfied", "basically")
RATED = ("satisfied", "basically", "dissatisfied")
Group = Literal["grid", "category", "compound"]
GROUPS: tuple[Group, ...] = ("grid", "category", "compound")


@dataclass(frozen=True, slots=True)
class Record:
    """What the rates need to know about one ticket, with the keys it is grouped by."""

    created_at: datetime
    accept_due_at: datetime | None
    accepted_at: datetime | None
    resolve_due_at: datetime | None
    resolved_at: datetime | None
    rating: str = ""  # satisfied | basically | dissatisfied | ""
    grid: str = ""
    category: str = ""
    compound: str = ""
    holder: str = ""  # who holds (or last held) it, as staff know them; "" when nobody
    state: str = "new"
    paused_at: datetime | None = None  # waiting for the resident since
    ended_at: datetime | None = None  # withdrawn or closed (as a duplicate …) without being resolved


@dataclass(frozen=True, slots=True)
class Rates:
    """Counts and the three rates for one group of tickets."""

    filed: int = 0
    open: int = 0
    overdue: int = 0
    unrated: int = 0
    accept_due: int = 0
    accepted_in_time: int = 0
    resolve_due: int = 0
    resolved_in_time: int = 0
    rated: int = 0
    satisfied: int = 0

    @property
    def response(self) -> Fraction | None:
        """响应率: accepted in time ÷ due to be accepted."""
        return _ratio(self.accepted_in_time, self.accept_due)

    @property
    def resolution(self) -> Fraction | None:
        """解决率: resolved in time ÷ due to be resolved."""
        return _ratio(self.resolved_in_time, self.resolve_due)

    @property
    def satisfaction(self) -> Fraction | None:
        """满意率: (满意 + 基本满意) ÷ rated."""
        return _ratio(self.satisfied, self.rated)


def _ratio(part: int, whole: int) -> Fraction | None:
    return Fraction(part, whole) if whole else None


def _effective(due: datetime | None, record: Record, now: datetime) -> datetime | None:
    """A deadline as it stands now: moved on by the time a paused ticket has waited so far."""
    if due is None or record.paused_at is None:
        return due
    return due + max(now - record.paused_at, timedelta(0))


def _stage(done: datetime | None, due: datetime | None, record: Record, now: datetime) -> tuple[bool, bool]:
    """(due, in time) for one deadline: accept or resolve."""
    if done is not None:
        return True, due is None or done <= due
    deadline = _effective(due, record, now)
    if deadline is None:
        return False, False
    end = now if record.ended_at is None else min(now, record.ended_at)
    return end > deadline, False


def compute(records: Iterable[Record], now: datetime) -> Rates:
    """Counts and the three rates of a group of tickets, as of `now`."""
    counts = dict.fromkeys(Rates.__dataclass_fields__, 0)
    for record in records:
        counts["filed"] += 1
        is_open = record.state in OPEN_STATES
        counts["open"] += is_open
        accept_due, accept_ok = _stage(record.accepted_at, record.accept_due_at, record, now)
        resolve_due, resolve_ok = _stage(record.resolved_at, record.resolve_due_at, record, now)
        if record.accept_due_at is not None:
            counts["accept_due"] += accept_due
            counts["accepted_in_time"] += accept_due and accept_ok
        if record.resolve_due_at is not None:
            counts["resolve_due"] += resolve_due
            counts["resolved_in_time"] += resolve_due and resolve_ok
        late_accept = record.accepted_at is None and accept_due
        late_resolve = record.resolved_at is None and resolve_due
        counts["overdue"] += is_open and (late_accept or late_resolve)
        if record.rating in RATED:
            counts["rated"] += 1
            counts["satisfied"] += record.rating in SATISFIED
        elif record.resolved_at is not None:
            counts["unrated"] += 1
    return Rates(**counts)


def by_group(
    records: Iterable[Record], now: datetime, key: str | Callable[[Record], str]
) -> dict[str, Rates]:
    """Rates per value of a grouping key (`grid`, `category`, `compound` or a function), in key order."""
    get = (lambda r: getattr(r, key)) if isinstance(key, str) else key
    groups: dict[str, list[Record]] = {}
    for record in records:
        groups.setdefault(get(record), []).append(record)
    return {name: compute(groups[name], now) for name in sorted(groups)}


def percent(value: Fraction | None) -> str:
    """A rate as a percentage with one decimal, rounded half up (`66.7`); empty when there is none."""
    if value is None:
        return ""
    tenths = (value.numerator * 2000 + value.denominator) // (2 * value.denominator)
    return f"{tenths // 10}.{tenths % 10}"
