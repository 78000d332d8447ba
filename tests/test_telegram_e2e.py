"""End to end over HTTP: `linli run` long-polls a Bot API double on 127.0.0.1; two residents report."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from core import actions
from tests.support.botapi import BotApi, BotApiServer, TgUser
from tests.support.served import free_port

TOKEN = "123:ABC"
LINLI = Path(sys.executable).parent / "linli"


@pytest.fixture
async def bot_api() -> AsyncIterator[BotApiServer]:
    """The Bot API double served over HTTP on a free localhost port."""
    server = BotApiServer(BotApi(TOKEN))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def linli(bot_api: BotApiServer, tmp_path: Path) -> AsyncIterator[Path]:
    """`linli run` as a separate process pointed at the double; yields its var directory."""
    var = tmp_path / "var"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": bot_api.url,
        "TELEGRAM_POLL_TIMEOUT": "1",
        "WEB_PORT": str(free_port()),
        "LINLI_VAR_DIR": str(var),
        "SECRET_KEY": "e2e-key-that-signs-web-sessions-000001",
        "PYTHONUNBUFFERED": "1",
    }
    process = await asyncio.create_subprocess_exec(
        str(LINLI),
        "run",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        yield var
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        try:
            output, _ = await asyncio.wait_for(process.communicate(), 15)
        except TimeoutError:
            process.kill()
            output, _ = await process.communicate()
        assert process.returncode == 0, output.decode(errors="replace")[-3000:]


async def reply_to(api: BotApi, user: TgUser, update: dict[str, object], expect: str) -> str:
    """Deliver an update through getUpdates and wait for the bot's next message containing `expect`."""
    before = len(api.texts(user.id))
    api.enqueue(update)
    await api.wait_for(
        lambda: any(expect in t for t in api.texts(user.id)[before:]),
        timeout=20,
        what=f"{expect!r} to {user.id}",
    )
    return next(t for t in api.texts(user.id)[before:] if expect in t)


async def file_report(api: BotApi, user: TgUser, invite: str, description: str) -> str:
    """Join with an invite and walk the whole report flow; returns the confirmation text."""
    await reply_to(api, user, user.start(invite), "绑定成功")
    await reply_to(api, user, user.command("report"), "类别")
    await reply_to(api, user, user.press("电梯故障"), "描述")
    await reply_to(api, user, user.text(description), "")
    new_report = actions.Report("n").encode()
    if any(data == new_report for _, data in api.last_buttons(user.id)):  # a neighbour reported it already
        await reply_to(api, user, user.press("新建"), "请确认")
    return await reply_to(api, user, user.press("提交"), "#")


async def test_two_residents_join_and_report_through_long_polling(bot_api: BotApiServer, linli: Path) -> None:
    api = bot_api.api
    await api.wait_for(lambda: bool(api.calls_to("getUpdates")), timeout=30, what="the bot to start polling")
    assert api.commands[None] and api.commands["en"]  # the menu was published before polling
    first, second = api.user(9001, "王芳"), api.user(9002, "李强")
    done_first = await file_report(api, first, "DEMO-OWNER", "1栋电梯停在3楼不动了")
    done_second = await file_report(api, second, "DEMO-OWNER2", "2单元电梯门关不上")
    codes = [re.search(r"#(\d+)", t).group(1) for t in (done_first, done_second)]  # type: ignore[union-attr]
    assert codes[0] != codes[1]
    assert len(api.calls_to("answerCallbackQuery")) >= 5  # category and 提交 each; 新建 for the second
    engine = create_engine(f"sqlite:///{linli / 'linli.db'}")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, description FROM ticket ORDER BY id")).all()
    engine.dispose()
    assert [(str(r[0]), r[1]) for r in rows] == [
        (codes[0], "1栋电梯停在3楼不动了"),
        (codes[1], "2单元电梯门关不上"),
    ]

    # Community staff ask for the desk console in Telegram: the link in the message signs them in once.
    staff = api.user(9003, "张主任")
    await reply_to(api, staff, staff.start("DEMO-STAFF"), "绑定成功")
    assert any(c["command"] == "console" for c in api.commands[None])  # in the published menu
    said = await reply_to(api, staff, staff.command("console"), "/console/signin?t=")
    link = re.search(r"(http://\S+/console/signin\?t=(\S+))", said)
    assert link is not None, said
    async with httpx.AsyncClient(follow_redirects=False) as browser:
        assert (await browser.get(link.group(1))).status_code == 200  # a preview changes nothing
        origin = link.group(1).split("/console")[0]
        signed = await browser.post(f"{origin}/console/signin", data={"t": link.group(2)})
        assert signed.status_code == 303
        desk = await browser.get(f"{origin}/console")
        assert desk.status_code == 200 and "待分派" in desk.text
