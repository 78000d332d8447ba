"""Good and bad records of property companies: entered by street and district staff only, appealed once by
the company, decided by staff; and the ticket records gathered from the database for the score."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event
from sqlmodel import select

from bot.bootstrap import App
from core import evaluation
from core.evaluation import CompanyChoice, EvaluationError
from core.permissions import Action, Actor
from core.work import Work
from db import companies
from db.audit import AuditEntry
from db.evaluation import default_policy, gather
from db.evaluation.tables import CompanyRecord
from tests.support.chat import ChatUser
from tests.support.companies import company_serving, company_staff
from tests.support.console import another_community
from tests.support.evaluation import (
    PEACE,
    SUNSHINE,
    actor_of,
    add_ticket,
    company_id,
    node_id,
    pushes,
    working,
)
from tests.support.rating import compounds

PHOTO = ("telegram", "photo-evidence-1")


@pytest.fixture
def street(app: App) -> ChatUser:
    user = ChatUser(app.service, "street-1", name="街道赵")
    user.say("/start DEMO-STREET")
    return user


@pytest.fixture
def clerk(app: App) -> ChatUser:
    """A member of the demo company's staff (which serves 阳光花园)."""
    user = ChatUser(app.service, "prop-1", name="物业小王")
    user.say("/start DEMO-PROPERTY")
    return user


def _enter(
    app: App, user: ChatUser, good: bool = False, points: int = 5, **kw: object
) -> evaluation.RecordView:
    args: dict[str, object] = {
        "company_id": company_id(app),
        "compound_id": node_id(app, SUNSHINE),
        "good": good,
        "points": points,
        "reason": "电梯困人 40 分钟无人处置",
        "evidence": PHOTO,
    } | kw
    with working(app) as work:
        return evaluation.enter_record(work, actor_of(app, user), **args)  # type: ignore[arg-type]


def _refused(reason: str, call, *args: object) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EvaluationError) as refused:
        call(*args)
    assert refused.value.reason == reason


def _audit(app: App, action: str) -> list[AuditEntry]:
    with app.sessions() as session:
        return list(session.exec(select(AuditEntry).where(AuditEntry.action == action)).all())


def test_street_staff_enter_a_bad_record_and_the_company_hears_of_it(
    app: App, street: ChatUser, clerk: ChatUser
) -> None:
    view = _enter(app, street)
    assert (view.good, view.points, view.evidence, view.half) == (False, 5, PHOTO, "2026H2")
    assert view.company_name == "阳光物业服务有限公司" and view.compound_name == "阳光花园"
    assert view.entered_by_name == "街道赵" and view.counts
    [push] = pushes(app, "evaluation.record_entered", clerk)
    assert push.context["points"] == 5 and push.context["good"] is False
    assert push.buttons[0][0]["data"] == f"rt:v:{view.id}"
    [entry] = _audit(app, "company.record")
    assert entry.actor_role == "street_staff" and entry.subject_id == view.id
    assert entry.after is not None and entry.after["kind"] == "bad"


def test_district_staff_may_enter_records_too(app: App) -> None:
    district = ChatUser(app.service, "district-1", name="区里")
    district.say("/start DEMO-DISTRICT")
    assert _enter(app, district, good=True, points=3, evidence=None).good


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"evidence": None}, "no_evidence"),
        ({"evidence": ("telegram", "")}, "no_evidence"),
        ({"points": 21}, "bad_points"),
        ({"points": 0}, "bad_points"),
        ({"good": True, "points": 11}, "bad_points"),
        ({"reason": "   "}, "no_reason"),
        ({"reason": "长" * 501}, "no_reason"),
    ],
)
def test_a_record_must_hold_reason_points_and_evidence(
    app: App, street: ChatUser, kw: dict[str, object], reason: str
) -> None:
    _refused(reason, lambda: _enter(app, street, **kw))
    with app.sessions() as session:
        assert session.exec(select(CompanyRecord)).first() is None


def test_a_record_names_the_company_serving_the_compound(app: App, street: ChatUser) -> None:
    other = company_serving(app, "安居物业", PEACE)
    _refused("not_served", lambda: _enter(app, street, company_id=other))
    _refused("not_found", lambda: _enter(app, street, compound_id=999999))


def test_only_street_and_district_staff_enter_records(app: App, staff: ChatUser, clerk: ChatUser) -> None:
    _refused("not_allowed", lambda: _enter(app, clerk))  # the company itself
    _refused("not_allowed", lambda: _enter(app, staff))  # community staff
    owner = ChatUser(app.service, "owner-x", name="业主")
    owner.say("/start DEMO-OWNER")
    _refused("not_allowed", lambda: _enter(app, owner))


