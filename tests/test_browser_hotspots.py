"""A hot spot walked as its users would, in headless Chromium against `linli run` on localhost: three
residents of 阳光花园 1栋 report the lift from the web chat on their phones, the running scheduler's sweep
(every minute) finds the cluster, the community staff see the proactive ticket on the console's hot-spot
page and tell the building, and a resident's phone shows the message."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.test_browser import ARTIFACTS, bot_says, chromium, phone, running
from tests.test_browser_console import desk_page, join, say, tap

pytestmark = pytest.mark.browser

SWEEP = 75_000  # ms: the scheduler sweeps every minute; a safety net, not a timing assertion


def report_lift(page: Any, text: str) -> int:
    """File a lift report from the web chat; when a neighbour's open report is offered, file a new one."""
    from playwright.sync_api import expect

    filed = page.locator("#log .row:not(.me) .bubble", has_text="工单编号 #")
    before = filed.count()
    page.locator("#menu button", has_text="报事").tap()
    bot_says(page, "请选择问题类别")
    tap(page, "电梯故障")
    bot_says(page, "请用文字描述问题")
    say(page, text)
    asked = page.locator(
        "#log .row:not(.me) .bubble", has_text=re.compile("请确认报事内容|同楼栋已有相同类别")
    )
    expect(asked.last).to_be_visible()
    if "同楼栋已有相同类别" in asked.last.inner_text():
        tap(page, "新建工单")
        bot_says(page, "请确认报事内容")
    tap(page, "提交")
    expect(filed).to_have_count(before + 1)
    return int(re.findall(r"工单编号 #(\d+)", filed.last.inner_text())[0])


def shot(page: Any, name: str, full: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"hotspots-{name}.png"), full_page=full)


def test_three_lift_reports_become_one_proactive_ticket_and_the_building_is_told(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with running(tmp_path) as base, chromium() as browser:
        staff = phone(browser)
        join(staff, base, "DEMO-STAFF")
        residents = []
        for code in ("DEMO-OWNER", "DEMO-OWNER2", "DEMO-TENANT"):
            page = phone(browser)
            join(page, base, code)
            residents.append(page)
        numbers = [
            report_lift(page, text)
            for page, text in zip(
                residents, ("1栋电梯又停了，困在半路", "电梯门关不上", "电梯今天第三次坏了"), strict=True
            )
        ]
        shot(residents[2], "resident-reports")

        # The running scheduler's sweep finds the cluster: the community staff get the proactive card.
        card = staff.locator("#log .row:not(.me) .bubble", has_text="主动发现")
        expect(card.last).to_be_visible(timeout=SWEEP)
        proactive = int(re.findall(r"主动发现 #(\d+)", card.last.inner_text())[0])
        assert proactive not in numbers
        for number in numbers:
            assert f"#{number}" in card.last.inner_text()
        expect(staff.locator("#log .buttons button", has_text="告知本楼居民").last).to_be_visible()
        shot(staff, "staff-card")

        # At the desk: the hot-spot page lists it with its tickets; the staff tell the building.
        staff.locator("#menu button", has_text="帮助").tap()
        bot_says(staff, "电脑工作台 — ")
        tap(staff, "电脑工作台")
        bot_says(staff, "电脑工作台登录链接")
        link = staff.locator("#log .bubble a", has_text="/console/signin").last.get_attribute("href")
        desk = desk_page(browser)
        desk.goto(link)
        desk.get_by_role("button", name="登录工作台").click()
        desk.wait_for_url(f"{base}/console")
        tile = desk.locator('a[data-tile="hotspots"]')
        expect(tile).to_contain_text("1")
        tile.click()
        desk.wait_for_url(f"{base}/console/hotspots")
        expect(desk.locator(f'a[data-proactive="{proactive}"]')).to_be_visible()
        for number in numbers:
            expect(desk.locator(f'a[data-member="{number}"]')).to_be_visible()
        shot(desk, "console-list", full=True)
        desk.on("dialog", lambda dialog: dialog.accept())  # 每个热点只能告知一次：确定？
        desk.get_by_role("button", name="告知本楼居民").click()
        expect(desk.locator('[data-done="told"]')).to_be_visible()
        expect(desk.locator("table.hotspots")).to_contain_text("已告知 3 位居民")
        shot(desk, "console-told", full=True)

        # A resident's phone shows the message.
        told = residents[1].locator("#log .row:not(.me) .bubble", has_text="社区已经掌握")
        expect(told.last).to_be_visible(timeout=20_000)
        expect(told.last).to_contain_text("不必重复报修")
        shot(residents[1], "resident-told")
        assert staff.errors == [] and desk.errors == [] and all(p.errors == [] for p in residents)
