"""Ids beyond what an id column holds, in button data or a typed ticket code, get the stale/not-found
reply on SQLite and PostgreSQL alike: never an error, and nothing changes."""

from __future__ import annotations

import logging

import pytest
from sqlmodel import func, select

from bot.bootstrap import App
from db.models import Notice, PollBallot, Residency, RoleGrant, Ticket, TicketEvent
from tests.support.chat import ChatUser

TOO_BIG = (2**31, 99999999999, 10**12 - 1)  # one past PostgreSQL's integer; the code; 12 digits
# Every kind of button that carries an id, as the handlers write them ({} is the id).
BUTTONS = (
    "t:v:{}",
    "t:y:{}",
    "t:n:{}",
    "t:w:{}",
    "j:p:{}",
    "j:b:{}",
    "j:e:{}",
    "j:h:{}",
    "j:k:{}:owner",
    "a:y:{}",
    "a:n:{}",
    "k:v:{}",
    "k:d:{}",
    "k:c:{}:photo",
    "k:a:{}",
    "k:p:{}",
    "k:q:{}",
    "k:r:{}",
    "k:t:{}",
    "f:s:{}",
    "f:b:{}",
    "f:d:{}",
    "f:k:{}",
    "n:v:{}",
    "n:a:{}",
    "n:c:{}",
    "n:r:{}",
    "p:a:{}",
    "q:a:{}",
    "q:d:{}",
    "q:tn:{}",
    "q:ty:{}",
    "r:h:{}",
    "r:m:{}",
    "v:v:{}",
    "v:c:{}:yes",
    "v:r:{}",
    "v:d:{}",
    "v:ok:{}",
    "v:x:{}",
    "v:cancel:{}",
    "v:cancelok:{}",
    "v:t:{}:1",
)
# The ones the issue reproduced, with the reply a person must see.
NAMED = ("t:v:{}", "j:h:{}", "j:k:{}:owner", "n:v:{}", "f:s:{}")
CLEAR = ("失效", "没有找到")
ERROR = "出了点问题"


def _counts(app: App) -> dict[str, int]:
    with app.sessions() as session:
        return {
            model.__name__: int(session.exec(select(func.count()).select_from(model)).one())
            for model in (Ticket, TicketEvent, Residency, RoleGrant, Notice, PollBallot)
        }


@pytest.fixture
def people(any_app: App) -> list[ChatUser]:
    """A resident, a grid worker and community staff, joined with the demo codes."""
    users = []
    for ref, code in (("o-big", "DEMO-OWNER"), ("g-big", "DEMO-GRID"), ("s-big", "DEMO-STAFF")):
        user = ChatUser(any_app.service, ref, name=ref)
        user.say(f"/start {code}")
        assert "绑定成功" in user.text, user.text
        users.append(user)
    return users


def test_named_buttons_with_huge_ids_answer_stale(
    any_app: App, people: list[ChatUser], caplog: pytest.LogCaptureFixture
) -> None:
    owner = people[0]
    before = _counts(any_app)
    with caplog.at_level(logging.ERROR):
        for pattern in NAMED:
            for number in TOO_BIG:
                owner.data(pattern.format(number))
                assert any(word in owner.text for word in CLEAR), (pattern, number, owner.text)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert _counts(any_app) == before


def test_a_typed_ticket_code_beyond_any_id_is_not_found(
    any_app: App, people: list[ChatUser], caplog: pytest.LogCaptureFixture
) -> None:
    before = _counts(any_app)
    with caplog.at_level(logging.ERROR):
        for user in people:
            for number in TOO_BIG:
                user.say(f"#{number}")
                assert "没有找到工单" in user.text, (user.user_ref, number, user.text)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert _counts(any_app) == before


def test_every_button_with_a_huge_id_gets_a_reply_and_no_error(
    any_app: App, people: list[ChatUser], caplog: pytest.LogCaptureFixture
) -> None:
    before = _counts(any_app)
    with caplog.at_level(logging.ERROR):
        for user in people:
            for pattern in BUTTONS:
                for number in TOO_BIG:
                    user.data(pattern.format(number))
                    assert user.text and ERROR not in user.text, (user.user_ref, pattern, number)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert _counts(any_app) == before
