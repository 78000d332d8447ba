"""The owners' satisfaction survey in chat: six aspects, one tap each, once per home; a second owner of
the home is told it has answered; tenants and old or forged buttons are refused."""

from __future__ import annotations

from sqlmodel import select

from bot.bootstrap import App
from core import evaluation
from core.actions import Language, Survey
from core.permissions import SYSTEM
from core.work import Work
from db.evaluation.tables import SurveyAnswer
from tests.support.chat import ChatUser
from tests.support.evaluation import pushes
from tests.support.rating import co_owner, home_of, open_survey, start_button, street, sunny

STALE = "这个按钮已失效"


def answer_all(user: ChatUser, survey_id: int, home_id: int, taps: tuple[str, ...]) -> None:
    """Start the survey from the push's button and tap one score per aspect."""
    user.data(start_button(survey_id, home_id))
    for number, tap in enumerate(taps, start=1):
        assert f"第 {number}/6 项" in user.text
        assert len(user.last[-1].buttons) == 6  # five big buttons, 1 很不满意 … 5 很满意, and 以后再答
        user.press(tap)


def test_six_taps_answer_the_survey_for_the_home(app: App, owner: ChatUser) -> None:
    survey_id = open_survey(app, street(app), sunny(app))
    home_id = home_of(app, owner)
    owner.data(start_button(survey_id, home_id))
    assert "阳光物业服务有限公司" in owner.text and "第 1/6 项" in owner.text and "安保" in owner.text
    labels = [label for row in owner.last[-1].buttons[:5] for label, _ in row]
    assert labels == ["1 很不满意", "2 不满意", "3 一般", "4 满意", "5 很满意"]
    for tap, aspect in zip(
        ("5 很满意", "4 满意", "3 一般", "2 不满意", "4 满意"),
        ("保洁", "绿化", "维修", "收费透明", "服务态度"),
        strict=True,
    ):
        owner.press(tap)
        assert aspect in owner.text
    owner.press("5 很满意")
    assert "谢谢您" in owner.text
    with app.sessions() as session:
        answer = session.exec(select(SurveyAnswer).where(SurveyAnswer.survey_id == survey_id)).one()
    assert answer.home_id == home_id and answer.completed_at is not None
    assert (
        answer.security,
        answer.cleaning,
        answer.greening,
        answer.repairs,
        answer.fees,
        answer.attitude,
    ) == (
        5,
        4,
        3,
        2,
        4,
        5,
    )


def test_a_second_owner_of_the_home_is_told_it_has_answered(app: App, owner: ChatUser) -> None:
    survey_id = open_survey(app, street(app), sunny(app))
    home_id = home_of(app, owner)
    spouse = co_owner(app, home_id, "owner-1b")
    spouse.data(start_button(survey_id, home_id))  # both start; the first to finish answers for the home
    answer_all(owner, survey_id, home_id, ("4 满意",) * 6)
    assert "谢谢您" in owner.text
    for _ in range(5):
        spouse.press("3 一般")
    spouse.press("3 一般")
    assert "已经答过" in spouse.text
    spouse.data(start_button(survey_id, home_id))
    assert "已经答过" in spouse.text
    with app.sessions() as session:
        rows = session.exec(select(SurveyAnswer).where(SurveyAnswer.survey_id == survey_id)).all()
    assert [(r.home_id, r.cleaning) for r in rows] == [(home_id, 4)]


def test_a_tenant_is_not_asked(app: App) -> None:
    survey_id = open_survey(app, street(app), sunny(app))
    tenant = ChatUser(app.service, "tenant-1", name="赵租")
    tenant.say("/start DEMO-TENANT")
    tenant.data(start_button(survey_id, home_of(app, tenant)))
    assert "由本户的业主作答" in tenant.text
    assert not tenant.last[-1].buttons


