"""Kill the real process (SIGKILL) three times while 300 residents file reports over Telegram (the Bot
API double over HTTP): no update is lost, no ticket is filed twice, and every resident whose ticket was
filed receives its code, even when the kill fell between the commit and the send."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from sqlmodel import select

from core import actions
from db.engine import make_engine, session_factory
from db.migrate import upgrade
from db.models import Identity, InboundLog, Residency, Ticket
from tests.support.botapi import BotApi, BotApiServer, TgUser
from tests.support.org import owner_invites
from tests.support.process import BotProcess

TOKEN = "123:ABC"
RESIDENTS = 300
KILL_AFTER_MESSAGES = (400, 900)  # two kills before 提交: messages delivered by then (of about 1 500)
KILL_AFTER_TICKETS = 120  # the third kill while residents are pressing 提交


STEPS = 5


def step(user: TgUser, code: str, index: int) -> dict[str, object]:
    """One update of a resident's whole report: join, /report, category, description (the summary comes
    next, the place being their building), submit."""
    if index == 0:
        return user.start(code)
    if index == 1:
        return user.command("report")
    if index == 3:
        return user.text(f"电梯按钮失灵（{user.id}）")
    presses = {2: actions.Report("c", category="elevator"), 4: actions.Report("ok")}
    return user.callback(presses[index].encode())


async def test_three_kills_lose_no_update_file_no_ticket_twice_and_every_code_arrives(tmp_path: Path) -> None:
    var = tmp_path / "var"
    url = f"sqlite:///{var / 'linli.db'}"
    await asyncio.to_thread(upgrade, url)
    codes = await asyncio.to_thread(owner_invites, url, RESIDENTS)
    api = BotApi(TOKEN)
    users = [api.user(10_000 + i, f"居民{i}") for i in range(RESIDENTS)]
    update_ids: list[int] = []
    for index in range(STEPS):  # step by step across residents, as a busy morning would send them
        for user, code in zip(users, codes, strict=True):
            update = step(user, code, index)
            api.enqueue(update)
            update_ids.append(int(update["update_id"]))  # type: ignore[call-overload]

    async with BotApiServer(api) as server:
        bot = BotProcess(
            var,
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE_URL=server.url,
            TELEGRAM_POLL_TIMEOUT="1",
            LINLI_OUTBOX_LEASE="3",
            LINLI_DEMO="0",
        )
        engine = make_engine(url)
        sessions = session_factory(engine)

        def settled() -> bool:
            with sessions() as session:
                tickets = session.exec(select(Ticket.id)).all()
            return len(tickets) == RESIDENTS and all(_code_seen(api, user) for user in users)

        def filed() -> int:
            with sessions() as session:
                return len(session.exec(select(Ticket.id)).all())

        try:
            for at in KILL_AFTER_MESSAGES:
                await asyncio.to_thread(bot.start)
                await api.wait_for(lambda at=at: api.delivered_total() >= at, timeout=60, what=f"{at} sent")
                await asyncio.to_thread(bot.kill)
            await asyncio.to_thread(bot.start)
            await api.wait_for(lambda: filed() >= KILL_AFTER_TICKETS, timeout=60, what="tickets filed")
            await asyncio.to_thread(bot.kill)
            killed_with = filed()
            assert killed_with < RESIDENTS, "every report was filed before the last kill; nothing was tested"
            await asyncio.to_thread(bot.start)
            await api.wait_for(settled, timeout=90, what="every ticket filed and its code delivered")
        finally:
            await asyncio.to_thread(bot.stop)

        with sessions() as session:
            stored = {int(row.update_id): row for row in session.exec(select(InboundLog)).all()}
            tickets = session.exec(select(Ticket)).all()
            homes = {r.person_id: r.home_id for r in session.exec(select(Residency)).all()}
            chats = {i.person_id: int(i.external_id) for i in session.exec(select(Identity)).all()}
        engine.dispose()

    lost = [uid for uid in update_ids if uid not in stored or stored[uid].processed_at is None]
    assert lost == [], f"{len(lost)} updates never processed"
    assert all(stored[uid].error == "" for uid in update_ids)
    per_home = [homes[t.reporter_id] for t in tickets]
    assert len(per_home) == len(set(per_home)) == RESIDENTS, "a report was filed twice or not at all"
    missing = [
        t.id
        for t in tickets
        if not any(f"工单编号 #{t.id}" in text for text in api.delivered.get(chats[t.reporter_id], []))
    ]
    assert missing == [], f"{len(missing)} residents never saw their ticket's code"
    print(f"last kill with {killed_with} tickets filed; {api.delivered_total()} messages delivered")


def _code_seen(api: BotApi, user: TgUser) -> bool:
    """Whether the resident received the message that gives their new ticket's code."""
    return any(re.search(r"#\d+", text) and "已提交" in text for text in api.delivered.get(user.id, []))
