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
from typing import ClassVar
from zoneinfo import ZoneInfo

from pydantic import Field, ValidationInfo, field_validator
from sqlmodel import Session

from bot.yaml_model import FileFieldError, Reading, YamlModel, reading
from db import org, polls
from db.models import OrgNode
from db.polls.electorate import Electorate, preview
from db.rows import id_of

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


class PollFileError(FileFieldError):
    """A bad poll file: the field at fault and why."""


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


def _text(value: object, name: str, limit: int, required: bool = True) -> str:
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


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise PollFileError(name, f"{value!r} must be true or false")
    return value


def _whole(value: object, name: str) -> int:
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


def _building_pairs(session: Session, compound: OrgNode, value: object) -> list[tuple[int, str]]:
    """The chosen buildings of the compound: (id, name) each."""
    if value is None:
        return []
    names = value if isinstance(value, list) else [value]
    known = {b.name: id_of(b) for b in polls.buildings_of(session, id_of(compound))}
    chosen: list[tuple[int, str]] = []
    for name in names:
        building_id = known.get(str(name).strip())
        if building_id is None:
            raise PollFileError("buildings", f"no building {name!r} in {compound.name}")
        chosen.append((building_id, str(name).strip()))
    return chosen


def _candidate_names(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or any(isinstance(c, bool) or not isinstance(c, str | int) for c in value):
        raise PollFileError("candidates", "must be a list of names")
    return tuple(str(c) for c in value)


class PollFile(YamlModel):
    """A poll file's fields, in the order the file documents them; names resolved with the Reading."""

    ERROR: ClassVar[type[FileFieldError]] = PollFileError
    SHAPE: ClassVar[str] = "compound, title, body, matter"
    CHECKS: ClassVar[tuple[str, ...]] = (
        "compound",
        "buildings",
        "kind",
        "matter",
        "closes (missing)",
        "opens",
        "closes",
        "title",
        "body",
        "candidates",
        "seats",
        "secret",
        "changeable",
        "consultative",
        "shortened_reason",
    )
    MISSING: ClassVar[dict[str, str]] = {"closes": "is missing (e.g. +14d, or 2026-12-20 18:00 local time)"}

    compound: OrgNode = Field(default="", validate_default=True)
    buildings: list[tuple[int, str]] = Field(default_factory=list)
    title: str = Field(default="", validate_default=True)
    body: str = Field(default="", validate_default=True)
    matter: int
    kind: str = "decision"
    candidates: tuple[str, ...] = ()
    seats: int = 0
    opens: datetime = Field(default=DEFAULT_OPENS, validate_default=True)
    closes: datetime
    secret: bool = True
    changeable: bool = False
    consultative: bool = False
    shortened_reason: str = ""

    @field_validator("compound", mode="plain")
    @classmethod
    def _compound(cls, value: object, info: ValidationInfo) -> OrgNode:
        path = str(value or "").strip()
        compound = org.find_node(reading(info).session, path) if path else None
        if compound is None or compound.kind != "compound":
            raise PollFileError(
                "compound",
                f"no compound {path or 'given'!r} (use names joined with '/', "
                "e.g. 铁西区/北沟街道/英雄社区/阳光花园)",
            )
        return compound

    @field_validator("buildings", mode="plain")
    @classmethod
    def _buildings(cls, value: object, info: ValidationInfo) -> list[tuple[int, str]]:
        compound = info.data.get("compound")
        if compound is None:
            return []  # the compound's own error is the one reported
        return _building_pairs(reading(info).session, compound, value)

    @field_validator("title", mode="plain")
    @classmethod
    def _title(cls, value: object) -> str:
        return _text(value, "title", polls.MAX_TITLE)

    @field_validator("body", mode="plain")
    @classmethod
    def _body(cls, value: object) -> str:
        return _text(value, "body", polls.MAX_BODY)

    @field_validator("matter", mode="plain")
    @classmethod
    def _matter(cls, value: object) -> int:
        matter = _whole(value, "matter")
        if matter not in polls.MATTERS:
            raise PollFileError("matter", f"{matter} must be a Civil Code Art. 278 item from 1 to 9")
        return matter

    @field_validator("kind", mode="plain")
    @classmethod
    def _kind(cls, value: object) -> str:
        kind = str(value or "decision").strip()
        if kind not in polls.KINDS:
            raise PollFileError("kind", f"{kind!r} must be one of {', '.join(polls.KINDS)}")
        return kind

    @field_validator("candidates", mode="plain")
    @classmethod
    def _candidates(cls, value: object) -> tuple[str, ...]:
        return _candidate_names(value)

    @field_validator("seats", mode="plain")
    @classmethod
    def _seats(cls, value: object) -> int:
        return _whole(value, "seats")

    @field_validator("opens", mode="plain")
    @classmethod
    def _opens(cls, value: object, info: ValidationInfo) -> datetime:
        now = reading(info).now
        return _time("opens", value or DEFAULT_OPENS, reading(info).zone, now, end_of_day=False)

    @field_validator("closes", mode="plain")
    @classmethod
    def _closes(cls, value: object, info: ValidationInfo) -> datetime:
        opens = info.data.get("opens")
        if opens is None:
            return reading(info).now  # the opening's own error is the one reported
        return _time("closes", value, reading(info).zone, opens, end_of_day=True)

    @field_validator("secret", "changeable", "consultative", mode="plain")
    @classmethod
    def _flags(cls, value: object, info: ValidationInfo) -> bool:
        return _flag(value, str(info.field_name))

    @field_validator("shortened_reason", mode="plain")
    @classmethod
    def _reason(cls, value: object) -> str:
        return _text(value, "shortened_reason", polls.MAX_REASON, required=False)


def load(session: Session, path: Path, zone: ZoneInfo, now: datetime) -> PollSpec:
    """Read a poll file and check it against every rule of db.polls; a bad field raises PollFileError."""
    fields = PollFile.read(path, Reading(session, zone, now))
    draft = polls.Draft(
        node_id=id_of(fields.compound),
        title=fields.title,
        body=fields.body,
        matter=fields.matter,
        kind=fields.kind,
        opens_at=fields.opens,
        closes_at=fields.closes,
        buildings=tuple(building_id for building_id, _ in fields.buildings),
        candidates=fields.candidates,
        seats=fields.seats,
        secret=fields.secret,
        changeable=fields.changeable,
        consultative=fields.consultative,
        shortened_reason=fields.shortened_reason,
    )
    try:
        draft = polls.check(session, draft, now)
    except polls.PollError as exc:
        raise rule_error(exc) from None
    names = [name for _, name in fields.buildings]
    return PollSpec(draft, fields.compound, names, preview(session, id_of(fields.compound), draft.buildings))
