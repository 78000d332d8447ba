"""The WeChat channel over real sockets: the web app served by uvicorn takes callbacks from WeChat's side
over HTTP, and the channel calls the API double over HTTP (tokens, 客服, media) — no in-process shortcut."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.clock import FixedClock
from bot.service import Outcome
from handlers.types import Inbound
from tests.support.wechat_api import AsgiServer, WeChatApi, WeChatApiServer
from tests.support.wechat_app import wechat_harness

OPENID = "o_resident_http_00000000000001"


async def test_join_and_a_photo_over_http_in_safe_mode(
    sqlite_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    api = WeChatApi(clock=lambda: clock.now().timestamp())
    async with WeChatApiServer(api) as api_server:
        app_server = AsgiServer(None, name="the web app")
        wx = wechat_harness(
            sqlite_url,
            tmp_path,
            clock,
            safe_mode=True,
            api=api,
            api_base_url=api_server.url,
            callback_base_url=app_server.url,
        )
        app_server.app = wx.web
        async with app_server:
            user = await wx.joined(OPENID)
            # Over HTTP the 客服 messages follow the answer: WeChat's side has it before they leave.
            await api.wait_for(lambda: "绑定成功" in " ".join(wx.said(OPENID)), what="the welcome")
            await wx.post(user.text("/report"))
            await api.wait_for(lambda: "类别" in wx.said(OPENID)[-1], what="the categories")
            out = io.BytesIO()
            Image.new("RGB", (32, 32), (0, 120, 200)).save(out, "JPEG")
            photo = api.add_media(out.getvalue())
            await wx.post(user.text("1"))  # the first category
            await api.wait_for(lambda: "描述" in wx.said(OPENID)[-1], what="the description step")
            await wx.post(user.text("楼道漏水"))
            await api.wait_for(lambda: "照片" in wx.said(OPENID)[-1], what="the photo step")
            delivery = await wx.post(user.image(photo))
            assert delivery.status == 200 and len(delivery.tries) == 1
            await api.wait_for(lambda: "照片：1 张" in wx.said(OPENID)[-1], what="the photo taken")
        assert [c.path for c in api.calls if c.path == "/cgi-bin/media/get"] == ["/cgi-bin/media/get"]
        assert api.calls[0].path == "/cgi-bin/stable_token"
    wx.app.engine.dispose()


async def test_a_callback_wechat_gave_up_on_runs_once_and_the_retry_gets_the_answer(
    sqlite_url: str, tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_server = AsgiServer(None, name="the web app")
    wx = wechat_harness(sqlite_url, tmp_path, clock, callback_base_url=app_server.url)
    app_server.app = wx.web
    handle = wx.app.service.handle
    calls: list[str] = []

    def slow_first(inbound: Inbound, *args: Any) -> Outcome:
        calls.append(inbound.update_id)
        if len(calls) == 1:
            time.sleep(0.6)  # the database hangs longer than WeChat waits
        return handle(inbound, *args)

    monkeypatch.setattr(wx.app.service, "handle", slow_first)
    wx.server.timeout = 0.3
    async with app_server:
        delivery = await wx.post(wx.user(OPENID).text("/nosuch"))
        assert [t.status for t in delivery.tries] == [None, 200]  # WeChat gave up once, then tried again
        assert delivery.success  # the first try is still in hand: its answer goes by 客服
        await wx.api.wait_for(lambda: bool(wx.said(OPENID)), what="the answer by 客服")
        await wx.api.wait_for(lambda: not wx.channel._in_flight, what="the first try")
    [row] = wx.stored()
    assert row.processed_at is not None and len(calls) == 1  # one turn
    [answer] = wx.said(OPENID)  # answered once
    assert "/nosuch" in answer
    wx.app.engine.dispose()
