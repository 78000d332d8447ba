"""The web chat in a real headless Chromium on a phone-sized screen, against `linli run` on localhost."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.process import daytime_zone
from tests.test_webchat import png_bytes

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ROOT = Path(__file__).resolve().parent.parent
LINLI = Path(sys.executable).parent / "linli"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_health(base: str, process: subprocess.Popen[bytes], attempts: int = 600) -> None:
    """Poll /healthz (bounded: a minute, for a machine busy with the rest of the suite) until the server
    answers; fail with its output when it died."""
    for _ in range(attempts):
        if process.poll() is not None:
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            pytest.fail(f"`linli run` exited with {process.returncode}:\n{output}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail(f"`linli run` did not answer {base}/healthz")


@contextlib.contextmanager
def running(tmp_path: Path, **settings: str) -> Iterator[str]:
    """`linli run` of this checkout on a free local port, its own var directory, no Telegram; its address."""
    if not LINLI.exists():
        pytest.skip(f"{LINLI} is missing (run `make test` to install the project)")
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TELEGRAM_", "WEB_", "DATABASE_", "LINLI_", "SECRET_"))
    }
    env.update(LINLI_VAR_DIR=str(tmp_path / "var"), WEB_HOST="127.0.0.1", WEB_PORT=str(port))
    env["TIME_ZONE"] = daytime_zone()  # pushes (a grid worker's task card) are not held for quiet hours
    env.update(settings)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    process = subprocess.Popen(
        [str(LINLI), "run"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base, process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`linli run` with the default settings; yields its address."""
    with running(tmp_path) as base:
        yield base


@contextlib.contextmanager
def chromium(*flags: str) -> Iterator[Any]:
    """Headless Chromium (Debian's) with any extra command-line flags, closed afterwards."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run the browser test")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", *flags],
        )
        try:
            yield browser
        finally:
            browser.close()


def phone(browser: Any, locale: str = "zh-CN") -> Any:
    """A phone-sized page (390×844, Chinese unless asked), own cookies; script and CSP errors go to
    `page.errors`."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale=locale,
    )
    context.set_default_timeout(8000)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    # Anything the Content-Security-Policy blocked (an inline script or style) counts as an error too.
    page.on(
        "console",
        lambda msg: page.errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return page


def bot_says(page: Any, text: str) -> None:
    """Wait until a bot bubble with `text` is shown (up to 15 s: a turn waits its turn on a machine busy
    with the rest of the suite)."""
    from playwright.sync_api import expect

    expect(page.locator("#log .row:not(.me) .bubble", has_text=text).last).to_be_visible(timeout=15000)


def test_a_resident_reports_with_a_photo_and_finds_the_ticket(server: str, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run the browser test")
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    photo = tmp_path / "lamp.png"
    photo.write_bytes(png_bytes(160, 120, (240, 160, 40)))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            context = browser.new_context(
                viewport={"width": 390, "height": 844},
                device_scale_factor=2,
                is_mobile=True,
                has_touch=True,
                locale="zh-CN",
            )
            context.set_default_timeout(8000)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{server}/chat")
            log = page.locator("#log")

            def bot_says(text: str) -> None:
                expect(log.locator(".row:not(.me) .bubble", has_text=text).last).to_be_visible()

            def tap(label: str) -> None:
                log.locator(".buttons button:enabled", has_text=label).last.tap()

            expect(page.locator("#join")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "chat-join.png"))
            page.fill("#invite", "DEMO-OWNER")
            page.tap("#join-btn")
            bot_says("绑定成功")
            expect(page.locator("#join")).to_be_hidden()

            tap("报事")
            bot_says("请选择问题类别")
            tap("公共设施损坏")
            bot_says("请用文字描述问题")
            page.fill("#text", "3号楼门口的路灯不亮了，晚上很黑")
            page.tap("#send")
            expect(page.locator("#text")).to_have_value("")
            bot_says("请确认报事内容")
            page.set_input_files("#photo", str(photo))
            bot_says("照片：1 张")
            shown = log.locator(".row.me .bubble img").last
            expect(shown).to_be_visible()
            assert shown.evaluate("img => img.complete && img.naturalWidth") == 160  # the stored photo loads
            expect(log.locator(".row.pending")).to_have_count(0)  # the preview gave way to the stored photo
            page.screenshot(path=str(ARTIFACTS / "chat-photo.png"))
            expect(log.locator(".bubble", has_text="照片：1 张").last).to_be_visible()
            tap("提交")
            bot_says("工单编号 #1")
            page.screenshot(path=str(ARTIFACTS / "chat-report.png"))

            page.locator("#menu button", has_text="工单").tap()
            bot_says("我的工单：")
            expect(log.locator(".bubble", has_text="#1 公共设施损坏").last).to_be_visible()
            expect(log.locator(".buttons button", has_text="#1").last).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "chat-my.png"))

            # A reload shows the same conversation, not the join screen.
            page.reload()
            bot_says("我的工单：")
            expect(page.locator("#join")).to_be_hidden()
            assert errors == []
        finally:
            browser.close()


