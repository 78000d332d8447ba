"""The poll job on an injected clock (DESIGN §4.2, §5): a poll opens, reminds and closes when its time
comes, each step exactly once — across repeated runs, a restart, and two processes at the same moment."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.bootstrap import App, build
from bot.clock import FixedClock
from bot.polls_job import advance_polls
from bot.runner import run_polls
from core.actions import Vote
from core.notify import notices
from core.notify.polls import OPENED, REMINDER
from db import org, polls
from db.models import Home, Identity, Notice, Outbox, Person, Poll, Residency
from db.polls import ballots, schedule
from handlers.types import Button, Reply
from tests.conftest import make_app
from tests.support import poll_cases
from tests.support.chat import ChatUser

COMPOUND = "铁西区/北沟街道/英雄社区/阳光花园"
TOTAL_AREA = 6 * (7680 + 14320 + 9800 + 6545 + 8950 + 12035)  # 36 homes of 阳光花园: 3559.80 m²


def person_of(app: App, user_ref: str) -> int:
    """The person behind a web chat user."""
    with app.sessions() as session:
        return session.exec(
            select(Identity.person_id).where(Identity.channel == "web", Identity.external_id == user_ref)
        ).one()


def join(app: App, user_ref: str, code: str) -> int:
    """A web chat user who joins with an invite code; returns their person id."""
    ChatUser(app.service, user_ref, name=user_ref).say(f"/start {code}")
    return person_of(app, user_ref)


def announce(app: App, author: int | None, opens_in: timedelta, window: timedelta, **kw: object) -> int:
    """Create a decision poll over 阳光花园 now; returns its id."""
    now = app.clock.now()
    with app.sessions() as session:
        compound = org.find_node(session, COMPOUND)
        assert compound is not None and compound.id is not None
        draft = polls.Draft(
            node_id=compound.id,
            title="增设电动自行车充电桩",
            body="拟在1栋、2栋之间增设电动自行车集中充电区。",
            matter=8,
            kind="decision",
            opens_at=now + opens_in,
            closes_at=now + opens_in + window,
            **kw,  # type: ignore[arg-type]
        )
        poll = poll_cases.create(session, author, draft, now, app.policy)
        session.commit()
        assert poll.id is not None
        return poll.id


def advance(app: App) -> Counter[str]:
    return advance_polls(app.sessions, app.clock.now(), app.policy, app.settings.seal_key)


def pushes(app: App, template: str) -> Counter[int]:
    """How many outbox rows of a template each person got."""
    with app.sessions() as session:
        return Counter(session.exec(select(Outbox.person_id).where(Outbox.template == template)).all())


def vote(app: App, poll_id: int, person_id: int, choice: str) -> None:
    with app.sessions() as session:
        ballots.vote(session, poll_id, person_id, choice, app.clock.now(), app.settings.seal_key)
        session.commit()


def get_poll(app: App, poll_id: int) -> Poll:
    with app.sessions() as session:
        poll = session.get(Poll, poll_id)
        assert poll is not None
        return poll


def result_notices(app: App) -> list[Notice]:
    with app.sessions() as session:
        found = session.exec(select(Notice).order_by(col(Notice.id))).all()
    return [n for n in found if n.data.get("poll", {}).get("event") == "result"]


def m2(centi: int) -> str:
    return f"{centi // 100}.{centi % 100:02d}"


def test_a_poll_opens_reminds_and_closes_once(
    app: App, clock: FixedClock, sqlite_url: str, tmp_path: Path
) -> None:
    committee = join(app, "committee", "DEMO-COMMITTEE")
    owner, neighbour = join(app, "owner-1", "DEMO-OWNER"), join(app, "owner-2", "DEMO-OWNER2")
    tenant = join(app, "tenant-1", "DEMO-TENANT")
    # 10:00 in Shanghai (the clock's start): no quiet hours in the way. The committee may run the poll.
    poll_id = announce(app, committee, timedelta(days=15), timedelta(days=7))
    poll = get_poll(app, poll_id)
    opens_at, closes_at = poll.opens_at, poll.closes_at
    assert pushes(app, "notices.notice") == Counter({owner: 1, neighbour: 1, tenant: 1})

    assert advance(app) == Counter()
    clock.current = opens_at - timedelta(seconds=1)
    assert advance(app) == Counter()
    assert get_poll(app, poll_id).state == "announced"

    clock.current = opens_at
    assert advance(app) == Counter(opened=1)
    assert advance(app) == Counter()
    assert pushes(app, OPENED) == Counter({owner: 1, neighbour: 1})  # owners only, once each
    assert get_poll(app, poll_id).state == "open"
    vote(app, poll_id, owner, "yes")

    clock.current = closes_at - timedelta(days=3)
    assert advance(app) == Counter(reminded=1)
    assert advance(app) == Counter()
    assert pushes(app, REMINDER) == Counter({neighbour: 1})  # the owner who voted gets none
    with app.sessions() as session:
        row = session.exec(select(Outbox).where(Outbox.template == REMINDER)).one()
        assert row.context["days_left"] == 3 and row.buttons[0][0]["data"] == Vote("v", poll=poll_id).encode()

    # A restart: a new process on the same database file finds nothing to do twice.
    again = make_app(sqlite_url, tmp_path, clock)
    try:
        assert advance(again) == Counter()
        clock.current = closes_at - timedelta(days=1)
        assert advance(again) == Counter(reminded=1)
        assert advance(app) == Counter()
        assert pushes(app, REMINDER) == Counter({neighbour: 2})
        vote(again, poll_id, neighbour, "no")

        clock.current = closes_at - timedelta(seconds=1)
        assert advance(again) == Counter()
        clock.current = closes_at
        assert advance(again) == Counter(closed=1)
        assert advance(app) == Counter() and advance(again) == Counter()
    finally:
        again.engine.dispose()

    poll = get_poll(app, poll_id)
    assert poll.state == "closed" and poll.closed_at == closes_at
    assert poll.result["outcome"] == "no_quorum"
    assert poll.result["participating_area"] == 7680 + 9800 and poll.result["total_area"] == TOTAL_AREA
    assert (poll.result["participating_owners"], poll.result["total_owners"]) == (2, 36)
    (published,) = result_notices(app)
    assert published.id == poll.result_notice_id and published.kind == "meeting"
    assert published.publicity_until == closes_at + polls.RESULT_PUBLICITY
    with app.sessions() as session:
        got = Counter(
            session.exec(
                select(Outbox.person_id).where(
                    Outbox.notice_id == published.id, Outbox.template == notices.NOTICE
                )
            ).all()
        )
    assert got == Counter({owner: 1, neighbour: 1, tenant: 1})  # every owner and tenant in scope, once

    # The result notice in both languages, with its numbers.
    context = notices.content(published)
    zh = app.renderer.text("zh_CN", "notices.notice", context)
    en = app.renderer.text("en", "notices.notice", context)
    view = app.renderer.text(
        "zh_CN", "notices.view", {**context, "date": closes_at.isoformat(), "acked": False}
    )
    # Stored as exact numbers, formatted when shown: 174.80 / 3559.80 m² is 4.91%; 2 of 36 owners 5.56%.
    area_share, owner_share = poll.result["area_turnout"], poll.result["owner_turnout"]
    assert (Fraction(*area_share), Fraction(*owner_share)) == (
        Fraction(7680 + 9800, TOTAL_AREA),
        Fraction(2, 36),
    )
    area_pct, owner_pct = "4.91%", "5.56%"
    (yes,) = poll.result["approvals"]
    assert (yes["area"], Fraction(*yes["area_share"]), yes["owners"], Fraction(*yes["owner_share"])) == (
        7680,
        Fraction(7680, 7680 + 9800),  # 43.94%
        1,
        Fraction(1, 2),  # 50.00%
    )
    numbers = [m2(7680 + 9800), m2(TOTAL_AREA), area_pct, owner_pct, m2(7680), "43.94%", "50.00%"]
    for text in (zh, en, view):
        for needle in (*numbers, poll.digest):
            assert needle in text, (needle, text)
    assert "「核对回执」" in zh and "「核对回执」" in view and '"Check receipt"' in en
    assert "业主 2 / 共 36 人" in zh and "业主 2 / 共 36 人" in view and "owners 2 of 36" in en
    assert "反对：面积 98.00 ㎡，1 人" in zh and "No: area 98.00 m², 1 owner\n" in en
    assert "参与表决的面积或人数未达到三分之二" in zh
    assert "第（八）项 改变共有部分的用途" in zh and "四分之三以上" in zh
    assert "no quorum: less than two thirds" in en and "item (8)" in en and "at least three quarters" in en


def test_a_sweep_that_was_down_sends_one_reminder(app: App, clock: FixedClock) -> None:
    owner, neighbour = join(app, "owner-1", "DEMO-OWNER"), join(app, "owner-2", "DEMO-OWNER2")
    poll_id = announce(app, None, timedelta(days=15), timedelta(days=7))
    poll = get_poll(app, poll_id)
    clock.current = poll.opens_at
    assert advance(app) == Counter(opened=1)
    clock.current = poll.closes_at - timedelta(hours=12)  # both reminder marks passed while it was down
    assert advance(app) == Counter(reminded=1)
    assert advance(app) == Counter()
    assert pushes(app, REMINDER) == Counter({owner: 1, neighbour: 1})
    assert get_poll(app, poll_id).reminders_sent == 2
    clock.current = poll.closes_at + timedelta(hours=1)
    assert advance(app) == Counter(closed=1)
    assert pushes(app, REMINDER) == Counter({owner: 1, neighbour: 1})
    assert len(result_notices(app)) == 1


def test_a_short_window_skips_the_three_day_reminder(app: App, clock: FixedClock) -> None:
    owner, neighbour = join(app, "owner-1", "DEMO-OWNER"), join(app, "owner-2", "DEMO-OWNER2")
    poll_id = announce(
        app, None, timedelta(days=2), timedelta(days=2), shortened_reason="电梯故障，需尽快决定维修方案"
    )
    poll = get_poll(app, poll_id)
    clock.current = poll.opens_at
    assert advance(app) == Counter(opened=1)
    assert get_poll(app, poll_id).next_due_at == poll.closes_at - timedelta(days=1)
    vote(app, poll_id, neighbour, "abstain")
    clock.current = poll.closes_at - timedelta(days=1)
    assert advance(app) == Counter(reminded=1)
    clock.current = poll.closes_at
    assert advance(app) == Counter(closed=1)
    assert pushes(app, REMINDER) == Counter({owner: 1})


def test_a_failing_poll_is_set_aside_and_the_others_go_on(
    any_app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = any_app  # on SQLite, and on PostgreSQL when it answers
    owner = join(app, "owner-1", "DEMO-OWNER")
    broken = announce(app, None, timedelta(days=15), timedelta(days=7))
    fine = announce(app, None, timedelta(days=15), timedelta(days=7))
    opens_at = get_poll(app, fine).opens_at
    real = schedule.open_poll

    def open_poll(session, poll, now):  # type: ignore[no-untyped-def]
        opened = real(session, poll, now)  # writes, then fails: all of it must be rolled back
        if poll.id == broken:
            raise RuntimeError("boom")
        return opened

    monkeypatch.setattr(schedule, "open_poll", open_poll)
    clock.current = opens_at
    assert advance(app) == Counter(opened=1, failed=1)
    assert get_poll(app, broken).state == "announced"
    assert get_poll(app, broken).next_due_at == opens_at + timedelta(minutes=10)
    with app.sessions() as session:
        rows = session.exec(select(Outbox.context).where(Outbox.template == OPENED)).all()
    assert [r["poll_id"] for r in rows] == [fine]
    monkeypatch.setattr(schedule, "open_poll", real)
    assert advance(app) == Counter()  # not before its retry time
    clock.current = opens_at + timedelta(minutes=10)
    assert advance(app) == Counter(opened=1)
    assert pushes(app, OPENED) == Counter({owner: 2})  # one per poll


def test_the_job_sends_what_it_queued(app: App, clock: FixedClock) -> None:
    owner = join(app, "owner-1", "DEMO-OWNER")
    poll_id = announce(app, None, timedelta(days=15), timedelta(days=7), consultative=True)
    asyncio.run(app.dispatcher.drain())
    with app.sessions() as session:  # the announcement went out as a notice with the poll's terms
        notice = session.exec(select(Outbox).where(Outbox.template == notices.NOTICE)).one()
        assert notice.status == "sent" and notice.context["poll"]["event"] == "announced"
    zh = app.renderer.text("zh_CN", notices.NOTICE, notice.context)
    en = app.renderer.text("en", notices.NOTICE, notice.context)
    for needle in (
        "表决公告",
        "第（八）项",
        "四分之三以上",
        "三分之二以上",
        "不记名",
        "「业主表决」投票",
        "【征询意见】",
    ):
        assert needle in zh, needle
    for needle in (
        "item (8)",
        "at least three quarters",
        "two thirds",
        "Secret ballot",
        'tap "Votes" in the menu',
        "[CONSULTATIVE]",
    ):
        assert needle in en, needle
    clock.current = get_poll(app, poll_id).opens_at
    asyncio.run(run_polls(app))
    with app.sessions() as session:
        row = session.exec(select(Outbox).where(Outbox.template == OPENED)).one()
        assert row.person_id == owner and row.status == "sent"
    (button,) = row.buttons[0]
    reply = Reply(row.template, row.context, [[Button(button["data"], button["label"])]])
    rendered = app.renderer.render(reply, "zh_CN")
    assert (
        "增设电动自行车充电桩" in rendered.text and "征询意见" in rendered.text and "去投票" in rendered.text
    )
    assert rendered.buttons[0][0] == ("🗳 去投票", Vote("v", poll=poll_id).encode())


def race(apps: list[App], now: datetime) -> list[Counter[str]]:
    """Advance the polls from every app at the same instant, from threads released together."""
    barrier = threading.Barrier(len(apps))
    results: list[Counter[str]] = [Counter() for _ in apps]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = advance_polls(
                apps[i].sessions, now, apps[i].policy, apps[i].settings.seal_key, batch=3
            )
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(apps))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)  # a safety net against a deadlock, not a timing assertion
        assert not thread.is_alive()
    assert not errors, errors
    return results


def test_two_processes_open_each_poll_once(postgres_url: str, tmp_path: Path, clock: FixedClock) -> None:
    first = make_app(postgres_url, tmp_path, clock)
    second = build(first.settings, clock=clock)
    try:
        owners = [join(first, f"owner-{i}", "DEMO-OWNER") for i in range(3)]
        with first.sessions() as session:  # and one verified owner in every other home of 阳光花园
            compound = org.find_node(session, COMPOUND)
            assert compound is not None
            homes = session.exec(select(Home).where(Home.compound_id == compound.id)).all()
            for home in homes[1:]:
                person = Person(name=f"业主{home.id}", created_at=clock.now())
                session.add(person)
                session.flush()
                session.add(
                    Residency(
                        person_id=person.id,  # type: ignore[arg-type]
                        home_id=home.id,  # type: ignore[arg-type]
                        kind="owner",
                        status="verified",
                        created_at=clock.now(),
                    )
                )
            session.commit()
        ids = [announce(first, None, timedelta(days=15), timedelta(days=7)) for _ in range(8)]
        clock.current = get_poll(first, ids[0]).opens_at
        results = race([first, second], clock.now())
        assert sum(results, Counter()) == Counter(opened=len(ids))
        with first.sessions() as session:
            rows = session.exec(
                select(Outbox.person_id, Outbox.context).where(Outbox.template == OPENED)
            ).all()
        per = Counter((context["poll_id"], person) for person, context in rows)
        assert len(per) == len(ids) * (len(owners) + len(homes) - 1)
        assert set(per.values()) == {1}
        assert race([first, second], clock.now()) == [Counter(), Counter()]
        assert {get_poll(first, i).state for i in ids} == {"open"}
    finally:
        first.engine.dispose()
        second.engine.dispose()


def test_a_vote_in_flight_at_the_close_is_counted(
    postgres_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    """A ballot cast just before the close but committed after the job ran must not be left out of the
    count (its receipt would then check as counted while the tally lacks it): the close waits for it."""
    app = make_app(postgres_url, tmp_path, clock)
    try:
        owner = join(app, "owner-1", "DEMO-OWNER")
        poll_id = announce(app, None, timedelta(days=15), timedelta(days=7))
        poll = get_poll(app, poll_id)
        clock.current = poll.opens_at
        assert advance(app) == Counter(opened=1)
        with app.sessions() as voting:
            ballots.vote(
                voting, poll_id, owner, "yes", poll.closes_at - timedelta(seconds=1), app.settings.seal_key
            )
            clock.current = poll.closes_at
            assert advance(app) == Counter()  # not closed under a vote that is still being written
            voting.commit()
        assert advance(app) == Counter(closed=1)
        poll = get_poll(app, poll_id)
        assert (poll.result["ballots"], poll.result["participating_owners"]) == (1, 1)
        with app.sessions() as session:
            assert poll.digest == polls.digest(polls.receipts(session, poll_id))
            with pytest.raises(polls.PollError) as info:  # and after the close nothing more gets in
                ballots.vote(session, poll_id, owner, "no", poll.closes_at - timedelta(seconds=1), b"k")
            assert info.value.reason == "closed"
    finally:
        app.engine.dispose()


def waiting_on_locks(url: str) -> int:
    """How many sessions of this PostgreSQL database wait for a lock."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={name}") as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock'"
        ).fetchone()
        return int(row[0]) if row else 0


