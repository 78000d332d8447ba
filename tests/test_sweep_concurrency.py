"""Two sweepers on one database never send a reminder or escalate twice (issue 3).

Two apps (two engines, as two processes would have) sweep the same instant from two threads released by
one barrier. On PostgreSQL they claim rows with FOR UPDATE SKIP LOCKED; on SQLite BEGIN IMMEDIATE
serialises them. Either way every due ticket gets its step exactly once.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlmodel import col, func, select

from bot.bootstrap import App, build
from bot.clock import FixedClock
from bot.sweep_job import claim_due, sweep
from core import notify
from core import tickets as use_cases
from core.work import Work
from db import org, people, tickets
from db.models import Identity, Outbox, Ticket, TicketEvent
from tests.conftest import make_app
from tests.support.chat import ChatUser

N = 200
HOME = "铁西区/北沟街道/英雄社区/阳光花园/1栋/1单元/101"


def person_of(app: App, user_ref: str) -> int:
    """The person behind a web chat user."""
    with app.sessions() as session:
        return session.exec(
            select(Identity.person_id).where(Identity.channel == "web", Identity.external_id == user_ref)
        ).one()


def file_many(app: App, reporter: int, now: datetime, n: int = N) -> list[int]:
    """File and dispatch a general ticket in 阳光花园 1栋 (to the demo grid worker), then n-1 copies."""
    with app.sessions() as session:
        home = org.find_home(session, HOME)
        assert home is not None
        draft = tickets.Draft(
            category="sanitation",
            sla_class="general",
            urgent=False,
            description="垃圾堆放",
            home_id=home.id,
            building_id=home.building_id,
            compound_id=home.compound_id,
        )
        work = Work(session, now, app.policy)
        filed = use_cases.report(work, people.actor(session, reporter), draft)
        notify.publish(work)
        session.flush()
        table = Ticket.__table__  # type: ignore[attr-defined]
        row = dict(session.execute(select(table).where(table.c.id == filed.ticket_id)).mappings().one())
        row.pop("id")
        session.execute(insert(table), [row] * (n - 1))
        session.commit()
        return list(session.exec(select(Ticket.id).order_by(col(Ticket.id))).all())  # type: ignore[arg-type]


def race(apps: list[App], now: datetime, batch: int = 20) -> list[Counter[str]]:
    """Run one sweep per app at the same instant, from threads released together."""
    barrier = threading.Barrier(len(apps))
    results: list[Counter[str]] = [Counter() for _ in apps]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = sweep(apps[i].sessions, now, apps[i].policy, batch=batch)
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(apps))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)  # a safety net against a deadlock, not a timing assertion
        assert not thread.is_alive()
    assert not errors, errors
    return results


def per_ticket(app: App, template: str) -> Counter[tuple[int, int]]:
    """How many outbox rows of a template each (ticket, person) got."""
    with app.sessions() as session:
        rows = session.exec(
            select(Outbox.ticket_id, Outbox.person_id).where(Outbox.template == template)
        ).all()
    return Counter((t, p) for t, p in rows if t is not None)


def events_per_ticket(app: App, kind: str) -> Counter[int]:
    """How many timeline events of a kind each ticket got."""
    with app.sessions() as session:
        return Counter(session.exec(select(TicketEvent.ticket_id).where(TicketEvent.kind == kind)).all())


def still_due(app: App, now: datetime) -> int:
    """Tickets with a step due at `now` that nobody applied."""
    with app.sessions() as session:
        return session.exec(
            select(func.count()).where(col(Ticket.next_due_at).is_not(None), col(Ticket.next_due_at) <= now)
        ).one()


@pytest.fixture
def two_apps(db_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[list[App]]:
    """Two processes' worth of app on one database (SQLite, and PostgreSQL when it answers)."""
    first = make_app(db_url, tmp_path, clock)
    second = build(first.settings, clock=clock)
    yield [first, second]
    first.engine.dispose()
    second.engine.dispose()


