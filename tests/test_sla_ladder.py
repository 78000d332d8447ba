"""Time travel through the SLA ladder (DESIGN §4.1, issue 3) with the injected clock.

Residents report through the chat; the handler's actions go straight through the use cases; the scheduler's
sweep is called by hand at chosen instants, several times each, to show every due step happens once.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, func, select

from bot.bootstrap import App, build
from bot.clock import FixedClock
from bot.sweep_job import sweep
from core import notify, tickets
from core.work import Work
from db import outbox, people
from db.cases import ladder
from db.models import Identity, Outbox, Ticket, TicketEvent, WebMessage
from tests.support.chat import ChatUser

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)

# (category label on the report button, SLA class, accept clock, resolve clock, urgent)
CLASSES = [
    pytest.param("燃气泄漏", "urgent", timedelta(minutes=30), timedelta(hours=2), True, id="urgent"),
    pytest.param("停水/漏水", "utilities", timedelta(hours=2), timedelta(hours=24), False, id="utilities"),
    pytest.param("环境卫生", "general", timedelta(hours=24), timedelta(days=7), False, id="general"),
    pytest.param("物业收费", "complex", timedelta(hours=24), timedelta(days=15), False, id="complex"),
]
STAFF_INVITES = {  # extra people the demo has no invite for: the upper rungs of the ladder
    "LADDER-STREET": ("street_staff", "铁西区/北沟街道"),
    "LADDER-DEPT": ("department_staff", "铁西区"),
    "LADDER-ADMIN": ("admin", "铁西区"),
}


@dataclass
class Cast:
    """The app, its clock, and everyone on the ladder by person id."""

    app: App
    clock: FixedClock
    owner: ChatUser
    owner_id: int
    grid: int
    community: int
    street: int
    department: int
    admin: int

    @property
    def levels(self) -> dict[str, int]:
        """Who must act at each rung once nobody has accepted the ticket."""
        return {
            "grid": self.grid,
            "community": self.community,
            "street": self.street,
            "department": self.department,
        }


def person_of(app: App, user_ref: str) -> int:
    """The person behind a web chat user."""
    with app.sessions() as session:
        identity = session.exec(
            select(Identity).where(Identity.channel == "web", Identity.external_id == user_ref)
        ).one()
        return identity.person_id


def make_cast(app: App, clock: FixedClock) -> Cast:
    """A grid worker, community, street and department staff and a supervisor join; an owner joins."""
    with app.sessions() as session:
        for code, (kind, path) in STAFF_INVITES.items():
            node = people_node(session, path)
            people.create_invite(session, kind, clock.now(), node_id=node, code=code, uses=None)
        session.commit()
    joined: dict[str, int] = {}
    for ref, code in [
        ("grid", "DEMO-GRID"),
        ("community", "DEMO-STAFF"),
        ("street", "LADDER-STREET"),
        ("department", "LADDER-DEPT"),
        ("admin", "LADDER-ADMIN"),
    ]:
        user = ChatUser(app.service, ref, name=ref)
        assert "绑定成功" in user.say(f"/start {code}")[0].text
        joined[ref] = person_of(app, ref)
    owner = ChatUser(app.service, "owner", name="王芳")
    owner.say("/start DEMO-OWNER")
    return Cast(app, clock, owner, person_of(app, "owner"), **joined)


def people_node(session: Any, path: str) -> int:
    """An org node's id by its path."""
    from db.org import find_node

    node = find_node(session, path)
    assert node is not None and node.id is not None
    return node.id


@pytest.fixture
def cast(app: App, clock: FixedClock) -> Cast:
    """The ladder's people on SQLite."""
    return make_cast(app, clock)


@pytest.fixture
def any_cast(any_app: App, clock: FixedClock) -> Cast:
    """The ladder's people on SQLite and, when it answers, PostgreSQL."""
    return make_cast(any_app, clock)


# --- helpers ---------------------------------------------------------------------------------------


def report(cast: Cast, label: str, text: str = "请尽快处理") -> int:
    """The owner reports through the chat; returns the ticket number."""
    reply = cast.owner.report(label, text)
    match = re.search(r"#(\d+)", reply)
    assert match, reply
    return int(match.group(1))


