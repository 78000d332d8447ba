"""The app with its WeCom channel on the API double, driven through the FastAPI app with signed callbacks."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import col, func, select

from bot.bootstrap import App
from bot.channels.wecom import WeComChannel
from bot.clock import FixedClock
from bot.web import create_web_app
from db import org, people
from db.models import Grid, Identity, InboundLog
from tests.conftest import make_app
from tests.support.wecom_api import AGENT_ID, CORP_ID, SECRET, WeComApi, WeComApiServer
from tests.support.wecom_server import AES_KEY, TOKEN, Delivery, WeComServer

COMMUNITY = "铁西区/北沟街道/英雄社区"
FIRST_GRID = "英雄社区第一网格"


def wecom_settings(api_url: str) -> dict[str, object]:
    """The settings that turn the WeCom channel on against the double."""
    return {
        "WECOM_CORP_ID": CORP_ID,
        "WECOM_AGENT_ID": AGENT_ID,
        "WECOM_SECRET": SECRET,
        "WECOM_TOKEN": TOKEN,
        "WECOM_AES_KEY": AES_KEY,
        "WECOM_API_BASE_URL": api_url,
    }


@dataclass
class WeCom:
    """The running app, its WeCom channel, the API double and WeCom's callback poster."""

    app: App
    channel: WeComChannel
    api: WeComApi
    server: WeComServer
    client: TestClient
    clock: FixedClock

    def deliver(self, xml: str) -> Delivery:
        """Post a callback as WeCom does (retrying until it is answered 200) and wait for its turn."""
        delivery = self.server.deliver(xml)
        self.settle()
        return delivery

    def turn(self, userid: str, xml: str) -> str:
        """Deliver a callback from a member and return everything they received for it, joined."""
        before = len(self.api.everything(userid))
        self.deliver(xml)
        return "\n".join(self.api.everything(userid)[before:])

    def settle(self) -> None:
        """Wait until the turns of the callbacks taken so far are done and answered."""
        self.client.portal.call(self.channel.settle)

    def drain(self) -> int:
        """Send what the outbox holds, through the dispatcher (the pushes)."""
        return int(self.client.portal.call(self.app.dispatcher.drain))

    def bind(self, userid: str, role: str = "grid_worker", grid: str = FIRST_GRID) -> str:
        """An invite bound to a WeCom member, as `linli invite --wecom-userid` makes it; its code."""
        with self.app.sessions() as session:
            node = org.find_node(session, COMMUNITY)
            assert node is not None
            invite = people.create_invite(
                session, role, self.clock.now(), node_id=node.id, wecom_userid=userid
            )
            if grid:
                invite.grid_id = session.exec(select(Grid.id).where(Grid.name == grid)).one()
            session.commit()
            return invite.code

    def joined(self, userid: str, role: str = "grid_worker", grid: str = FIRST_GRID) -> None:
        """A member bound by an invite who has written once (and so joined)."""
        self.bind(userid, role, grid)
        self.deliver(self.server.text(userid, "你好"))
        assert any("绑定成功" in t for t in self.api.everything(userid)), self.api.everything(userid)

    def stored(self) -> int:
        """How many WeCom callbacks the inbound log holds."""
        with self.app.sessions() as session:
            return session.exec(
                select(func.count()).select_from(InboundLog).where(col(InboundLog.channel) == "wecom")
            ).one()

    def person_of(self, userid: str) -> int | None:
        """The person behind a WeCom member, once they wrote."""
        with self.app.sessions() as session:
            return session.exec(
                select(Identity.person_id).where(Identity.channel == "wecom", Identity.external_id == userid)
            ).first()


@contextmanager
def wecom_app(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[WeCom]:
    """The assembled app with WeCom on, served by a TestClient, its API double over HTTP."""
    api = WeComApi(clock=lambda: clock.now().timestamp())
    with WeComApiServer(api) as api_server:
        app = make_app(sqlite_url, tmp_path, clock, **wecom_settings(api_server.url))
        channel = app.channels["wecom"]
        assert isinstance(channel, WeComChannel)
        ticking = itertools.count(int(time.time()))  # every callback a second later than the one before
        try:
            with TestClient(create_web_app(app)) as client:
                server = WeComServer(
                    client, api, sleep=lambda _: None, timeout=None, clock=lambda: next(ticking)
                )
                yield WeCom(app, channel, api, server, client, clock)
                client.portal.call(channel.stop)
        finally:
            app.engine.dispose()
