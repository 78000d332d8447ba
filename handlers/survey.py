"""The owners' satisfaction survey in chat (DESIGN §4.5): six aspects, each answered with one tap on one
of five big buttons (1 很不满意 … 5 很满意, one a line so the words fit a phone), once per home.

The push that opens a survey (core/notify/evaluation.py) carries `sv:o:<survey>:<home>` for each home the
owner holds under it. The taps are kept in the chat draft and handed to the use case in one go after the
sixth, so a half-answered survey never counts and a second owner of the same home is told, at the start
or at the end, that the home has answered. Every press names its survey, home and aspect: a tap that does
not continue the draft the person is in (an old message, a forged id) is a stale button.
"""

from __future__ import annotations

from pydantic import Field

from core import evaluation as use
from core.actions import Survey
from db.conversations import State
from db.evaluation.policy import ASPECTS
from handlers.common import given, stale
from handlers.context import Context
from handlers.flows import Draft, Flow
from handlers.types import Button, Inbound, Reply

NAME = "survey"
SCORES = (1, 2, 3, 4, 5)


class Answering(Draft):
    """The survey being answered: which survey and home, and the scores tapped so far (aspect order)."""

    survey: int = 0
    home: int = 0
    company: str = ""
    half: str = ""
    scores: list[int] = Field(default_factory=list)


def _aspects() -> tuple[str, ...]:
    """The aspects in the order they are asked (安保, 保洁, 绿化, 维修, 收费透明, 服务态度)."""
    return ASPECTS


def _refused(reason: str) -> list[Reply]:
    return [Reply("survey.refused", {"reason": reason})]


def _ask(ctx: Context, draft: Answering) -> Reply:
    """The next aspect with its five buttons, and the progress (第 2/6 项)."""
    aspects = _aspects()
    number = len(draft.scores) + 1
    # Five big buttons, one a line: the words fit on a phone, and a finger hits the right one.
    rows = [
        [
            Button.of(
                Survey("a", survey=draft.survey, home=draft.home, aspect=number, score=s),
                "survey.btn_score",
                args={"score": s},
            )
        ]
        for s in SCORES
    ]
    stop = [Button.of(Survey("x", survey=draft.survey, home=draft.home), "survey.btn_later")]
    context = {
        "aspect": aspects[number - 1],
        "number": number,
        "total": len(aspects),
        "company": draft.company,
        "half": draft.half,
        "first": number == 1,
    }
    return Reply("survey.ask", context, [*rows, stop])


def start(ctx: Context, press: Survey) -> list[Reply]:
    """The push's button: check the survey is open, the person owns the home and it has not answered."""
    survey, home = given(press.survey), given(press.home)
    try:
        opened = use.survey_to_answer(ctx.work, ctx.actor(), survey, home)
    except use.EvaluationError as exc:
        # A survey or home that is not there (an old or forged button) is a stale button.
        return [stale()] if exc.reason == "not_found" else _refused(exc.reason)
    draft = Answering(survey=survey, home=home, company=opened.company_name, half=opened.half)
    ctx.state.go(NAME, "ask")
    draft.keep(ctx.state)
    return [_ask(ctx, draft)]


def answer(ctx: Context, press: Survey) -> list[Reply]:
    """One tap: the score of the aspect asked now; after the sixth, the answer is handed in."""
    draft = Answering.of(ctx.state)
    expected = len(draft.scores) + 1
    if (
        ctx.state.flow != NAME
        or (press.survey, press.home) != (draft.survey, draft.home)
        or press.aspect != expected
        or press.score not in SCORES
    ):
        return [stale()]
    draft.scores.append(given(press.score))
    aspects = _aspects()
    if len(draft.scores) < len(aspects):
        draft.keep(ctx.state)
        return [_ask(ctx, draft)]
    ctx.state.clear()
    scores = dict(zip(aspects, draft.scores, strict=True))
    try:
        use.answer_survey(ctx.work, ctx.actor(), draft.survey, draft.home, scores)
    except use.EvaluationError as exc:
        return _refused(exc.reason)
    return [
        Reply(
            "survey.thanks",
            {"company": draft.company, "half": draft.half, "scores": draft.scores, "aspects": aspects},
        )
    ]


def later(ctx: Context, press: Survey) -> list[Reply]:
    """Stop for now: nothing is handed in; the push's button starts the survey again."""
    draft = Answering.of(ctx.state)
    if ctx.state.flow != NAME or (press.survey, press.home) != (draft.survey, draft.home):
        return [stale()]
    ctx.state.clear()
    return [Reply("survey.later")]


def on_press(ctx: Context, press: Survey) -> list[Reply]:
    """A survey press: start, one tap, or stop for now."""
    if press.verb == "o":
        return start(ctx, press)
    if press.verb == "a":
        return answer(ctx, press)
    if press.verb == "x":
        return later(ctx, press)
    return [stale()]


def resume(ctx: Context) -> list[Reply]:
    """Back to the aspect the person was asked when they left."""
    draft = Answering.of(ctx.state)
    if not draft.survey or len(draft.scores) >= len(_aspects()):
        ctx.state.clear()
        return [stale()]
    return [_ask(ctx, draft)]


def on_text(ctx: Context, _: Inbound) -> list[Reply]:
    """Typed text while answering: the buttons answer; the aspect is asked again."""
    return [Reply("survey.use_buttons"), *resume(ctx)]


def keeps(state: State) -> bool:
    """A survey is worth keeping once an aspect is answered."""
    return bool(Answering.of(state).scores)


FLOW = Flow(NAME, {}, Survey, on_press, on_text, resume=resume, keeps=keeps)
