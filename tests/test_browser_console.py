"""The staff console in headless Chromium on a desk-sized screen, against `linli run` on localhost: a
community staff member's working day (sign in by the chat's link, triage, assign, note, answer, bulk
close, export, publish a notice, approve a resident, look at the numbers) while residents and the grid
worker use the web chat on their phones."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_browser import ARTIFACTS, bot_says, chromium, phone, running

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1.min.js"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One `linli run` for the module's walk."""
    with running(tmp_path_factory.mktemp("console")) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module."""
    with chromium() as launched:
        yield launched


def desk_page(browser: Any, locale: str = "zh-CN") -> Any:
    """A desktop page (1366×900) that accepts downloads; script and CSP errors go to `page.errors`."""
    context = browser.new_context(
        viewport={"width": 1366, "height": 900}, locale=locale, accept_downloads=True
    )
    context.set_default_timeout(8000)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: page.errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    # A request the page made that failed (a missing file, a refused fragment) is an error too.
    page.on(
        "response",
        lambda response: (
            page.errors.append(f"{response.status} {response.request.method} {response.url}")
            if response.status >= 400
            else None
        ),
    )
    return page


def shot(page: Any, name: str) -> None:
    """A full-page screenshot under tests/artifacts, to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"console-{name}.png"), full_page=True)


def join(page: Any, base: str, code: str) -> None:
    """Open the web chat and join with an invite code."""
    page.goto(f"{base}/chat")
    page.fill("#invite", code)
    page.tap("#join-btn")
    bot_says(page, "绑定成功")


def tap(page: Any, label: str) -> None:
    """Tap the newest enabled chat button with this label."""
    page.locator("#log .buttons button:enabled", has_text=label).last.tap()


def say(page: Any, text: str) -> None:
    """Type and send a message in the web chat."""
    page.fill("#text", text)
    page.tap("#send")


def report(page: Any, category: str, text: str) -> int:
    """File a report in the web chat; its ticket number."""
    from playwright.sync_api import expect

    filed = page.locator("#log .row:not(.me) .bubble", has_text="工单编号 #")
    before = filed.count()
    page.locator("#menu button", has_text="报事").tap()
    bot_says(page, "请选择问题类别")
    tap(page, category)
    bot_says(page, "请用文字描述问题")
    say(page, text)
    bot_says(page, "请确认报事内容")
    tap(page, "提交")
    expect(filed).to_have_count(before + 1)
    return int(re.findall(r"工单编号 #(\d+)", filed.last.inner_text())[0])


def sign_in(browser: Any, base: str, staff_phone: Any) -> Any:
    """Ask for the console in the chat, open the link on the desk, press the button: the desk's page."""
    staff_phone.locator("#menu button", has_text="帮助").tap()
    bot_says(staff_phone, "电脑工作台 — ")
    tap(staff_phone, "电脑工作台")
    bot_says(staff_phone, "电脑工作台登录链接")
    link = staff_phone.locator("#log .bubble a", has_text="/console/signin").last.get_attribute("href")
    assert link and link.startswith(f"{base}/console/signin?t=")
    desk = desk_page(browser)
    desk.goto(link)
    shot(desk, "signin")
    desk.get_by_role("button", name="登录工作台").click()
    desk.wait_for_url(f"{base}/console")
    return desk