def test_street_staff_of_another_street_are_refused(app: App) -> None:
    from tests.support.console import staff_on

    elsewhere = another_community(app)
    far = staff_on(app, "far-1", "幸福社区", "street_staff", elsewhere)  # a jurisdiction without 阳光花园
    _refused("not_allowed", lambda: _enter(app, far))


def test_the_company_appeals_once_and_staff_decide(app: App, street: ChatUser, clerk: ChatUser) -> None:
    view = _enter(app, street)
    app.clock.advance(hours=2)
    company, staffer = actor_of(app, clerk), actor_of(app, street)
    with working(app) as work:
        appealed = evaluation.appeal_record(work, company, view.id, "当时已在 10 分钟内到场，附监控截图")
    assert appealed.appeal_text.startswith("当时已在") and appealed.appealed_at == app.clock.now()
    [asked] = pushes(app, "evaluation.record_appealed", street)
    assert asked.buttons[0][0]["data"] == f"rt:d:{view.id}"
    with working(app) as work:
        _refused("already_appealed", evaluation.appeal_record, work, company, view.id, "再申诉")
    app.clock.advance(days=1)
    with working(app) as work:
        decided = evaluation.decide_appeal(work, staffer, view.id, True, "监控显示及时到场")
    assert (decided.decision, decided.decision_note, decided.counts) == ("upheld", "监控显示及时到场", False)
    [told] = pushes(app, "evaluation.appeal_decided", clerk)
    assert told.context["decision"] == "upheld"
    with working(app) as work:
        _refused("already_decided", evaluation.decide_appeal, work, staffer, view.id, False, "")
        shown = evaluation.record(work, company, view.id)
    # The record shows both sides.
    assert shown.appeal_text and shown.decision == "upheld" and shown.reason == "电梯困人 40 分钟无人处置"
    assert [e.action for e in _audit(app, "company.appeal")] == ["company.appeal"]
    [decision] = _audit(app, "company.decide")
    assert decision.before is not None and decision.before["appeal"] == "pending"
    assert decision.after is not None and decision.after["appeal"] == "upheld"


def test_an_upheld_appeal_takes_the_record_out_of_the_score(
    app: App, street: ChatUser, clerk: ChatUser
) -> None:
    view = _enter(app, street, points=10)
    company, staffer, demo = actor_of(app, clerk), actor_of(app, street), company_id(app)
    with working(app) as work:
        before = evaluation.breakdown(work, staffer, demo, "2026H2").evaluation
        evaluation.appeal_record(work, company, view.id, "不属实")
        evaluation.decide_appeal(work, staffer, view.id, False, "证据确凿")
        rejected = evaluation.breakdown(work, staffer, demo, "2026H2").evaluation
    assert before.bad.counted == 10 and rejected.bad.counted == 10
    second = _enter(app, street, points=4)
    with working(app) as work:
        evaluation.appeal_record(work, company, second.id, "不属实")
        evaluation.decide_appeal(work, staffer, second.id, True, "")
        upheld = evaluation.breakdown(work, staffer, demo, "2026H2").evaluation
    assert (upheld.bad.counted, upheld.bad.removed) == (10, 1)


def test_appeals_and_decisions_are_refused_to_the_wrong_people(
    app: App, street: ChatUser, clerk: ChatUser, staff: ChatUser
) -> None:
    view = _enter(app, street)
    another = _enter(app, street)
    other = company_serving(app, "安居物业", PEACE)
    stranger = company_staff(app, other, "prop-other", name="别家物业")
    stranger_actor, company, staffer, community = (actor_of(app, u) for u in (stranger, clerk, street, staff))
    with working(app) as work:
        # Another company's staff may not appeal this record, nor see it.
        _refused("not_allowed", evaluation.appeal_record, work, stranger_actor, view.id, "不服")
        _refused("not_found", evaluation.record, work, stranger_actor, view.id)
        # Street staff do not appeal; community staff do not decide.
        _refused("not_allowed", evaluation.appeal_record, work, staffer, view.id, "不服")
        _refused("not_appealed", evaluation.decide_appeal, work, staffer, view.id, True, "")
        evaluation.appeal_record(work, company, view.id, "不服")
        _refused("not_allowed", evaluation.decide_appeal, work, community, view.id, True, "")
        _refused("not_allowed", evaluation.decide_appeal, work, company, view.id, True, "")
        _refused("not_found", evaluation.appeal_record, work, company, 999999, "不服")
        _refused("no_reason", evaluation.appeal_record, work, company, another.id, " ")


