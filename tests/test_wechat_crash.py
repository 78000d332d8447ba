"""Kill the real process (SIGKILL) while residents report over WeChat and WeChat retries what went
unanswered: every callback WeChat delivered runs its turn once, no ticket is filed twice, and every resident
whose ticket was filed is told its code (passively or by 客服 message), the kill notwithstanding."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from pathlib import Path

from sqlmodel import select

from core import actions
from db.engine import make_engine, session_factory
from db.migrate import upgrade
from db.models import Identity, Ticket
from tests.support.org import owner_invites
from tests.support.process import BotProcess
from tests.support.wechat_api import APP_ID, SECRET, WeChatApi, WeChatApiServer
from tests.support.wechat_server import TOKEN, WeChatServer, WxUser

RESIDENTS = 30
KILL_AFTER_TICKETS = 8


def steps(user: WxUser, code: str) -> list[str]:
    """A resident's whole report as WeChat callbacks: scan the invite's QR code, 报事 from the menu, the
    category, the description, no photo, no place, 提交."""
    return [
        user.subscribe(code),
        user.click("cmd:/report"),
        user.tap(actions.Report("c", category="elevator").encode(), "电梯"),
        user.text(f"电梯按钮失灵（{user.openid}）"),
        user.tap(actions.Report("ok").encode(), "提交"),
    ]


async def test_a_kill_while_wechat_retries_runs_each_turn_once_and_every_code_arrives(tmp_path: Path) -> None:
    var = tmp_path / "var"
    url = f"sqlite:///{var / 'linli.db'}"
    await asyncio.to_thread(upgrade, url)
    codes = await asyncio.to_thread(owner_invites, url, RESIDENTS)
    api = WeChatApi()
    passive: dict[str, list[str]] = {}
    retried: list[int] = []  # tries of the deliveries WeChat had to retry
    async with WeChatApiServer(api) as server:
        bot = BotProcess(
            var,
            WECHAT_APP_ID=APP_ID,
            WECHAT_APP_SECRET=SECRET,
            WECHAT_TOKEN=TOKEN,
            WECHAT_API_BASE_URL=server.url,
            WECHAT_OPEN_BASE_URL=server.url,
            LINLI_OUTBOX_LEASE="3",
            LINLI_DEMO="0",
        )
        # WeChat waits 5 s for an answer and tries three times; the gap is shortened, not the pattern.
        wx = WeChatServer(bot.url, api=api, retry_delay=2.0)
        engine = make_engine(url)
        sessions = session_factory(engine)

        def filed() -> int:
            # A plain read: in WAL it never waits for the bot's writes, so the kill comes on time.
            with contextlib.closing(sqlite3.connect(var / "linli.db")) as db:
                return int(db.execute("SELECT count(*) FROM ticket").fetchone()[0])

        async def resident(index: int) -> None:
            user = wx.user(f"o_crash_resident_{index:012d}")
            for xml in steps(user, codes[index]):
                for _ in range(5):  # WeChat gave up on all three tries: the resident sends it again
                    delivery = await wx.post(xml)
                    if len(delivery.tries) > 1:
                        retried.append(len(delivery.tries))
                    if delivery.status == 200:
                        passive.setdefault(user.openid, []).append(delivery.text)
                        break
                    await asyncio.sleep(1)
                    xml = re.sub(r"<MsgId>\d+</MsgId>", f"<MsgId>{wx.next_msg_id()}</MsgId>", xml)

        async def kill_once() -> int:
            while filed() < KILL_AFTER_TICKETS:
                await asyncio.sleep(0.05)
            await asyncio.to_thread(bot.kill)
            killed_with = filed()
            await asyncio.to_thread(bot.start)
            return killed_with

        await asyncio.to_thread(bot.start)
        try:
            killer = asyncio.create_task(kill_once())
            await asyncio.gather(*(resident(i) for i in range(RESIDENTS)))
            killed_with = await killer
            assert killed_with < RESIDENTS, "every report was filed before the kill; nothing was tested"
            assert retried, "no callback went unanswered: the kill fell between deliveries"

            def told(ticket: Ticket, openid: str) -> bool:
                seen = passive.get(openid, []) + api.said_to(openid)
                return any(f"#{ticket.id}" in text for text in seen)

            def settled() -> bool:
                with sessions() as session:
                    tickets = session.exec(select(Ticket)).all()
                    owners = {i.person_id: i.external_id for i in session.exec(select(Identity)).all()}
                return len(tickets) == RESIDENTS and all(told(t, owners[t.reporter_id]) for t in tickets)

            for _ in range(300):  # answers left unsent by the kill go out once their lease runs out
                if settled():
                    break
                await asyncio.sleep(0.1)
        finally:
            await asyncio.to_thread(bot.stop)
        with sessions() as session:
            tickets = session.exec(select(Ticket)).all()
            owners = {i.person_id: i.external_id for i in session.exec(select(Identity)).all()}
        engine.dispose()

    reporters = [owners[t.reporter_id] for t in tickets]
    assert len(reporters) == len(set(reporters)) == RESIDENTS, "a report was filed twice or not at all"
    assert all(owners[t.reporter_id] in t.description for t in tickets)
    missing = [t.id for t in tickets if not told(t, owners[t.reporter_id])]
    assert missing == [], f"{len(missing)} residents never saw their ticket's code"
    print(f"killed with {killed_with} tickets filed; {len(retried)} callbacks retried by WeChat")