def axe_serious(page: Any) -> list[str]:
    """The serious and critical axe-core violations on the page (axe injected from the vendored file)."""
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']}: {[n['target'] for n in v['nodes']][:5]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_a_working_day_at_the_desk(server: str, browser: Any, tmp_path: Path) -> None:
    from openpyxl import load_workbook
    from playwright.sync_api import expect

    # The morning: residents have reported things overnight; the grid worker joins later.
    resident = phone(browser)
    join(resident, server, "DEMO-OWNER")
    lamp = report(resident, "公共设施损坏", "1栋门口的路灯<b>不亮</b>了，晚上看不见台阶")
    rubbish = report(resident, "环境卫生", "1栋楼道里堆着旧家具，一直没人清理")
    noise = report(resident, "噪音扰民", "1栋楼下的路灯也坏了，同一件事")
    worker = phone(browser)
    join(worker, server, "DEMO-GRID")
    staff = phone(browser)
    join(staff, server, "DEMO-STAFF")

    desk = sign_in(browser, server, staff)
    expect(desk.locator("h1")).to_have_text("工作台")
    shot(desk, "home")

    # Triage the queue: the list, filtered by category, then sorted.
    desk.get_by_role("link", name="工单", exact=True).click()
    expect(desk.locator(f'a[href="/console/tickets/{lamp}"]')).to_be_visible()
    desk.select_option("#f-category", label="公共设施损坏")
    desk.locator('form.filters[method="get"] button[type=submit]').first.click()
    expect(desk.locator(f'a[href="/console/tickets/{lamp}"]')).to_be_visible()
    expect(desk.locator(f'a[href="/console/tickets/{rubbish}"]')).to_have_count(0)
    desk.get_by_role("link", name="清除").click()
    expect(desk.locator(f'a[href="/console/tickets/{rubbish}"]')).to_be_visible()
    desk.get_by_role("link", name="最早提交").click()  # the oldest first: the lamp leads
    first = desk.locator('#bulk tbody a[href^="/console/tickets/"]').first
    expect(first).to_have_attribute("href", f"/console/tickets/{lamp}")
    shot(desk, "tickets")
    # The description with markup shows as typed, not as markup.
    desk.goto(f"{server}/console/tickets/{lamp}")
    expect(desk.locator("main")).to_contain_text("<b>不亮</b>")
    assert desk.locator("main b", has_text="不亮").count() == 0

    # Assign the lamp to the grid worker: their phone gets the task.
    choices = desk.locator('form[action$="/assign"] select[name="worker"] option').all_inner_texts()
    print("assign choices:", choices)
    label = next(text for text in choices if "网格" in text)
    desk.select_option('form[action$="/assign"] select[name="worker"]', label=label)
    desk.locator('form[action$="/assign"] button[type=submit]').click()
    expect(desk.locator(".notice.ok")).to_be_visible()
    bot_says(worker, f"#{lamp}")

    # An internal note for colleagues, then a reply from the templates to the resident.
    desk.fill('form[action$="/internal"] textarea[name="note"]', "内部：需要物业配合换灯泡")
    desk.locator('form[action$="/internal"] button[type=submit]').click()
    expect(desk.locator(".timeline")).to_contain_text("内部：需要物业配合换灯泡")
    desk.fill('form[action$="/reply"] textarea[name="text"]', "您好，已安排网格员今天查看路灯。")
    desk.locator('form[action$="/reply"] button[type=submit]').click()
    expect(desk.locator(".notice.ok")).to_be_visible()
    shot(desk, "ticket")
    bot_says(resident, "已安排网格员今天查看路灯")
    resident.locator("#menu button", has_text="工单").tap()
    bot_says(resident, "我的工单")
    tap(resident, f"#{lamp}")
    bot_says(resident, f"#{lamp}")
    assert "内部：需要物业配合" not in resident.locator("#log").inner_text()

    # The third report is the same lamp: close it as a duplicate from the list, in bulk.
    desk.goto(f"{server}/console/tickets")
    desk.locator(f'input[name="ticket"][value="{noise}"]').check()
    desk.fill("#bulk-original", str(lamp))
    desk.once("dialog", lambda dialog: dialog.accept())
    desk.locator('button[name="action"][value="duplicate"]').click()
    expect(desk.locator(".notice.ok")).to_be_visible()
    desk.goto(f"{server}/console/tickets/{noise}")
    expect(desk.locator("main")).to_contain_text(f"#{lamp}")

    # Export the list and open it as a spreadsheet.
    desk.goto(f"{server}/console/tickets")
    with desk.expect_download() as downloading:
        desk.get_by_role("link", name=re.compile("XLSX|Excel")).click()
    saved = tmp_path / "tickets.xlsx"
    downloading.value.save_as(saved)
    rows = list(load_workbook(saved).active.iter_rows(values_only=True))
    numbers = {str(row[0]).lstrip("#") for row in rows[1:]}
    assert {str(lamp), str(rubbish), str(noise)} <= numbers

    # Publish a notice: the audience is shown before sending, then the delivery report.
    desk.goto(f"{server}/console/notices/new")
    desk.fill('input[name="title"]', "停水通知")
    desk.fill('textarea[name="body"]', "明天 9:00–12:00 阳光花园停水，请提前储水。")
    desk.get_by_role("button", name="预览").click()
    expect(desk.locator("main")).to_contain_text("将发给")
    shot(desk, "notice-compose")
    desk.get_by_role("button", name="发送").click()
    desk.wait_for_url(re.compile(r"/console/notices/\d+"))
    bot_says(resident, "停水通知")
    expect(desk.locator("main")).to_contain_text("接收人")
    shot(desk, "notice-report")

    # Approve a neighbour who registered in the chat without a code.
    neighbour = phone(browser)
    neighbour.goto(f"{server}/chat")
    neighbour.tap("#nocode-btn")
    for label in ("阳光花园", "2栋", "1单元", "301", "租户"):
        tap(neighbour, label)
    say(neighbour, "赵六")
    say(neighbour, "13900001111")
    bot_says(neighbour, "已提交")
    desk.goto(f"{server}/console/residents")
    row = desk.locator("tr", has_text="赵六")
    expect(row).to_be_visible()
    row.get_by_role("button", name="通过").click()
    expect(desk.locator(".notice.ok")).to_be_visible()
    bot_says(neighbour, "通过")

    # The month's numbers as charts with the figures beside them.
    desk.goto(f"{server}/console/stats")
    expect(desk.locator(".chart[data-drawn] canvas").first).to_be_visible()
    shot(desk, "stats")

    # The audit log shows the day's actions, from the desk and the chat.
    desk.goto(f"{server}/console/audit")
    for action in ("分派", "回复"):
        expect(desk.locator("main")).to_contain_text(action)
    shot(desk, "audit")
    assert axe_serious(desk) == []
    desk.goto(f"{server}/console/tickets")
    assert axe_serious(desk) == []
    assert desk.errors == [], desk.errors


def test_the_street_uploads_a_bad_organisation_file_and_reads_the_line(
    server: str, browser: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    street = phone(browser)
    join(street, server, "DEMO-STREET")
    desk = sign_in(browser, server, street)
    desk.get_by_role("link", name="组织").click()
    bad = tmp_path / "<img src=x onerror=alert(1)>.csv"
    bad.write_text(
        "district,street,community,compound,building,entrance,home,area\n"
        "铁西区,北沟街道,英雄社区,阳光花园,9栋,1单元,101,80\n"
        "铁西区,北沟街道,英雄社区,阳光花园,9栋,1单元,102,八十\n",
        encoding="utf-8",
    )
    desk.set_input_files('input[name="file"]', str(bad))
    desk.get_by_role("button", name="上传").click()
    expect(desk.locator("main")).to_contain_text("第 3 行")
    expect(desk.locator("main")).to_contain_text("<img src=x onerror=alert(1)>.csv")
    shot(desk, "org-error")
    assert desk.errors == [f"400 POST {server}/console/org"], desk.errors  # the refused file, nothing else