def join(page: Any, base: str, code: str) -> None:
    """Open the chat and join with an invite code."""
    page.goto(f"{base}/chat")
    page.fill("#invite", code)
    page.tap("#join-btn")
    bot_says(page, "绑定成功")


def test_a_link_from_another_site_opens_the_same_conversation(server: str) -> None:
    from playwright.sync_api import expect

    with chromium() as browser:
        page = phone(browser)
        join(page, server, "DEMO-OWNER")
        # An official-account article on another site links to the chat with an invite.
        article = f'<p>小区通知</p><a id="go" href="{server}/chat?invite=DEMO-OWNER2">打开邻里</a>'
        page.context.route(
            "https://mp.example.cn/**",
            lambda route: route.fulfill(content_type="text/html; charset=utf-8", body=article),
        )
        page.goto("https://mp.example.cn/s/article")
        page.tap("#go")
        page.wait_for_url(f"{server}/chat?invite=DEMO-OWNER2")
        bot_says(page, "绑定成功")  # the same session: its history, not the join screen
        expect(page.locator("#join")).to_be_hidden()
        assert "阳光花园 1栋 1单元 101" in page.locator("#log").inner_text()
        assert page.errors == []


def test_only_the_bots_own_addresses_become_links(server: str) -> None:
    from playwright.sync_api import expect

    with chromium() as browser:
        worker = phone(browser)
        join(worker, server, "DEMO-GRID")
        resident = phone(browser)
        join(resident, server, "DEMO-OWNER")
        resident.locator("#menu button", has_text="报事").tap()
        resident.locator(".buttons button:enabled", has_text="公共设施损坏").last.tap()
        bot_says(resident, "请用文字描述问题")
        resident.fill("#text", "路灯坏了，照片见 http://evil.example/phish")
        resident.tap("#send")
        bot_says(resident, "请确认报事内容")
        resident.locator(".buttons button:enabled", has_text="提交").last.tap()
        bot_says(resident, "工单编号 #1")
        # The grid worker's task card quotes the resident's text: the address in it stays text.
        card = worker.locator("#log .row:not(.me) .bubble", has_text="evil.example/phish").last
        expect(card).to_be_visible(timeout=15000)
        expect(worker.locator("#log a")).to_have_count(0)
        expect(resident.locator("#log a")).to_have_count(0)

        # A message of the bot's naming its own address (a poll's receipts) gets that link, no other.
        own = f"{server}/polls/1/receipts.txt"
        shown = {"id": 1, "outgoing": True, "text": f"回执：{own} 另见 https://evil.example/x", "buttons": []}
        typed = {"id": 2, "outgoing": False, "text": f"我看了 {own}"}
        reader = phone(browser)
        reader.route(
            "**/chat/api/messages*",
            lambda route: route.fulfill(json={"messages": [shown, typed]}),
        )
        reader.goto(f"{server}/chat")
        bot_says(reader, "回执")
        links = reader.locator("#log a")
        expect(links).to_have_count(1)
        assert links.get_attribute("href") == own and links.get_attribute("rel") == "noopener noreferrer"
        assert worker.errors == [] and resident.errors == [] and reader.errors == []


def test_too_many_sends_show_a_friendly_line_and_keep_the_typed_text(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    # A day, not a minute: the sliding window forgives part of the last window, so a minute boundary
    # crossed mid-test (a slow machine) would let the fourth send through.
    with running(tmp_path, WEB_RATE_SEND="3/day") as base, chromium() as browser:
        page = phone(browser)
        join(page, base, "DEMO-OWNER")  # 1
        page.locator("#menu button", has_text="报事").tap()  # 2
        page.locator(".buttons button:enabled", has_text="公共设施损坏").last.tap()  # 3
        bot_says(page, "请用文字描述问题")
        page.fill("#text", "3号楼门口的路灯不亮了")
        page.tap("#send")  # 4: over the budget
        expect(page.locator(".notice.error", has_text="操作太频繁")).to_be_visible()
        expect(page.locator(".notice.error", has_text="Too many requests")).to_have_count(0)  # one language
        expect(page.locator("#text")).to_have_value("3号楼门口的路灯不亮了")  # nothing typed is lost
        expect(page.locator("#send")).to_be_enabled()
        page.screenshot(path=str(ARTIFACTS / "chat-429.png"))
        assert page.errors == []
