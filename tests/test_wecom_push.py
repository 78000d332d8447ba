"""Pushing to WeCom members through the outbox: within WeCom's per-member limits (a burst is spread, none
lost), one token refresh when WeCom refuses the token, and a member out of the app's range unreachable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.channels.base import ChatBusy, RetryLater, Unreachable
from bot.clock import FixedClock
from db import outbox
from db.models import Identity, Outbox
from handlers.types import Rendered
from tests.support.wecom_api import FREQUENCY_LIMIT
from tests.support.wecom_app import WeCom, wecom_app

WORKER = "LiuWang"


@pytest.fixture
def wecom(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[WeCom]:
    """The app with WeCom on and a grid worker joined through an invite bound to them."""
    with wecom_app(sqlite_url, tmp_path, clock) as harness:
        harness.joined(WORKER)
        yield harness


def queue(wecom: WeCom, count: int) -> None:
    """`count` pushes to the worker in the outbox (one text each, numbered)."""
    person = wecom.person_of(WORKER)
    assert person is not None
    with wecom.app.sessions() as session:
        for n in range(count):
            context = {"command": f"/push-{n}"}
            outbox.enqueue(session, person, "common.unknown_command", context, [], wecom.clock.now())
        session.commit()


def pushed(wecom: WeCom) -> list[str]:
    """The numbered pushes the worker received, in order."""
    return [t for t in wecom.api.texts(WORKER) if "/push-" in t]


def pending(wecom: WeCom) -> list[Outbox]:
    with wecom.app.sessions() as session:
        return list(session.exec(select(Outbox).where(col(Outbox.status) == "pending")).all())


def test_a_burst_of_forty_is_spread_over_minutes_and_none_is_lost(wecom: WeCom, clock: FixedClock) -> None:
    clock.advance(seconds=61)  # the greeting on joining is out of WeCom's minute
    # The gap between two messages to one member is not what this is about: shortened, so the test is quick.
    wecom.app.dispatcher.limits["wecom"].per_chat_gap = 0.01
    queue(wecom, 40)
    wecom.drain()
    first = pushed(wecom)
    assert len(first) == 30
    assert wecom.api.limited == []  # WeCom never had to refuse one: the outbox kept the budget
    waiting = pending(wecom)
    assert len(first) + len(waiting) == 40 and 0 < len(waiting) < 40
    assert all(row.attempts == 0 for row in waiting)  # held back, not failed

    clock.advance(seconds=61)  # a minute later: the outbox's budget and WeCom's count on this clock
    wecom.drain()
    every = pushed(wecom)
    assert sorted(every) == sorted(set(every)) and len(every) == 40  # each once, none lost
    assert wecom.api.limited == [] and pending(wecom) == []


def test_an_answer_over_the_members_budget_waits_in_the_outbox_and_is_not_lost(
    wecom: WeCom, clock: FixedClock
) -> None:
    clock.advance(seconds=61)
    wecom.app.dispatcher.limits["wecom"].per_chat_gap = 0.01
    queue(wecom, 30)
    wecom.drain()
    assert len(pushed(wecom)) == 30  # the minute's budget is spent on pushes
    before = len(wecom.api.texts(WORKER))
    wecom.deliver(wecom.server.text(WORKER, "/nosuch"))
    assert len(wecom.api.texts(WORKER)) == before and wecom.api.limited == []  # WeCom was not asked
    clock.advance(seconds=61)  # the answer's lease has run out, and the member's minute
    wecom.drain()
    assert "/nosuch" in wecom.api.texts(WORKER)[-1]


def test_a_refused_token_is_replaced_once_and_the_push_goes_through(wecom: WeCom) -> None:
    tokens_before = len(wecom.api.calls_to("gettoken"))
    wecom.api.expire()  # WeCom says 42001 to the token we hold
    queue(wecom, 1)
    assert wecom.drain() == 1
    assert len(wecom.api.calls_to("gettoken")) == tokens_before + 1
    sends = [c.errcode for c in wecom.api.calls_to("message/send")][-2:]
    assert sends == [42001, 0] and len(pushed(wecom)) == 1


def test_a_token_refused_twice_is_not_fetched_in_a_loop(wecom: WeCom) -> None:
    tokens_before = len(wecom.api.calls_to("gettoken"))
    wecom.api.fail("message/send", 40014, times=5)
    queue(wecom, 1)
    assert wecom.drain() == 0
    assert len(wecom.api.calls_to("gettoken")) == tokens_before + 1
    [row] = pending(wecom)
    assert row.attempts == 1  # tried again later by the outbox


def test_a_member_out_of_the_apps_range_is_unreachable(wecom: WeCom) -> None:
    wecom.api.members = {"SomeoneElse"}
    queue(wecom, 1)
    wecom.drain()
    with wecom.app.sessions() as session:
        identity = session.exec(select(Identity).where(Identity.external_id == WORKER)).one()
        row = session.exec(select(Outbox)).all()[-1]
    assert identity.unreachable and row.status == "unreachable"


def test_push_says_unreachable_and_retry_later_as_the_dispatcher_expects(wecom: WeCom) -> None:
    identity = Identity(channel="wecom", external_id=WORKER, chat_id=WORKER, person_id=1)
    wecom.api.fail("message/send", FREQUENCY_LIMIT)
    with pytest.raises(ChatBusy):  # one member's budget: only their messages wait
        wecom.client.portal.call(wecom.channel.push, identity, Rendered("你好"))
    wecom.api.fail("message/send", 45033)  # too many calls at once: the whole channel slows down
    with pytest.raises(RetryLater):
        wecom.client.portal.call(wecom.channel.push, identity, Rendered("你好"))
    wecom.api.fail("message/send", 81013)
    with pytest.raises(Unreachable):
        wecom.client.portal.call(wecom.channel.push, identity, Rendered("你好"))
    wecom.client.portal.call(wecom.channel.push, identity, Rendered("你好"))
    assert wecom.api.texts(WORKER)[-1] == "你好"


def test_messages_for_counts_what_push_sends(wecom: WeCom) -> None:
    card = Rendered("新任务 #1\n住址：1栋", ((("接单", "t:a:1"),),))
    overflowing = Rendered("通知：" + "很长。" * 100, ((("已读", "n:a:1"),),))
    assert wecom.channel.messages_for(Rendered("你好")) == 1
    assert wecom.channel.messages_for(card) == 1
    assert wecom.channel.messages_for(overflowing) == 2
    before = len(wecom.api.calls_to("message/send"))
    wecom.client.portal.call(
        wecom.channel.push, Identity(channel="wecom", external_id=WORKER, person_id=1), overflowing
    )
    assert len(wecom.api.calls_to("message/send")) - before == 2
