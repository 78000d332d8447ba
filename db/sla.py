"""The SLA policy: clock lengths per category × urgency, reminders, follow-up, quiet hours and what the
sweep counts as a hot spot."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from db.categories import SLA_CLASSES

DURATION = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: object) -> timedelta:
    """`30m`, `2h` or `7d` as a timedelta; anything else raises ValueError."""
    match = DURATION.match(str(text))
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"duration {text!r} must look like 30m, 2h or 7d")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


@dataclass(frozen=True, slots=True)
class Clocks:
    """How long a handler has to accept, and to resolve."""

    accept: timedelta
    resolve: timedelta


@dataclass(frozen=True, slots=True)
class Policy:
    """The whole SLA policy."""

    classes: dict[str, Clocks]
    overrides: tuple[tuple[str, bool | None, Clocks], ...] = ()
    reminders: tuple[float, ...] = (0.5, 0.8)
    followup: timedelta = timedelta(days=3)
    quiet_start: time = time(22, 0)
    quiet_end: time = time(7, 0)
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    # Hot spots (DESIGN §4.7): this many tickets of one category in one building within `cluster_window`
    # make a cluster; a home reporting a category again within `repeat_window` of a resolution makes one.
    cluster_size: int = 3
    cluster_window: timedelta = timedelta(days=7)
    repeat_window: timedelta = timedelta(days=30)
    # Proxies (DESIGN §4.8): a person holding active proxies for more homes of one compound than this is
    # flagged to those who run its polls.
    proxy_flag_homes: int = 5

    def clocks(self, category: str, sla_class: str, urgent: bool) -> Clocks:
        """The clocks for a ticket: the first matching override, else its class."""
        for rule_category, rule_urgent, clocks in self.overrides:
            if rule_category == category and (rule_urgent is None or rule_urgent == urgent):
                return clocks
        return self.classes["urgent" if urgent else sla_class]

    def in_quiet_hours(self, moment: datetime) -> bool:
        """Whether a moment falls in the nightly quiet hours (local time)."""
        local = moment.astimezone(self.zone).time()
        if self.quiet_start > self.quiet_end:
            return local >= self.quiet_start or local < self.quiet_end
        return self.quiet_start <= local < self.quiet_end

    def quiet_until(self, moment: datetime) -> datetime:
        """When a non-urgent push decided at `moment` may go: at once, or at the end of quiet hours."""
        if not self.in_quiet_hours(moment):
            return moment
        local = moment.astimezone(self.zone)
        end = local.replace(hour=self.quiet_end.hour, minute=self.quiet_end.minute, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(moment.tzinfo)


def _clocks(entry: dict[str, object], where: str) -> Clocks:
    try:
        return Clocks(parse_duration(entry["accept"]), parse_duration(entry["resolve"]))
    except KeyError as exc:
        raise ValueError(f"{where}: {exc.args[0]} is missing") from None
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _clock_time(text: object, where: str) -> time:
    try:
        hours, minutes = str(text).split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(f"{where}: {text!r} must look like 22:00") from None


def load_policy(path: Path, zone: ZoneInfo) -> Policy:
    """Read and check the policy file; a bad entry raises ValueError naming it."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    classes = {
        name: _clocks(raw.get("classes", {}).get(name, {}), f"{path}: class {name}") for name in SLA_CLASSES
    }
    overrides = []
    for n, rule in enumerate(raw.get("overrides") or [], start=1):
        urgent = rule.get("urgent")
        overrides.append(
            (
                str(rule.get("category", "")),
                None if urgent is None else bool(urgent),
                _clocks(rule, f"{path}: override {n}"),
            )
        )
    reminders = tuple(float(x) for x in raw.get("reminders", (0.5, 0.8)))
    if any(not 0 < x < 1 for x in reminders) or list(reminders) != sorted(reminders):
        raise ValueError(f"{path}: reminders must be increasing fractions between 0 and 1")
    quiet = raw.get("quiet_hours") or {}
    size, window, repeat = _hot_spots(raw.get("hot_spots") or {}, f"{path}: hot_spots")
    return Policy(
        classes=classes,
        overrides=tuple(overrides),
        reminders=reminders,
        followup=parse_duration(raw.get("followup", "3d")),
        quiet_start=_clock_time(quiet.get("start", "22:00"), f"{path}: quiet_hours.start"),
        quiet_end=_clock_time(quiet.get("end", "07:00"), f"{path}: quiet_hours.end"),
        zone=zone,
        cluster_size=size,
        cluster_window=window,
        repeat_window=repeat,
        proxy_flag_homes=_polls(raw.get("polls") or {}, f"{path}: polls"),
    )


def _hot_spots(raw: object, where: str) -> tuple[int, timedelta, timedelta]:
    """The hot-spot settings: (tickets that make a cluster, its window, the repeat window)."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: must be a mapping of tickets, within and repeat_within")
    unknown = set(raw) - {"tickets", "within", "repeat_within"}
    if unknown:
        raise ValueError(f"{where}: unknown setting {sorted(unknown)[0]!r}")
    size = raw.get("tickets", 3)
    if isinstance(size, bool) or not isinstance(size, int) or not 2 <= size <= 100:
        raise ValueError(f"{where}.tickets: {size!r} must be a whole number from 2 to 100")
    try:
        window = parse_duration(raw.get("within", "7d"))
        repeat = parse_duration(raw.get("repeat_within", "30d"))
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    if window > timedelta(days=90) or repeat > timedelta(days=365):
        raise ValueError(f"{where}: within is at most 90d and repeat_within at most 365d")
    return size, window, repeat


def _polls(raw: object, where: str) -> int:
    """The polls settings: how many homes one proxy may hold before staff are told."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: must be a mapping of proxy_flag_homes")
    unknown = set(raw) - {"proxy_flag_homes"}
    if unknown:
        raise ValueError(f"{where}: unknown setting {sorted(unknown)[0]!r}")
    limit = raw.get("proxy_flag_homes", 5)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise ValueError(f"{where}.proxy_flag_homes: {limit!r} must be a whole number from 1 to 1000")
    return limit
