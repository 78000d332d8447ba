"""A person's turns run one at a time in every process, without blocking or deadlocking turns that only
push to that person (PostgreSQL: the turn's lock on the person row is FOR NO KEY UPDATE)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from db import conversations, outbox, people, turns
from db.conversations import State
from db.engine import make_engine, session_factory

pytestmark = pytest.mark.postgres


def test_two_turns_that_push_to_each_other_neither_wait_nor_deadlock(postgres_url: str) -> None:
    """A grid worker accepts a ticket (their turn pushes to the resident) while the resident adds a note
    (their turn pushes to the worker): both commit."""
    engine = make_engine(postgres_url)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    with sessions() as session:
        worker = people.find_or_create_person(session, "web", "w", "w", "刘网格", "zh_CN", now).person_id
        resident = people.find_or_create_person(session, "web", "r", "r", "王芳", "zh_CN", now).person_id
        session.commit()
    both_locked = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def turn(me: int, other: int) -> None:
        try:
            with sessions() as session:
                people.lock_person(session, me)
                both_locked.wait()
                session.connection().exec_driver_sql("SET LOCAL lock_timeout = '5s'")
                outbox.enqueue(session, other, "common.idle", {}, [], now)
                session.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=turn, args=pair) for pair in ((worker, resident), (resident, worker))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    engine.dispose()
    assert errors == []


def test_a_second_turn_of_the_same_person_waits_for_the_first(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    with sessions() as session:
        person = people.find_or_create_person(session, "web", "p", "p", "王芳", "zh_CN", now).person_id
        session.commit()
    with sessions() as first, sessions() as second:
        people.lock_person(first, person)
        second.connection().exec_driver_sql("SET LOCAL lock_timeout = '300ms'")
        with pytest.raises(Exception, match="lock timeout"):
            people.lock_person(second, person)
        first.rollback()
    engine.dispose()


def test_a_turn_that_waited_for_the_person_reads_the_state_the_first_one_committed(postgres_url: str) -> None:
    """The turn's first read finds and locks the person in one statement; the state is read after the lock,
    so a double press sees what the first press saved."""
    engine = make_engine(postgres_url)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    with sessions() as session:
        people.find_or_create_person(session, "telegram", "7", "7", "王芳", "zh_CN", now)
        session.commit()
    seen: list[State] = []

    def second_press() -> None:
        with sessions() as session:
            seen.append(turns.begin(session, "telegram", "7", "7", "王芳", "zh_CN", now)[1])
            session.rollback()

    with sessions() as first:
        who, state = turns.begin(first, "telegram", "7", "7", "王芳", "zh_CN", now)
        before = State(state.flow, state.step, dict(state.data), dict(state.parked), stored=state.stored)
        waiter = threading.Thread(target=second_press)
        waiter.start()
        with sessions() as watcher:  # until the second turn waits for the person's row lock
            for _ in range(100):
                waiting = watcher.connection().exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND datname = current_database()"
                )
                if waiting.scalar_one():
                    break
                watcher.rollback()
                time.sleep(0.05)
            else:
                pytest.fail("the second turn never waited for the first")
        state.go("report", "category", home_id=1)
        conversations.save_state(first, who.person_id, state, before, now)
        first.commit()
    waiter.join(timeout=10)
    assert [(s.flow, s.step, s.data) for s in seen] == [("report", "category", {"home_id": 1})]
    engine.dispose()
