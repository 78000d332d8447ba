"""Committee terms and 换届 (DESIGN §4.6), the rules: one committee in office per compound (the database
refuses a second), the five-year cap, an odd 物管会 chaired by the street, members who are verified owners,
the committee role following membership on and after the end date, and a passed election installing the
elected owners with a handover for the committee it replaces."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot.bootstrap import App
from bot.clock import FixedClock
from bot.polls_job import advance_polls
from core.committee import CommitteeError
from core.permissions import Action, Role, may, place
from db import people
from db.committee import rules
from db.committee.grants import committee_grants
from db.committee.tables import Committee, Handover
from db.models import AuditEntry, Poll
from db.polls import ballots
from tests.support import committees as cm
from tests.support.chat import ChatUser, person_of
from tests.support.evaluation import pushes
from tests.test_polls_flow import make_poll

START = date(2026, 12, 1)
END = date(2030, 1, 1)
BUILDING = ("1栋",)


def _committee_role(app: App, person_id: int, on: date) -> bool:
    with app.sessions() as session:
        actor = people.actor(session, person_id, on)
    return any(g.role is Role.OWNERS_COMMITTEE for g in actor.grants)


# --- dates ---------------------------------------------------------------------------------------------


def test_months_are_added_within_the_month() -> None:
    assert rules.add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert rules.add_months(date(2027, 2, 28), -6) == date(2026, 8, 28)
    assert rules.add_months(date(2026, 12, 1), 60) == date(2031, 12, 1)
    assert rules.default_end(date(2026, 12, 1)) == date(2031, 11, 30)


def test_a_term_lasts_at_most_five_years_and_ends_after_it_starts() -> None:
    rules.check_term(START, rules.default_end(START))
    rules.check_term(START, date(2031, 12, 1))  # "to the same day five years on", as a filing writes it
    with pytest.raises(CommitteeError, match="term_too_long"):
        rules.check_term(START, date(2031, 12, 2))
    with pytest.raises(CommitteeError, match="term_order"):
        rules.check_term(START, START - timedelta(days=1))


def test_seats_fit_their_kind() -> None:
    seat = rules.Seat
    owners, street = {1, 2, 3}, {9}
    rules.check_seats("owners", [seat(1, "chair"), seat(2, "deputy"), seat(3, "member")], owners, street)
    for seats, reason in (
        ([], "no_members"),
        ([seat(1, "chair"), seat(2, "chair")], "two_chairs"),
        ([seat(1, "member"), seat(1, "deputy")], "duplicate_member"),
        ([seat(4, "member")], "not_owner"),
        ([seat(1, "street")], "bad_post"),
    ):
        with pytest.raises(CommitteeError, match=reason):
            rules.check_seats("owners", seats, owners, street)
    rules.check_seats(
        "management", [seat(9, "chair"), seat(1, "owner"), seat(2, "community")], owners, street
    )
    for seats, reason in (
        ([seat(9, "chair"), seat(1, "owner")], "even_members"),
        ([seat(1, "chair"), seat(2, "owner"), seat(3, "owner")], "chair_not_street"),
        ([seat(9, "street"), seat(2, "owner"), seat(3, "owner")], "one_chair"),
        ([seat(9, "chair"), seat(2, "deputy"), seat(3, "owner")], "bad_post"),
    ):
        with pytest.raises(CommitteeError, match=reason):
            rules.check_seats("management", seats, owners, street)


# --- one in office --------------------------------------------------------------------------------------


def test_the_database_refuses_a_second_committee_in_office(any_app: App) -> None:
    compound = cm.compound_id(any_app)
    now = any_app.clock.now()
    with any_app.sessions() as session:
        for _ in range(2):
            session.add(
                Committee(
                    compound_id=compound,
                    kind="owners",
                    starts_on=START,
                    ends_on=END,
                    created_at=now,
                    current=True,
                )
            )
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()
        # Ended and replaced committees keep no marker: any number of them may stay on record.
        for _ in range(2):
            session.add(
                Committee(
                    compound_id=compound,
                    kind="owners",
                    starts_on=START,
                    ends_on=END,
                    created_at=now,
                    state="ended",
                )
            )
        session.add(
            Committee(
                compound_id=compound,
                kind="owners",
                starts_on=START,
                ends_on=END,
                created_at=now,
                current=True,
            )
        )
        session.commit()


def test_setting_a_committee_replaces_the_one_in_office(app: App) -> None:
    a, b, c = (cm.owner(app, n, h) for n, h in zip(("甲", "乙", "丙"), cm.homes(), strict=False))
    first = cm.set_committee(app, [(a, "chair"), (b, "member")], START, rules.default_end(START))
    second = cm.set_committee(app, [(c, "chair")], START, rules.default_end(START))
    assert second.replaced is not None and second.replaced.id == first.committee.id
    with app.sessions() as session:
        rows = session.exec(select(Committee).order_by(Committee.id)).all()
        assert [(r.state, r.current) for r in rows] == [("replaced", None), ("in_office", True)]
        handover = session.exec(select(Handover)).one()
        assert handover.old_committee_id == first.committee.id
        assert handover.due_at == app.clock.now() + timedelta(days=10)
        assert sorted(handover.items) == ["accounts", "records", "seals"]
        codes = session.exec(
            select(AuditEntry.action).where(AuditEntry.action.startswith("committee."))
        ).all()  # type: ignore[attr-defined]
        assert codes == ["committee.set", "committee.set"]
    assert _committee_role(app, c, START) and not _committee_role(app, a, START)


def test_members_must_be_verified_owners_of_the_compound(app: App, owner: ChatUser) -> None:
    tenant = ChatUser(app.service, "tenant-1", name="租户")
    tenant.say("/start DEMO-TENANT")
    with pytest.raises(CommitteeError, match="not_owner"):
        cm.set_committee(app, [(person_of(app.sessions, tenant), "member")], START, date(2030, 1, 1))
    with pytest.raises(CommitteeError, match="term_too_long"):
        cm.set_committee(app, [(person_of(app.sessions, owner), "member")], START, date(2032, 1, 1))
    with app.sessions() as session:
        assert session.exec(select(Committee)).first() is None


# --- the role follows membership --------------------------------------------------------------------------


def test_the_committee_role_follows_membership_up_to_the_last_day(app: App) -> None:
    member = cm.owner(app, "周委员", "1栋/1单元/301")
    ends = date(2027, 6, 30)
    cm.set_committee(app, [(member, "chair")], START, ends)
    assert not _committee_role(app, member, START - timedelta(days=1))  # not yet
    assert _committee_role(app, member, START)
    assert _committee_role(app, member, ends)  # the last day of the term
    assert not _committee_role(app, member, ends + timedelta(days=1))  # gone without anyone taking it away
    with app.sessions() as session:
        actor = people.actor(session, member, ends)
    # The role is the committee's: it may run polls over its compound.
    grant = next(g for g in actor.grants if g.role is Role.OWNERS_COMMITTEE)
    assert may(actor, Action.RUN_POLL, place(grant.path)) and grant.node_kind == "compound"


def test_the_demo_committee_role_granted_by_code_keeps_working(app: App) -> None:
    user = ChatUser(app.service, "cmte", name="老周")
    user.say("/start DEMO-COMMITTEE")
    with app.sessions() as session:
        actor = people.actor(session, person_of(app.sessions, user))
    assert any(g.role is Role.OWNERS_COMMITTEE for g in actor.grants)


def test_a_management_committee_only_where_none_serves(app: App) -> None:
    street = ChatUser(app.service, "street-1", name="街道老刘")
    street.say("/start DEMO-STREET")
    rep = person_of(app.sessions, street)
    a, b = cm.owner(app, "甲", "1栋/1单元/301"), cm.owner(app, "乙", "1栋/1单元/302")
    cm.set_committee(app, [(a, "chair")], date(2022, 1, 1), date(2026, 12, 31))
    seats = [(rep, "chair"), (a, "owner"), (b, "owner")]
    with pytest.raises(CommitteeError, match="in_office"):
        cm.set_committee(app, seats, START, date(2027, 6, 30), "management", rep)
    app.clock.current = app.clock.current.replace(year=2027, month=1, day=2)
    with pytest.raises(CommitteeError, match="not_allowed"):  # community staff do not set up a 物管会
        staff = ChatUser(app.service, "staff-1", name="张主任")
        staff.say("/start DEMO-STAFF")
        cm.set_committee(
            app, [(rep, "chair"), (a, "owner"), (b, "owner")], START, date(2027, 6, 30), "management",
            person_of(app.sessions, staff),
        )  # fmt: skip
    done = cm.set_committee(
        app,
        [(rep, "chair"), (a, "owner"), (b, "owner")],
        date(2027, 1, 2),
        date(2027, 12, 31),
        "management",
        rep,
    )
    assert done.committee.kind == "management" and done.committee.chair_id == rep
    assert _committee_role(app, rep, date(2027, 1, 2))  # the 物管会 has the committee's powers in Linli


# --- elections ----------------------------------------------------------------------------------------------


def test_a_passed_election_installs_the_elected_owners_and_opens_a_handover(
    app: App, clock: FixedClock, staff: ChatUser
) -> None:
    voters = [cm.owner(app, f"业主{i}", home) for i, home in enumerate(cm.homes(), 1)]
    old = cm.set_committee(
        app, [(voters[5], "chair"), (voters[6], "member")], date(2022, 1, 1), date(2026, 12, 31)
    )
    poll_id = make_poll(
        app,
        clock,
        kind="election",
        matter=3,
        candidates=("业主1", "业主2", "王无名"),
        seats=3,
        buildings=("1栋",),
    )
    for person_id in voters:
        with app.sessions() as session:
            poll = session.get(Poll, poll_id)
            assert poll is not None
            ballots.vote(session, poll_id, person_id, "1,2,3", clock.now(), app.settings.seal_key)
            session.commit()
    clock.advance(days=7)
    assert advance_polls(app.sessions, clock.now(), app.policy, app.settings.seal_key)["closed"] == 1
    compound = cm.compound_id(app)
    with app.sessions() as session:
        poll = session.get(Poll, poll_id)
        assert poll is not None and poll.result["outcome"] == "passed", poll.result
        new = rules.current(session, compound)
        assert new is not None and new.installed_by_poll_id == poll_id and new.id != old.committee.id
        assert new.starts_on == clock.now().astimezone(app.policy.zone).date()
        assert new.ends_on == rules.default_end(new.starts_on)
        assert sorted(m.person_id for m, _ in rules.members(session, new.id)) == voters[:2]
        handover = session.exec(select(Handover)).one()
        assert handover.old_committee_id == old.committee.id
        assert handover.due_at == clock.now() + timedelta(days=10)
        audit = session.exec(select(AuditEntry).where(AuditEntry.action == "committee.install")).one()
        assert audit.after is not None and audit.after["poll"] == poll_id
    community = person_of(app.sessions, staff)
    assert cm.pushes(app, "committee.push_handover") == {voters[5]: 1, voters[6]: 1, community: 1}
    assert cm.pushes(app, "committee.push_unmatched") == {community: 1}  # 王无名 is no owner here
    [told] = pushes(app, "committee.push_unmatched", staff)
    text = app.renderer.text("zh_CN", told.template, told.context)
    assert "王无名" in text and "按姓名匹配：业主1（1栋1单元101）、业主2（1栋1单元102）" in text
    told = cm.pushes(app, "committee.push_installed")  # the old committee heard when it was set
    assert told == {voters[0]: 1, voters[1]: 1, voters[5]: 1, voters[6]: 1}
    assert _committee_role(app, voters[0], new.starts_on) and not _committee_role(
        app, voters[5], new.starts_on
    )


def test_staff_are_told_which_seats_were_matched_by_name_and_to_which_home(
    app: App, clock: FixedClock, staff: ChatUser
) -> None:
    voters = [
        cm.owner(app, "张三" if home == "1栋/1单元/301" else f"业主{i}", home)
        for i, home in enumerate(cm.homes(), 1)
    ]
    poll_id = make_poll(
        app, clock, kind="election", matter=3, candidates=("张三",), seats=1, buildings=("1栋",)
    )
    for person_id in voters:
        with app.sessions() as session:
            ballots.vote(session, poll_id, person_id, "1", clock.now(), app.settings.seal_key)
            session.commit()
    clock.advance(days=7)
    advance_polls(app.sessions, clock.now(), app.policy, app.settings.seal_key)
    with app.sessions() as session:
        new = rules.current(session, cm.compound_id(app))
        assert new is not None and [m.person_id for m, _ in rules.members(session, new.id)] == [voters[4]]
    [told] = pushes(app, "committee.push_unmatched", staff)  # the one name was matched: still said
    chinese = app.renderer.text("zh_CN", told.template, told.context)
    assert "按姓名匹配：张三（1栋1单元301）" in chinese and "请核对" in chinese
    assert "没有对应到" not in chinese  # nobody is missing
    english = app.renderer.text("en", told.template, told.context)
    assert "Matched by name: 张三 (1栋 1单元 301)" in english


def test_a_failed_or_consultative_election_installs_nobody(app: App, clock: FixedClock) -> None:
    voters = [cm.owner(app, f"业主{i}", home) for i, home in enumerate(cm.homes(), 1)]
    poll_id = make_poll(
        app,
        clock,
        kind="election",
        matter=3,
        candidates=("业主1",),
        seats=1,
        buildings=("1栋",),
        consultative=True,
    )
    for person_id in voters:
        with app.sessions() as session:
            ballots.vote(session, poll_id, person_id, "1", clock.now(), app.settings.seal_key)
            session.commit()
    clock.advance(days=7)
    advance_polls(app.sessions, clock.now(), app.policy, app.settings.seal_key)
    compound = cm.compound_id(app)
    with app.sessions() as session:
        assert rules.current(session, compound) is None


def test_the_role_is_read_in_one_indexed_query(app: App) -> None:
    member = cm.owner(app, "周委员", "1栋/1单元/301")
    cm.set_committee(app, [(member, "chair")], START, END)
    statements: list[tuple[str, Any]] = []

    def seen(conn: object, cursor: object, statement: str, parameters: Any, *args: object) -> None:
        statements.append((statement, parameters))

    with app.sessions() as session:
        event.listen(app.engine, "before_cursor_execute", seen)
        try:
            grants = committee_grants(session, member, START)
        finally:
            event.remove(app.engine, "before_cursor_execute", seen)
        assert [g.role for g in grants] == [Role.OWNERS_COMMITTEE]
        selects = [(q, p) for q, p in statements if q.lstrip().upper().startswith("SELECT")]
        assert len(selects) == 1
        query, parameters = selects[0]
        plan = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {query}", parameters).all()
    assert any("ix_committee_member_person_id" in str(row) for row in plan), plan
