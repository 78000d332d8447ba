"""Template messages (模板消息): which template a push outside the 48-hour window goes as, and its fields.

The data file (WECHAT_TEMPLATES) maps each kind of push to the template id chosen in the account's
console and the template's fields; a field's value is text with placeholders filled from the message.
The file is checked when the channel is built: a fault stops the start with one line naming it."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from bot.settings import SettingsError
from core import actions
from handlers.types import Rendered

KINDS = ("ticket", "followup", "notice", "poll", "general")
PLACEHOLDERS = ("title", "code", "summary", "text", "time", "hint")
# The follow-up (回访) asks a resident to rate what was done: its own template, not the progress one.
FOLLOWUP_TOPICS = ("cases.resolved", "followup.")
FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
# How much each kind of template field holds (by the field name's prefix, as the console names them).
LIMITS = (
    ("character_string", 32),
    ("thing", 20),
    ("phrase", 5),
    ("number", 32),
    ("letter", 32),
    ("symbol", 5),
    ("const", 20),
    ("name", 10),
    ("amount", 32),
    ("time", 32),
)
DEFAULT_LIMIT = 200  # the older templates' first / keywordN / remark fields


@dataclass(frozen=True, slots=True)
class Template:
    """One kind's template: its id and the fields' value patterns."""

    template_id: str
    fields: tuple[tuple[str, str], ...]


class TemplateBook:
    """Every kind's template, read from the data file."""

    def __init__(self, templates: dict[str, Template]) -> None:
        self.templates = templates

    @classmethod
    def load(cls, path: Path, setting: str = "WECHAT_TEMPLATES") -> TemplateBook:
        """Read and check the file; any fault raises SettingsError with one line naming it."""

        def fault(reason: str) -> SettingsError:
            return SettingsError(f"setting {setting}: {path}: {reason}")

        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise fault(f"cannot be read ({exc.strerror or exc})") from None
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise fault(f"not valid UTF-8 YAML ({str(exc).splitlines()[0]})") from None
        if not isinstance(raw, dict):
            raise fault(f"must map each kind of push ({', '.join(KINDS)}) to a template")
        unknown = [str(k) for k in raw if k not in KINDS]
        if unknown:
            raise fault(f"unknown kind {unknown[0]!r} (known: {', '.join(KINDS)})")
        templates = {}
        for kind in KINDS:
            if kind not in raw:
                raise fault(f"kind {kind!r} is missing")
            templates[kind] = _template(kind, raw[kind], fault)
        return cls(templates)

    def kind_of(self, message: Rendered) -> str:
        """The kind of push a message is, from what it is about and its template."""
        if message.topic.startswith(FOLLOWUP_TOPICS):
            return "followup"
        family = actions.prefix_of(message.about) if message.about else ""
        return {
            actions.MyTicket.FAMILY: "ticket",
            actions.Task.FAMILY: "ticket",
            actions.Notices.FAMILY: "notice",
            actions.Vote.FAMILY: "poll",
        }.get(family, "general")

    def body(self, message: Rendered, values: dict[str, str]) -> tuple[str, dict[str, Any]]:
        """(template id, data) for a message, its fields filled from `values` and cut to their size."""
        template = self.templates[self.kind_of(message)]
        data = {
            name: {"value": _cut(pattern.format_map(values), _limit(name))}
            for name, pattern in template.fields
        }
        return template.template_id, data


def values_for(message: Rendered, title: str, hint: str, now: datetime, zone: ZoneInfo) -> dict[str, str]:
    """What a template's placeholders stand for in this message."""
    lines = [line.strip() for line in message.text.splitlines() if line.strip()]
    press = actions.decode(message.about) if message.about else None
    ticket = getattr(press, "ticket", None)
    return {
        "title": title,
        "code": f"#{ticket}" if isinstance(ticket, int) else "",
        "summary": lines[0] if lines else title,
        "text": " ".join(lines) or title,
        "time": now.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        "hint": hint,
    }


def _template(kind: str, raw: object, fault: Any) -> Template:
    if not isinstance(raw, dict):
        raise fault(f"{kind}: must have template_id and fields")
    extra = [str(k) for k in raw if k not in ("template_id", "fields")]
    if extra:
        raise fault(f"{kind}: unknown field {extra[0]!r} (known: template_id, fields)")
    template_id = raw.get("template_id")
    if not isinstance(template_id, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", template_id.strip()):
        raise fault(f"{kind}.template_id: must be the template's id from the console (letters, digits, - _)")
    fields = raw.get("fields")
    if not isinstance(fields, dict) or not fields:
        raise fault(f"{kind}.fields: must map the template's fields to their values")
    checked = []
    for name, pattern in fields.items():
        if not isinstance(name, str) or not FIELD.match(name):
            raise fault(f"{kind}.fields: {name!r} is not a template field name (such as thing2)")
        if not isinstance(pattern, str):
            raise fault(f"{kind}.fields.{name}: must be text")
        try:
            used = [part[1] for part in string.Formatter().parse(pattern) if part[1] is not None]
        except ValueError as exc:
            raise fault(f"{kind}.fields.{name}: {exc}") from None
        bad = [p for p in used if p not in PLACEHOLDERS]
        if bad:
            known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            raise fault(f"{kind}.fields.{name}: unknown placeholder {{{bad[0]}}} (known: {known})")
        checked.append((name, pattern))
    return Template(template_id.strip(), tuple(checked))


def _limit(name: str) -> int:
    for prefix, limit in LIMITS:
        if name.startswith(prefix):
            return limit
    return DEFAULT_LIMIT


def _cut(value: str, limit: int) -> str:
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"
