"""The WeChat channel through the web app: signed callbacks in, passive replies and 客服 messages out.

Callbacks are posted as WeChat's servers post them (signed; AES in safe mode) to the FastAPI app that
`bot.bootstrap.build` and `bot.web.create_web_app` assemble; the API is the in-process double.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from bot.channels.wechat_wire import callback_fields, update_id_of
from bot.clock import FixedClock
from tests.support.chat import ChatUser, file_report
from tests.support.wechat_app import WeChat, wechat_harness
from tests.support.wechat_server import WeChatServer

OPENID = "o_resident_0000000000000001"


@pytest.fixture
def wx(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[WeChat]:
    """The app with WeChat on, plaintext callbacks."""
    harness = wechat_harness(sqlite_url, tmp_path, clock)
    yield harness
    harness.app.engine.dispose()


async def test_url_check_answers_echostr_only_when_signed(wx: WeChat) -> None:
    good = await wx.server.verify("echo-12345")
    assert good.status_code == 200 and good.text == "echo-12345"
    forged = await wx.server.verify("echo-12345", forged=True)
    assert forged.status_code == 403 and "echo" not in forged.text


async def test_forged_callback_is_refused_and_nothing_is_stored(wx: WeChat) -> None:
    delivery = await wx.post(wx.user(OPENID).text("/help"), forged=True)
    assert delivery.status == 403
    assert wx.stored() == [] and wx.identity(OPENID) is None


async def test_a_signed_query_copied_from_a_log_cannot_carry_a_forged_callback_later(wx: WeChat) -> None:
    # The plaintext signature covers the token, timestamp and nonce, not the body: a query seen once
    # (a proxy's access log) must not let anyone post as any resident once minutes have passed.
    query, _ = wx.server.signed_query()
    wx.clock.advance(minutes=6)
    forged = wx.user("o_victim_00000000000000000001").text("/my")
    delivery = await wx.post(forged, query=query)
    assert delivery.status == 403
    assert wx.stored() == []


async def test_a_sender_that_is_no_openid_is_refused(wx: WeChat) -> None:
    delivery = await wx.post(wx.user("evil\nINFO forged log line").text("/help"))
    assert delivery.status == 400
    assert wx.stored() == []


async def test_plain_text_answer_is_the_passive_reply(wx: WeChat) -> None:
    delivery = await wx.post(wx.user(OPENID).text("/nosuch"))
    assert delivery.status == 200 and delivery.reply is not None
    assert delivery.reply["ToUserName"] == OPENID and "/nosuch" in delivery.text
    assert wx.api.custom_to(OPENID) == []  # said once, passively
    [row] = wx.stored()
    assert row.processed_at is not None and row.payload["Content"] == "/nosuch"


async def test_buttons_become_a_menu_message_and_a_tap_presses_the_button(wx: WeChat) -> None:
    user = wx.user(OPENID)
    delivery = await wx.post(user.text("/help"))
    assert delivery.success  # a menu cannot be a passive reply: it follows as a 客服 message
    menu = wx.last_menu(OPENID)
    assert "📝 报事 — " in menu["head_content"] and "回复数字" in menu["tail_content"]
    assert [item["id"] for item in menu["list"]][:2] == ["cmd:/report", "cmd:/my"]
    await wx.post(wx.tap(user, "政策法规"))
    assert "政策" in wx.said(OPENID)[-1]


async def test_a_numbered_reply_picks_from_the_last_menu(wx: WeChat) -> None:
    user = wx.user(OPENID)
    await wx.post(user.text("/help"))
    labels = [item["content"] for item in wx.last_menu(OPENID)["list"]]
    number = next(n for n, label in enumerate(labels, 1) if "政策法规" in label)
    await wx.post(user.text(str(number)))
    assert "政策" in wx.said(OPENID)[-1]
    await wx.post(user.text("99"))  # no such item: plain text again, answered as such
    assert wx.stored()[-1].processed_at is not None


async def test_safe_mode_decrypts_the_callback_and_encrypts_the_reply(
    sqlite_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    wx = wechat_harness(sqlite_url, tmp_path, clock, safe_mode=True)
    delivery = await wx.post(wx.user(OPENID).text("/nosuch"))
    assert delivery.status == 200 and b"<Encrypt>" in delivery.body  # read_reply checked its signature
    assert "/nosuch" in delivery.text
    plaintext = WeChatServer("http://testserver", transport=wx.server.transport)  # no AES: refused
    assert (await plaintext.post(wx.user(OPENID).text("/nosuch"))).status == 403
    forged = await wx.post(wx.user(OPENID).text("/nosuch"), forged=True)
    assert forged.status == 403
    assert len(wx.stored()) == 1
    wx.app.engine.dispose()


async def test_a_bad_msg_signature_is_refused_even_with_a_good_signature(
    sqlite_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    wx = wechat_harness(sqlite_url, tmp_path, clock, safe_mode=True)
    query, body = wx.server.signed_query(wx.user(OPENID).text("/nosuch"))
    query["msg_signature"] = "0" * 40
    delivery = await wx.post(wx.user(OPENID).text("/nosuch"), query=query, raw=body.encode())
    assert delivery.status == 403 and wx.stored() == []
    wx.app.engine.dispose()


async def test_wechats_retries_run_the_turn_once(wx: WeChat) -> None:
    xml = wx.user(OPENID).text("/nosuch")
    first = await wx.post(xml)
    again = [await wx.post(xml) for _ in range(2)]  # as if our answers had been lost on the way
    assert "/nosuch" in first.text and all(d.success for d in again)
    assert wx.api.custom_to(OPENID) == [] and len(wx.stored()) == 1


async def test_a_callback_stored_before_a_crash_is_handled_on_the_retry(wx: WeChat) -> None:
    xml = wx.user(OPENID).text("/nosuch")
    fields = callback_fields(xml)
    wx.app.service.store("wechat", update_id_of(fields), fields)  # stored, then the process died
    delivery = await wx.post(xml)
    assert "/nosuch" in delivery.text
    assert wx.stored()[0].processed_at is not None


async def test_recover_handles_what_was_stored_and_answers_by_custom_message(wx: WeChat) -> None:
    wx.api.note_inbound(OPENID)
    fields = callback_fields(wx.user(OPENID).text("/nosuch"))
    wx.app.service.store("wechat", update_id_of(fields), fields)
    await wx.channel.recover()
    assert "/nosuch" in wx.said(OPENID)[-1]
    await wx.channel.recover()  # nothing left: nothing said twice
    assert len(wx.said(OPENID)) == 1


async def test_a_slow_turn_answers_success_then_by_custom_message(
    wx: WeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    handle = wx.app.service.handle
    started = threading.Event()

    def slow(*args: Any, **kwargs: Any) -> Any:
        started.set()
        time.sleep(0.4)  # a turn slower than the passive budget below
        return handle(*args, **kwargs)

    monkeypatch.setattr(wx.app.service, "handle", slow)
    wx.channel.passive_wait = 0.05
    xml = wx.user(OPENID).text("/nosuch")
    first = await wx.post(xml, tries=1)
    assert first.success and started.is_set()
    retry = await wx.post(xml, tries=1)  # WeChat tries again while the turn still runs
    assert retry.success
    await wx.api.wait_for(lambda: bool(wx.said(OPENID)), what="the late answer")
    await wx.api.wait_for(lambda: not wx.channel._tasks, what="the late answer's task to end")
    [answer] = wx.said(OPENID)
    assert "/nosuch" in answer


async def test_malformed_xml_and_an_xml_bomb_are_refused_and_nothing_is_stored(wx: WeChat) -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
        '<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">]>'
        f"<xml><ToUserName>gh</ToUserName><FromUserName>{OPENID}</FromUserName><CreateTime>1</CreateTime>"
        "<MsgType>text</MsgType><Content>&e;&e;&e;&e;&e;&e;</Content><MsgId>42</MsgId></xml>"
    )
    external = (
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        f"<xml><FromUserName>{OPENID}</FromUserName><MsgType>text</MsgType><Content>&x;</Content></xml>"
    )
    for body in (bomb, external, "<xml><FromUserName>o", "not xml at all", "<other/>", "<xml></xml>"):
        delivery = await wx.post(wx.user(OPENID).text("x"), raw=body.encode())
        assert delivery.status == 400, body
    assert wx.stored() == [] and wx.identity(OPENID) is None


async def test_an_oversized_body_is_refused(wx: WeChat) -> None:
    delivery = await wx.post(wx.user(OPENID).text("x"), raw=b"<xml>" + b" " * (70 * 1024) + b"</xml>")
    assert delivery.status == 413 and wx.stored() == []


async def test_oversized_text_gets_the_usual_too_long_answer(wx: WeChat) -> None:
    delivery = await wx.post(wx.user(OPENID).text("长" * 5000))
    assert "太长" in delivery.text and "5000" in delivery.text


async def test_unknown_message_types_are_answered_politely(wx: WeChat) -> None:
    user = wx.user(OPENID)
    for xml in (user.unknown("hologram"), user.link("物业费", "https://example.com/a")):
        delivery = await wx.post(xml)
        assert "暂不支持" in delivery.text
    assert all(row.processed_at is not None for row in wx.stored())


async def test_unknown_and_view_events_are_closed_without_a_turn(wx: WeChat) -> None:
    user = wx.user(OPENID)
    for xml in (user.event("TEMPLATESENDJOBFINISH", Status="success"), user.view("https://x.example/")):
        delivery = await wx.post(xml)
        assert delivery.success
    assert all(row.processed_at is not None for row in wx.stored()) and len(wx.stored()) == 2
    assert wx.identity(OPENID) is None and wx.said(OPENID) == []


async def test_the_menu_is_published_at_start_and_a_click_runs_its_command(wx: WeChat) -> None:
    await wx.channel.start()
    try:
        await wx.api.wait_for(lambda: wx.api.menu is not None, what="menu/create")
    finally:
        await wx.channel.stop()
    assert wx.api.menu is not None
    top = wx.api.menu["button"]
    assert [b["name"] for b in top] == ["报事", "我的小区", "更多"]
    assert top[0] == {"type": "click", "name": "报事", "key": "cmd:/report"}
    mine = top[1]["sub_button"]
    assert [b["name"] for b in mine] == ["我的工单", "业主表决", "收支公示", "业委会", "委托投票"]
    assert [b["key"] for b in mine] == [
        "cmd:/my",
        "cmd:/polls",
        "cmd:/accounts",
        "cmd:/committee",
        "cmd:/proxy",
    ]
    assert [b["name"] for b in top[2]["sub_button"]] == ["通知", "政策法规", "帮助", "语言"]
    assert {b["key"] for b in top[2]["sub_button"]} == {
        "cmd:/notices",
        "cmd:/policy",
        "cmd:/help",
        "cmd:/lang",
    }
    user = wx.user(OPENID)
    await wx.post(user.click("cmd:/policy"))
    assert "政策" in wx.last(OPENID)
    forged = await wx.post(user.click("k:a:1"))  # not a menu key: no staff action from a click
    assert "暂不支持" in forged.text


async def test_a_database_that_does_not_answer_asks_to_send_again(
    wx: WeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*_: Any) -> None:
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    # Every transaction of the service fails: the callback's own store and the turn that would store it.
    monkeypatch.setattr(wx.app.service, "sessions", down)
    delivery = await wx.post(wx.user(OPENID).text("/report"))
    assert delivery.status == 200 and "请稍后再发" in delivery.text
    monkeypatch.undo()
    monkeypatch.setattr(wx.app.service, "store", down)  # a photo is stored before its media is fetched
    delivery = await wx.post(wx.user(OPENID).image("m1"))
    assert delivery.status == 200 and "请稍后再发" in delivery.text


async def test_a_failing_turn_never_shows_wechats_error_page(
    wx: WeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(wx.channel, "_turn", broken)
    delivery = await wx.post(wx.user(OPENID).text("/report"))
    assert delivery.status == 200 and delivery.success
    assert wx.stored()[0].error.startswith("failed")


async def test_start_handles_what_was_stored_before_a_crash(wx: WeChat) -> None:
    wx.api.note_inbound(OPENID)
    fields = callback_fields(wx.user(OPENID).text("/nosuch"))
    wx.app.service.store("wechat", update_id_of(fields), fields)
    await wx.channel.start()
    try:
        await wx.api.wait_for(lambda: bool(wx.said(OPENID)), what="the recovered answer")
    finally:
        await wx.channel.stop()
    assert "/nosuch" in wx.said(OPENID)[0] and wx.stored()[0].processed_at is not None


async def test_healthz_reports_the_webhook_intake(wx: WeChat) -> None:
    await wx.post(wx.user(OPENID).text("/nosuch"))
    async with wx.server.client() as client:
        health = (await client.get("/healthz")).json()
    entry = health["channels"]["wechat"]
    assert health["status"] == "ok" and entry["mode"] == "webhook" and entry["unprocessed"] == 0
    assert entry["last_ok"] is not None


async def test_numbers_still_pick_from_a_long_list_followed_by_a_kept_drafts_line(wx: WeChat) -> None:
    user = await wx.joined(OPENID)
    resident = ChatUser(wx.app.service, OPENID, channel="wechat")
    for n in range(12):  # more than a 客服 menu holds: "my reports" becomes numbered lines
        file_report(resident, f"第 {n + 1} 件事：楼道灯不亮")
    await wx.post(user.text("/report"))
    await wx.post(user.text("9"))  # 公共设施损坏, from the numbered categories
    await wx.post(user.text("2号楼电梯按钮不亮"))  # a draft worth keeping, at its summary
    await wx.post(user.text("/my"))  # the long list, then the line saying the draft is kept
    assert "草稿已保存" in wx.last(OPENID)
    third = next(line for line in wx.last(OPENID, 3).splitlines() if line.startswith("3. "))
    code = third.removeprefix("3. ").split()[0]  # "#10"
    await wx.post(user.text("3"))  # the list's third item, not the kept draft's one button
    assert wx.last(OPENID).startswith(f"工单 {code}") or code in wx.last(OPENID).splitlines()[0]