def test_old_and_forged_buttons_are_stale(app: App, owner: ChatUser, neighbour: ChatUser) -> None:
    survey_id = open_survey(app, street(app), sunny(app))
    home_id = home_of(app, owner)
    owner.data(Survey("a", survey=survey_id, home=home_id, aspect=1, score=5).encode())  # never started
    assert STALE in owner.text
    owner.data(start_button(999_999, home_id))  # no such survey
    assert STALE in owner.text
    owner.data(start_button(survey_id, home_of(app, neighbour)))  # another family's home
    assert "由本户的业主作答" in owner.text
    answer_all(owner, survey_id, home_id, ("4 满意",) * 6)
    owner.data(Survey("a", survey=survey_id, home=home_id, aspect=6, score=1).encode())  # an old tap
    assert STALE in owner.text
    with app.sessions() as session:
        answer = session.exec(select(SurveyAnswer).where(SurveyAnswer.survey_id == survey_id)).one()
    assert answer.attitude == 4


def test_typing_mid_survey_asks_the_same_aspect_again(app: App, owner: ChatUser) -> None:
    survey_id = open_survey(app, street(app), sunny(app))
    home_id = home_of(app, owner)
    owner.data(start_button(survey_id, home_id))
    owner.press("4 满意")
    owner.say("挺好的")
    assert "请点按钮作答" in owner.text and "第 2/6 项" in owner.text
    owner.press("以后再答")
    assert "没有保存" in owner.text


def test_an_owner_on_telegram_answers_with_the_same_taps(app: App) -> None:
    owner = ChatUser(app.service, "tg-owner", channel="telegram", name="王芳")
    owner.say("/start DEMO-OWNER")
    survey_id = open_survey(app, street(app), sunny(app))
    answer_all(owner, survey_id, home_of(app, owner), ("5 很满意",) * 6)
    assert "谢谢您" in owner.text


def test_the_push_of_a_new_survey_starts_it_for_the_home(app: App, owner: ChatUser) -> None:
    survey_id = open_survey(app, street(app), sunny(app))
    (start,) = [
        b["data"]
        for row in pushes(app, "evaluation.survey_opened", owner)
        for line in row.buttons
        for b in line
    ]
    assert start == start_button(survey_id, home_of(app, owner))
    owner.data(start)
    assert "第 1/6 项" in owner.text


def test_a_survey_closed_meanwhile_is_said_to_be_over(app: App, owner: ChatUser) -> None:
    grader = street(app)
    survey_id = open_survey(app, grader, sunny(app))
    home_id = home_of(app, owner)
    owner.data(start_button(survey_id, home_id))
    for _ in range(5):
        owner.press("4 满意")
    with app.sessions() as session:
        work = Work(session, app.clock.now(), app.policy)
        evaluation.close_survey(work, SYSTEM, survey_id)
        session.commit()
    owner.press("4 满意")
    assert "已经结束" in owner.text
    owner.data(start_button(survey_id, home_id))
    assert "已经结束" in owner.text


def test_the_survey_reads_in_english(app: App, owner: ChatUser) -> None:
    owner.data(Language(locale="en").encode())
    survey_id = open_survey(app, street(app), sunny(app))
    owner.data(start_button(survey_id, home_of(app, owner)))
    assert "Question 1/6: how happy are you with security?" in owner.text
    assert [label for row in owner.last[-1].buttons for label, _ in row][:5] == [
        "1 very unhappy",
        "2 unhappy",
        "3 so-so",
        "4 happy",
        "5 very happy",
    ]
    for _ in range(6):
        owner.press("4 happy")
    assert "Thank you!" in owner.text and "· service attitude: 4 happy" in owner.text


def test_residents_read_the_half_year_in_words_never_its_code(app: App, owner: ChatUser) -> None:
    grader = street(app)
    survey_id = open_survey(app, grader, sunny(app))
    [push] = pushes(app, "evaluation.survey_opened", owner)
    chinese = app.renderer.text("zh_CN", push.template, push.context)
    english = app.renderer.text("en", push.template, push.context)
    assert "2026年下半年" in chinese and "second half of 2026" in english
    owner.data(start_button(survey_id, home_of(app, owner)))
    assert "服务满意度调查（2026年下半年）" in owner.text
    grader.say("/rating")
    assert "物业服务企业评价排名（2026年下半年）" in grader.text
    for text in (chinese, english, owner.text, grader.text):
        assert "2026H2" not in text
