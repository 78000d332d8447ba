"""Hot-spot test support: tickets filed straight through the use case at the clock's moment, the sweep,
and reading what it made."""

from __future__ import annotations

from collections import Counter

from sqlmodel import col, select

from bot.bootstrap import App
from bot.clock import FixedClock
from bot.sweep_job import sweep
from core import notify, tickets
from core.permissions import Actor
from core.work import Work
from db import org
from db import tickets as filing
from db.cases import states
from db.hotspots.tables import HotSpot, HotSpotTicket
from db.models import Outbox, Person, Ticket, TicketEvent

SUNNY = "铁西区/北沟街道/英雄社区/阳光花园"


def home_path(building: int = 1, entrance: int = 1, number: str = "101") -> str:
    """A demo home's path in 阳光花园."""
    return f"{SUNNY}/{building}栋/{entrance}单元/{number}"


def file(app: App, path: str = "", category: str = "elevator", text: str = "电梯坏了") -> int:
    """A resident of the home (a new person each time) files a ticket now; its number."""
    with app.sessions() as session:
        home = org.find_home(session, path or home_path())
        assert home is not None, path
        person = Person(name="居民", phone="13800000000", created_at=app.clock.now())
        session.add(person)
        session.flush()
        assert person.id is not None
        category_def = app.catalog.get(category)
        assert category_def is not None
        draft = filing.Draft(
            category, category_def.sla, False, text, home.id, home.building_id, home.compound_id
        )
        work = Work(session, app.clock.now(), app.policy)
        done = tickets.report(work, Actor(person.id), draft)
        notify.publish(work)
        session.commit()
        return done.ticket_id


def resolve(app: App, ticket_id: int) -> None:
    """Mark a ticket resolved now (the data the repeat rule reads)."""
    with app.sessions() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        states.resolved(ticket, "fixed", app.clock.now())
        session.commit()


def run(app: App) -> Counter[str]:
    """One sweep at the clock's moment; what its detection did, read from the database ("hotspot_opened",
    "hotspot_joined": clusters opened, tickets gathered into clusters that were already open)."""
    before = _counts(app)
    sweep(app.sessions, app.clock.now(), app.policy)
    return found_between(before, _counts(app))


def _counts(app: App) -> tuple[dict[int, int], int]:
    with app.sessions() as session:
        sizes = {s.id or 0: s.size for s in session.exec(select(HotSpot)).all()}
    return sizes, sum(sizes.values())


def found_between(before: tuple[dict[int, int], int], after: tuple[dict[int, int], int]) -> Counter[str]:
    """What detection did between two readings of the clusters."""
    done: Counter[str] = Counter()
    for spot_id, size in after[0].items():
        if spot_id not in before[0]:
            done["hotspot_opened"] += 1
        else:
            done["hotspot_joined"] += size - before[0][spot_id]
    return +done


def spots(app: App) -> list[HotSpot]:
    """Every cluster, oldest first."""
    with app.sessions() as session:
        return list(session.exec(select(HotSpot).order_by(col(HotSpot.id))).all())


def members(app: App, spot_id: int) -> list[int]:
    """The tickets a cluster gathers, by number."""
    with app.sessions() as session:
        rows = session.exec(select(HotSpotTicket.ticket_id).where(HotSpotTicket.hot_spot_id == spot_id))
        return sorted(rows.all())


def ticket(app: App, ticket_id: int) -> Ticket:
    """A ticket as stored now."""
    with app.sessions() as session:
        found = session.get(Ticket, ticket_id)
        assert found is not None
        return found


def events(app: App, ticket_id: int) -> list[tuple[str, str]]:
    """A ticket's timeline as (kind, note)."""
    with app.sessions() as session:
        rows = session.exec(
            select(TicketEvent.kind, TicketEvent.note)
            .where(TicketEvent.ticket_id == ticket_id)
            .order_by(col(TicketEvent.id))
        ).all()
        return [(kind, note) for kind, note in rows]


def pushes(app: App, template: str) -> list[Outbox]:
    """The outbox rows of a template."""
    with app.sessions() as session:
        return list(session.exec(select(Outbox).where(Outbox.template == template)).all())


def later(clock: FixedClock, **delta: float) -> None:
    """Move the clock on."""
    clock.advance(**delta)
