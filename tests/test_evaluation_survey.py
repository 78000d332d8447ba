"""The owners' satisfaction survey: opened by staff per company and half-year, answered 1–5 on six aspects
once per home by verified owners, reminded once and closed by the job, its turnout counted for staff."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot import evaluation_job
from bot.bootstrap import App
from core import evaluation
from core.evaluation import EvaluationError
from core.permissions import SYSTEM, Actor
from core.work import Work
from db.audit import AuditEntry
from db.evaluation import gather
from db.evaluation import survey as survey_rules
from db.evaluation.policy import ASPECTS, default_policy
from db.evaluation.tables import Survey, SurveyAnswer
from db.models import Residency
from tests.support.chat import ChatUser, person_of
from tests.support.companies import company_serving
from tests.support.evaluation import PEACE, actor_of, company_id, pushes, working
from tests.support.rating import compounds

FIVES = dict.fromkeys(ASPECTS, 5)


def _join(app: App, ref: str, code: str, name: str = "业主") -> ChatUser:
    user = ChatUser(app.service, ref, name=name)
    user.say(f"/start {code}")
    return user


def _open(app: App, staff: ChatUser) -> Survey:
    actor, company = actor_of(app, staff), company_id(app)
    with working(app) as work:
        return evaluation.open_survey(work, actor, company, "2026H2")


def _home_of(app: App, user: ChatUser) -> int:
    person = person_of(app.sessions, user)
    with app.sessions() as session:
        return session.exec(select(Residency.home_id).where(Residency.person_id == person)).one()


def _refused(reason: str, call, *args: object) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EvaluationError) as refused:
        call(*args)
    assert refused.value.reason == reason


def _advance(app: App) -> Counter[str]:
    return evaluation_job.advance(app.sessions, app.clock.now(), app.policy)


def test_staff_open_a_survey_and_every_verified_owner_is_asked_per_home(
    app: App, staff: ChatUser, owner: ChatUser, neighbour: ChatUser
) -> None:
    tenant = _join(app, "tenant-1", "DEMO-TENANT", "租户")
    survey = _open(app, staff)
    assert (survey.half, survey.state, survey.homes) == ("2026H2", "open", 2)
    assert survey.closes_at == app.clock.now() + timedelta(days=14)
    [asked] = pushes(app, "evaluation.survey_opened", owner)
    assert [row[0]["data"] for row in asked.buttons] == [f"sv:o:{survey.id}:{_home_of(app, owner)}"]
    assert asked.buttons[0][0]["label"] == "evaluation.btn_survey_home"
    assert asked.buttons[0][0]["args"] == {"home": "1栋 101"}
    assert len(pushes(app, "evaluation.survey_opened", neighbour)) == 1
    assert pushes(app, "evaluation.survey_opened", tenant) == []  # tenants do not answer
    with app.sessions() as session:
        [entry] = session.exec(select(AuditEntry).where(AuditEntry.action == "survey.open")).all()
    assert entry.actor_role == "community_staff" and entry.subject == "survey"
    _refused("survey_exists", _open, app, staff)


def test_an_owner_answers_six_aspects_once_per_home(
    app: App, staff: ChatUser, owner: ChatUser, neighbour: ChatUser
) -> None:
    survey = _open(app, staff)
    me, home = actor_of(app, owner), _home_of(app, owner)
    with working(app) as work:
        task = evaluation.survey_to_answer(work, me, survey.id or 0, home)
        assert task.company_name == "阳光物业服务有限公司" and task.answered == {}
        for n, aspect in enumerate(ASPECTS[:5]):
            progress = evaluation.answer(work, me, survey.id or 0, aspect, n + 1)
            assert not progress.complete and progress.next_aspect == ASPECTS[n + 1]
    with working(app) as work:
        # Half-way answers are kept: the owner picks up where they stopped.
        assert evaluation.survey_to_answer(work, me, survey.id or 0, home).answered == {
            a: n + 1 for n, a in enumerate(ASPECTS[:5])
        }
        progress = evaluation.answer(work, me, survey.id or 0, "attitude", 4, home_id=home)
        assert progress.complete and progress.next_aspect is None
    runner = actor_of(app, staff)
    with working(app) as work:
        _refused("already_answered", evaluation.survey_to_answer, work, me, survey.id or 0, home)
        _refused("already_answered", evaluation.answer, work, me, survey.id or 0, "security", 5)
        turnout = evaluation.turnout(work, runner, survey.id or 0)
    assert [(t.name, t.answered, t.homes) for t in turnout] == [("阳光花园", 1, 2)]
    demo = company_id(app)
    with app.sessions() as session:
        responses = survey_rules.responses(session, survey.id or 0)
        evaluated = gather.evaluate(session, demo, "2026H2", default_policy(), app.clock.now())
    assert [(r.answers, r.count) for r in responses] == [((1, 2, 3, 4, 5, 4), 1)]
    assert evaluated is not None and evaluated.evaluation.survey_homes == 1


def test_a_second_owner_of_the_home_is_told_it_was_answered(
    app: App, staff: ChatUser, owner: ChatUser
) -> None:
    spouse = _join(app, "owner-spouse", "DEMO-OWNER", "王芳的爱人")  # the same home, 1栋 1单元 101
    survey = _open(app, staff)
    home = _home_of(app, owner)
    me, other = actor_of(app, owner), actor_of(app, spouse)
    with working(app) as work:
        evaluation.answer(work, me, survey.id or 0, "security", 5, home_id=home)
    with working(app) as work:
        # Another owner of the home may not answer for it again, even half-way through the first answer.
        _refused("already_answered", evaluation.survey_to_answer, work, other, survey.id or 0, home)
        _refused("already_answered", evaluation.answer_survey, work, other, survey.id or 0, home, FIVES)
        assert evaluation.homes_to_answer(work, other, survey.id or 0) == []
    # The database itself refuses a second answer row for the home.
    with app.sessions() as session, pytest.raises(IntegrityError):
        session.add(
            SurveyAnswer(
                survey_id=survey.id or 0,
                home_id=home,
                compound_id=1,
                person_id=person_of(app.sessions, spouse),
                started_at=app.clock.now(),
            )
        )
        session.commit()


def test_answering_all_six_at_once_and_bad_answers(app: App, staff: ChatUser, owner: ChatUser) -> None:
    survey = _open(app, staff)
    me, home = actor_of(app, owner), _home_of(app, owner)
    with working(app) as work:
        _refused("bad_value", evaluation.answer, work, me, survey.id or 0, "security", 6)
        _refused("bad_value", evaluation.answer, work, me, survey.id or 0, "security", 0)
        _refused("bad_aspect", evaluation.answer, work, me, survey.id or 0, "price", 3)
        _refused("bad_aspect", evaluation.answer_survey, work, me, survey.id or 0, home, {"security": 5})
        _refused("bad_value", evaluation.answer_survey, work, me, survey.id or 0, home, FIVES | {"fees": 9})
        _refused("not_found", evaluation.survey_to_answer, work, me, 999999, home)
        progress = evaluation.answer_survey(work, me, survey.id or 0, home, FIVES)
    assert progress.complete and progress.answered == FIVES


def test_who_may_not_answer_or_open(app: App, staff: ChatUser, owner: ChatUser, neighbour: ChatUser) -> None:
    tenant = _join(app, "tenant-1", "DEMO-TENANT", "租户")
    clerk = _join(app, "prop-1", "DEMO-PROPERTY", "物业")
    survey = _open(app, staff)
    renter, neighbour_actor, company = actor_of(app, tenant), actor_of(app, neighbour), actor_of(app, clerk)
    owners_home = _home_of(app, owner)
    with app.sessions() as session:
        tenant_home = session.exec(
            select(Residency.home_id).where(Residency.person_id == person_of(app.sessions, tenant))
        ).one()
    with working(app) as work:
        _refused("not_owner", evaluation.survey_to_answer, work, renter, survey.id or 0, tenant_home)
        _refused("not_owner", evaluation.answer, work, renter, survey.id or 0, "security", 5)
        # An owner may not answer for somebody else's home.
        _refused(
            "not_owner",
            evaluation.answer_survey,
            work,
            neighbour_actor,
            survey.id or 0,
            owners_home,
            FIVES,
        )
        _refused("not_allowed", evaluation.open_survey, work, company, survey.company_id, "2026H1")
        _refused("not_found", evaluation.turnout, work, company, survey.id or 0)
        _refused("not_allowed", evaluation.close_survey, work, company, survey.id or 0)


def test_the_job_reminds_once_and_closes_at_the_end(
    app: App, staff: ChatUser, owner: ChatUser, neighbour: ChatUser
) -> None:
    survey = _open(app, staff)
    me = actor_of(app, owner)
    with working(app) as work:
        evaluation.answer_survey(work, me, survey.id or 0, _home_of(app, owner), FIVES)
    app.clock.current = survey.closes_at - timedelta(days=3, seconds=1)
    assert _advance(app) == Counter()
    app.clock.advance(seconds=1)
    assert _advance(app) == Counter(survey_reminded=1)
    assert _advance(app) == Counter()
    assert pushes(app, "evaluation.survey_reminder", owner) == []  # their home answered
    [reminder] = pushes(app, "evaluation.survey_reminder", neighbour)
    assert reminder.buttons[0][0]["data"].startswith(f"sv:o:{survey.id}:")
    app.clock.current = survey.closes_at
    assert _advance(app) == Counter(survey_closed=1)
    assert _advance(app) == Counter()
    [closed] = pushes(app, "evaluation.survey_closed", staff)
    assert (closed.context["answered"], closed.context["homes"]) == (1, 2)
    other = actor_of(app, neighbour)
    with working(app) as work:
        _refused(
            "closed", evaluation.answer_survey, work, other, survey.id or 0, _home_of(app, neighbour), FIVES
        )
    with app.sessions() as session:
        closes = session.exec(select(AuditEntry).where(AuditEntry.action == "survey.close")).all()
    assert [c.via for c in closes] == ["system"]


def test_a_reminder_that_crashed_before_its_commit_is_sent_once_after_the_restart(
    app: App, staff: ChatUser, owner: ChatUser, neighbour: ChatUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    survey = _open(app, staff)
    app.clock.current = survey.closes_at - timedelta(days=3)
    real = survey_rules.step

    def crashing(session, row, now):  # type: ignore[no-untyped-def]
        real(session, row, now)  # wrote the reminder mark; the process dies before the commit
        raise RuntimeError("power cut")

    monkeypatch.setattr(survey_rules, "step", crashing)
    assert _advance(app) == Counter(survey_failed=1)
    assert pushes(app, "evaluation.survey_reminder") == []
    monkeypatch.setattr(survey_rules, "step", real)
    app.clock.advance(minutes=10)  # the job sets a broken row aside for ten minutes, then tries again
    assert _advance(app) == Counter(survey_reminded=1)
    assert _advance(app) == Counter()
    assert Counter(p.person_id for p in pushes(app, "evaluation.survey_reminder")) == Counter(
        {person_of(app.sessions, owner): 1, person_of(app.sessions, neighbour): 1}
    )


def test_a_committed_reminder_is_not_sent_again_after_a_restart(
    app: App, staff: ChatUser, owner: ChatUser
) -> None:
    survey = _open(app, staff)
    app.clock.current = survey.closes_at - timedelta(days=2)  # the job was down when the reminder fell due
    assert _advance(app) == Counter(survey_reminded=1)
    app.clock.advance(minutes=1)
    assert _advance(app) == Counter()  # a new process finds nothing due until the close
    assert len(pushes(app, "evaluation.survey_reminder", owner)) == 1


def test_staff_may_close_a_survey_early(app: App, staff: ChatUser, owner: ChatUser) -> None:
    survey = _open(app, staff)
    actor = actor_of(app, staff)
    with working(app) as work:
        closed = evaluation.close_survey(work, actor, survey.id or 0)
        assert closed.state == "closed" and closed.next_due_at is None
        assert [s.id for s in evaluation.surveys_for(work, actor)] == [survey.id]
    with working(app) as work:
        _refused("closed", evaluation.close_survey, work, actor, survey.id or 0)
    with app.sessions() as session:
        assert session.exec(select(AuditEntry.via).where(AuditEntry.action == "survey.close")).all() == [
            "chat"
        ]


def _listed(app: App, actor: Actor) -> tuple[list[int], int]:
    """The ids of the surveys the actor's list shows, and how many SQL statements it took."""
    statements: list[str] = []

    def seen(*args: object) -> None:
        statements.append(str(args[2]))

    with app.sessions() as session:
        work = Work(session, app.clock.now(), app.policy)
        event.listen(app.engine, "before_cursor_execute", seen)
        try:
            found = [s.id or 0 for s in evaluation.surveys_for(work, actor)]
        finally:
            event.remove(app.engine, "before_cursor_execute", seen)
    return found, len(statements)


def test_the_survey_list_shows_the_newest_in_reach_only(
    app: App, staff: ChatUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    actor = actor_of(app, staff)
    sunny = _open(app, staff).id
    alone, queries = _listed(app, actor)
    assert alone == [sunny]
    peace = company_serving(app, "和平里物业管理有限公司", PEACE)
    far = company_serving(app, "南岭物业", *compounds(app, "南岭街道", "南岭社区", "南岭家园"))
    with working(app) as work:
        nearby = evaluation.open_survey(work, actor, peace, "2026H2").id
        elsewhere = evaluation.open_survey(work, SYSTEM, far, "2026H2").id
    listed, more_queries = _listed(app, actor)
    assert listed == [nearby, sunny]  # newest first; another street's survey is not theirs
    assert more_queries == queries
    assert _listed(app, SYSTEM)[0] == [elsewhere, nearby, sunny]
    monkeypatch.setattr(evaluation, "SURVEYS_SHOWN", 1)
    assert _listed(app, actor)[0] == [nearby]
