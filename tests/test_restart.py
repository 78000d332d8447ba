"""Kill the real process mid-report and after a confirmed report: nothing confirmed is lost or doubled."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core import actions
from tests.support.process import BotProcess


class WebUser:
    """A resident using the web chat over HTTP, keeping the session cookie across restarts."""

    def __init__(self) -> None:
        self.cookies = httpx.Cookies()
        self.csrf = ""
        self.count = 0
        self.last = 0  # the newest message id this page has shown, as the real page keeps it

    def open(self, base: str) -> None:
        page = httpx.get(f"{base}/chat", cookies=self.cookies)
        self.cookies.update(page.cookies)
        self.csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]

    def send(self, base: str, msg_id: str | None = None, **body: str) -> str:
        self.count += 1
        payload = {"id": msg_id or f"m{self.count}", "text": "", **body}
        response = httpx.post(
            f"{base}/chat/api/send?after={self.last}",
            json=payload,
            cookies=self.cookies,
            headers={"X-CSRF-Token": self.csrf},
        )
        response.raise_for_status()
        messages = response.json()["messages"]
        self.last = max([self.last, *(m["id"] for m in messages)])
        return "\n".join(m["text"] for m in messages if m["outgoing"])


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[BotProcess]:
    process = BotProcess(tmp_path / "var")
    yield process
    process.stop()


def tickets(var_dir: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(var_dir / "linli.db") as db:
        return db.execute("select id, description from ticket").fetchall()


def test_draft_resumes_and_confirmed_ticket_exists_once_after_kills(bot: BotProcess) -> None:
    user = WebUser()
    bot.start()
    user.open(bot.url)
    assert "绑定成功" in user.send(bot.url, text="/start DEMO-OWNER")
    assert "类别" in user.send(bot.url, text="/report")
    user.send(bot.url, button=actions.Report("c", category="elevator").encode(), label="电梯故障")
    assert "请确认" in user.send(bot.url, text="电梯按钮失灵，老人上不了楼")

    bot.kill()  # in the middle of the report
    bot.start()
    user.open(bot.url)  # same cookie: same resident
    assert "问题发生在哪里" in user.send(
        bot.url, button=actions.Report("e", part="l").encode(), label="改位置"
    )
    summary = user.send(bot.url, button=actions.Report("l", where="s").encode(), label="不填位置")
    assert "电梯按钮失灵" in summary
    filed = user.send(bot.url, msg_id="submit-1", button=actions.Report("ok").encode(), label="提交")
    code = re.search(r"#(\d+)", filed).group(1)  # type: ignore[union-attr]

    bot.kill()  # right after the resident saw the code
    bot.start()
    user.open(bot.url)
    assert (
        user.send(bot.url, msg_id="submit-1", button=actions.Report("ok").encode(), label="提交") == ""
    )  # a retried click: ignored
    assert tickets(bot.var_dir) == [(int(code), "电梯按钮失灵，老人上不了楼")]
    assert f"#{code}" in user.send(bot.url, text="/my")
