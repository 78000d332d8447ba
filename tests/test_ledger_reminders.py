"""Reminders of a missing statement of accounts (DESIGN §4.4): 30 days after a quarter ends its filer
hears, 7 days later the community staff; each once, across runs, restarts and a published statement."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot import ledger_job
from bot.bootstrap import App
from bot.clock import FixedClock
from core import ledger
from db.ledger.periods import parse_period
from db.ledger.tables import LedgerDue
from db.models import Outbox
from tests.conftest import make_app
from tests.support.chat import ChatUser, person_of
from tests.support.ledger import SUNSHINE, actor_of, income, node_id, work

# 2026Q4 ends at midnight on 1 January 2027 in Shanghai: 2026-12-31 16:00 UTC; late 30 days after.
LATE = datetime(2027, 1, 30, 16, 0, tzinfo=UTC)


def _run(app: App) -> Counter[str]:
    return ledger_job.advance(app.sessions, app.clock.now(), app.policy)


def _pushes(app: App, template: str) -> list[int]:
    with app.sessions() as session:
        return list(
            session.exec(
                select(Outbox.person_id).where(Outbox.template == template).order_by(col(Outbox.id))
            ).all()
        )


def _people(app: App) -> tuple[int, int, int]:
    """The demo company's clerk, the compound's committee member and the community staff member."""
    clerk = ChatUser(app.service, "prop", name="物业客服")
    clerk.say("/start DEMO-PROPERTY")
    committee = ChatUser(app.service, "cmte", name="业委会")
    committee.say("/start DEMO-COMMITTEE")
    staff = ChatUser(app.service, "staff", name="张主任")
    staff.say("/start DEMO-STAFF")
    return person_of(app.sessions, clerk), person_of(app.sessions, committee), person_of(app.sessions, staff)


def test_the_filer_hears_at_thirty_days_and_community_staff_seven_days_later(
    app: App, clock: FixedClock
) -> None:
    clerk, committee, staff = _people(app)
    clock.current = LATE - timedelta(minutes=1)
    first = _run(app)
    assert first["seeded"] >= 2  # the company's and the committee's statements of 阳光花园 are owed
    assert _pushes(app, "ledger.late_filer") == []
    clock.advance(minutes=1)
    assert _run(app)["late_filer"] >= 2
    filers = _pushes(app, "ledger.late_filer")
    assert clerk in filers and committee in filers and staff not in filers
    assert _pushes(app, "ledger.late_community") == []
    clock.advance(days=7, minutes=-1)
    assert _run(app)["late_community"] == 0
    clock.advance(minutes=1)
    assert _run(app)["late_community"] >= 2
    community = _pushes(app, "ledger.late_community")
    assert staff in community and clerk not in community
    clock.advance(days=40)
    again = _run(app)
    assert again["late_filer"] == again["late_community"] == 0
    assert len(_pushes(app, "ledger.late_filer")) == len(filers)
    assert len(_pushes(app, "ledger.late_community")) == len(community)


def test_the_reminder_text_names_the_compound_and_the_period(app: App, clock: FixedClock) -> None:
    clerk = ChatUser(app.service, "prop", name="物业客服")
    clerk.say("/start DEMO-PROPERTY")
    clock.current = LATE
    _run(app)
    with app.sessions() as session:
        row = session.exec(select(Outbox).where(Outbox.template == "ledger.late_filer")).first()
    assert row is not None
    assert row.context["compound"] == "阳光花园" and row.context["period"] == "2026Q4"
    assert row.context["company"] == "阳光物业服务有限公司"
    assert "阳光花园 2026Q4" in app.renderer.text("zh_CN", row.template, row.context)
    assert "阳光花园 for 2026Q4" in app.renderer.text("en", row.template, row.context)


def test_a_published_statement_is_not_reminded(app: App, clock: FixedClock) -> None:
    clerk, _, _ = _people(app)
    clock.current = datetime(2027, 1, 10, 2, 0, tzinfo=UTC)
    _run(app)  # the quarter is seeded; nothing is due yet
    who = actor_of(app, clerk)  # read before the work's write transaction holds SQLite
    with work(app) as w:
        filed = ledger.draft_statement(
            w,
            who,
            ledger.StatementDraft(
                node_id(app, SUNSHINE), parse_period("2026Q4"), "company", (income("parking", 100),)
            ),
        )
        ledger.publish(w, who, filed.statement_id)
    clock.current = LATE + timedelta(days=10)
    done = _run(app)
    reminded = _pushes(app, "ledger.late_filer")
    assert clerk not in reminded  # the company published; only the committee's fund statement is owed
    assert done["late_community"] == 0


def test_a_reminder_is_sent_once_when_the_job_runs_twice_or_after_a_restart(
    app: App, clock: FixedClock, sqlite_url: str, tmp_path: Path
) -> None:
    clerk, _, _ = _people(app)
    clock.current = LATE
    _run(app)
    _run(app)
    assert _pushes(app, "ledger.late_filer").count(clerk) == 1
    app.engine.dispose()
    restarted = make_app(sqlite_url, tmp_path / "again", clock)
    try:
        again = ledger_job.advance(restarted.sessions, clock.now(), restarted.policy)
        assert again["seeded"] == 0 and again["late_filer"] == 0
        assert _pushes(restarted, "ledger.late_filer").count(clerk) == 1
        clock.advance(days=7)
        ledger_job.advance(restarted.sessions, clock.now(), restarted.policy)
        ledger_job.advance(restarted.sessions, clock.now(), restarted.policy)
        with restarted.sessions() as session:
            rows = session.exec(select(LedgerDue)).all()
        assert rows and all(r.stage == "done" and r.next_due_at is None for r in rows)
        with restarted.sessions() as session:
            told = session.exec(select(Outbox).where(Outbox.template == "ledger.late_community")).all()
        each = [(row.person_id, row.context["filer"]) for row in told]
        assert each and len(each) == len(set(each))  # once per person and statement, never twice
    finally:
        restarted.engine.dispose()


def test_two_jobs_running_at_once_remind_once(any_app: App, clock: FixedClock) -> None:
    """Two processes' jobs at the same minute: the quarter is seeded once and each reminder goes once
    (PostgreSQL: SKIP LOCKED and the seed's key; SQLite: one writer at a time)."""
    import threading

    clerk, committee, _ = _people(any_app)
    clock.current = LATE
    results: list[Counter[str]] = []
    errors: list[BaseException] = []

    def job() -> None:
        try:
            results.append(ledger_job.advance(any_app.sessions, LATE, any_app.policy))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=job) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sum(r["late_filer"] for r in results) == 2  # the company's and the committee's statements
    filers = _pushes(any_app, "ledger.late_filer")
    assert filers.count(clerk) == 1 and filers.count(committee) == 1


def test_a_step_that_fails_leaves_nothing_behind_and_is_sent_once_later(
    app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from db.ledger import reminders

    clerk, _, _ = _people(app)
    clock.current = LATE
    real = reminders.filer_people

    def broken(session: object, row: LedgerDue) -> list[int]:
        if row.filer == "company":
            raise RuntimeError("the database went away mid-step")
        return real(session, row)  # type: ignore[arg-type]

    monkeypatch.setattr(reminders, "filer_people", broken)
    assert _run(app)["failed"] == 1
    assert clerk not in _pushes(app, "ledger.late_filer")
    monkeypatch.setattr(reminders, "filer_people", real)
    clock.advance(minutes=9)
    assert _run(app)["late_filer"] == 0  # set aside for ten minutes
    clock.advance(minutes=1)
    assert _run(app)["late_filer"] == 1
    _run(app)
    assert _pushes(app, "ledger.late_filer").count(clerk) == 1
