"""Committee test support: verified owners made directly in the database, committees set through the use
case (as the CLI or an import would, or as a given person), and the pushes a template went out in."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlmodel import select

from bot.bootstrap import App
from core import committee as use_cases
from core import notify
from core.committee import Installed, Seat
from core.permissions import SYSTEM
from core.work import Work
from db import org, people
from db.models import Home, Outbox, Person, Residency

COMPOUND = "铁西区/北沟街道/英雄社区/阳光花园"


def compound_id(app: App, path: str = COMPOUND) -> int:
    """The id of a compound by its path."""
    with app.sessions() as session:
        node = org.find_node(session, path)
        assert node is not None and node.id is not None, path
        return node.id


def owner(app: App, name: str, home: str) -> int:
    """A verified owner of a home ("1栋/1单元/301" under 阳光花园), made directly; returns the person."""
    entrance_path, _, number = f"{COMPOUND}/{home}".rpartition("/")
    now = app.clock.now()
    with app.sessions() as session:
        entrance = org.find_node(session, entrance_path)
        assert entrance is not None, entrance_path
        found = session.exec(select(Home).where(Home.entrance_id == entrance.id, Home.number == number)).one()
        person = Person(name=name, created_at=now)
        session.add(person)
        session.flush()
        session.add(
            Residency(person_id=person.id, home_id=found.id, kind="owner", status="verified", created_at=now)
        )
        session.commit()
        assert person.id is not None
        return person.id


def homes(building: str = "1栋") -> list[str]:
    """The demo's homes of a building of 阳光花园, as `owner` takes them."""
    return [
        f"{building}/{e}/{n}" for e in ("1单元", "2单元") for n in ("101", "102", "201", "202", "301", "302")
    ]


def set_committee(
    app: App,
    seats: list[tuple[int, str]],
    starts_on: date,
    ends_on: date,
    kind: str = "owners",
    by: int | None = None,
    filed_on: date | None = None,
) -> Installed:
    """Set a committee through the use case (the system when `by` is None) and commit."""
    compound = compound_id(app)
    with app.sessions() as session:
        work = Work(session, app.clock.now(), app.policy, via="cli")
        actor = people.actor(session, by, app.clock.now().date()) if by is not None else SYSTEM
        done = use_cases.set_committee(
            work, actor, compound, kind, starts_on, ends_on, filed_on, [Seat(p, s) for p, s in seats]
        )
        notify.publish(work)
        session.commit()
        return done


def pushes(app: App, template: str) -> Counter[int]:
    """How many outbox rows of a template each person got."""
    with app.sessions() as session:
        return Counter(session.exec(select(Outbox.person_id).where(Outbox.template == template)).all())
