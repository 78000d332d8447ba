"""Two `linli run` processes on one PostgreSQL database, as a city would run them behind a load balancer:
they start together on an empty database, a resident's presses and first messages reach both at once,
over the web chat and the Telegram webhook, and nothing is doubled and nobody gets an error."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from core.actions import Report
from db.engine import make_engine
from tests.support.botapi import BotApi, BotApiServer
from tests.support.org import owner_invites
from tests.support.process import BotProcess

pytestmark = pytest.mark.postgres
TOKEN = "123:ABC"
HOOK = "two-process-hook-secret"
KEYS = {
    "SECRET_KEY": "two-processes-session-key-0123456789",
    "BALLOT_KEY": "two-processes-ballot-key-0123456789",
}  # both processes share the keys, as they must
ERROR = "处理时出了点问题"  # common.error: what a resident sees when a turn failed


def pair(tmp_path: Path, url: str, **env: str) -> tuple[BotProcess, BotProcess]:
    """Two processes on one database, each with its own port and var directory."""
    return tuple(  # type: ignore[return-value]
        BotProcess(tmp_path / name, DATABASE_URL=url, LINLI_DEMO="0", **KEYS, **env) for name in ("a", "b")
    )


def scalar(url: str, sql: str) -> Any:
    engine = make_engine(url)
    with engine.connect() as connection:
        value = connection.execute(text(sql)).scalar()
    engine.dispose()
    return value


async def test_two_processes_starting_together_on_an_empty_database_both_come_up(
    empty_postgres: str, tmp_path: Path
) -> None:
    a, b = pair(tmp_path, empty_postgres)
    try:
        await asyncio.gather(asyncio.to_thread(a.start), asyncio.to_thread(b.start))
        assert httpx.get(f"{a.url}/healthz").status_code == httpx.get(f"{b.url}/healthz").status_code == 200
    finally:
        a.stop()
        b.stop()
    assert scalar(empty_postgres, "select count(*) from alembic_version") == 1
    assert "Traceback" not in a.log.read_text() + b.log.read_text()


class WebResident:
    """A resident in the web chat whose cookie works on both processes (they share SECRET_KEY)."""

    def __init__(self, first: BotProcess) -> None:
        page = httpx.get(f"{first.url}/chat")
        self.cookies = dict(page.cookies)
        self.csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]

    def send(self, bot: BotProcess, msg_id: str, **body: str) -> list[str]:
        answer = httpx.post(
            f"{bot.url}/chat/api/send?after=999999999",
            json={"id": msg_id, "text": "", **body},
            cookies=self.cookies,
            headers={"X-CSRF-Token": self.csrf},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return [m["text"] for m in answer.json()["messages"] if m["outgoing"]]


def to_confirm_on_the_web(resident: WebResident, bot: BotProcess, code: str, tag: str) -> None:
    for number, body in enumerate(
        [
            {"text": f"/start {code}"},
            {"text": "/report"},
            {"button": Report("c", category="elevator").encode()},
            {"text": f"电梯按钮失灵 {tag}"},  # the summary comes next
        ]
    ):
        resident.send(bot, f"{tag}-{number}", **body)


def tickets(url: str) -> int:
    return int(scalar(url, "select count(*) from ticket"))


async def test_confirm_presses_and_first_messages_racing_across_two_processes(
    postgres_url: str, tmp_path: Path
) -> None:
    trials = 10
    codes = await asyncio.to_thread(owner_invites, postgres_url, 2 * trials)
    api = BotApi(TOKEN)
    async with BotApiServer(api) as server:
        a, b = pair(
            tmp_path,
            postgres_url,
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE_URL=server.url,
            TELEGRAM_WEBHOOK_URL="https://linli.example/",
            TELEGRAM_WEBHOOK_SECRET=HOOK,
        )
        try:
            await asyncio.gather(asyncio.to_thread(a.start), asyncio.to_thread(b.start))
            answers = await asyncio.to_thread(_web_races, a, b, codes[:trials], postgres_url)
            assert not [t for t in answers if ERROR in t]
            assert tickets(postgres_url) == trials  # ten presses of 提交 each, one ticket each
            await _telegram_races(api, a, b, codes[trials:], postgres_url)
        finally:
            a.stop()
            b.stop()
    assert tickets(postgres_url) == 2 * trials
    assert scalar(postgres_url, "select count(*) from identity") == 2 * trials
    logs = a.log.read_text() + b.log.read_text()
    assert "UniqueViolation" not in logs and "Traceback" not in logs


def _web_races(a: BotProcess, b: BotProcess, codes: list[str], url: str) -> list[str]:
    """Per resident: the first message sent to both processes at once, then a report to its summary and
    ten presses of 提交 alternating between the processes, all at once."""
    texts: list[str] = []
    with ThreadPoolExecutor(max_workers=10) as pool:
        for trial, code in enumerate(codes):
            resident = WebResident(a)
            first = [
                pool.submit(resident.send, bot, f"hello-{trial}-{n}", text="你好")
                for n, bot in enumerate((a, b))
            ]
            texts += [t for f in first for t in f.result()]
            to_confirm_on_the_web(resident, a, code, f"w{trial}")
            presses = [
                pool.submit(
                    resident.send,
                    (a, b)[n % 2],
                    f"ok-{trial}-{n}",
                    button=Report("ok").encode(),
                    label="提交",
                )
                for n in range(10)
            ]
            texts += [t for f in presses for t in f.result()]
    return texts


async def _telegram_races(api: BotApi, a: BotProcess, b: BotProcess, codes: list[str], url: str) -> None:
    """The same races over the Telegram webhook: Telegram's deliveries reaching either process."""
    async with httpx.AsyncClient(timeout=30) as client:

        async def deliver(bot: BotProcess, update: dict[str, Any]) -> None:
            answer = await client.post(
                f"{bot.url}/telegram/webhook/{HOOK}",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": HOOK},
            )
            assert answer.status_code == 200

        async def settled(*updates: dict[str, Any]) -> None:
            ids = ",".join(f"'{u['update_id']}'" for u in updates)
            query = f"select count(processed_at) from inbound_log where update_id in ({ids})"
            await api.wait_for(lambda: scalar(url, query) == len(updates), timeout=20, what="processed")

        before = tickets(url)
        for trial, code in enumerate(codes):
            user = api.user(50_000 + trial)
            greetings = user.text("你好"), user.text("您好")
            await asyncio.gather(deliver(a, greetings[0]), deliver(b, greetings[1]))
            await settled(*greetings)
            for update in (
                user.start(code),
                user.command("report"),
                user.callback(Report("c", category="elevator").encode()),
                user.text(f"电梯按钮失灵 t{trial}"),  # the summary comes next
            ):
                await deliver(a, update)
                await settled(update)
            presses = [user.callback(Report("ok").encode()) for _ in range(10)]
            await asyncio.gather(*(deliver((a, b)[n % 2], press) for n, press in enumerate(presses)))
            await settled(*presses)
            assert tickets(url) == before + trial + 1
        sent = [t for user in range(len(codes)) for t in api.texts(50_000 + user)]
        assert not [t for t in sent if ERROR in t]
