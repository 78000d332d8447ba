"""物业评价 walked in a real browser as its users would, on phones in the web chat: the street enters a
bad record with a photo, the company's clerk appeals it, the street decides and publishes the 红黑榜, and
a resident reads it; the street opens the owners' survey at the desk and the resident answers it with
six taps. Screenshots go to tests/artifacts/rating-*.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.test_browser import ARTIFACTS, bot_says, chromium, join, phone, running
from tests.test_browser_console import desk_page
from tests.test_webchat import png_bytes

pytestmark = pytest.mark.browser

COMPANY = "阳光物业服务有限公司"


def shot(page: Any, name: str, full: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"rating-{name}.png"), full_page=full)


def tap(page: Any, label: str) -> None:
    """Tap the newest enabled chat button with this label."""
    page.locator("#log .buttons button:enabled", has_text=label).last.tap()


def say(page: Any, text: str) -> None:
    page.fill("#text", text)
    page.tap("#send")


def test_a_record_appealed_decided_a_board_published_and_a_survey_answered(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    photo = tmp_path / "rubbish.png"
    photo.write_bytes(png_bytes(160, 120, (120, 90, 40)))
    with running(tmp_path) as base, chromium() as browser:
        street, clerk, resident = phone(browser), phone(browser), phone(browser)
        join(street, base, "DEMO-STREET")
        join(clerk, base, "DEMO-PROPERTY")
        join(resident, base, "DEMO-OWNER")

        # The street enters a bad record with its evidence photo.
        say(street, "/rating")
        bot_says(street, "物业服务企业评价排名")
        shot(street, "ranking")
        tap(street, "录入记录")
        tap(street, COMPANY)
        tap(street, "阳光花园")
        tap(street, "不良记录")
        tap(street, "−5 分")
        bot_says(street, "请输入扣分理由")
        say(street, "11月18日起1栋门口垃圾连续三天未清运")
        bot_says(street, "请发一张证据照片")
        street.set_input_files("#photo", str(photo))
        bot_says(street, "请核对后录入")
        shot(street, "record-confirm")
        tap(street, "录入")
        bot_says(street, "已录入不良记录")
        shot(street, "record-entered")

        # The company's clerk sees only their own company, opens the record and appeals it.
        say(clerk, "/rating")
        bot_says(clerk, "总分")
        tap(clerk, "良好/不良记录")
        tap(clerk, "#1")
        bot_says(clerk, "连续三天未清运")
        tap(clerk, "申诉")
        bot_says(clerk, "请输入申诉理由")
        say(clerk, "18日清运车故障，19日上午已清运，附清运单")
        bot_says(clerk, "申诉已提交")
        shot(clerk, "appealed")

        # The street decides the appeal; the record shows both.
        say(street, "/rating")
        tap(street, COMPANY)
        tap(street, "良好/不良记录")
        tap(street, "#1")
        tap(street, "裁决申诉")
        tap(street, "申诉不成立")
        bot_says(street, "请输入裁决说明")
        say(street, "清运单显示20日才清运，维持记录")
        bot_says(street, "已裁决")
        expect(street.locator("#log .bubble", has_text="申诉不成立（记录维持）").last).to_be_visible()
        shot(street, "decided")

        # The street publishes the 红黑榜; the resident reads it in the web chat.
        say(street, "/rating")
        tap(street, "发布红黑榜")
        bot_says(street, "红黑榜预览")
        shot(street, "board-preview")
        tap(street, "发布")
        bot_says(street, "红黑榜已发布")
        board = resident.locator("#log .row:not(.me) .bubble", has_text="红黑榜").last
        expect(board).to_be_visible(timeout=15000)
        resident.locator("#menu button", has_text="通知").tap()
        tap(resident, "红黑榜")
        bot_says(resident, "红榜（得分最高）")
        expect(resident.locator("#log .bubble", has_text=COMPANY).last).to_be_visible()
        shot(resident, "board-read")

        # The street opens the owners' survey at the desk; the resident answers it with six taps.
        street.locator("#menu button", has_text="帮助").tap()
        tap(street, "电脑工作台")
        bot_says(street, "电脑工作台登录链接")
        link = street.locator("#log .bubble a", has_text="/console/signin").last.get_attribute("href")
        desk = desk_page(browser)
        desk.goto(link)
        desk.get_by_role("button", name="登录工作台").click()
        desk.wait_for_url(f"{base}/console")
        desk.goto(f"{base}/console/rating")
        expect(desk.locator("#ranking")).to_contain_text(COMPANY)
        shot(desk, "console-ranking", full=True)
        desk.goto(f"{base}/console/rating/surveys")
        desk.locator("#open-survey select[name=company]").select_option(label=COMPANY)
        desk.locator("#open-survey button").click()
        expect(desk.locator("#turnout")).to_contain_text("阳光花园")

        start = resident.locator("#log .buttons button:enabled", has_text="开始打分").last
        expect(start).to_be_visible(timeout=15000)
        start.tap()
        bot_says(resident, "第 1/6 项")
        shot(resident, "survey-first")
        for number, score in enumerate(
            ("4 满意", "5 很满意", "3 一般", "4 满意", "2 不满意", "4 满意"), start=1
        ):
            bot_says(resident, f"第 {number}/6 项")
            tap(resident, score)
        bot_says(resident, "谢谢您")
        shot(resident, "survey-thanks")
        desk.reload()
        expect(desk.locator("#turnout tr.total")).to_contain_text("1")
        shot(desk, "console-survey", full=True)
        desk.goto(f"{base}/console/rating/companies/1")
        expect(desk.locator("#records")).to_contain_text("申诉不成立")
        shot(desk, "console-company", full=True)
        for page in (street, clerk, resident, desk):
            assert page.errors == [], page.errors