def test_records_list_what_each_may_see(app: App, street: ChatUser, clerk: ChatUser) -> None:
    first = _enter(app, street)
    app.clock.advance(minutes=5)
    second = _enter(app, street, good=True, points=2, evidence=None)
    other = company_serving(app, "安居物业", PEACE)
    stranger = company_staff(app, other, "prop-other", name="别家物业")
    stranger_actor, company, staffer = (actor_of(app, u) for u in (stranger, clerk, street))
    demo = company_id(app)
    with working(app) as work:
        assert [r.id for r in evaluation.records(work, company, demo)] == [
            second.id,
            first.id,
        ]
        assert [r.id for r in evaluation.records(work, staffer, demo, "2026H2")] == [
            second.id,
            first.id,
        ]
        assert evaluation.records(work, staffer, demo, "2026H1") == []
        assert evaluation.records(work, stranger_actor, demo) == []
        _refused("bad_half", evaluation.records, work, staffer, demo, "2026Q3")


# --- gathering ticket records ----------------------------------------------------------------------------


H2 = datetime(2026, 7, 1, tzinfo=UTC)


def test_tickets_are_counted_in_sql_as_the_rates_count_them(app: App) -> None:
    at = datetime(2026, 8, 1, 2, 0, tzinfo=UTC)
    ok = {"accepted_at": at + timedelta(minutes=10), "resolved_at": at + timedelta(days=1)}
    add_ticket(app, SUNSHINE, "water", at, state="closed", rating="satisfied", home_id=None, **ok)
    add_ticket(app, SUNSHINE, "elevator", at, state="closed", rating="basically", escalated=True, **ok)
    late = {"accepted_at": at + timedelta(hours=3), "resolved_at": at + timedelta(days=9)}
    add_ticket(app, SUNSHINE, "elevator", at, state="closed", rating="dissatisfied", reopen_count=1, **late)
    add_ticket(app, SUNSHINE, "facility", at, state="new")  # past both deadlines, still open: overdue
    add_ticket(app, SUNSHINE, "gas", at, state="new")  # not the company's to answer for
    add_ticket(app, SUNSHINE, "water", datetime(2026, 6, 30, 15, 0, tzinfo=UTC), state="new")  # in 2026H1
    add_ticket(app, PEACE, "water", at, state="new")  # another compound
    waiting = {"accepted_at": at + timedelta(minutes=5), "paused_at": at + timedelta(days=1)}
    add_ticket(app, SUNSHINE, "water", at, state="waiting_for_resident", **waiting)
    with app.sessions() as session:
        counts = gather.gather(session, company_id(app), "2026H2", default_policy(), app.clock.now())[
            0
        ].counts
    total = counts[0]
    for more in counts[1:]:
        total = total + more
    assert (total.tickets, total.accept_due, total.accepted_in_time) == (5, 5, 3)
    # The paused ticket's resolve deadline moves with the wait: not yet due (the open one is overdue).
    assert (total.resolve_due, total.resolved_in_time) == (4, 2)
    assert (total.rated, total.satisfied, total.overdue, total.escalated, total.reopened) == (3, 2, 1, 1, 1)


def test_repeat_complaints_are_a_homes_later_tickets_of_one_category(app: App, owner: ChatUser) -> None:
    from db.models import Home

    with app.sessions() as session:
        home = session.exec(select(Home)).first()
        assert home is not None
    at = datetime(2026, 9, 1, tzinfo=UTC)
    for n in range(3):
        add_ticket(app, SUNSHINE, "sanitation", at + timedelta(days=n), home_id=home.id, state="closed")
    add_ticket(app, SUNSHINE, "parking", at, home_id=home.id, state="closed")
    with app.sessions() as session:
        records, _ = gather.gather(session, company_id(app), "2026H2", default_policy(), app.clock.now())
    assert sum(c.repeat for c in records.counts) == 2


def test_a_company_answers_for_the_days_its_contract_ran(app: App) -> None:
    # 安居物业 took over 和平里小区 on 1 Sep (Shanghai): tickets before that belong to nobody here.
    other = company_serving(app, "安居物业", PEACE, since=date(2026, 9, 1))
    add_ticket(app, PEACE, "water", datetime(2026, 8, 31, 15, 59, tzinfo=UTC), state="new")
    add_ticket(app, PEACE, "water", datetime(2026, 8, 31, 16, 0, tzinfo=UTC), state="new")
    with app.sessions() as session:
        windows = gather.windows(session, other, "2026H2", default_policy())
        found = gather.evaluate(session, other, "2026H2", default_policy(), app.clock.now())
    assert [w.start for w in windows] == [datetime(2026, 8, 31, 16, 0, tzinfo=UTC)]
    assert found is not None and found.evaluation.cases.tickets == 1


