"""收支公示 walked in a real browser against `linli run`: a property clerk uploads and publishes a quarter's
statement at the console; a resident on a phone opens it from the chat, sees the page with its chart and
asks about one line; the clerk answers on the ticket at the console; the resident sees the answer under
the line. Screenshots go to tests/artifacts/accounts-*.png."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_browser import ARTIFACTS, bot_says, chromium, phone, running
from tests.test_browser_console import desk_page, join, say, tap

pytestmark = pytest.mark.browser

STATEMENT = (
    "category,amount,note\n"
    "service_fee,128000.50,7-9月物业费实收\n"
    "parking,3600,地面车位\n"
    "ads,1200,电梯广告\n"
    "staff,52000,保安保洁人员工资\n"
    "repairs,8000,电梯维保\n"
    "energy,4300.20,公共照明和水泵电费\n"
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`linli run` for the walk."""
    with running(tmp_path) as base:
        yield base


def shot(page: Any, name: str, full: bool = True) -> None:
    """A screenshot under tests/artifacts, to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"accounts-{name}.png"), full_page=full)


def console(browser: Any, base: str, staff_phone: Any) -> Any:
    """The console on a desk, signed in with the link the chat gives."""
    say(staff_phone, "/console")
    bot_says(staff_phone, "电脑工作台登录链接")
    link = staff_phone.locator("#log .bubble a", has_text="/console/signin").last.get_attribute("href")
    desk = desk_page(browser)
    desk.goto(link)
    desk.get_by_role("button", name="登录工作台").click()
    desk.wait_for_url(f"{base}/console")
    return desk


def test_a_quarter_published_read_on_a_phone_asked_about_and_answered(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    statement_file = tmp_path / "2026Q3.csv"
    statement_file.write_text(STATEMENT, encoding="utf-8")
    with chromium() as browser:
        # The clerk publishes the quarter from a file at the console.
        clerk_phone = phone(browser)
        join(clerk_phone, server, "DEMO-PROPERTY")
        desk = console(browser, server, clerk_phone)
        desk.locator("nav.side a", has_text="收支公示").click()
        desk.get_by_role("link", name="上传公示文件").click()
        desk.set_input_files('input[name="file"]', str(statement_file))
        desk.check('input[name="publish"]')
        desk.get_by_role("button", name="上传并检查").click()
        expect(desk.locator(".notice.ok")).to_contain_text("已发布")
        expect(desk.locator(".chart[data-drawn]")).to_have_count(1)
        shot(desk, "console-published")

        # A resident on a phone opens it from the chat.
        resident = phone(browser)
        join(resident, server, "DEMO-OWNER")
        say(resident, "/accounts")
        bot_says(resident, "收支公示")
        tap(resident, "阳光花园")
        bot_says(resident, "收入合计 ¥132,800.50")
        shot(resident, "chat-statement", full=False)
        link = resident.locator("#log .bubble a", has_text="/accounts/").last.get_attribute("href")
        assert link and re.search(r"/accounts/\d+\?t=", link)
        resident.goto(link)
        expect(resident.locator("h1")).to_contain_text("阳光花园")
        expect(resident.locator(".chart[data-drawn]")).to_have_count(1)  # ECharts drew on the canvas
        expect(resident.locator(".st-totals")).to_contain_text("¥132,800.50")
        shot(resident, "page")

        # Back in the chat, the resident asks about the lift maintenance line.
        resident.go_back()
        bot_says(resident, "收入合计")
        tap(resident, "对这一项有疑问")
        bot_says(resident, "对哪一项有疑问")
        tap(resident, "公共设施维修")
        bot_says(resident, "您对这一项有什么疑问")
        say(resident, "电梯维保每季度都要8000元吗？合同能看吗？")
        bot_says(resident, "已提交")
        asked = resident.locator("#log .row:not(.me) .bubble", has_text="工单号 #").last.inner_text()
        number = int(re.findall(r"工单号 #(\d+)", asked)[0])
        shot(resident, "chat-asked", full=False)

        # The clerk, who filed the statement, holds the ticket and answers it at the console.
        desk.goto(f"{server}/console/tickets/{number}")
        accept = desk.locator(f'form[action="/console/tickets/{number}/accept"] button[type=submit]')
        if accept.count():
            accept.click()
        form = desk.locator(f'form[action="/console/tickets/{number}/resolve"]')
        form.locator('select[name="kind"]').select_option("no_action_needed")
        form.locator('textarea[name="note"]').fill(
            "电梯维保合同每季度8000元，合同和发票在物业服务中心公示栏。"
        )
        form.locator("button[type=submit]").click()
        expect(desk.locator("body")).to_contain_text("已办结")
        shot(desk, "console-answered")

        # The resident sees the answer under the line, on the page.
        resident.goto(link)
        answer = resident.locator(".st-lines tr.qa", has_text="合同和发票在物业服务中心公示栏")
        expect(answer).to_be_visible()
        expect(answer).to_contain_text("电梯维保每季度都要8000元吗")
        answer.scroll_into_view_if_needed()
        shot(resident, "page-answered")
        assert resident.errors == [] and clerk_phone.errors == []
        assert [e for e in desk.errors if "/favicon" not in e] == []
