"""The chat page as an older resident meets it on a phone (390×844): large targets and text, the 大字
switch, an axe-core run, old buttons inactive after a reload, the language switch at once, the role's
bottom menu, hold-to-talk voice, images full size, and typed text that is never lost.

One `linli run` and one Chromium serve the whole module; each test opens its own phone (own cookies)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_browser import ARTIFACTS, bot_says, chromium, phone, running
from tests.test_webchat import png_bytes

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1.min.js"
SHOTS = ARTIFACTS  # screenshots to look at; not kept in the repository
MIN_TARGET = 44  # CSS px, WCAG 2.5.5
# Everything a finger can press; inline links inside a sentence are exempt (WCAG 2.5.5).
TARGETS = """() => [...document.querySelectorAll(
    'button, input:not([type=hidden]), textarea, select, [role=button], audio[controls],'
    + ' a[href]:not(.bubble a)')]
  .filter(el => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && !el.closest('.visually-hidden'); })
  .map(el => { const r = el.getBoundingClientRect();
    return {what: el.id || el.getAttribute('aria-label') || el.textContent.trim().slice(0, 24) || el.tagName,
            width: Math.round(r.width * 10) / 10, height: Math.round(r.height * 10) / 10}; })"""
FONT = "(sel) => [...document.querySelectorAll(sel)].map(e => parseFloat(getComputedStyle(e).fontSize))"


def shot(page: Any, name: str) -> None:
    """A screenshot to look at (best effort: the folder may be missing on another machine)."""
    try:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / name))
    except OSError:
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One `linli run` (demo on: the DEMO-* codes work) for the module."""
    with running(tmp_path_factory.mktemp("ergonomics")) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium with a fake microphone that needs no permission prompt."""
    with chromium(
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        "--autoplay-policy=no-user-gesture-required",
    ) as launched:
        yield launched


@pytest.fixture
def open_phones(browser: Any) -> Iterator[list[Any]]:
    """The phones a test opened, closed afterwards."""
    opened: list[Any] = []
    yield opened
    for context in opened:
        context.close()


@pytest.fixture(scope="module")
def worker(server: str, browser: Any) -> Iterator[Any]:
    """The module's one grid worker (new tickets in the demo grid go to the first one who joined)."""
    opened: list[Any] = []
    page = new_phone(browser, opened)
    join(page, server, "DEMO-GRID")
    yield page
    opened[0].close()


def new_phone(browser: Any, opened: list[Any], locale: str = "zh-CN") -> Any:
    """A phone-sized page with its own cookies, closed with the test; script and CSP errors go to
    `page.errors`."""
    page = phone(browser, locale)
    opened.append(page.context)
    return page


def join(page: Any, base: str, code: str = "DEMO-OWNER") -> None:
    """Open the chat and join with an invite code, as a resident types it."""
    page.goto(f"{base}/chat")
    page.fill("#invite", code)
    page.tap("#join-btn")
    bot_says(page, "绑定成功")


def tap(page: Any, label: str) -> None:
    """Tap the newest active button in the chat whose label contains `label`."""
    page.locator("#log .buttons button:enabled", has_text=label).last.tap()


