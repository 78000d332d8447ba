"""The web chat in a real headless Chromium on a phone-sized screen, against `linli run` on localhost."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_webchat import png_bytes

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
LINLI = Path(sys.executable).parent / "linli"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_health(base: str, process: subprocess.Popen[bytes], attempts: int = 150) -> None:
    """Poll /healthz (bounded) until the server answers; fail with its output when it died."""
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


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`linli run` on a free local port with its own var directory and no Telegram; yields its address."""
    if not LINLI.exists():
        pytest.skip(f"{LINLI} is missing (run `make test` to install the project)")
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TELEGRAM_", "WEB_", "DATABASE_", "LINLI_", "SECRET_"))
    }
    env.update(LINLI_VAR_DIR=str(tmp_path / "var"), WEB_HOST="127.0.0.1", WEB_PORT=str(port))
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
            bot_says("请发送现场照片")
            page.set_input_files("#photo", str(photo))
            bot_says("已收到 1 张照片")
            shown = log.locator(".row.me .bubble img").last
            expect(shown).to_be_visible()
            assert shown.evaluate("img => img.complete && img.naturalWidth") == 160  # the stored photo loads
            expect(log.locator(".row.pending")).to_have_count(0)  # the preview gave way to the stored photo
            page.screenshot(path=str(ARTIFACTS / "chat-photo.png"))
            tap("完成")
            bot_says("问题发生在哪里")
            tap("跳过")
            bot_says("请确认报事内容")
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
