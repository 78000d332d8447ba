"""End to end over HTTP: `linli run` with WeChat and WeCom on their API doubles. A resident joins by the QR
code of an invite, reports with a voice and a photo, and gets the ticket code; the grid worker gets the task
as a card in WeCom and presses 接单 and 办结; the resident is told and rates; a staff notice reaches one
resident by 客服 message and another, silent for three days, by a template message."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from core import actions
from tests.support.process import BotProcess
from tests.support.wechat_api import APP_ID, SECRET, WeChatApi, WeChatApiServer
from tests.support.wechat_server import AES_KEY, TOKEN, WeChatServer, WxUser
from tests.support.wecom_api import WeComApi, WeComApiServer
from tests.support.wecom_app import wecom_settings
from tests.support.wecom_server import WeComServer

RESIDENT = "o_resident_e2e_00000000000001"
NEIGHBOUR = "o_neighbour_e2e_0000000000001"
WORKER = "zhangwei"
JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c1912130f141d"
    "1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc0000b080001000101011100ff"
    "c4001f0000010501010101010100000000000000000102030405060708090a0bffc400b5100002010303020403050504040000"
    "017d01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a2526272829"
    "2a3435363738393a434445464748494a535455565758595a636465666768696a737475767778797a838485868788898a9293949"
    "5969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9ea"
    "f1f2f3f4f5f6f7f8f9faffda0008010100003f00fbd3ffd9"
)


def amr(seconds: int) -> bytes:
    """A voice as WeChat keeps it: AMR-NB, 50 frames of 20 ms a second (12.2 kbit/s, 32 bytes each)."""
    return b"#!AMR\n" + (b"\x3c" + bytes(31)) * 50 * seconds


@dataclass
class Platforms:
    """`linli run`, the two API doubles and the two platforms' callback posters."""

    bot: BotProcess
    wechat: WeChatApi
    wx: WeChatServer
    wecom: WeComApi
    wc: WeComServer

    def said(self, openid: str) -> str:
        """Everything the resident was sent (客服 messages and template messages), joined."""
        return "\n".join(self.wechat.said_to(openid))

    async def until(self, what: str, check: Callable[[], bool], timeout: float = 20) -> None:
        """Wait for something the process does after its answer (客服 messages, pushes)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not check():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.05)

    async def resident_turn(self, xml: str) -> str:
        """Deliver a callback as WeChat does and return what the resident saw for it (passive and 客服)."""
        before = len(self.wechat.said_to(RESIDENT))
        delivery = await self.wx.post(xml)
        assert delivery.status == 200, delivery.tries
        if delivery.text:
            return delivery.text
        await self.until("客服 answers", lambda: len(self.wechat.said_to(RESIDENT)) > before)
        await asyncio.sleep(0.3)  # an answer may be several messages
        return "\n".join(self.wechat.said_to(RESIDENT)[before:])

    async def worker_turn(self, xml: str) -> str:
        """Deliver a WeCom callback and return what the worker was sent for it."""
        before = len(self.wecom.everything(WORKER))
        delivery = await asyncio.to_thread(self.wc.deliver, xml)
        assert delivery.status == 200
        await self.until("WeCom answers", lambda: len(self.wecom.everything(WORKER)) > before)
        await asyncio.sleep(0.3)
        return "\n".join(self.wecom.everything(WORKER)[before:])


@pytest.fixture
async def platforms(tmp_path: Path) -> AsyncIterator[Platforms]:
    """Both doubles served over HTTP and `linli run` pointed at them (SQLite, the demo organisation)."""
    wechat = WeChatApi()
    wecom = WeComApi()
    async with WeChatApiServer(wechat) as wechat_server:
        with WeComApiServer(wecom) as wecom_server:
            env = {
                "WECHAT_APP_ID": APP_ID,
                "WECHAT_APP_SECRET": SECRET,
                "WECHAT_TOKEN": TOKEN,
                "WECHAT_AES_KEY": AES_KEY,
                "WECHAT_API_BASE_URL": wechat_server.url,
                "WECHAT_OPEN_BASE_URL": wechat_server.url,
                **{k: str(v) for k, v in wecom_settings(wecom_server.url).items()},
            }
            bot = await asyncio.to_thread(BotProcess(tmp_path / "var", **env).start)
            try:
                wx = WeChatServer(bot.url, aes_key=AES_KEY, api=wechat)
                wc = WeComServer(httpx.Client(base_url=bot.url, timeout=5.0), wecom)
                yield Platforms(bot, wechat, wx, wecom, wc)
            finally:
                await asyncio.to_thread(bot.stop)


def numbered(text: str, label: str) -> str:
    """The number a numbered list gives `label`."""
    match = re.search(rf"^(\d+)\. [^\n]*{re.escape(label)}", text, re.MULTILINE)
    assert match, f"{label!r} is not numbered in {text!r}"
    return match.group(1)


def tap(user: WxUser, press: actions.Press, label: str) -> str:
    """A tap on the 客服 menu item of `press`."""
    return user.tap(press.encode(), label)


async def test_a_resident_on_wechat_and_a_worker_on_wecom_see_a_case_through(platforms: Platforms) -> None:
    p = platforms
    # The menu was published at start, as Telegram's command menu is.
    await p.until("the menus", lambda: p.wechat.menu is not None and p.wecom.menu is not None)
    resident = p.wx.user(RESIDENT)
    assert "绑定成功" in await p.resident_turn(resident.subscribe("DEMO-OWNER"))  # scanned the QR code

    assert "绑定" in await p.worker_turn(p.wc.text(WORKER, "/start DEMO-GRID"))

    categories = await p.resident_turn(resident.click("cmd:/report"))
    await p.resident_turn(resident.text(numbered(categories, "停水/漏水")))
    voice = p.wechat.add_media(amr(5), "audio/amr", "voice")
    assert "照片" in await p.resident_turn(resident.voice(voice, recognition="厨房水管爆了"))
    photo = p.wechat.add_media(JPEG)
    assert "照片：1 张" in await p.resident_turn(resident.image(photo))
    summary = await p.resident_turn(resident.location(41.8, 123.4, "阳光花园1栋"))
    assert "厨房水管爆了" in summary and "语音：5 秒" in summary
    filed = await p.resident_turn(tap(resident, actions.Report("ok"), "提交"))
    code = re.search(r"#(\d+)", filed)
    assert code, filed
    ticket = int(code.group(1))

    await p.until("the task card", lambda: any(f"#{ticket}" in c.title for c in p.wecom.cards_of(WORKER)))
    accepted = await p.worker_turn(p.wc.press(WORKER, "接单", containing=f"#{ticket}"))
    assert "已接单" in accepted
    assert "办结类型" in await p.worker_turn(p.wc.press(WORKER, "办结"))
    await asyncio.to_thread(p.wc.deliver, p.wc.press(WORKER, "已修复"))
    assert "现场照片" in await p.worker_turn(p.wc.text(WORKER, "换了水管接头"))
    await p.worker_turn(p.wc.image(WORKER, p.wecom.add_media(JPEG)))
    assert "已办结" in await p.worker_turn(p.wc.press(WORKER, "完成"))

    # The resident is told in WeChat (inside the 48 hours: a 客服 menu to rate) and rates by tapping.
    await p.until("the resolved push", lambda: "已办结" in p.said(RESIDENT))
    rated = await p.resident_turn(tap(resident, actions.Rate("s", ticket=ticket), "满意"))
    assert "感谢" in rated or "评价" in rated

    # A notice from the street office: one resident within the window, one silent for three days.
    neighbour = p.wx.user(NEIGHBOUR)
    assert (await p.wx.post(neighbour.subscribe("DEMO-OWNER2"))).status == 200
    await p.until("the neighbour's welcome", lambda: "绑定成功" in p.said(NEIGHBOUR))
    three_days_ago = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(p.bot.var_dir / "linli.db") as db:
        db.execute(
            "UPDATE identity SET last_inbound_at = ? WHERE external_id = ?", (three_days_ago, NEIGHBOUR)
        )
    notice = p.bot.var_dir / "notice.yaml"
    notice.write_text(
        "kind: outage\ntitle: 明日停水\nbody: 明天 9:00-17:00 阳光花园停水检修，请提前储水。\n"
        "node: 铁西区/北沟街道/英雄社区/阳光花园\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", "notice", "send", str(notice)],
        env={**p.bot.env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    await p.until("the notice by 客服 message", lambda: "明日停水" in p.said(RESIDENT))
    await p.until("the notice by template", lambda: bool(p.wechat.templates_to(NEIGHBOUR)))
    [template] = p.wechat.templates_to(NEIGHBOUR)
    assert "/wechat/oauth?next=" in template["url"] and "open" in template["url"]
    assert not any("明日停水" in text for text in p.wechat.texts_to(NEIGHBOUR))
