"""Hot-spot detection inside the ticket sweep: one proactive ticket per cluster however many sweepers race
(two engines, as two processes would have; SQLite and PostgreSQL), the watermark, the first run's look-back,
a broken ticket that holds nobody up, and indexed reads only."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlmodel import select

from bot.bootstrap import App, build
from bot.clock import FixedClock
from bot.sweep_job import sweep
from core import hotspots
from core.work import Work
from db.hotspots import detect
from db.hotspots.tables import HotSpotTicket, HotSpotWatch
from db.models import Ticket
from tests.conftest import make_app
from tests.support.hotspots import file, home_path, members, run, spots


@pytest.fixture
def two_apps(db_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[list[App]]:
    """Two processes' worth of app on one database (SQLite, and PostgreSQL when it answers)."""
    first = make_app(db_url, tmp_path, clock)
    second = build(first.settings, clock=clock)
    yield [first, second]
    first.engine.dispose()
    second.engine.dispose()


def race(apps: list[App], now: datetime) -> list[Counter[str]]:
    """One sweep per app at the same instant, from threads released together."""
    barrier = threading.Barrier(len(apps))
    results: list[Counter[str]] = [Counter() for _ in apps]
    errors: list[BaseException] = []

    def go(i: int) -> None:
        barrier.wait()
        try:
            results[i] = sweep(apps[i].sessions, now, apps[i].policy)
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(apps))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)  # a safety net against a deadlock, not a timing assertion
        assert not thread.is_alive()
    assert not errors, errors
    return results


def clusters_in_three_buildings(app: App, clock: FixedClock) -> None:
    """Three lift reports in each of 1栋, 2栋 and 3栋, and a fourth in 1栋, a minute apart."""
    for building in (1, 2, 3):
        for number in ("101", "102", "201"):
            clock.advance(minutes=1)
            file(app, home_path(building, 1, number))
    clock.advance(minutes=1)
    file(app, home_path(1, 2, "101"))


def test_two_sweepers_open_one_proactive_ticket_per_cluster(two_apps: list[App], clock: FixedClock) -> None:
    app = two_apps[0]
    clusters_in_three_buildings(app, clock)
    race(two_apps, clock.now())
    found = spots(app)
    assert sorted(s.size for s in found) == [3, 3, 4]
    assert len({s.ticket_id for s in found}) == 3
    with app.sessions() as session:
        links = session.exec(select(HotSpotTicket.ticket_id)).all()
    assert len(links) == len(set(links)) == 10
    clock.advance(minutes=1)
    race(two_apps, clock.now())
    assert [(s.id, s.size) for s in spots(app)] == [(s.id, s.size) for s in found]


def test_a_sweeper_skips_detection_while_another_holds_the_watermark(
    postgres_url: str, tmp_path: Path
) -> None:
    clock = FixedClock()
    app = make_app(postgres_url, tmp_path, clock)
    try:
        for number in ("101", "102", "201"):
            clock.advance(minutes=1)
            file(app, home_path(1, 1, number))
        with app.sessions() as holder:
            holder.exec(select(HotSpotWatch).where(HotSpotWatch.id == 1).with_for_update()).one()
            with app.sessions() as session:
                work = Work(session, clock.now(), app.policy)
                assert hotspots.detect_new(work) == Counter()  # not blocked: it skips
                session.rollback()
            holder.rollback()
        assert run(app)["hotspot_opened"] == 1
    finally:
        app.engine.dispose()


