"""Pushes to WeChat residents: a 客服 message inside the 48-hour window, a template message linking to the
H5 page outside it, and WeChat's errcodes (45015, 43004, 40001, frequency limits) as the issue says."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from bot.channels.base import RetryLater, Unreachable
from bot.channels.wechat_client import BACK_OFF
from bot.clock import FixedClock
from core import actions
from handlers.types import Rendered
from tests.support.chat import ChatUser
from tests.support.wechat_app import WeChat, wechat_harness
from tests.support.wechat_server import WxUser

OPENID = "o_resident_0000000000000001"
CUSTOM = "/cgi-bin/message/custom/send"
WECHAT_BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148 MicroMessenger/8.0.47"


@pytest.fixture
def wx(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[WeChat]:
    """The app with WeChat on, plaintext callbacks."""
    harness = wechat_harness(sqlite_url, tmp_path, clock)
    yield harness
    harness.app.engine.dispose()


async def report(wx: WeChat, user: WxUser, description: str) -> int:
    """File a 噪音扰民 report by WeChat; the ticket's id."""
    await wx.post(user.text("/report"))
    listed = wx.last(user.openid)
    number = re.search(r"^(\d+)\. [^\n]*噪音扰民", listed, re.MULTILINE)
    assert number, listed
    await wx.post(user.text(number.group(1)))
    await wx.post(user.text(description))
    await wx.post(wx.tap(user, "提交"))
    [ticket] = wx.tickets()
    assert ticket.id is not None and f"#{ticket.id}" in wx.last(user.openid)
    return ticket.id


def worker(wx: WeChat) -> ChatUser:
    """The grid worker of 阳光花园 1栋, on the web chat."""
    user = ChatUser(wx.app.service, "grid-1", name="刘网格")
    user.say("/start DEMO-GRID")
    return user


def resolve(grid: ChatUser, ticket_id: int) -> None:
    grid.data(actions.Task("r", ticket=ticket_id).encode())
    grid.press("经核实无需处理")
    grid.say("已上门核实，装修在允许时段内")
    assert "已办结" in grid.text


def link_target(url: str) -> str:
    """Where an OAuth entry link leads after signing in (its `next`)."""
    parts = urlsplit(url)
    assert parts.path == "/wechat/oauth", url
    return parse_qs(parts.query)["next"][0]


async def test_a_push_inside_the_window_is_a_custom_message(wx: WeChat) -> None:
    grid = worker(wx)  # on duty before the report, so the task is theirs
    user = await wx.joined(OPENID)
    ticket_id = await report(wx, user, "楼上装修太吵")
    grid.data(actions.Task("a", ticket=ticket_id).encode())
    await wx.app.dispatcher.drain()
    assert f"您的工单 #{ticket_id}" in wx.said(OPENID)[-1] and "接单" in wx.said(OPENID)[-1]
    assert wx.api.templates_to(OPENID) == []


async def test_the_follow_up_rates_by_menu_inside_the_window(wx: WeChat) -> None:
    grid = worker(wx)
    user = await wx.joined(OPENID)
    ticket_id = await report(wx, user, "楼上装修太吵")
    resolve(grid, ticket_id)
    await wx.app.dispatcher.drain()
    menu = wx.last_menu(OPENID)
    assert "已办结" in menu["head_content"] and any("满意" in i["content"] for i in menu["list"])
    await wx.post(wx.tap(user, "基本满意"))
    assert "已关闭" in wx.last(OPENID)
    assert wx.tickets()[0].state == "closed"


