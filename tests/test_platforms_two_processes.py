"""Two `linli run` processes on one PostgreSQL database behind one WeChat callback URL: WeChat posts each
callback to either of them and retries on the other; every report is filed once, every resident gets their
code, and the two processes fetch one access token between them, not one each."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
from sqlalchemy import text

from core import actions
from db.engine import make_engine
from tests.support.org import owner_invites
from tests.support.process import BotProcess
from tests.support.wechat_api import APP_ID, SECRET, WeChatApi, WeChatApiServer
from tests.support.wechat_server import AES_KEY, TOKEN, WeChatServer, WxUser

pytestmark = pytest.mark.postgres
RESIDENTS = 12
KEYS = {
    "SECRET_KEY": "two-processes-session-key-0123456789",
    "BALLOT_KEY": "two-processes-ballot-key-0123456789",
}


def steps(user: WxUser, code: str) -> list[str]:
    """A whole report as WeChat callbacks (see test_wechat_crash)."""
    return [
        user.subscribe(code),
        user.click("cmd:/report"),
        user.tap(actions.Report("c", category="elevator").encode(), "电梯"),
        user.text(f"电梯按钮失灵（{user.openid}）"),
        user.tap(actions.Report("ok").encode(), "提交"),
    ]


async def test_two_processes_behind_one_callback_url_file_each_report_once_with_one_token(
    postgres_url: str, tmp_path: Path
) -> None:
    codes = await asyncio.to_thread(owner_invites, postgres_url, RESIDENTS)
    api = WeChatApi()
    async with WeChatApiServer(api) as server:
        env = {
            "DATABASE_URL": postgres_url,
            "LINLI_DEMO": "0",
            "WECHAT_APP_ID": APP_ID,
            "WECHAT_APP_SECRET": SECRET,
            "WECHAT_TOKEN": TOKEN,
            "WECHAT_AES_KEY": AES_KEY,
            "WECHAT_API_BASE_URL": server.url,
            "WECHAT_OPEN_BASE_URL": server.url,
            **KEYS,
        }
        a, b = (BotProcess(tmp_path / name, **env) for name in ("a", "b"))
        await asyncio.gather(asyncio.to_thread(a.start), asyncio.to_thread(b.start))
        seen: dict[str, list[str]] = {}
        chance = random.Random(11)
        try:
            posters = [WeChatServer(bot.url, aes_key=AES_KEY, api=api) for bot in (a, b)]

            async def resident(index: int) -> None:
                user = posters[0].user(f"o_two_processes_{index:013d}")
                for xml in steps(user, codes[index]):
                    delivery = await chance.choice(posters).post(xml)  # the load balancer's pick
                    assert delivery.status == 200, delivery.tries
                    seen.setdefault(user.openid, []).append(delivery.text)

            await asyncio.gather(*(resident(i) for i in range(RESIDENTS)))
            deadline = asyncio.get_running_loop().time() + 30

            def told_all() -> bool:
                return all(
                    any("工单编号 #" in t for t in seen.get(o, []) + api.said_to(o)) for o in openids()
                )

            def openids() -> list[str]:
                return [f"o_two_processes_{i:013d}" for i in range(RESIDENTS)]

            while not told_all() and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.1)
        finally:
            await asyncio.gather(asyncio.to_thread(a.stop), asyncio.to_thread(b.stop))

    engine = make_engine(postgres_url)
    with engine.connect() as connection:
        filed = connection.execute(text("select count(*), count(distinct reporter_id) from ticket")).one()
    engine.dispose()
    assert tuple(filed) == (RESIDENTS, RESIDENTS), "a report was filed twice or not at all"
    assert told_all(), "a resident never saw their ticket's code"
    fetched = [c for c in api.calls if c.path == "/cgi-bin/stable_token"]
    assert len(fetched) == 1, f"{len(fetched)} access tokens fetched for one account"
    assert "Traceback" not in a.log.read_text() + b.log.read_text()