def test_a_ticket_another_transaction_holds_is_left_to_the_next_sweep(
    postgres_url: str, tmp_path: Path
) -> None:
    """Detection does not wait on a row the ladder's claim holds: it stops there, the ladder goes on, and the
    next sweep finishes the job."""
    clock = FixedClock()
    app = make_app(postgres_url, tmp_path, clock)
    try:
        numbers = []
        for number in ("101", "102", "201", "202"):
            clock.advance(minutes=1)
            numbers.append(file(app, home_path(1, 1, number)))
        with app.sessions() as holding:
            holding.exec(select(Ticket).where(Ticket.id == numbers[3]).with_for_update()).one()
            with app.sessions() as session:
                work = Work(session, clock.now(), app.policy)
                assert hotspots.detect_new(work) == Counter(hotspot_opened=1, hotspot_later=1)
                session.commit()
            holding.rollback()
        [spot] = spots(app)
        assert members(app, spot.id or 0) == numbers[:3]
        run(app)
        assert members(app, spot.id or 0) == numbers
    finally:
        app.engine.dispose()


def test_the_watermark_follows_the_tickets_looked_at(app: App, clock: FixedClock) -> None:
    with app.sessions() as session:
        assert session.get(HotSpotWatch, 1) is not None  # the migration wrote the row
    last = file(app, home_path(1, 1, "101"))
    run(app)
    with app.sessions() as session:
        watch = session.get(HotSpotWatch, 1)
        assert watch is not None
        assert (watch.seen_at, watch.seen_id) == (clock.now(), last)
    clock.advance(hours=1)
    run(app)  # nothing new: the watermark stays where the last ticket was
    with app.sessions() as session:
        watch = session.get(HotSpotWatch, 1)
        assert watch is not None and watch.seen_id == last


def test_the_first_run_looks_back_one_window_only(app: App, clock: FixedClock) -> None:
    for number in ("101", "102", "201"):
        file(app, home_path(1, 1, number))
    clock.advance(days=8)
    run(app)  # the first sweep ever: those three are older than one window
    assert spots(app) == []


def test_a_ticket_that_breaks_detection_holds_nobody_up(
    app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = file(app, home_path(2, 1, "101"))
    for number in ("101", "102", "201"):
        clock.advance(minutes=1)
        file(app, home_path(1, 1, number))
    examine = detect.examine

    def fragile(session: Any, seen: Any, ticket: Any, *args: Any) -> Any:
        if ticket.id == broken:
            raise RuntimeError("a bad row")
        return examine(session, seen, ticket, *args)

    monkeypatch.setattr(detect, "examine", fragile)
    assert run(app)["hotspot_opened"] == 1
    [spot] = spots(app)
    assert broken not in members(app, spot.id or 0)


def test_detection_reads_tickets_through_indexes_only(app: App, clock: FixedClock) -> None:
    """Every read of the ticket table while detecting searches an index; none scans the table."""
    earlier = file(app, home_path(1, 1, "101"), category="water")
    with app.sessions() as session:
        session.execute(
            text("UPDATE ticket SET state = 'resolved', resolved_at = created_at WHERE id = :i"),
            {"i": earlier},
        )
        session.commit()
    run(app)
    for number in ("101", "102", "201"):
        clock.advance(minutes=1)
        file(app, home_path(1, 1, number))
    clock.advance(minutes=1)
    file(app, home_path(1, 1, "101"), category="water")
    seen: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM ticket" in statement:
            seen.append((statement, parameters))

    with app.sessions() as session:
        work = Work(session, clock.now(), app.policy)
        event.listen(app.engine, "before_cursor_execute", capture)
        try:
            done = hotspots.detect_new(work)
        finally:
            event.remove(app.engine, "before_cursor_execute", capture)
        session.rollback()
    assert done == Counter(hotspot_opened=2)
    assert seen
    plans = []
    raw = app.engine.raw_connection()
    try:
        cursor = raw.cursor()
        for statement, parameters in seen:
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            plans.append(" | ".join(str(row[-1]) for row in cursor.fetchall()))
    finally:
        raw.close()
    for plan in plans:
        ticket_steps = [
            step for step in plan.split(" | ") if " ticket " in f" {step} " or step.endswith(" ticket")
        ]
        assert all(step.startswith("SEARCH") for step in ticket_steps), plan
    joined = " ".join(plans)
    for index in ("ix_ticket_created", "ix_ticket_cluster", "ix_ticket_repeat"):
        assert index in joined, index