def test_the_ranking_puts_the_best_first_and_shows_each_company_its_own(
    app: App, street: ChatUser, clerk: ChatUser, staff: ChatUser
) -> None:
    other = company_serving(app, "安居物业", PEACE)
    stranger = company_staff(app, other, "prop-other", name="别家物业")
    _enter(app, street, points=20)
    stranger_actor, company, staffer, community = (actor_of(app, u) for u in (stranger, clerk, street, staff))
    demo = company_id(app)
    with working(app) as work:
        ranked = evaluation.ranking(work, staffer, "2026H2")
        own = evaluation.ranking(work, company, "2026H2")
        theirs = evaluation.ranking(work, stranger_actor, "2026H2")
        community = evaluation.ranking(work, community, "2026H2")
        _refused("not_allowed", evaluation.breakdown, work, stranger_actor, demo, "2026H2")
        mine = evaluation.breakdown(work, company, demo, "2026H2")
    assert [(r.place, r.name) for r in ranked] == [(1, "安居物业"), (2, "阳光物业服务有限公司")]
    assert [r.evaluation.total for r in ranked] == [Decimal("75.00"), Decimal("55.00")]
    assert [r.evaluation.grade for r in ranked] == ["A", "C"]
    assert ranked[1].previous is not None  # the demo company served 阳光花园 in 2026H1 as well
    assert [r.name for r in own] == ["阳光物业服务有限公司"] and [r.name for r in theirs] == ["安居物业"]
    assert [r.name for r in community] == ["安居物业", "阳光物业服务有限公司"]
    assert [c.name for c in mine.compounds] == ["阳光花园"] and mine.evaluation.bad.counted == 20


def test_a_ranking_under_a_node_outside_the_jurisdiction_is_refused(app: App, staff: ChatUser) -> None:
    owner = ChatUser(app.service, "owner-y", name="业主")
    owner.say("/start DEMO-OWNER")
    community, resident = actor_of(app, staff), actor_of(app, owner)
    with working(app) as work:
        _refused("not_allowed", evaluation.ranking, work, community, "2026H2", "/1/")
        _refused("not_allowed", evaluation.ranking, work, resident, "2026H2")


def test_the_batched_ranking_scores_each_company_as_alone(app: App, street: ChatUser) -> None:
    other = company_serving(app, "安居物业", PEACE)
    at = datetime(2026, 8, 1, 2, 0, tzinfo=UTC)
    for n, compound in enumerate([SUNSHINE, PEACE, SUNSHINE, PEACE, SUNSHINE]):
        fields: dict[str, object] = {"accepted_at": at + timedelta(minutes=10 * n), "state": "accepted"}
        if n % 2:
            fields |= {"state": "waiting_for_resident", "paused_at": at + timedelta(days=1)}
        add_ticket(app, compound, ("water", "elevator", "fees")[n % 3], at, **fields)
    _enter(app, street, points=7)
    _enter(app, street, compound_id=node_id(app, PEACE), company_id=other, good=True, points=3, evidence=None)
    with app.sessions() as session:
        ranked = gather.rank(session, "2026H2", "", default_policy(), app.clock.now())
        alone = {
            e.company_id: gather.evaluate(session, e.company_id, "2026H2", default_policy(), app.clock.now())
            for e in ranked
        }
    assert {e.company_id for e in ranked} == {company_id(app), other}
    for e in ranked:
        assert alone[e.company_id] == e


