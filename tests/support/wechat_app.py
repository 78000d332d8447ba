"""The app with its WeChat channel on the API double, and WeChat's servers posting to its web app.

`wechat_harness(...)` builds the app the way `linli run` does (bootstrap.build + web.create_web_app) with
the WeChat settings pointing at the double; callbacks go through the real FastAPI app, in-process (httpx's
ASGI transport) unless a base URL is given; the double shares the test's clock for its 48-hour window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import xmltodict
from fastapi import FastAPI
from sqlmodel import col, select

from bot.bootstrap import App
from bot.channels.wechat import WeChatChannel
from bot.clock import FixedClock
from bot.web import create_web_app
from db.models import Identity, InboundLog, Ticket
from tests.conftest import make_app
from tests.support.wechat_api import (
    APP_ID,
    IN_PROCESS_BASE,
    SECRET,
    InProcessAdapter,
    WeChatApi,
    asgi_app,
)
from tests.support.wechat_server import AES_KEY, TOKEN, Delivery, WeChatServer, WxUser


@dataclass
class WeChat:
    """The app, its WeChat channel, the API double and WeChat's callback side."""

    app: App
    channel: WeChatChannel
    api: WeChatApi
    server: WeChatServer
    web: FastAPI
    clock: FixedClock
    seen: dict[str, list[str]] = field(default_factory=dict)  # per follower: passive and 客服 texts, in order

    def user(self, openid: str) -> WxUser:
        """A follower of the account."""
        return self.server.user(openid)

    async def post(self, xml: str, **kw: Any) -> Delivery:
        """Deliver one callback as WeChat does; what the follower read (the passive reply first, then
        the 客服 messages sent after the answer) is added to `seen`."""
        openid = str(xmltodict.parse(xml)["xml"]["FromUserName"])
        before = len(self.said(openid))
        delivery = await self.server.post(xml, **kw)
        shown = self.seen.setdefault(openid, [])
        if delivery.text:
            shown.append(delivery.text)
        shown.extend(self.said(openid)[before:])
        return delivery

    def last(self, openid: str, count: int = 1) -> str:
        """The last texts the follower read (passive or 客服), joined."""
        shown = self.seen.get(openid, [])
        return "\n".join(shown[-count:])

    async def joined(self, openid: str = "o_resident_0000000000000001", invite: str = "DEMO-OWNER") -> WxUser:
        """A follower who subscribed by scanning the QR code of an invite."""
        user = self.user(openid)
        delivery = await self.post(user.subscribe(invite))
        assert delivery.status == 200, delivery.tries
        return user

    def said(self, openid: str) -> list[str]:
        """Everything the follower read from us by 客服 message (texts and menus' heads)."""
        return self.api.said_to(openid)

    def last_menu(self, openid: str) -> dict[str, Any]:
        """The last 客服 menu the follower got."""
        menus = self.api.menus_to(openid)
        assert menus, f"no menu sent to {openid}; said: {self.said(openid)[-3:]}"
        return menus[-1]

    def tap(self, user: WxUser, label: str) -> str:
        """A tap on the item of the last menu whose text holds `label` (callback XML)."""
        menu = self.last_menu(user.openid)
        for item in menu["list"]:
            if label in item["content"]:
                return user.tap(str(item["id"]), str(item["content"]))
        raise AssertionError(f"no item {label!r} in {[i['content'] for i in menu['list']]}")

    def stored(self) -> list[InboundLog]:
        """The WeChat part of the inbound log, oldest first."""
        with self.app.sessions() as session:
            return list(
                session.exec(
                    select(InboundLog).where(InboundLog.channel == "wechat").order_by(col(InboundLog.id))
                ).all()
            )

    def identity(self, openid: str) -> Identity | None:
        """The WeChat identity of a follower."""
        with self.app.sessions() as session:
            return session.exec(
                select(Identity).where(Identity.channel == "wechat", Identity.external_id == openid)
            ).first()

    def tickets(self) -> list[Ticket]:
        """All tickets, oldest first."""
        with self.app.sessions() as session:
            return list(session.exec(select(Ticket).order_by(col(Ticket.id))).all())


def wechat_harness(
    url: str,
    tmp_path: Path,
    clock: FixedClock,
    safe_mode: bool = False,
    api_base_url: str = "",
    callback_base_url: str = "",
    api: WeChatApi | None = None,
    **settings: object,
) -> WeChat:
    """The assembled app with WeChat on: the API double in-process (or at `api_base_url`), callbacks
    through the ASGI app (or over HTTP to `callback_base_url`)."""
    api = api or WeChatApi(clock=lambda: clock.now().timestamp())
    values: dict[str, object] = {
        "WECHAT_APP_ID": APP_ID,
        "WECHAT_APP_SECRET": SECRET,
        "WECHAT_TOKEN": TOKEN,
        "WECHAT_API_BASE_URL": api_base_url or IN_PROCESS_BASE,
        "WECHAT_OPEN_BASE_URL": api_base_url or IN_PROCESS_BASE,  # the double plays the authorize page
        "WEB_PUBLIC_URL": "https://linli.example.cn",
        **({"WECHAT_AES_KEY": AES_KEY} if safe_mode else {}),
        **settings,
    }
    app = make_app(url, tmp_path, clock, **values)
    channel = app.channels["wechat"]
    assert isinstance(channel, WeChatChannel)
    if not api_base_url:
        channel.http.mount(IN_PROCESS_BASE, InProcessAdapter(api))
        channel.oauth_transport = httpx.ASGITransport(app=asgi_app(api))  # the H5 sign-in's code exchange
    web = create_web_app(app)
    transport = None if callback_base_url else httpx.ASGITransport(app=web)
    server = WeChatServer(
        callback_base_url or "http://testserver",
        aes_key=AES_KEY if safe_mode else "",
        api=api,
        transport=transport,
        clock=lambda: clock.now().timestamp(),
    )
    return WeChat(app, channel, api, server, web, clock)
