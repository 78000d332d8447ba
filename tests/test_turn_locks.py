"""A person's turns run one at a time in every process, without blocking or deadlocking turns that only
push to that person (PostgreSQL: the turn's lock on the person row is FOR NO KEY UPDATE)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from db import outbox, people
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
