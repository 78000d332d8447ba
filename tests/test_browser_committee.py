"""业委会 walked in the web chat on phone-sized screens, against `linli run`: community staff set the
owners' committee with big buttons, and a resident opens 业委会 from the help menu and sees who serves them,
since when and until when."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_browser import ARTIFACTS, bot_says, chromium, join, phone, running

pytestmark = pytest.mark.browser


def test_staff_set_the_committee_and_a_resident_sees_it_on_a_phone(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    with running(tmp_path) as base, chromium() as browser:
        resident = phone(browser)
        join(resident, base, "DEMO-OWNER")
        staff = phone(browser)
        join(staff, base, "DEMO-STAFF")
        log = staff.locator("#log")

        def tap(label: str) -> None:
            # The whole label, so 主任 is not 副主任.
            exact = re.compile(rf"^(\S+ )?{re.escape(label)}$")  # an emoji and a space may lead
            log.locator(".buttons button:enabled", has_text=exact).last.tap()

        staff.fill("#text", "/committee")
        staff.tap("#send")
        tap("阳光花园")
        bot_says(staff, "目前没有业委会或物管会")
        tap("设置业委会")
        bot_says(staff, "任期从哪天开始")
        tap("今天")
        bot_says(staff, "任期多长")
        tap("任期 5 年")
        bot_says(staff, "备案了吗")
        tap("还没有备案")
        bot_says(staff, "还没有选")
        staff.screenshot(path=str(ARTIFACTS / "committee-members.png"))
        tap("1栋")
        log.locator(".buttons button:enabled", has_text="1栋1单元101").last.tap()
        bot_says(staff, "担任什么职务")
        tap("主任")
        bot_says(staff, "成员（1 人）")
        tap("选好了")
        bot_says(staff, "请核对后确认")
        staff.screenshot(path=str(ARTIFACTS / "committee-confirm.png"))
        tap("确认设置")
        bot_says(staff, "已设置业主委员会")
        staff.screenshot(path=str(ARTIFACTS / "committee-set.png"))

        # The resident: 帮助 → 业委会, no command to type.
        bot_says(resident, "您已成为阳光花园业主委员会的主任")  # the push reached the web chat
        resident.locator("#menu button", has_text="帮助").tap()
        bot_says(resident, "谁在为本小区服务")
        resident.locator("#log .buttons button:enabled", has_text=re.compile(r"^(\S+ )?业委会$")).last.tap()
        bot_says(resident, "任期：")
        shown = resident.locator("#log .row:not(.me) .bubble", has_text="任期：").last
        expect(shown).to_contain_text("业主委员会")
        expect(shown).to_contain_text("主任：")
        expect(shown).to_contain_text("备案：尚未备案")
        resident.screenshot(path=str(ARTIFACTS / "committee-resident.png"))
        assert resident.errors == [] and staff.errors == []