def test_the_sql_counts_agree_with_db_rates_on_mixed_tickets(app: App) -> None:
    import random

    from db import rates
    from db.cases.states import ENDED_UNRESOLVED
    from db.evaluation.scoring import TicketCounts
    from db.models import Home

    rng = random.Random(14)
    with app.sessions() as session:
        homes = [h.id for h in session.exec(select(Home).where(Home.compound_id == node_id(app, SUNSHINE)))][
            :3
        ]
    now = app.clock.now()
    made = []
    for _ in range(60):
        at = datetime(2026, 7, 1, tzinfo=UTC) + timedelta(hours=rng.randint(0, 3400))
        state = rng.choice(["new", "accepted", "resolved", "closed", "withdrawn", "duplicate", "reopened"])
        accepted = (
            at + timedelta(minutes=rng.choice([20, 90])) if state != "new" and rng.random() < 0.8 else None
        )
        resolved = at + timedelta(days=rng.choice([2, 9])) if state in ("resolved", "closed") else None
        closed = (
            at + timedelta(days=rng.randint(0, 12)) if state in ("closed", "withdrawn", "duplicate") else None
        )
        fields = {
            "state": state,
            "category": rng.choice(["water", "elevator", "gas", "fees"]),
            "accepted_at": accepted,
            "resolved_at": resolved,
            "closed_at": closed,
            "rating": rng.choice(["", "satisfied", "basically", "dissatisfied"]) if resolved else "",
            "home_id": rng.choice([*homes, None]),
            "reopen_count": rng.choice([0, 0, 1]),
            "escalated": rng.random() < 0.2,
            "paused_at": at + timedelta(days=1) if state == "accepted" and rng.random() < 0.3 else None,
        }
        category = str(fields.pop("category"))
        add_ticket(app, SUNSHINE, category, at, **fields)
        made.append((category, at, fields))
    expected = TicketCounts()
    answered = default_policy().categories
    for category in sorted({c for c, _, _ in made} & answered):
        mine = [(at, f) for c, at, f in made if c == category]
        counted = rates.compute(
            (
                rates.Record(
                    created_at=at,
                    accept_due_at=at + timedelta(hours=1),
                    accepted_at=f["accepted_at"],
                    resolve_due_at=at + timedelta(days=7),
                    resolved_at=f["resolved_at"],
                    rating=f["rating"],
                    state=f["state"],
                    paused_at=f["paused_at"],
                    ended_at=(f["closed_at"] or at)
                    if f["resolved_at"] is None and f["state"] in ENDED_UNRESOLVED
                    else None,
                )
                for at, f in mine
            ),
            now,
        )
        with_home = [f["home_id"] for _, f in mine if f["home_id"] is not None]
        expected = expected + TicketCounts(
            tickets=len(mine),
            accept_due=counted.accept_due,
            accepted_in_time=counted.accepted_in_time,
            resolve_due=counted.resolve_due,
            resolved_in_time=counted.resolved_in_time,
            rated=counted.rated,
            satisfied=counted.satisfied,
            overdue=counted.overdue,
            escalated=sum(bool(f["escalated"]) for _, f in mine),
            reopened=sum(f["reopen_count"] > 0 for _, f in mine),
            repeat=len(with_home) - len(set(with_home)),
        )
    with app.sessions() as session:
        records, _ = gather.gather(session, company_id(app), "2026H2", default_policy(), now)
    total = TicketCounts()
    for counts in records.counts:
        total = total + counts
    assert total == expected


def _choices_counted(app: App, actor: Actor, action: Action) -> tuple[list[CompanyChoice], int]:
    """The companies in the actor's reach, and how many SQL statements finding them took."""
    statements: list[str] = []

    def seen(*args: object) -> None:
        statements.append(str(args[2]))

    with app.sessions() as session:
        work = Work(session, app.clock.now(), app.policy)
        event.listen(app.engine, "before_cursor_execute", seen)
        try:
            found = evaluation.companies_for(work, actor, action)
        finally:
            event.remove(app.engine, "before_cursor_execute", seen)
    return found, len(statements)


def test_the_companies_in_reach_take_as_many_queries_for_twenty_as_for_one(
    app: App, street: ChatUser, clerk: ChatUser
) -> None:
    staffer = actor_of(app, street)
    one, alone = _choices_counted(app, staffer, Action.ENTER_RECORD)
    assert [(c.name, [r.name for r in c.compounds]) for c in one] == [("阳光物业服务有限公司", ["阳光花园"])]
    names = [f"第{i:02d}物业公司" for i in range(1, 20)]
    for name, path in zip(
        names, compounds(app, "北沟街道", "幸福社区", *(f"幸福{i}区" for i in range(1, 20))), strict=True
    ):
        company_serving(app, name, path)
    company_serving(app, "别的街道物业", *compounds(app, "南岭街道", "南岭社区", "南岭家园"))
    ended = company_serving(app, "已解约物业")
    with app.sessions() as session:
        companies.sign(session, ended, node_id(app, PEACE), date(2026, 1, 1), date(2026, 3, 1))
        session.commit()
    twenty, queries = _choices_counted(app, staffer, Action.ENTER_RECORD)
    assert queries == alone
    assert sorted(c.name for c in twenty) == sorted([*names, "阳光物业服务有限公司"])
    assert all(len(c.compounds) == 1 for c in twenty)
    own, _ = _choices_counted(app, actor_of(app, clerk), Action.VIEW_RATING)
    assert [(c.name, [r.name for r in c.compounds]) for c in own] == [("阳光物业服务有限公司", ["阳光花园"])]