def sweep_at(cast: Cast, moment: datetime, times: int = 3, app: App | None = None) -> Counter[str]:
    """Move the clock and sweep several times at that instant; only the first may do anything."""
    cast.clock.current = moment
    app = app or cast.app
    first = sweep(app.sessions, moment, app.policy)
    for _ in range(times - 1):
        assert sweep(app.sessions, moment, app.policy) == Counter()
    return first


def ticket(cast: Cast, ticket_id: int) -> Ticket:
    """The ticket row as stored now."""
    with cast.app.sessions() as session:
        row = session.get(Ticket, ticket_id)
        assert row is not None
        return row


def act(cast: Cast, use_case: Callable[..., object], ticket_id: int, person: int, *args: Any) -> None:
    """Apply a ticket use case as a person at the clock's time in its own transaction, with its pushes."""
    with cast.app.sessions() as session:
        work = Work(session, cast.clock.now(), cast.app.policy)
        use_case(work, people.actor(session, person), ticket_id, *args)
        notify.publish(work)
        session.commit()


def kinds(cast: Cast, ticket_id: int) -> list[str]:
    """The ticket's timeline, as event kinds in order."""
    with cast.app.sessions() as session:
        return list(
            session.exec(
                select(TicketEvent.kind)
                .where(TicketEvent.ticket_id == ticket_id)
                .order_by(col(TicketEvent.id))
            ).all()
        )


def pushes(cast: Cast, ticket_id: int, template: str) -> list[Outbox]:
    """Outbox rows of one template about a ticket, oldest first."""
    with cast.app.sessions() as session:
        return list(
            session.exec(
                select(Outbox)
                .where(Outbox.ticket_id == ticket_id, Outbox.template == template)
                .order_by(col(Outbox.id))
            ).all()
        )


def outbox_count(cast: Cast) -> int:
    """Every queued message."""
    with cast.app.sessions() as session:
        return session.exec(select(func.count()).select_from(Outbox)).one()


def held_until(moment: datetime) -> datetime | None:
    """When a non-urgent push decided at `moment` may leave: None by day, 07:00 Shanghai at night."""
    local = moment.astimezone(SHANGHAI)
    if 7 <= local.hour < 22:
        return None
    day = local.date() if local.hour < 7 else local.date() + DAY
    return datetime.combine(day, time(7), SHANGHAI).astimezone(UTC)


