"""Committee reminders with the injected clock, at their edges: 6 and 3 months before the term ends (the
committee, community and street staff), the end of the term and the street's monthly reminder while no
committee serves, an overdue handover (community staff); each sent once, through a late run, a failed step
and a restart."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from bot import committee_job
from bot.bootstrap import App
from bot.clock import FixedClock
from core import committee as use_cases
from core.work import Work
from db import people as db_people
from db.committee.tables import Committee, Handover
from db.due import RETRY_BROKEN
from db.models import AuditEntry
from tests.conftest import make_app
from tests.support import committees as cm
from tests.support.chat import ChatUser, person_of

ENDS = date(2027, 6, 30)  # the term's last day: out of office from 1 July 2027
SIX = datetime(2027, 1, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, six months before 1 July
THREE = datetime(2027, 4, 1, 1, 0, tzinfo=UTC)
END = datetime(2027, 7, 1, 1, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def run(app: App, at: datetime) -> Counter[str]:
    app.clock.current = at  # type: ignore[attr-defined]
    return committee_job.advance(app.sessions, at, app.policy)


def people(app: App) -> dict[str, int]:
    """A committee member, community staff and street staff over 阳光花园."""
    staff = ChatUser(app.service, "staff-1", name="张主任")
    staff.say("/start DEMO-STAFF")
    street = ChatUser(app.service, "street-1", name="街道老刘")
    street.say("/start DEMO-STREET")
    return {
        "member": cm.owner(app, "周委员", "1栋/1单元/301"),
        "community": person_of(app.sessions, staff),
        "street": person_of(app.sessions, street),
    }


def test_the_term_reminders_go_once_each_at_their_edges(app: App, clock: FixedClock) -> None:
    who = people(app)
    cm.set_committee(app, [(who["member"], "chair")], date(2022, 7, 1), ENDS)
    everyone = {who["member"]: 1, who["community"]: 1, who["street"]: 1}

    assert run(app, SIX - SECOND) == Counter()
    assert run(app, SIX) == Counter(six=1)
    assert run(app, SIX + timedelta(hours=1)) == Counter()  # once
    assert cm.pushes(app, "committee.push_term_ending") == everyone

    assert run(app, THREE - SECOND) == Counter()
    assert run(app, THREE) == Counter(three=1)
    assert cm.pushes(app, "committee.push_term_ending") == {p: 2 for p in everyone}

    assert run(app, END - SECOND) == Counter()
    assert run(app, END) == Counter(ended=1)  # out of office, and the street hears it at once
    assert cm.pushes(app, "committee.push_lapsed") == {who["street"]: 1}
    with app.sessions() as session:
        ended = session.exec(select(Committee)).one()
        assert (ended.state, ended.current) == ("ended", None)
        assert session.exec(select(AuditEntry).where(AuditEntry.action == "committee.end")).one()

    month = datetime(2027, 8, 1, 1, 0, tzinfo=UTC)
    assert run(app, month - SECOND) == Counter()
    assert run(app, month) == Counter(lapsed=1)
    assert run(app, month + timedelta(days=3)) == Counter()
    assert cm.pushes(app, "committee.push_lapsed") == {who["street"]: 2}

    # A committee in office again: the monthly reminder stops.
    clock.current = month + timedelta(days=5)
    cm.set_committee(app, [(who["member"], "chair")], date(2027, 8, 6), date(2032, 8, 5))
    assert run(app, datetime(2027, 9, 1, 1, 0, tzinfo=UTC)) == Counter()
    assert cm.pushes(app, "committee.push_lapsed") == {who["street"]: 2}


def test_a_late_run_sends_the_latest_reminder_only(app: App) -> None:
    who = people(app)
    cm.set_committee(app, [(who["member"], "chair")], date(2022, 7, 1), ENDS)
    assert run(app, THREE + timedelta(days=2)) == Counter(three=1)  # down since before the six-month mark
    assert run(app, THREE + timedelta(days=3)) == Counter()
    assert cm.pushes(app, "committee.push_term_ending") == {p: 1 for p in who.values()}
    # Down for months after the end: one reminder to the street, then monthly from there.
    assert run(app, datetime(2027, 10, 15, tzinfo=UTC)) == Counter(ended=1)
    assert run(app, datetime(2027, 10, 20, tzinfo=UTC)) == Counter()
    assert run(app, datetime(2027, 11, 1, 1, 0, tzinfo=UTC)) == Counter(lapsed=1)
    assert cm.pushes(app, "committee.push_lapsed") == {who["street"]: 2}


def test_a_committee_set_late_skips_the_reminders_already_past(app: App) -> None:
    who = people(app)
    app.clock.current = THREE + timedelta(days=10)  # type: ignore[attr-defined]
    cm.set_committee(app, [(who["member"], "chair")], date(2022, 7, 1), ENDS)
    assert run(app, THREE + timedelta(days=11)) == Counter()
    assert run(app, END) == Counter(ended=1)
    assert cm.pushes(app, "committee.push_term_ending") == {}


def test_a_failed_step_is_retried_and_a_restart_sends_nothing_twice(
    app: App, sqlite_url: str, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    who = people(app)
    cm.set_committee(app, [(who["member"], "chair")], date(2022, 7, 1), ENDS)
    real = use_cases.advance

    def crash(work: object, committee: Committee) -> str:
        real(work, committee)  # type: ignore[arg-type]
        raise RuntimeError("the process died mid-step")

    monkeypatch.setattr(use_cases, "advance", crash)
    assert run(app, SIX) == Counter(failed=1)
    assert cm.pushes(app, "committee.push_term_ending") == {}  # rolled back with the step
    monkeypatch.setattr(use_cases, "advance", real)
    assert run(app, SIX + RETRY_BROKEN - SECOND) == Counter()
    assert run(app, SIX + RETRY_BROKEN) == Counter(six=1)

    # A restart: another app on the same database finds nothing left to send.
    again = make_app(sqlite_url, tmp_path, FixedClock(SIX + RETRY_BROKEN + SECOND))  # type: ignore[arg-type]
    try:
        assert committee_job.advance(again.sessions, again.clock.now(), again.policy) == Counter()
    finally:
        again.engine.dispose()
    assert cm.pushes(app, "committee.push_term_ending") == {p: 1 for p in who.values()}


def test_two_processes_never_send_a_reminder_twice(any_app: App) -> None:
    app = any_app
    member = cm.owner(app, "周委员", "1栋/1单元/301")
    cm.set_committee(app, [(member, "chair")], date(2022, 7, 1), ENDS)
    first = committee_job.advance(app.sessions, SIX, app.policy)
    second = committee_job.advance(app.sessions, SIX, app.policy)
    assert first + second == Counter(six=1)
    assert cm.pushes(app, "committee.push_term_ending") == {member: 1}


def test_an_overdue_handover_reminds_community_staff_weekly_until_done(app: App, clock: FixedClock) -> None:
    who = people(app)
    cm.set_committee(app, [(who["member"], "chair")], date(2022, 7, 1), ENDS)
    newcomer = cm.owner(app, "吴新", "1栋/1单元/302")
    cm.set_committee(app, [(newcomer, "chair")], date(2026, 11, 20), date(2031, 11, 19))
    due = clock.now() + timedelta(days=10)
    assert cm.pushes(app, "committee.push_handover") == {who["member"]: 1, who["community"]: 1}
    assert run(app, due - SECOND) == Counter()
    assert run(app, due) == Counter(handover_overdue=1)
    assert run(app, due + timedelta(days=6)) == Counter()
    assert run(app, due + timedelta(days=7)) == Counter(handover_overdue=1)
    assert cm.pushes(app, "committee.push_handover_overdue") == {who["community"]: 2}
    with app.sessions() as session:
        handover = session.exec(select(Handover)).one()
        assert handover.reminders_sent == 2
    # The outgoing chair marks it done: no more reminders.
    with app.sessions() as session:
        work = Work(session, clock.now(), app.policy)
        use_cases.finish_handover(work, db_people.actor(session, who["member"]), handover.id or 0)
        session.commit()
    assert run(app, due + timedelta(days=30)) == Counter()
    assert cm.pushes(app, "committee.push_handover_overdue") == {who["community"]: 2}
