"""A paper ballot walked in the web chat on phone-sized screens, against `linli run`: a community worker going
door to door opens 📝 纸质票 from the help menu, finds the home with big buttons, records the choice, how and
by whom it was collected and the photo of the signed ballot; the owner of that home then opens the poll and
is told their paper ballot was entered, with no buttons to vote again."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.test_browser import ARTIFACTS, bot_says, chromium, join, phone, running
from tests.test_browser_ballot_print import create_poll
from tests.test_webchat import png_bytes

pytestmark = pytest.mark.browser

POLL = """\
compound: 铁西区/北沟街道/英雄社区/阳光花园
buildings: [1栋]
title: 续聘阳光物业
body: 是否续聘阳光物业服务有限公司，合同三年，物业费标准不变。
matter: 4
opens: +0h
closes: +14d
secret: false
shortened_reason: 合同月底到期
"""


def test_a_door_to_door_ballot_is_entered_on_a_phone_and_the_owner_sees_it(tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    photo = tmp_path / "ballot.png"
    photo.write_bytes(png_bytes(120, 160, (250, 250, 240)))
    with chromium() as browser:
        owner = phone(browser)
        with running(tmp_path) as first:
            join(owner, first, "DEMO-OWNER")  # verified before voting opens: in the frozen electorate
        create_poll(tmp_path, tmp_path, POLL)  # voting opens now: the poll job opens it when the bot starts
        with running(tmp_path) as base:
            _walk(browser, base, owner, photo)


def _walk(browser: Any, base: str, owner: Any, photo: Path) -> None:
    """The worker enters the owner's paper ballot; the owner then opens the poll."""
    from playwright.sync_api import expect

    worker = phone(browser)
    join(worker, base, "DEMO-STAFF")
    log = worker.locator("#log")

    def tap(label: str) -> None:
        exact = re.compile(rf"^(\S+ )?{re.escape(label)}$")  # an emoji and a space may lead
        log.locator(".buttons button:enabled", has_text=exact).last.tap()

    worker.locator("#menu button", has_text="帮助").tap()
    bot_says(worker, "录入扫楼、现场、投票箱收来的纸质选票")
    tap("纸质票")
    bot_says(worker, "选楼栋")
    tap("1栋")
    bot_says(worker, "选单元")
    tap("1单元")
    bot_says(worker, "选房号")
    button = log.locator(".buttons button:enabled", has_text=re.compile(r"^101$")).last
    box = button.bounding_box()
    assert box is not None and box["height"] >= 44  # a target a thumb finds on the doorstep
    button.tap()
    bot_says(worker, "选票上选的是")
    tap("同意")
    bot_says(worker, "怎么收到的")
    tap("扫楼")
    bot_says(worker, "谁收的票")
    worker.fill("#text", "刘阿姨")
    worker.tap("#send")
    bot_says(worker, "什么时候收的")
    tap("刚刚")
    bot_says(worker, "签字选票的照片")
    worker.set_input_files("#photo", str(photo))
    bot_says(worker, "请核对这张纸质票")
    worker.screenshot(path=str(ARTIFACTS / "paper-confirm.png"))
    tap("确认录入")
    bot_says(worker, "已录入：1栋 1单元 101")
    worker.screenshot(path=str(ARTIFACTS / "paper-entered.png"))

    owner.goto(f"{base}/chat")  # the same browser, the same conversation, the bot started again
    owner.locator("#menu button", has_text="表决").tap()
    bot_says(owner, "续聘阳光物业")
    owner.screenshot(path=str(ARTIFACTS / "paper-owner-list.png"))
    owner.locator("#log .buttons button:enabled", has_text="续聘阳光物业").last.tap()
    bot_says(owner, "表决事项")
    bot_says(owner, "纸质选票已于")
    shown = owner.locator("#log .row:not(.me) .bubble", has_text="纸质选票已于").last
    expect(shown).to_contain_text("由工作人员录入")
    last_buttons = owner.locator("#log .row:not(.me)").last.locator(".buttons button")
    expect(last_buttons.filter(has_text="同意")).to_have_count(0)  # nothing left to vote with
    owner.screenshot(path=str(ARTIFACTS / "paper-owner.png"))
    assert worker.errors == [] and owner.errors == []