def test_a_vote_racing_the_close_is_refused(
    postgres_url: str, tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The close has counted and not yet committed when a vote that arrived just before the close is
    written: the vote must wait and be refused, not slip in after the count."""
    app = make_app(postgres_url, tmp_path, clock)
    try:
        owner = join(app, "owner-1", "DEMO-OWNER")
        poll_id = announce(app, None, timedelta(days=15), timedelta(days=7))
        poll = get_poll(app, poll_id)
        clock.current = poll.opens_at
        assert advance(app) == Counter(opened=1)
        counted, release = threading.Event(), threading.Event()
        real_close = schedule.close

        def close(session, poll, now, policy, key):  # type: ignore[no-untyped-def]
            events = real_close(session, poll, now, policy, key)
            counted.set()
            release.wait(30)  # hold the transaction open, as a slow close would
            return events

        monkeypatch.setattr(schedule, "close", close)
        outcome: dict[str, object] = {}

        def run_close() -> None:
            outcome["close"] = advance_polls(app.sessions, poll.closes_at, app.policy, app.settings.seal_key)

        def run_vote() -> None:
            try:
                with app.sessions() as session:
                    ballots.vote(session, poll_id, owner, "yes", poll.closes_at - timedelta(seconds=1), b"k")
                    session.commit()
                outcome["vote"] = "cast"
            except polls.PollError as exc:
                outcome["vote"] = exc.reason

        closer = threading.Thread(target=run_close)
        closer.start()
        assert counted.wait(30)
        voter = threading.Thread(target=run_vote)
        voter.start()
        for _ in range(300):  # until the vote waits on the close's lock (or has finished)
            if waiting_on_locks(postgres_url) or not voter.is_alive():
                break
            threading.Event().wait(0.02)
        release.set()
        closer.join(60)
        voter.join(60)
        assert not closer.is_alive() and not voter.is_alive()
        assert outcome["close"] == Counter(closed=1)
        assert outcome["vote"] == "closed"
        poll = get_poll(app, poll_id)
        with app.sessions() as session:
            assert poll.result["ballots"] == len(polls.receipts(session, poll_id)) == 0
    finally:
        app.engine.dispose()