def small_targets(page: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate(TARGETS)
    return [t for t in found if t["width"] < MIN_TARGET or t["height"] < MIN_TARGET]


def axe(page: Any, where: str) -> list[dict[str, Any]]:
    """The serious and critical axe-core violations (WCAG 2.x A/AA) of the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through DevTools from the vendored file: the page's CSP (script-src 'self') stays on
        # and blocks a <script> tag, and nothing is fetched from the network.
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;void 0")
    result = page.evaluate(
        """async () => (await axe.run(document, {runOnly: {type: 'tag',
              values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})).violations
            .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5)
                        .map(n => n.target.join(' ') + ' :: ' + n.failureSummary)}))"""
    )
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    if bad:
        print(f"axe violations on {where}:\n" + json.dumps(bad, ensure_ascii=False, indent=1))
    return bad


# --- large targets, text sizes, the 大字 switch, the primary button -------------------------------------


def test_every_target_is_large_and_the_text_is_readable(
    server: str, browser: Any, open_phones: list[Any]
) -> None:
    from playwright.sync_api import expect

    page = new_phone(browser, open_phones)
    page.goto(f"{server}/chat")
    expect(page.locator("#join")).to_be_visible()
    assert small_targets(page) == []  # the join form
    expect(page.locator("#join")).not_to_contain_text("Enter the invite")  # one language, not pairs
    shot(page, "ergo-join.png")
    page.fill("#invite", "DEMO-OWNER")
    page.tap("#join-btn")
    bot_says(page, "绑定成功")
    # The person's bubble shows the button's word, not the command behind it.
    mine = page.locator("#log .row.me .bubble").first
    expect(mine).to_have_text("绑定")
    page.locator("#menu button", has_text="报事").tap()
    bot_says(page, "请选择问题类别")
    small = small_targets(page)
    measured = page.evaluate(TARGETS)
    print("targets:", json.dumps(measured, ensure_ascii=False))
    assert small == [], small
    assert min(page.evaluate(FONT, ".bubble")) >= 17
    assert min(page.evaluate(FONT, "#log .buttons button")) >= 17
    assert min(page.evaluate(FONT, "#menu button")) >= 16
    assert page.evaluate(FONT, "#text") == [17]
    shot(page, "ergo-buttons.png")

    # 大字: larger text at once, and still after a reload (remembered for the person).
    large = page.locator("#large-btn")
    box = large.bounding_box()
    assert box["width"] >= MIN_TARGET and box["height"] >= MIN_TARGET
    large.tap()
    expect(large).to_have_attribute("aria-pressed", "true")
    assert min(page.evaluate(FONT, ".bubble")) >= 20
    page.wait_for_load_state("networkidle")
    page.reload()
    bot_says(page, "请选择问题类别")
    expect(page.locator("body")).to_have_class("large")
    assert min(page.evaluate(FONT, ".bubble")) >= 20 and min(page.evaluate(FONT, "#menu button")) >= 18
    assert small_targets(page) == []
    shot(page, "ergo-large.png")
    large.tap()  # and back
    expect(page.locator("body")).not_to_have_class("large")
    assert page.errors == []


def test_the_primary_action_is_filled_and_takes_its_own_row(
    server: str, browser: Any, open_phones: list[Any]
) -> None:
    page = new_phone(browser, open_phones)
    summary = {
        "id": 1,
        "outgoing": True,
        "text": "请确认报事内容：\n类别：公共设施损坏\n描述：楼道灯不亮",
        "buttons": [[["✅ 提交", "x:submit"]], [["改类别", "x:c"], ["改描述", "x:d"]], [["取消", "x:x"]]],
        "primary": "x:submit",
    }
    page.route("**/chat/api/messages*", lambda route: route.fulfill(json={"messages": [summary]}))
    page.goto(f"{server}/chat")
    bot_says(page, "请确认报事内容")
    primary = page.locator(".buttons button.primary")
    assert primary.inner_text() == "✅ 提交"
    colours = primary.evaluate("b => [getComputedStyle(b).backgroundColor, getComputedStyle(b).color]")
    assert colours == ["rgb(6, 122, 68)", "rgb(255, 255, 255)"]  # filled green, white text
    other = page.locator(".buttons button", has_text="改类别").bounding_box()
    box = primary.bounding_box()
    assert box["width"] > 2 * other["width"] and box["height"] >= 48  # a row of its own
    assert axe(page, "report summary") == []
    shot(page, "ergo-primary.png")


# --- axe-core -------------------------------------------------------------------------------------------


def test_axe_finds_no_serious_violation(server: str, browser: Any, open_phones: list[Any]) -> None:
    from playwright.sync_api import expect

    page = new_phone(browser, open_phones)
    page.goto(f"{server}/chat")
    expect(page.locator("#join")).to_be_visible()
    assert axe(page, "the join screen") == []
    page.fill("#invite", "DEMO-OWNER")
    page.tap("#join-btn")
    bot_says(page, "绑定成功")
    page.locator("#menu button", has_text="报事").tap()
    bot_says(page, "请选择问题类别")
    assert axe(page, "a chat with buttons") == []
    tap(page, "公共设施损坏")
    page.fill("#text", "3号楼楼道灯不亮")
    page.tap("#send")
    bot_says(page, "请确认报事内容")  # straight on: no photo or location step
    assert axe(page, "the report summary") == []
    shot(page, "ergo-summary.png")
    assert page.errors == []


# --- old buttons, language, menu -----------------------------------------------------------------------


def test_after_a_reload_only_the_newest_buttons_are_active(
    server: str, browser: Any, open_phones: list[Any]
) -> None:
    from playwright.sync_api import expect

    page = new_phone(browser, open_phones)
    join(page, server)
    page.locator("#menu button", has_text="帮助").tap()
    page.wait_for_load_state("networkidle")
    page.locator("#menu button", has_text="报事").tap()
    bot_says(page, "请选择问题类别")
    rows = page.locator("#log .row:not(.me)")
    newest = rows.last.locator(".buttons button")
    active = newest.count()
    assert active > 0
    expect(page.locator("#log .buttons button:enabled")).to_have_count(active)  # during the session
    page.reload()
    bot_says(page, "请选择问题类别")
    expect(page.locator("#log .buttons button:enabled")).to_have_count(active)  # and after a reload
    for row in range(rows.count() - 1):  # the welcome's and help's buttons: all inactive
        assert rows.nth(row).locator(".buttons button:enabled").count() == 0
    assert page.locator("#log .buttons button:disabled").count() > 0
    shot(page, "ergo-reload.png")
    assert page.errors == []


def test_the_language_switch_changes_the_page_at_once(
    server: str, browser: Any, open_phones: list[Any]
) -> None:
    from playwright.sync_api import expect

    page = new_phone(browser, open_phones)
    join(page, server)
    expect(page.locator("#text")).to_have_attribute("placeholder", "输入消息…")
    page.evaluate("window.loadedOnce = 1")  # gone if the page reloads
    page.fill("#text", "/lang")
    page.tap("#send")
    bot_says(page, "Choose your language")
    page.locator("#log .row:not(.me)").last.locator("button", has_text="English").tap()
    expect(page.locator("#send")).to_have_text("Send")
    expect(page.locator("#text")).to_have_attribute("placeholder", "Type a message…")
    expect(page.locator("#menu button").first).to_contain_text("Report")
    assert page.evaluate("window.loadedOnce") == 1
    assert page.evaluate("document.documentElement.lang") == "en"
    chrome = page.locator("header").inner_text() + page.locator("#menu").inner_text()
    chrome += page.locator("footer").inner_text() + page.locator("#large-btn").inner_text()
    assert not re.search(r"[\u4e00-\u9fff]", chrome), chrome  # no Chinese left in the page's own words
    shot(page, "ergo-english.png")
    assert page.errors == []


def test_a_grid_workers_menu_starts_with_tasks(server: str, worker: Any) -> None:
    from playwright.sync_api import expect

    expect(worker.locator("#menu button").first).to_contain_text("任务")  # at once, without a reload
    expect(worker.locator("#menu button", has_text="报事")).to_have_count(0)
    shot(worker, "ergo-worker.png")
    worker.reload()
    bot_says(worker, "绑定成功")
    expect(worker.locator("#menu button").first).to_contain_text("任务")


# --- voice, images, typed text --------------------------------------------------------------------------


def test_hold_to_talk_sends_a_voice_that_plays(
    server: str, browser: Any, open_phones: list[Any], worker: Any
) -> None:
    from playwright.sync_api import expect

    page = new_phone(browser, open_phones)
    join(page, server)
    page.locator("#menu button", has_text="报事").tap()
    tap(page, "电梯")
    bot_says(page, "请用文字描述问题")  # the mic is disabled while a send is under way: wait for the answer
    mic = page.locator("#mic-btn")
    box = mic.bounding_box()
    assert box["width"] >= MIN_TARGET and box["height"] >= MIN_TARGET
    # Too short a press sends nothing.
    mic.dispatch_event("pointerdown", {"pointerId": 1, "isPrimary": True})
    mic.dispatch_event("pointerup", {"pointerId": 1, "isPrimary": True})
    expect(page.locator(".notice", has_text="太短")).to_be_visible()
    # Sliding the finger off the button cancels.
    mic.dispatch_event("pointerdown", {"pointerId": 1, "isPrimary": True})
    expect(page.locator("#recording")).to_be_visible()
    mic.dispatch_event("pointerleave", {"pointerId": 1, "isPrimary": True})
    expect(page.locator(".notice", has_text="已取消录音")).to_be_visible()
    expect(page.locator("#recording")).to_be_hidden()
    expect(page.locator("#log .row.me audio")).to_have_count(0)
    # Hold, then lift the finger: the recording is sent and shown as a player. A lifted finger also
    # "leaves" the button right after: that is not a slide away.
    finger = {"pointerId": 2, "isPrimary": True, "pointerType": "touch"}
    mic.dispatch_event("pointerdown", finger)
    expect(page.locator("#recording")).to_be_visible()
    shot(page, "ergo-recording.png")
    page.wait_for_timeout(1600)  # speaking
    mic.evaluate(  # in one go, as the browser fires them when a finger lifts
        """(b, f) => { b.dispatchEvent(new PointerEvent('pointerup', f));
                       b.dispatchEvent(new PointerEvent('pointerleave', f)); }""",
        finger,
    )
    audio = page.locator("#log .row.me:not(.pending) .bubble audio").last
    expect(audio).to_be_visible()
    bot_says(page, "请确认报事内容")
    src = audio.get_attribute("src")
    assert src and re.fullmatch(r"/chat/files/[A-Za-z0-9_-]+\.webm", src)
    played = audio.evaluate(
        """a => new Promise(done => { a.muted = true;
             a.addEventListener('timeupdate', () => done(a.currentTime > 0), {once: true});
             a.play().catch(() => done(false)); })"""
    )
    assert played is True
    shot(page, "ergo-voice.png")

    # The grid worker's task card carries the voice, and it plays on their page too.
    tap(page, "提交")
    bot_says(page, "工单编号")
    heard = worker.locator("#log .row:not(.me) .bubble audio").last
    expect(heard).to_be_visible(timeout=15000)  # the page polls every 4 s
    assert heard.get_attribute("src") == src
    assert heard.evaluate(
        """a => new Promise(done => { a.muted = true;
             a.addEventListener('timeupdate', () => done(a.currentTime > 0), {once: true});
             a.play().catch(() => done(false)); })"""
    )
    shot(worker, "ergo-worker-voice.png")

    # A browser without a microphone says so instead of failing silently.
    bare = new_phone(browser, open_phones)
    bare.add_init_script("delete window.MediaRecorder")
    join(bare, server, "DEMO-OWNER2")
    bare.locator("#mic-btn").dispatch_event("pointerdown", {"pointerId": 1})
    expect(bare.locator(".notice.error", has_text="不能录音")).to_be_visible()
    assert page.errors == [] and bare.errors == []


def test_a_photo_opens_full_size(server: str, browser: Any, open_phones: list[Any], tmp_path: Path) -> None:
    from playwright.sync_api import expect

    chart = tmp_path / "chart.png"
    chart.write_bytes(png_bytes(880, 814, (40, 90, 200)))
    page = new_phone(browser, open_phones)
    join(page, server, "DEMO-TENANT")
    page.locator("#menu button", has_text="报事").tap()
    tap(page, "公共设施损坏")
    page.fill("#text", "路灯不亮")
    page.tap("#send")
    bot_says(page, "请确认报事内容")  # photos are added on the summary
    page.set_input_files("#photo", str(chart))
    thumb = page.locator("#log .row.me:not(.pending) .bubble img").last
    expect(thumb).to_be_visible()
    assert thumb.bounding_box()["width"] < 300
    thumb.tap()
    viewer = page.locator("#viewer")
    expect(viewer).to_be_visible()
    full = page.locator("#viewer-img")
    assert full.bounding_box()["width"] >= 389  # the whole width of the phone
    full.tap()  # and at its own size, scrollable
    assert full.bounding_box()["width"] == 880
    close = page.locator("#viewer-close").bounding_box()
    assert close["width"] >= MIN_TARGET and close["height"] >= MIN_TARGET
    shot(page, "ergo-image.png")
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    thumb.tap()
    page.locator("#viewer-close").tap()
    expect(viewer).to_be_hidden()


def test_too_long_text_stays_in_the_box(server: str, browser: Any, open_phones: list[Any]) -> None:
    from playwright.sync_api import expect

    page = new_phone(browser, open_phones)
    join(page, server)
    page.locator("#menu button", has_text="报事").tap()
    tap(page, "公共设施损坏")
    bot_says(page, "1000 字以内")
    # 5000 and 1500 characters: both refused with the limit the prompt named, the text back in the box.
    for long_text in ("楼道灯不亮" * 1000, "楼道灯不亮" * 300):
        page.fill("#text", long_text)
        page.tap("#send")
        bot_says(page, f"（{len(long_text)} 字），最多 1000 字")
        expect(page.locator("#text")).to_have_value(long_text)
    assert "4096" not in page.locator("#log").inner_text()
    shot(page, "ergo-too-long.png")

    # Beyond what the page may send at all, it refuses by itself and keeps the text.
    mine = page.locator("#log .row.me").count()
    huge = "楼" * 20_001
    page.fill("#text", huge)
    page.tap("#send")
    expect(page.locator(".notice.error", has_text="20000")).to_be_visible()
    assert min(page.evaluate(FONT, ".notice")) >= 17
    expect(page.locator("#text")).to_have_value(huge)
    assert page.locator("#log .row.me").count() == mine  # nothing was sent

    # A reply that refuses what was typed (too long for this step) hands the text back as well.
    refused = {"id": 10**6, "outgoing": True, "text": "描述最多 1000 字", "buttons": [], "keeps_input": True}
    page.route(
        "**/chat/api/send*",
        lambda route: route.fulfill(json={"messages": [refused], "menu": [], "locale": "zh_CN"}),
    )
    page.fill("#text", "楼道灯不亮" * 300)
    page.tap("#send")
    bot_says(page, "描述最多 1000 字")
    expect(page.locator("#text")).to_have_value("楼道灯不亮" * 300)

    # An expired page says so with a reload button a finger can hit, and keeps the text too.
    page.unroute("**/chat/api/send*")
    page.route("**/chat/api/send*", lambda route: route.fulfill(status=403, json={"detail": "stale"}))
    page.tap("#send")
    reload = page.locator(".notice.error button", has_text="刷新")
    expect(reload).to_be_visible()
    box = reload.bounding_box()
    assert box["width"] >= MIN_TARGET and box["height"] >= MIN_TARGET
    expect(page.locator("#text")).to_have_value("楼道灯不亮" * 300)
    assert small_targets(page) == []
    assert page.errors == []


# --- the whole report, counted in taps ------------------------------------------------------------------


def test_a_report_takes_five_taps_and_a_photo_adds_at_most_two(
    server: str, browser: Any, open_phones: list[Any], tmp_path: Path
) -> None:
    """From the chat's first screen after joining: 报事, a category, the text box, 发送, ✅提交 — five taps
    and the description typed; with a photo, the camera and the picture (sent with the words) instead of
    发送, then 提交."""
    from playwright.sync_api import expect

    photo = tmp_path / "lamp.png"
    photo.write_bytes(png_bytes(160, 120, (240, 160, 40)))
    taps: list[str] = []

    def press(page: Any, what: str, locator: Any) -> None:
        taps.append(what)
        locator.tap()

    page = new_phone(browser, open_phones)
    join(page, server)
    press(page, "报事", page.locator("#menu button", has_text="报事"))
    bot_says(page, "请选择问题类别")
    press(page, "category", page.locator("#log .buttons button:enabled", has_text="公共设施损坏").last)
    bot_says(page, "请用文字描述问题")
    press(page, "text box", page.locator("#text"))
    page.keyboard.type("2号楼楼道灯不亮，晚上看不见台阶")
    press(page, "发送", page.locator("#send"))
    bot_says(page, "请确认报事内容")
    summary = page.locator("#log .row:not(.me) .bubble", has_text="请确认报事内容").last
    expect(summary).to_contain_text("1栋")  # the place: the resident's own building, untyped
    press(page, "提交", page.locator("#log .buttons button.primary:enabled", has_text="提交").last)
    bot_says(page, "工单编号")
    assert taps == ["报事", "category", "text box", "发送", "提交"], taps
    shot(page, "taps-report.png")

    taps.clear()
    press(page, "报事", page.locator("#menu button", has_text="报事"))
    press(page, "category", page.locator("#log .buttons button:enabled", has_text="公共设施损坏").last)
    bot_says(page, "请用文字描述问题")
    press(page, "text box", page.locator("#text"))
    page.keyboard.type("3号楼门口路灯坏了")
    with page.expect_file_chooser() as chooser:
        press(page, "camera", page.locator("#photo-btn"))
    taps.append("pick")  # choosing the picture in the phone's gallery
    chooser.value.set_files(str(photo))
    bot_says(page, "请确认报事内容")
    expect(page.locator("#log .row:not(.me) .bubble", has_text="照片：1 张").last).to_be_visible()
    press(page, "提交", page.locator("#log .buttons button.primary:enabled", has_text="提交").last)
    bot_says(page, "工单编号")
    assert len(taps) <= 5 + 2 and taps == ["报事", "category", "text box", "camera", "pick", "提交"], taps
    shot(page, "taps-report-photo.png")
    assert page.errors == []


def test_a_pushed_cards_buttons_stay_active_after_the_person_says_something_else(
    server: str, browser: Any, open_phones: list[Any], worker: Any
) -> None:
    from playwright.sync_api import expect

    page = new_phone(browser, open_phones)
    join(page, server, "DEMO-OWNER2")
    page.locator("#menu button", has_text="报事").tap()
    tap(page, "噪音扰民")
    page.fill("#text", "楼上每晚装修到十一点")
    page.tap("#send")
    bot_says(page, "请确认报事内容")
    tap(page, "提交")
    bot_says(page, "工单编号")
    card = worker.locator("#log .row:not(.me) .bubble", has_text="楼上每晚装修到十一点").last
    expect(card).to_be_visible(timeout=15000)  # pushed to the grid worker's page
    worker.locator("#menu button", has_text="帮助").tap()  # the worker does something else first
    bot_says(worker, "点下面的按钮就能办理")
    expect(card.locator("button").first).to_be_enabled()  # the pushed card still answers
    worker.reload()
    card = worker.locator("#log .row:not(.me) .bubble", has_text="楼上每晚装修到十一点").last
    expect(card.locator("button").first).to_be_enabled()
    assert worker.locator("#log .row:not(.me) .bubble", has_text="点下面的按钮就能办理").count() >= 1