def test_two_sweepers_apply_each_step_once(two_apps: list[App], clock: FixedClock) -> None:
    """200 tickets due at once, two sweepers racing: one reminder each, then one escalation each."""
    app = two_apps[0]
    grid = ChatUser(app.service, "grid")
    grid.say("/start DEMO-GRID")
    for ref in ("staff-1", "staff-2"):
        ChatUser(app.service, ref).say("/start DEMO-STAFF")
    owner = ChatUser(app.service, "owner")
    owner.say("/start DEMO-OWNER")
    worker, reporter = person_of(app, "grid"), person_of(app, "owner")
    staff = {person_of(app, "staff-1"), person_of(app, "staff-2")}
    t0 = clock.now()
    ids = file_many(app, reporter, t0)
    assert len(ids) == N

    # The 50 % point of the 24 h accept clock has passed for all of them.
    at = t0 + timedelta(hours=13)
    clock.current = at
    results = race(two_apps, at)
    assert sum(results, Counter()) == Counter(reminder_50=N)
    assert still_due(app, at) == 0
    reminders = per_ticket(app, "cases.reminder")
    assert reminders == Counter({(i, worker): 1 for i in ids})
    with app.sessions() as session:
        rows = session.exec(select(Ticket).where(col(Ticket.id).in_(ids))).all()
        assert {(r.reminders_sent, r.level, r.state) for r in rows} == {(1, "grid", "assigned")}
    assert race(two_apps, at) == [Counter(), Counter()]

    # Breach: each ticket climbs to the community once; its staff and its resident are told once.
    at = t0 + timedelta(hours=24)
    clock.current = at
    results = race(two_apps, at)
    assert sum(results, Counter()) == Counter(escalated_community=N)
    assert still_due(app, at) == 0
    assert events_per_ticket(app, "escalated") == Counter({i: 1 for i in ids})
    assert per_ticket(app, "cases.escalated") == Counter({(i, reporter): 1 for i in ids})
    assert per_ticket(app, "cases.escalated_task") == Counter({(i, p): 1 for i in ids for p in staff})
    assert per_ticket(app, "cases.reminder") == Counter({(i, worker): 1 for i in ids})  # no late extra
    with app.sessions() as session:
        rows = session.exec(select(Ticket).where(col(Ticket.id).in_(ids))).all()
        assert {(r.level, r.state, r.holder_id, r.clock_started_at) for r in rows} == {
            ("community", "new", None, at)
        }
    assert race(two_apps, at) == [Counter(), Counter()]


@pytest.mark.postgres
def test_rows_claimed_by_one_sweeper_are_skipped_by_the_other(
    postgres_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    """While one sweeper holds its batch, the other does the rest and leaves those rows alone."""
    app = make_app(postgres_url, tmp_path, clock)
    other = build(app.settings, clock=clock)
    try:
        ChatUser(app.service, "grid").say("/start DEMO-GRID")
        owner = ChatUser(app.service, "owner")
        owner.say("/start DEMO-OWNER")
        t0 = clock.now()
        ids = file_many(app, person_of(app, "owner"), t0, n=50)
        at = t0 + timedelta(hours=13)
        with app.sessions() as holding:
            claimed = claim_due(holding, at, 10)  # locked until this transaction ends
            assert len(claimed) == 10
            done = sweep(other.sessions, at, other.policy, batch=7)
            assert done == Counter(reminder_50=40)
            work = Work(holding, at, app.policy)
            for row in claimed:
                assert use_cases.step(work, row) == "reminder_50"
            notify.publish(work)
            holding.commit()
        assert sweep(other.sessions, at, other.policy) == Counter()
        assert per_ticket(app, "cases.reminder") == Counter({(i, person_of(app, "grid")): 1 for i in ids})
    finally:
        other.engine.dispose()
        app.engine.dispose()