async def test_after_three_silent_days_the_follow_up_is_a_template_message_to_the_ticket(wx: WeChat) -> None:
    grid = worker(wx)
    user = await wx.joined(OPENID)
    ticket_id = await report(wx, user, "楼上装修太吵")
    sent = len(wx.api.custom_to(OPENID))
    wx.clock.advance(days=3)
    resolve(grid, ticket_id)
    await wx.app.dispatcher.drain()
    assert len(wx.api.custom_to(OPENID)) == sent  # no 客服 message outside the window
    [template] = wx.api.templates_to(OPENID)
    assert template["template_id"] == "followup-template-id"
    assert template["data"]["character_string1"]["value"] == f"#{ticket_id}"
    assert "已办结" in template["data"]["thing2"]["value"]
    assert len(template["data"]["thing2"]["value"]) <= 20  # a thing field holds 20 characters
    about = quote(actions.MyTicket("v", ticket=ticket_id).encode(), safe="")
    assert link_target(template["url"]) == f"/chat?open={about}"
    assert template["url"].startswith("https://linli.example.cn/wechat/oauth?")


async def test_the_template_link_signs_the_page_in_as_the_resident_on_the_ticket(wx: WeChat) -> None:
    await wx.joined(OPENID)
    identity = wx.identity(OPENID)
    assert identity is not None
    wx.clock.advance(days=3)
    about = actions.MyTicket("v", ticket=1).encode()
    await wx.channel.push(identity, Rendered("工单 #1 有新进展。", topic="cases.progress", about=about))
    [template] = wx.api.templates_to(OPENID)
    wx.api.in_wechat = OPENID  # the resident's phone opens the link inside WeChat
    transport = httpx.ASGITransport(app=wx.web)
    async with httpx.AsyncClient(transport=transport, headers={"User-Agent": WECHAT_BROWSER}) as phone:
        to_wechat = await phone.get(template["url"])
        assert to_wechat.status_code == 302 and "/connect/oauth2/authorize?" in to_wechat.headers["location"]
        status, _, back = wx.api.handle("GET", to_wechat.headers["location"])  # WeChat's authorize page
        assert status == 302 and "code=" in back.decode()
        signed_in = await phone.get(back.decode())
        assert (
            signed_in.status_code == 303
            and signed_in.headers["location"] == f"/chat?open={quote(about, safe='')}"
        )
        page = await phone.get(f"https://linli.example.cn{signed_in.headers['location']}")
        assert page.status_code == 200
    [exchange] = wx.api.calls_to("/sns/oauth2/access_token")
    assert exchange.ok and exchange.answer["openid"] == OPENID


async def test_45015_on_a_custom_message_falls_back_to_the_template(wx: WeChat) -> None:
    await wx.joined(OPENID)
    identity = wx.identity(OPENID)
    assert identity is not None
    wx.api.inject(CUSTOM, 45015)
    notice = actions.Notices("v", notice=7).encode()
    await wx.channel.push(
        identity, Rendered("小区明天停水，请提前储水。", topic="notices.push", about=notice)
    )
    [template] = wx.api.templates_to(OPENID)
    assert template["template_id"] == "notice-template-id"
    assert link_target(template["url"]) == f"/chat?open={quote(notice, safe='')}"
    assert template["data"]["thing1"]["value"] == "小区明天停水，请提前储水。"