def shanghai(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of November 2026 in local time, as UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def drain(cast: Cast, moment: datetime) -> int:
    """Run the outbox dispatcher at a moment."""
    cast.clock.current = moment
    return asyncio.run(cast.app.dispatcher.drain())


def drain_all(cast: Cast) -> None:
    """Send everything queued, far in the future (every template must render), and check nothing is left."""
    while drain(cast, cast.clock.now() + 1000 * DAY):
        pass
    with cast.app.sessions() as session:
        assert session.exec(select(func.count()).where(col(Outbox.sent_at).is_(None))).one() == 0


def web_messages(cast: Cast, person_id: int) -> list[dict[str, Any]]:
    """What reached a person's web chat."""
    with cast.app.sessions() as session:
        return list(
            session.exec(
                select(WebMessage.body)
                .join(Identity, col(Identity.id) == WebMessage.identity_id)
                .where(Identity.person_id == person_id, col(WebMessage.outgoing).is_(True))
                .order_by(col(WebMessage.id))
            ).all()
        )


# --- the accept clock through the whole ladder, per SLA class --------------------------------------


@pytest.mark.parametrize(("label", "sla", "accept", "resolve", "urgent"), CLASSES)
def test_accept_clock_climbs_the_whole_ladder(
    any_cast: Cast, label: str, sla: str, accept: timedelta, resolve: timedelta, urgent: bool
) -> None:
    """Reminders at 50 % and 80 % to whoever holds it, breach → next rung with a new clock, alert at top."""
    cast = any_cast
    code = report(cast, label)
    t0 = cast.clock.now()
    row = ticket(cast, code)
    assert (row.sla_class, row.urgent, row.level, row.holder_id) == (sla, urgent, "grid", cast.grid)
    assert (row.accept_due_at, row.resolve_due_at) == (t0 + accept, t0 + resolve)
    assert row.next_due_at == t0 + accept * 0.5

    rungs = ["grid", "community", "street", "department"]
    for i in range(len(rungs)):
        start = t0 + accept * i
        assert sweep_at(cast, start + accept * 0.5 - SECOND) == Counter()
        assert sweep_at(cast, start + accept * 0.5) == Counter(reminder_50=1)
        assert sweep_at(cast, start + accept * 0.8 - SECOND) == Counter()
        assert sweep_at(cast, start + accept * 0.8) == Counter(reminder_80=1)
        assert sweep_at(cast, start + accept - SECOND) == Counter()
        outcome = sweep_at(cast, start + accept)
        if i + 1 < len(rungs):
            assert outcome == Counter({f"escalated_{rungs[i + 1]}": 1})
            row = ticket(cast, code)
            assert (row.level, row.holder_id, row.state, row.clock_stage) == (
                rungs[i + 1],
                None,
                "new",
                "accept",
            )
            assert (row.clock_started_at, row.clock_due_at) == (start + accept, start + 2 * accept)
            assert (row.reminders_sent, row.next_due_at) == (0, start + accept * 1.5)
        else:
            assert outcome == Counter(supervisor_alert=1)
    top = t0 + accept * 4
    for later in (top + HOUR, top + 400 * DAY):
        assert sweep_at(cast, later) == Counter()
    row = ticket(cast, code)
    assert (row.level, row.state, row.next_due_at, row.clock_due_at) == ("department", "new", None, None)
    assert row.accept_due_at == t0 + accept  # the promise made at filing stays for the rates

    # Reminders: two per rung, to that rung's holder, decided at the reminder points.
    reminders = pushes(cast, code, "cases.reminder")
    expected = [
        (cast.levels[level], percent, t0 + accept * (i + fraction))
        for i, level in enumerate(rungs)
        for percent, fraction in ((50, 0.5), (80, 0.8))
    ]
    assert [(r.person_id, r.context["percent"], r.created_at) for r in reminders] == expected
    for r in reminders:
        assert r.context["stage"] == "accept"
        assert r.urgent is urgent
        assert r.not_before == (None if urgent else held_until(r.created_at))

    # Escalations: three climbs on the timeline, residents told each time, the new rung's staff tasked.
    events = kinds(cast, code)
    assert events.count("escalated") == 3 and events.count("supervisor_alert") == 1
    assert events[-4:] == ["escalated", "escalated", "escalated", "supervisor_alert"]
    told = pushes(cast, code, "cases.escalated")
    assert [(r.person_id, r.context["level"]) for r in told] == [
        (cast.owner_id, "community"),
        (cast.owner_id, "street"),
        (cast.owner_id, "department"),
    ]
    for r in told:
        assert r.not_before == (None if urgent else held_until(r.created_at))
    tasked = pushes(cast, code, "cases.escalated_task")
    assert [(r.person_id, r.context["level"]) for r in tasked] == [
        (cast.community, "community"),
        (cast.street, "street"),
        (cast.department, "department"),
    ]
    alert = pushes(cast, code, "cases.supervise")
    assert [(r.person_id, r.context["reason"], r.urgent, r.not_before) for r in alert] == [
        (cast.admin, "top", True, None)
    ]
    drain_all(cast)


@pytest.mark.parametrize(("label", "sla", "accept", "resolve", "urgent"), CLASSES)
def test_resolve_clock_keeps_the_handler_and_climbs(
    cast: Cast, label: str, sla: str, accept: timedelta, resolve: timedelta, urgent: bool
) -> None:
    """After accepting, the promised resolve deadline runs; at breach the ticket climbs, handler kept."""
    code = report(cast, label)
    t0 = cast.clock.now()
    cast.clock.current = t0 + accept * 0.25
    act(cast, tickets.accept, code, cast.grid)
    row = ticket(cast, code)
    assert (row.state, row.clock_stage, row.clock_started_at, row.clock_due_at) == (
        "accepted",
        "resolve",
        t0,
        t0 + resolve,
    )
    assert row.next_due_at == t0 + resolve * 0.5
    assert sweep_at(cast, t0 + accept) == Counter()  # the accept deadline no longer matters
    assert sweep_at(cast, t0 + resolve * 0.5) == Counter(reminder_50=1)
    assert sweep_at(cast, t0 + resolve * 0.8) == Counter(reminder_80=1)
    assert sweep_at(cast, t0 + resolve) == Counter(escalated_community=1)
    row = ticket(cast, code)
    assert (row.level, row.holder_id, row.state) == ("community", cast.grid, "accepted")
    assert (row.clock_stage, row.clock_started_at, row.clock_due_at) == (
        "resolve",
        t0 + resolve,
        t0 + 2 * resolve,
    )
    assert [r.context["percent"] for r in pushes(cast, code, "cases.reminder")] == [50, 80]
    assert {r.person_id for r in pushes(cast, code, "cases.reminder")} == {cast.grid}
    assert sorted(r.person_id for r in pushes(cast, code, "cases.escalated_task")) == sorted(
        [cast.community, cast.grid]
    )
    assert [r.person_id for r in pushes(cast, code, "cases.escalated")] == [cast.owner_id]
    assert sweep_at(cast, t0 + 2 * resolve) == Counter(escalated_street=1)
    assert ticket(cast, code).resolve_due_at == t0 + resolve  # the promise stays for the rates
    drain_all(cast)


# --- outages ---------------------------------------------------------------------------------------


def test_after_an_outage_only_the_latest_reminder_goes(cast: Cast) -> None:
    """Both reminder points passed while nobody swept: one reminder (80 %), then one climb per breach."""
    code = report(cast, "环境卫生")
    t0 = cast.clock.now()
    assert sweep_at(cast, t0 + 23 * HOUR) == Counter(reminder_80=1)
    reminders = pushes(cast, code, "cases.reminder")
    assert [(r.person_id, r.context["percent"]) for r in reminders] == [(cast.grid, 80)]
    row = ticket(cast, code)
    assert (row.reminders_sent, row.next_due_at) == (2, t0 + DAY)

    # Down for ten days, past several would-be breaches: one climb, and the new clock starts now.
    back = t0 + 10 * DAY
    assert sweep_at(cast, back) == Counter(escalated_community=1)
    row = ticket(cast, code)
    assert (row.level, row.clock_started_at, row.clock_due_at, row.reminders_sent) == (
        "community",
        back,
        back + DAY,
        0,
    )
    assert len(pushes(cast, code, "cases.reminder")) == 1
    assert len(pushes(cast, code, "cases.escalated")) == 1


# --- quiet hours -----------------------------------------------------------------------------------


def test_night_reminder_waits_for_morning(cast: Cast) -> None:
    """A general ticket filed at 11:00 has its 50 % reminder at 23:00: queued then, sent at 07:00."""
    cast.clock.current = shanghai(20, 11)
    code = report(cast, "环境卫生")
    assert drain(cast, shanghai(20, 11)) >= 1
    before = len(web_messages(cast, cast.grid))
    assert before == 1  # the task card went out by day

    assert sweep_at(cast, shanghai(20, 23)) == Counter(reminder_50=1)
    (reminder,) = pushes(cast, code, "cases.reminder")
    assert (reminder.person_id, reminder.not_before, reminder.urgent) == (cast.grid, shanghai(21, 7), False)
    for moment in (shanghai(20, 23), shanghai(21, 3), shanghai(21, 7) - SECOND):
        drain(cast, moment)
        assert len(web_messages(cast, cast.grid)) == before
        assert pushes(cast, code, "cases.reminder")[0].sent_at is None
    drain(cast, shanghai(21, 7))
    assert pushes(cast, code, "cases.reminder")[0].sent_at == shanghai(21, 7)
    assert len(web_messages(cast, cast.grid)) == before + 1


def test_urgent_pushes_go_at_night(cast: Cast) -> None:
    """A gas leak at 23:00: task card, reminders and the residents' escalation notice leave at once."""
    night = shanghai(20, 23)
    cast.clock.current = night
    code = report(cast, "燃气泄漏", "楼道里有很浓的燃气味")
    drain(cast, night)
    assert len(web_messages(cast, cast.grid)) == 1
    assert sweep_at(cast, night + timedelta(minutes=15)) == Counter(reminder_50=1)
    drain(cast, night + timedelta(minutes=15))
    assert len(web_messages(cast, cast.grid)) == 2
    owner_before = len(web_messages(cast, cast.owner_id))
    assert sweep_at(cast, night + timedelta(minutes=30)) == Counter(escalated_community=1)
    drain(cast, night + timedelta(minutes=30))
    assert len(web_messages(cast, cast.owner_id)) == owner_before + 1
    assert len(web_messages(cast, cast.community)) == 1
    for row in pushes(cast, code, "cases.reminder") + pushes(cast, code, "cases.escalated"):
        assert row.not_before is None and row.urgent is True
        assert row.sent_at == row.created_at


def test_non_urgent_escalation_at_night_is_held(cast: Cast) -> None:
    """A utilities ticket filed at 20:00 breaches at 22:00: the climb happens, the pushes wait until 07:00."""
    cast.clock.current = shanghai(20, 20)
    code = report(cast, "停水/漏水")
    assert sweep_at(cast, shanghai(20, 22)) == Counter(escalated_community=1)
    for template in ("cases.escalated", "cases.escalated_task"):
        (row,) = pushes(cast, code, template)
        assert row.not_before == shanghai(21, 7)
    assert ticket(cast, code).level == "community"


# --- pauses ----------------------------------------------------------------------------------------


def test_waiting_for_the_resident_stops_the_resolve_clock(cast: Cast) -> None:
    """While the resident is asked, nothing is due however long; answering shifts every deadline."""
    code = report(cast, "停水/漏水")
    t0 = cast.clock.now()
    cast.clock.current = t0 + 10 * timedelta(minutes=1)
    act(cast, tickets.accept, code, cast.grid)
    cast.clock.current = t0 + HOUR
    act(cast, tickets.ask_resident, code, cast.grid, "请问是哪个水龙头？")
    row = ticket(cast, code)
    assert (row.state, row.paused_at, row.next_due_at) == ("waiting_for_resident", t0 + HOUR, None)
    assert [r.person_id for r in pushes(cast, code, "cases.asked")] == [cast.owner_id]
    events_before, outbox_before = kinds(cast, code), outbox_count(cast)
    for later in (t0 + 12 * HOUR, t0 + DAY, t0 + 30 * DAY):
        assert sweep_at(cast, later) == Counter()
    assert (kinds(cast, code), outbox_count(cast)) == (events_before, outbox_before)
    assert ticket(cast, code).level == "grid"

    pause = 30 * DAY + 4 * HOUR
    cast.clock.current = t0 + HOUR + pause
    act(cast, tickets.add_note, code, cast.owner_id, "在厨房", [])
    row = ticket(cast, code)
    assert (row.state, row.paused_at, row.level) == ("accepted", None, "grid")
    assert (row.accept_due_at, row.resolve_due_at) == (t0 + 2 * HOUR + pause, t0 + DAY + pause)
    assert (row.clock_started_at, row.clock_due_at) == (t0 + pause, t0 + DAY + pause)
    assert row.next_due_at == t0 + 12 * HOUR + pause
    assert [r.person_id for r in pushes(cast, code, "cases.answered")] == [cast.grid]

    assert sweep_at(cast, t0 + 12 * HOUR + pause - SECOND) == Counter()
    assert sweep_at(cast, t0 + 12 * HOUR + pause) == Counter(reminder_50=1)
    assert sweep_at(cast, t0 + DAY + pause - SECOND) == Counter(reminder_80=1)
    assert sweep_at(cast, t0 + DAY + pause) == Counter(escalated_community=1)
    drain_all(cast)


def test_waiting_before_acceptance_stops_the_accept_clock(cast: Cast) -> None:
    """Asking before accepting pauses the accept clock; the answer restores 'assigned', deadlines shifted."""
    code = report(cast, "环境卫生")
    t0 = cast.clock.now()
    cast.clock.current = t0 + 6 * HOUR
    act(cast, tickets.ask_resident, code, cast.grid, "具体在哪个垃圾点？")
    assert sweep_at(cast, t0 + 3 * DAY) == Counter()
    cast.clock.current = t0 + 3 * DAY + 6 * HOUR
    act(cast, tickets.add_note, code, cast.owner_id, "在厨房", [])
    row = ticket(cast, code)
    shift = 3 * DAY
    assert (row.state, row.accept_due_at, row.next_due_at) == (
        "assigned",
        t0 + DAY + shift,
        t0 + 12 * HOUR + shift,
    )
    assert sweep_at(cast, t0 + 12 * HOUR + shift) == Counter(reminder_50=1)
    assert sweep_at(cast, t0 + DAY + shift) == Counter(escalated_community=1)


# --- follow-up: reopen and unrated close -----------------------------------------------------------


def test_dissatisfied_reopens_one_level_up_with_a_fresh_resolve_clock(cast: Cast) -> None:
    """不满意: same handler, one rung up, a fresh resolve clock from the rating; the ladder goes on."""
    code = report(cast, "环境卫生")
    t0 = cast.clock.now()
    cast.clock.current = t0 + HOUR
    act(cast, tickets.accept, code, cast.grid)
    cast.clock.current = t0 + DAY
    act(cast, tickets.resolve, code, cast.grid, "fixed", "已清运", [], False)
    assert ticket(cast, code).clock_stage == "followup"
    t1 = t0 + 2 * DAY
    cast.clock.current = t1
    act(cast, tickets.rate, code, cast.owner_id, "dissatisfied", "还是很脏")
    row = ticket(cast, code)
    assert (row.state, row.level, row.holder_id, row.reopen_count, row.resolved_at) == (
        "reopened",
        "community",
        cast.grid,
        1,
        None,
    )
    assert (row.clock_stage, row.clock_started_at, row.clock_due_at, row.reminders_sent) == (
        "resolve",
        t1,
        t1 + 7 * DAY,
        0,
    )
    assert row.next_due_at == t1 + 3.5 * DAY
    assert kinds(cast, code)[-2:] == ["rated_dissatisfied", "reopened"]
    assert [r.person_id for r in pushes(cast, code, "cases.reopened")] == [cast.grid]
    supervise = pushes(cast, code, "cases.supervise")
    assert [(r.person_id, r.context["reason"]) for r in supervise] == [(cast.community, "dissatisfied")]

    assert sweep_at(cast, t0 + DAY + 3 * DAY) == Counter()  # the old follow-up deadline is gone
    assert "closed_unrated" not in kinds(cast, code)
    assert sweep_at(cast, t1 + 3.5 * DAY) == Counter(reminder_50=1)
    assert sweep_at(cast, t1 + 5.6 * DAY) == Counter(reminder_80=1)
    assert sweep_at(cast, t1 + 7 * DAY) == Counter(escalated_street=1)
    row = ticket(cast, code)
    assert (row.level, row.holder_id, row.state) == ("street", cast.grid, "reopened")
    drain_all(cast)


def test_no_rating_in_three_days_closes_unrated(cast: Cast) -> None:
    """The follow-up clock: nothing before 3 days, then closed unrated exactly once."""
    code = report(cast, "停水/漏水")
    t0 = cast.clock.now()
    cast.clock.current = t0 + HOUR
    act(cast, tickets.accept, code, cast.grid)
    t1 = t0 + 5 * HOUR
    cast.clock.current = t1
    act(cast, tickets.resolve, code, cast.grid, "fixed", "阀门已更换", [("web", "after.jpg")], True)
    row = ticket(cast, code)
    assert (row.state, row.clock_stage, row.next_due_at) == ("resolved", "followup", t1 + 3 * DAY)
    assert sweep_at(cast, t1 + DAY) == Counter()  # no reminders on the follow-up clock
    assert sweep_at(cast, t1 + 3 * DAY - SECOND) == Counter()
    assert sweep_at(cast, t1 + 3 * DAY) == Counter(closed_unrated=1)
    assert sweep_at(cast, t1 + 60 * DAY) == Counter()
    row = ticket(cast, code)
    assert (row.state, row.rating, row.closed_at, row.next_due_at) == ("closed", "", t1 + 3 * DAY, None)
    assert kinds(cast, code).count("closed_unrated") == 1
    drain_all(cast)


def test_rated_ticket_is_not_closed_again(cast: Cast) -> None:
    """满意 closes at once; the follow-up deadline then does nothing."""
    code = report(cast, "物业收费")
    t0 = cast.clock.now()
    cast.clock.current = t0 + HOUR
    act(cast, tickets.accept, code, cast.grid)
    act(cast, tickets.resolve, code, cast.grid, "no_action_needed", "收费标准已公示", [], False)
    cast.clock.current = t0 + 2 * HOUR
    act(cast, tickets.rate, code, cast.owner_id, "satisfied", "")
    assert sweep_at(cast, t0 + 10 * DAY) == Counter()
    row = ticket(cast, code)
    assert (row.state, row.rating, row.next_due_at) == ("closed", "satisfied", None)
    assert "closed_unrated" not in kinds(cast, code)


# --- restarts --------------------------------------------------------------------------------------


@pytest.fixture
def second_app(app: App, clock: FixedClock) -> Iterator[App]:
    """Another process on the same database, started later."""
    other = build(app.settings, clock=clock)
    yield other
    other.engine.dispose()


def test_restart_mid_ladder_changes_nothing(
    cast: Cast, second_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash half-way through a sweep loses nothing; a new process does each due step exactly once."""
    code = report(cast, "环境卫生")
    t0 = cast.clock.now()
    assert sweep_at(cast, t0 + 12 * HOUR) == Counter(reminder_50=1)

    class Killed(BaseException):
        """The process dying mid-sweep: not an error the sweep may catch and carry on from."""

    def crash(*args: object, **kwargs: object) -> None:
        raise Killed

    cast.clock.current = t0 + 20 * HOUR
    with monkeypatch.context() as patch:
        patch.setattr(outbox, "enqueue", crash)
        with pytest.raises(Killed):
            sweep(cast.app.sessions, cast.clock.now(), cast.app.policy)
    assert ticket(cast, code).reminders_sent == 1  # the killed transaction left no trace
    assert len(pushes(cast, code, "cases.reminder")) == 1
    cast.app.engine.dispose()

    # The new process picks up exactly where the database says; the old one, if still alive, finds nothing.
    assert sweep_at(cast, t0 + 20 * HOUR, app=second_app) == Counter(reminder_80=1)
    assert sweep_at(cast, t0 + 20 * HOUR, app=cast.app) == Counter()
    apps = [second_app, cast.app]
    street = t0 + 2 * DAY + 30 * timedelta(minutes=1)  # after an outage past 80 % and the breach
    steps = [
        (t0 + DAY, "escalated_community"),
        (t0 + 36 * HOUR, "reminder_50"),
        (street, "escalated_street"),
        (street + 12 * HOUR, "reminder_50"),
        (street + 19.2 * HOUR, "reminder_80"),
        (street + DAY, "escalated_department"),
        (street + 2 * DAY, "supervisor_alert"),
    ]
    for n, (moment, outcome) in enumerate(steps):
        assert sweep_at(cast, moment, times=2, app=apps[n % 2]) == Counter({outcome: 1}), moment
        assert sweep_at(cast, moment, times=2, app=apps[(n + 1) % 2]) == Counter()
    assert [r.context["percent"] for r in pushes(cast, code, "cases.reminder")] == [50, 80, 50, 50, 80]
    assert kinds(cast, code).count("escalated") == 3
    assert kinds(cast, code).count("supervisor_alert") == 1
    assert len(pushes(cast, code, "cases.escalated")) == 3
    assert len(pushes(cast, code, "cases.supervise")) == 1


def test_a_broken_ticket_is_set_aside_and_the_rest_are_swept(
    cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One ticket whose step fails must not stop reminders for every ticket behind it."""
    first = report(cast, "环境卫生")
    second = report(cast, "噪音扰民")
    t0 = cast.clock.now()
    real_step = ladder.step

    def flaky(session: object, ticket: object, now: object, policy: object) -> object:
        if getattr(ticket, "id", None) == first:
            raise ValueError("a bug in one ticket's data")
        return real_step(session, ticket, now, policy)  # type: ignore[arg-type]

    with monkeypatch.context() as patch:
        patch.setattr(ladder, "step", flaky)
        done = sweep(cast.app.sessions, t0 + 12 * HOUR, cast.app.policy)
    assert done == Counter(failed=1, reminder_50=1)
    assert ticket(cast, second).reminders_sent == 1
    assert ticket(cast, first).next_due_at == t0 + 12 * HOUR + timedelta(minutes=10)
    assert sweep_at(cast, t0 + 12 * HOUR + timedelta(minutes=10)) == Counter(reminder_50=1)
