"""Reading an owners' poll from a YAML file for `linli poll create`: every field checked, errors name it.

```yaml
compound: 铁西区/北沟街道/英雄社区/阳光花园   # names joined with '/', down to the compound
buildings: [1栋, 2栋]                       # optional: only these buildings vote (default: all)
title: 关于续聘物业服务企业的表决
body: |
  现物业服务合同将于年底到期……
matter: 4                                    # Civil Code Art. 278 item, 1–9
kind: decision                               # decision (default) | election
candidates: [张三, 李四]                      # election only, with seats
seats: 1
opens: +15d                                  # local time "2026-12-06 09:00", or +<n>d / +<n>h from now
closes: +14d                                 # local time, or +<n>d / +<n>h after voting opens
secret: true                                 # default true
changeable: false                            # default false
consultative: false                          # default false
shortened_reason: ""                         # required when voting opens less than 15 days from now
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlmodel import Session

from db import org, polls
from db.models import OrgNode
from db.polls.electorate import Electorate, preview

FIELDS = (
    "compound",
    "buildings",
    "title",
    "body",
    "matter",
    "kind",
    "candidates",
    "seats",
    "opens",
    "closes",
    "secret",
    "changeable",
    "consultative",
    "shortened_reason",
)
TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")
RELATIVE = re.compile(r"^\+\s*(\d{1,3})\s*([dh])$")
DEFAULT_OPENS = "+15d"
# What each rule of db.polls.check means for a file: the field at fault and why.
RULES: dict[str, tuple[str, str]] = {
    "title": ("title", f"must be 1 to {polls.MAX_TITLE} characters"),
    "body": ("body", f"must be 1 to {polls.MAX_BODY} characters"),
    "matter": ("matter", "must be a Civil Code Art. 278 item from 1 to 9"),
    "kind": ("kind", f"must be one of {', '.join(polls.KINDS)}"),
    "candidates": (
        "candidates",
        f"an election needs 1 to {polls.MAX_CANDIDATES} different names of at most "
        f"{polls.MAX_CANDIDATE_NAME} characters (and a decision none)",
    ),
    "seats": ("seats", "must be a whole number from 1 to the number of candidates"),
    "node": ("compound", "is not a compound"),
    "not_allowed": ("compound", "is outside the author's jurisdiction"),
    "buildings": ("buildings", "are not all buildings of the compound"),
    "no_homes": ("buildings", "no homes are registered in that scope, so nobody could vote"),
    "opens_at": ("opens", "has passed or is more than a year ahead"),
    "reason": (
        "shortened_reason",
        f"voting opens less than {polls.NOTICE_PERIOD.days} days from now: state the reason "
        f"(at most {polls.MAX_REASON} characters)",
    ),
    "window": (
        "closes",
        f"voting must last from {int(polls.MIN_WINDOW.total_seconds() // 3600)} hours to "
        f"{polls.MAX_WINDOW.days} days",
    ),
}


class PollFileError(ValueError):
    """A bad poll file: the field at fault and why."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


def rule_error(error: polls.PollError) -> PollFileError:
    """A rule db.polls refused, as the file's field at fault."""
    field_name, reason = RULES.get(error.reason, ("file", f"refused ({error.reason})"))
    return PollFileError(field_name, reason)


@dataclass(frozen=True, slots=True)
class PollSpec:
    """A poll as the file describes it: the checked draft, where it runs, and the electorate now."""

    draft: polls.Draft
    compound: OrgNode
    building_names: list[str]
    electorate: Electorate


def _text(raw: dict[str, Any], name: str, limit: int, required: bool = True) -> str:
    value = raw.get(name)
    if value is None or not str(value).strip():
        if required:
            raise PollFileError(name, "is missing")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PollFileError(name, "must be text")
    text = str(value).strip()
    if len(text) > limit:
        raise PollFileError(name, f"is {len(text)} characters long, at most {limit}")
    return text


def _flag(raw: dict[str, Any], name: str, default: bool) -> bool:
    value = raw.get(name, default)
    if not isinstance(value, bool):
        raise PollFileError(name, f"{value!r} must be true or false")
    return value


def _whole(raw: dict[str, Any], name: str, default: int | None = None) -> int:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PollFileError(name, f"{value!r} must be a whole number" if value is not None else "is missing")
    return value