async def test_the_window_count_runs_out_into_template_messages(
    sqlite_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    wx = wechat_harness(sqlite_url, tmp_path, clock, WECHAT_WINDOW_MESSAGES=3)
    await wx.joined(OPENID)  # the welcome went as a 客服 message: WeChat counts it, one of the three
    identity = wx.identity(OPENID)
    assert identity is not None
    sent = len(wx.api.custom_to(OPENID))
    poll = actions.Vote("v", poll=3).encode()
    for n in range(3):
        await wx.channel.push(identity, Rendered(f"表决提醒 {n}", topic="pollpush.reminder", about=poll))
    assert len(wx.api.custom_to(OPENID)) == sent + 2
    [template] = wx.api.templates_to(OPENID)
    assert template["template_id"] == "poll-reminder-template-id" and "表决提醒 2" in str(template["data"])
    wx.app.engine.dispose()


async def test_45047_on_a_custom_message_falls_back_to_the_template(wx: WeChat) -> None:
    await wx.joined(OPENID)
    identity = wx.identity(OPENID)
    assert identity is not None
    wx.api.inject(CUSTOM, 45047)
    await wx.channel.push(identity, Rendered("您的申请已通过。", topic="onboarding.decided"))
    [template] = wx.api.templates_to(OPENID)
    assert template["template_id"] == "general-template-id"
    assert link_target(template["url"]) == "/chat"


async def test_an_unfollowed_resident_is_unreachable(wx: WeChat) -> None:
    await wx.joined(OPENID)
    identity = wx.identity(OPENID)
    assert identity is not None
    wx.api.unfollow(OPENID)
    with pytest.raises(Unreachable):
        await wx.channel.push(identity, Rendered("工单有新进展。"))
    wx.clock.advance(days=3)  # outside the window the template message is refused too
    with pytest.raises(Unreachable):
        await wx.channel.push(identity, Rendered("工单有新进展。"))


async def test_unsubscribing_marks_the_identity_unreachable_without_a_turn(wx: WeChat) -> None:
    user = await wx.joined(OPENID)
    sent = len(wx.api.custom_to(OPENID))
    delivery = await wx.post(user.unsubscribe())
    assert delivery.success
    identity = wx.identity(OPENID)
    assert identity is not None and identity.unreachable
    assert len(wx.api.custom_to(OPENID)) == sent
    assert wx.stored()[-1].processed_at is not None


async def test_frequency_limits_back_off_the_channel(wx: WeChat) -> None:
    await wx.joined(OPENID)
    identity = wx.identity(OPENID)
    assert identity is not None
    wx.api.inject(CUSTOM, 45009)  # the day's quota for the call is spent: the channel rests, as WeChat asks
    with pytest.raises(RetryLater) as waited:
        await wx.channel.push(identity, Rendered("工单有新进展。"))
    assert waited.value.seconds == BACK_OFF[45009]


async def test_a_refused_token_is_refreshed_once_and_the_message_goes(wx: WeChat) -> None:
    await wx.joined(OPENID)
    identity = wx.identity(OPENID)
    assert identity is not None
    old = wx.api.stable
    wx.api.revoke(old)  # WeChat no longer takes the token every process holds
    await wx.channel.push(identity, Rendered("工单有新进展。"))
    assert wx.said(OPENID)[-1] == "工单有新进展。"
    assert wx.api.stable_forced == 1 and wx.api.stable != old
    refused = [c for c in wx.api.calls_to(CUSTOM) if c.errcode == 40001]
    assert len(refused) == 1


async def test_a_token_refused_twice_is_not_retried_for_ever(wx: WeChat) -> None:
    await wx.joined(OPENID)
    identity = wx.identity(OPENID)
    assert identity is not None
    before = len(wx.api.calls_to(CUSTOM))
    wx.api.inject(CUSTOM, 40001, times=5)
    with pytest.raises(Exception, match="40001"):
        await wx.channel.push(identity, Rendered("工单有新进展。"))
    assert len(wx.api.calls_to(CUSTOM)) == before + 2


async def test_a_pushed_menu_takes_numbered_replies(wx: WeChat) -> None:
    user = await wx.joined(OPENID)
    identity = wx.identity(OPENID)
    assert identity is not None
    buttons = ((("中文", actions.Language(locale="zh_CN").encode()),), (("English", "l:en"),))
    await wx.channel.push(identity, Rendered("请选择语言", buttons=buttons))
    await wx.post(user.text("2"))
    assert "English" in wx.last(OPENID) or "language" in wx.last(OPENID).lower()


async def test_messages_for_counts_the_calls_a_push_makes(wx: WeChat) -> None:
    assert wx.channel.messages_for(Rendered("短消息")) == 1
    assert wx.channel.messages_for(Rendered("长" * 2000)) == 3  # 6000 bytes in 2048-byte parts
    buttons = ((("好", "cmd:/help"),),)
    assert wx.channel.messages_for(Rendered("选一个", buttons=buttons)) == 1
