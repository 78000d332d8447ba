"""The flows a resident completes on WeChat as on Telegram, by tapping 客服 menus and typing numbers: an
owners' poll with its confirm step and receipt, a notice acknowledged, and the policy library."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import func, select

from bot.clock import FixedClock
from db.models import NoticeAck, PollBallot
from tests.support.chat import ChatUser
from tests.support.wechat_app import WeChat, wechat_harness
from tests.test_notices import send
from tests.test_polls_flow import make_poll

OPENID = "o_owner_flows_000000000000001"


@pytest.fixture
def wx(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[WeChat]:
    """The app with WeChat on (plaintext callbacks) and the demo organisation."""
    harness = wechat_harness(sqlite_url, tmp_path, clock)
    yield harness
    harness.app.engine.dispose()


async def test_an_owner_votes_with_the_confirm_step_and_gets_a_receipt(wx: WeChat, clock: FixedClock) -> None:
    user = await wx.joined(OPENID)  # an owner verified before the poll opens is in its electorate
    poll = make_poll(wx.app, clock, secret=True)
    await wx.post(user.click("cmd:/polls"))
    await wx.post(wx.tap(user, "续聘阳光物业"))
    assert "是否续聘阳光物业" in wx.last(OPENID, 2)
    await wx.post(wx.tap(user, "同意"))
    assert "请确认您的选票" in wx.last(OPENID)
    await wx.post(wx.tap(user, "确认"))
    receipt = wx.last(OPENID)
    assert re.search(r"回执码：[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", receipt), receipt
    with wx.app.sessions() as session:
        cast = session.exec(select(func.count()).select_from(PollBallot).where(PollBallot.poll_id == poll))
        assert cast.one() == 1


async def test_a_notice_reaches_the_resident_and_is_acknowledged_by_a_tap(wx: WeChat) -> None:
    user = await wx.joined(OPENID)
    staff = ChatUser(wx.app.service, "staff-flows", name="张主任")
    staff.say("/start DEMO-STAFF")
    notice = send(staff, title="楼道堆物清理", body="本周六统一清理楼道堆物。", path=("阳光花园",), ack=True)
    await wx.app.dispatcher.drain()
    pushed = wx.last_menu(OPENID)
    assert "楼道堆物清理" in pushed["head_content"]
    await wx.post(wx.tap(user, "知晓"))
    with wx.app.sessions() as session:
        acks = session.exec(select(func.count()).select_from(NoticeAck).where(NoticeAck.notice_id == notice))
        assert acks.one() == 1


async def test_the_policy_library_opens_from_the_menu_and_an_article_by_its_number(wx: WeChat) -> None:
    user = await wx.joined(OPENID)
    await wx.post(user.click("cmd:/policy"))
    assert "政策法规库" in wx.last(OPENID)
    await wx.post(user.text("1"))  # the first topic, by its number
    articles = wx.last_menu(OPENID)
    assert articles["list"], articles
    first = articles["list"][0]
    await wx.post(user.tap(str(first["id"]), str(first["content"])))
    article = wx.last(OPENID)
    assert len(article) > 100 and article != articles["head_content"], article
