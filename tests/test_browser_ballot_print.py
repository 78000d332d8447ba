"""Printing the ballots in headless Chromium against `linli run`: community staff open a poll at the
console, follow 打印表决票 to the printable page, and print it — one A4 page per home of the poll's scope,
large type, no blocked style; the print view is kept as a screenshot to look at."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_browser import LINLI, chromium, phone, running
from tests.test_browser_console import join, sign_in

pytestmark = pytest.mark.browser

NOTES = Path("/work/notes")  # a copy of the screenshot for people to look at, when that folder exists
POLL = """\
compound: 铁西区/北沟街道/英雄社区/阳光花园
buildings: [1栋]
title: 续聘阳光物业
body: 是否续聘阳光物业服务有限公司，合同三年，物业费标准不变。
matter: 4
closes: +14d
secret: false
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """One `linli run` for the module, and its folder (where `linli poll create` finds the same database)."""
    folder = tmp_path_factory.mktemp("print")
    with running(folder) as base:
        yield base, folder


ELECTION = """\
compound: 铁西区/北沟街道/英雄社区/阳光花园
buildings: [2栋]
title: 选举第二届业主委员会
body: 经业主大会筹备组推荐，以下候选人参加选举。
matter: 3
kind: election
candidates: [张伟, 王秀英, 李娜, 刘洋, 陈静]
seats: 3
closes: +14d
secret: true
"""


def create_poll(folder: Path, tmp_path: Path, text: str = POLL) -> str:
    """`linli poll create` on the running server's database, as an operator would; its output."""
    spec = tmp_path / "poll.yaml"
    spec.write_text(text, encoding="utf-8")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TELEGRAM_", "WEB_", "DATABASE_", "LINLI_", "SECRET_"))
    }
    env["LINLI_VAR_DIR"] = str(folder / "var")
    done = subprocess.run(
        [str(LINLI), "poll", "create", str(spec)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def pdf_pages(data: bytes) -> int:
    """How many pages a PDF Chromium printed has."""
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", data))


def test_staff_print_the_ballots_one_a4_page_per_home(server: tuple[str, Path], tmp_path: Path) -> None:
    from playwright.sync_api import expect

    base, folder = server
    made = create_poll(folder, tmp_path)
    poll_id = int(re.findall(r"poll #(\d+)", made)[0])
    assert "12 homes" in made
    with chromium() as browser:
        staff = phone(browser)
        join(staff, base, "DEMO-STAFF")
        desk: Any = sign_in(browser, base, staff)
        desk.goto(f"{base}/console/polls/{poll_id}")
        expect(desk.locator("#paper h2")).to_have_text("纸质票")
        with desk.context.expect_page() as opened:
            desk.locator("#print-link").click()
        sheet: Any = opened.value
        sheet.errors = []
        sheet.on(
            "console", lambda msg: sheet.errors.append(msg.text) if "Content Security" in msg.text else None
        )
        sheet.wait_for_load_state()
        assert sheet.url == f"{base}/console/polls/{poll_id}/print"
        expect(sheet.locator("section.sheet")).to_have_count(12)
        expect(sheet.locator("section.sheet").first.locator("td.label")).to_have_text("1栋 1单元 101 室")

        sheet.emulate_media(media="print")
        # Large type for an elderly owner: the body at 16pt or more, the home's label larger still.
        size = sheet.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")
        assert size >= 21  # 16pt is 21.3 CSS pixels
        label = sheet.evaluate(
            "() => parseFloat(getComputedStyle(document.querySelector('td.label')).fontSize)"
        )
        assert label > size
        box = sheet.locator("section.sheet").first.locator(".box").first.bounding_box()
        assert box is not None and box["width"] >= 40  # a tick box about 12 mm wide
        shot = tmp_path / "ballots-print.png"
        sheet.set_viewport_size({"width": 794, "height": 1123})  # an A4 sheet at 96 dpi
        sheet.screenshot(path=str(shot), full_page=False)
        if NOTES.is_dir():
            shutil.copy(shot, NOTES / "print.png")
        assert shot.stat().st_size > 10_000

        # Printed: one A4 page per home, never a home's page spilling over to a second one.
        pdf = sheet.pdf(prefer_css_page_size=True, print_background=False)
        assert pdf_pages(pdf) == 12
        assert not sheet.errors, sheet.errors

        # A secret election's page is the envelope's cover and notice: one page per home as well.
        made = create_poll(folder, tmp_path, ELECTION)
        election = int(re.findall(r"poll #(\d+)", made)[0])
        sheet.goto(f"{base}/console/polls/{election}/print")
        expect(sheet.locator("section.sheet.secret")).to_have_count(12)
        expect(sheet.locator("section.sheet").first).to_contain_text("最多选 3 人")
        assert pdf_pages(sheet.pdf(prefer_css_page_size=True)) == 12