def _time(name: str, value: object, zone: ZoneInfo, base: datetime, end_of_day: bool) -> datetime:
    """A local time, a date (00:00 to open, 23:59 to close) or `+<n>d` / `+<n>h` after `base`."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=zone) if value.tzinfo is None else value
    if isinstance(value, date):
        moment = datetime.combine(value, datetime.min.time()).replace(tzinfo=zone)
        return moment.replace(hour=23, minute=59) if end_of_day else moment
    if isinstance(value, str):
        text = value.strip()
        relative = RELATIVE.match(text)
        if relative:
            amount, unit = int(relative.group(1)), relative.group(2)
            return base + (timedelta(days=amount) if unit == "d" else timedelta(hours=amount))
        for fmt in TIME_FORMATS:
            try:
                return datetime.strptime(text, fmt).replace(tzinfo=zone)
            except ValueError:
                continue
        try:
            return _time(name, date.fromisoformat(text), zone, base, end_of_day)
        except ValueError:
            pass
    raise PollFileError(name, f"{value!r} must look like 2026-12-06 09:00 (local time) or +15d")


def _buildings(session: Session, compound: OrgNode, value: object) -> tuple[list[int], list[str]]:
    if value is None:
        return [], []
    names = value if isinstance(value, list) else [value]
    known = {b.name: b.id for b in polls.buildings_of(session, compound.id)}  # type: ignore[arg-type]
    ids: list[int] = []
    for name in names:
        building_id = known.get(str(name).strip())
        if building_id is None:
            raise PollFileError("buildings", f"no building {name!r} in {compound.name}")
        ids.append(building_id)  # type: ignore[arg-type]
    return ids, [str(n).strip() for n in names]


def _candidates(raw: dict[str, Any]) -> tuple[str, ...]:
    value = raw.get("candidates")
    if value is None:
        return ()
    if not isinstance(value, list) or any(isinstance(c, bool) or not isinstance(c, str | int) for c in value):
        raise PollFileError("candidates", "must be a list of names")
    return tuple(str(c) for c in value)


def load(session: Session, path: Path, zone: ZoneInfo, now: datetime) -> PollSpec:
    """Read a poll file and check it against every rule of db.polls; a bad field raises PollFileError."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise PollFileError("file", f"not valid UTF-8 YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise PollFileError("file", "must be a mapping of fields (compound, title, body, matter, …)")
    unknown = [str(k) for k in raw if k not in FIELDS]
    if unknown:
        raise PollFileError(unknown[0], f"unknown field (known: {', '.join(FIELDS)})")
    compound_path = str(raw.get("compound") or "").strip()
    compound = org.find_node(session, compound_path) if compound_path else None
    if compound is None or compound.kind != "compound":
        raise PollFileError(
            "compound",
            f"no compound {compound_path or 'given'!r} (use names joined with '/', "
            "e.g. 铁西区/北沟街道/英雄社区/阳光花园)",
        )
    buildings, names = _buildings(session, compound, raw.get("buildings"))
    kind = str(raw.get("kind") or "decision").strip()
    if kind not in polls.KINDS:
        raise PollFileError("kind", f"{kind!r} must be one of {', '.join(polls.KINDS)}")
    matter = _whole(raw, "matter")
    if matter not in polls.MATTERS:
        raise PollFileError("matter", f"{matter} must be a Civil Code Art. 278 item from 1 to 9")
    if "closes" not in raw:
        raise PollFileError("closes", "is missing (e.g. +14d, or 2026-12-20 18:00 local time)")
    opens_at = _time("opens", raw.get("opens") or DEFAULT_OPENS, zone, now, end_of_day=False)
    closes_at = _time("closes", raw["closes"], zone, opens_at, end_of_day=True)
    draft = polls.Draft(
        node_id=compound.id,  # type: ignore[arg-type]
        title=_text(raw, "title", polls.MAX_TITLE),
        body=_text(raw, "body", polls.MAX_BODY),
        matter=matter,
        kind=kind,
        opens_at=opens_at,
        closes_at=closes_at,
        buildings=tuple(buildings),
        candidates=_candidates(raw),
        seats=_whole(raw, "seats", 0),
        secret=_flag(raw, "secret", True),
        changeable=_flag(raw, "changeable", False),
        consultative=_flag(raw, "consultative", False),
        shortened_reason=_text(raw, "shortened_reason", polls.MAX_REASON, required=False),
    )
    try:
        draft = polls.check(session, draft, now)
    except polls.PollError as exc:
        raise rule_error(exc) from None
    return PollSpec(draft, compound, names, preview(session, compound.id, draft.buildings))  # type: ignore[arg-type]
