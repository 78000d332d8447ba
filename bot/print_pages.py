"""Printable pages of a poll (DESIGN §4.8) for the committee to hand out: the ballot and notice, one A4
page per home in the poll's scope, and the receipt stubs of a secret poll's paper ballots.

The console serves them (its stylesheet linked, as its Content-Security-Policy asks) and `linli poll
sheets` / `linli poll stubs` write them to a file (the stylesheet inlined, so the file prints on its own).
Words live in templates/print/_words.html (zh_CN and en), the Art. 278 matter in the chat's own
`_polls.j2` macro; the type is large, for owners who read without glasses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import func
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from db.models import Home, OrgNode, Poll
from db.polls.terms import SPECIAL_MATTERS
from db.polls.views import place_names

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STYLESHEET = Path(__file__).resolve().parent / "console" / "static" / "print.css"
STYLESHEET_HREF = "/console/static/print.css"
LOCALES = ("zh_CN", "en")
_DIGITS = re.compile(r"(\d+)")


@dataclass(frozen=True, slots=True)
class PrintHome:
    """A home as its sheet names it: building, entrance, number and registered area (0.01 m²)."""

    home_id: int
    building: str
    entrance: str
    number: str
    area_centi_m2: int


def natural(text: str) -> tuple[Any, ...]:
    """A sort key that puts 2栋 before 10栋 and 201 before 1001."""
    return tuple(int(part) if part.isdigit() else part for part in _DIGITS.split(text))


def scope_homes(session: Session, poll: Poll, building_id: int | None = None) -> list[PrintHome]:
    """The homes of the poll's scope (its compound, or the buildings it is limited to), by building,
    entrance and number; only one building's when asked (none when that building is outside the poll)."""
    building, entrance = aliased(OrgNode), aliased(OrgNode)
    query = (
        select(Home, building.name, entrance.name)
        .join(building, col(building.id) == Home.building_id)
        .join(entrance, col(entrance.id) == Home.entrance_id)
        .where(Home.compound_id == poll.node_id)
    )
    if poll.buildings:
        query = query.where(col(Home.building_id).in_(list(poll.buildings)))
    if building_id is not None:
        query = query.where(Home.building_id == building_id)
    rows = [
        PrintHome(int(home.id or 0), str(b), str(e), home.number, home.area_centi_m2)
        for home, b, e in session.exec(query).all()
    ]
    return sorted(rows, key=lambda h: (natural(h.building), natural(h.entrance), natural(h.number)))


def scope_count(session: Session, poll: Poll) -> int:
    """How many homes the poll's scope holds (counted by the database: a compound may have 20 000)."""
    query = select(func.count()).select_from(Home).where(Home.compound_id == poll.node_id)
    if poll.buildings:
        query = query.where(col(Home.building_id).in_(list(poll.buildings)))
    return int(session.exec(query).one())


def scope_buildings(session: Session, poll: Poll) -> list[OrgNode]:
    """The buildings of the poll's scope, by name (for choosing one building's sheets)."""
    query = select(OrgNode).where(OrgNode.parent_id == poll.node_id, OrgNode.kind == "building")
    if poll.buildings:
        query = query.where(col(OrgNode.id).in_(list(poll.buildings)))
    return sorted(session.exec(query).all(), key=lambda b: natural(b.name))


def inline_css() -> str:
    """The print stylesheet's text, for a page written to a file."""
    return STYLESHEET.read_text(encoding="utf-8")


class Printer:
    """Renders the printable pages in one language and time zone."""

    def __init__(self, zone: ZoneInfo, locale: str = "zh_CN") -> None:
        self.zone = zone
        self.locale = locale if locale in LOCALES else "zh_CN"
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["localtime"] = self.localtime

    def localtime(self, value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        """A moment in the configured time zone."""
        return value.astimezone(self.zone).strftime(fmt) if value is not None else ""

    def words(self) -> dict[str, Any]:
        """The printed pages' words in this language."""
        module: Any = self.env.get_template("print/_words.html").module
        return dict(getattr(module, self.locale))

    def _common(self, session: Session, poll: Poll, inline: bool) -> dict[str, Any]:
        compound, limited = place_names(session, poll)
        return {
            "w": self.words(),
            "locale": self.locale,
            "poll": poll,
            "compound": compound,
            "limited": limited,
            "special": poll.matter in SPECIAL_MATTERS,
            "css": inline_css() if inline else "",
            "css_href": "" if inline else STYLESHEET_HREF,
        }

    def sheets(self, session: Session, poll: Poll, homes: list[PrintHome], inline: bool = False) -> str:
        """The ballot and notice, one A4 page per home (a secret poll's: the envelope cover and notice)."""
        context = self._common(session, poll, inline)
        return self.env.get_template("print/sheets.html").render(homes=homes, **context)

    def stubs(self, session: Session, poll: Poll, codes: list[str], inline: bool = False) -> str:
        """A secret poll's paper ballots, each a stub the owner keeps and a ballot with the same code."""
        context = self._common(session, poll, inline)
        return self.env.get_template("print/stubs.html").render(codes=codes, **context)
