"""End to end over HTTP: a poll created with `linli poll create` opens when `linli run` (re)starts, and an
owner votes in Telegram through a Bot API double on 127.0.0.1; the secret choice is kept nowhere."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.support.botapi import BotApi, BotApiServer
from tests.support.process import daytime_zone
from tests.support.served import free_port
from tests.test_telegram_e2e import LINLI, TOKEN, reply_to

POLL_FILE = """\
compound: 铁西区/北沟街道/英雄社区/阳光花园
title: 是否更换物业服务企业
body: 现物业合同月底到期，请业主表决是否续聘。
matter: 4
opens: +0h
closes: +7d
secret: true
shortened_reason: 物业合同月底到期，需尽快决定
"""


def _env(api_url: str, var: Path, home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": api_url,
        "TELEGRAM_POLL_TIMEOUT": "1",
        "WEB_PORT": str(free_port()),
        "LINLI_VAR_DIR": str(var),
        "SECRET_KEY": "e2e-key-that-signs-web-sessions-000001",
        "TIME_ZONE": daytime_zone(),  # the voting-open push is not held for quiet hours
        "PYTHONUNBUFFERED": "1",
    }


async def _start(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        str(LINLI), "run", cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    try:
        output, _ = await asyncio.wait_for(process.communicate(), 15)
    except TimeoutError:
        process.kill()
        output, _ = await process.communicate()
    assert process.returncode == 0, output.decode(errors="replace")[-3000:]


async def test_an_owner_votes_in_telegram_after_the_poll_opens_on_restart(tmp_path: Path) -> None:
    server = BotApiServer(BotApi(TOKEN))
    await server.start()
    api = server.api
    var = tmp_path / "var"
    env = _env(server.url, var, tmp_path)
    process = await _start(env, tmp_path)
    try:
        await api.wait_for(lambda: bool(api.calls_to("getUpdates")), timeout=30, what="the bot to poll")
        owner = api.user(9101, "王芳")
        await reply_to(api, owner, owner.start("DEMO-OWNER"), "绑定成功")

        poll_file = tmp_path / "poll.yaml"
        poll_file.write_text(POLL_FILE, encoding="utf-8")
        created = subprocess.run(
            [str(LINLI), "poll", "create", str(poll_file)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert created.returncode == 0, created.stderr
        announcement = await reply_to(api, owner, owner.text("/notices"), "是否更换物业服务企业")
        assert "是否更换物业服务企业" in announcement

        await _stop(process)  # the poll job looks at its due polls as soon as the process starts again
        process = await _start(env, tmp_path)
        await api.wait_for(
            lambda: any("开始投票" in t for t in api.texts(owner.id)), timeout=30, what="the voting-open push"
        )
        # The ballot page, not a push that also names the poll (one may arrive while we wait).
        await reply_to(api, owner, owner.press("去投票"), "请在下方选择「同意」「反对」或「弃权」")
        await reply_to(api, owner, owner.press("同意"), "请确认您的选票")
        receipt = await reply_to(api, owner, owner.press("确认投票"), "回执码")
        code = re.search(r"回执码：([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})", receipt)
        assert code is not None

        await reply_to(api, owner, owner.command("polls"), "是否更换物业服务企业")
        await reply_to(api, owner, owner.press("是否更换物业服务企业"), "投票")
        await reply_to(api, owner, owner.press("核对回执"), "回执码")
        found = await reply_to(api, owner, owner.text(code.group(1).lower()), "回执")
        assert "回执有效" in found and "同意" in found
    finally:
        await _stop(process)
        await server.stop()

    engine = create_engine(f"sqlite:///{var / 'linli.db'}")
    with engine.connect() as conn:
        payloads = [row[0] for row in conn.execute(text("SELECT payload FROM inbound_log")).all()]
        ballots = conn.execute(text("SELECT choice, unit FROM poll_ballot")).all()
    engine.dispose()
    assert len(ballots) == 1 and ballots[0][1] is None and ballots[0][0] not in ("yes", "no", "abstain")
    kept = " ".join(str(p) for p in payloads)
    assert "v:c:" not in kept and "v:ok:" not in kept  # the choice and the cast left no stored update
    assert code.group(1).lower() not in kept.lower()  # nor the typed receipt code
