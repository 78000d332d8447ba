"""WeCom's wire format: callbacks read safely, their ids, and messages laid out within WeCom's limits."""

from __future__ import annotations

import pytest

from bot.channels.wecom_wire import (
    CARD_BUTTONS,
    Malformed,
    amr_seconds,
    lay_out,
    location_of,
    read_xml,
    split_text,
    update_id_of,
)
from handlers.types import Attachment, Rendered

TASK = (
    "🆕 新任务 #12 · 停水/漏水（紧急）\n\n住址：阳光花园 1栋 1单元 101\n描述：楼道水管漏水，地上全是水\n"
    "照片：1 张\n接单时限：05-01 10:00"
)
TASK_BUTTONS = ((("✅ 接单", "t:a:12"), ("申请转派", "t:t:12")), (("📞 联系居民", "t:c:12"),))


def test_a_task_card_holds_its_whole_text_with_buttons_keyed_by_their_data() -> None:
    layout = lay_out(Rendered(TASK, TASK_BUTTONS), "task-1", "回复数字选择：", "详情见上一条消息")
    assert layout.texts == ()  # nothing sent before the card: it holds everything
    card = layout.card
    assert card is not None and card["card_type"] == "button_interaction" and card["task_id"] == "task-1"
    assert card["main_title"]["title"] == "🆕 新任务 #12 · 停水/漏水（紧急）"
    assert "楼道水管漏水" in card["sub_title_text"] and "接单时限：05-01 10:00" in card["sub_title_text"]
    assert [(b["text"], b["key"]) for b in card["button_list"]] == [
        ("✅ 接单", "t:a:12"),
        ("申请转派", "t:t:12"),
        ("📞 联系居民", "t:c:12"),
    ]


def test_a_long_body_becomes_key_value_lines_and_a_sub_title() -> None:
    description = "描述：" + "楼道水管漏水" * 10  # too long for a key/value line
    text = (
        "新任务 #3\n住址：阳光花园 1栋 1单元 101\n电话：13800000000\n"
        + description
        + "\n接单时限：05-01 10:00"
    )
    layout = lay_out(Rendered(text, ((("接单", "a"),),)), "t", "", "")
    card = layout.card
    assert card is not None and layout.texts == ()
    assert card["horizontal_content_list"][0] == {"keyname": "住址", "value": "阳光花园 1栋 1单元 101"}
    assert [h["keyname"] for h in card["horizontal_content_list"]] == ["住址", "电话", "接单时限"]
    assert card["sub_title_text"] == description


def test_a_text_too_long_for_a_card_is_sent_whole_first() -> None:
    text = "通知：" + "很长的一段话。" * 60
    layout = lay_out(Rendered(text, ((("已读", "n:a:1"),),)), "t", "回复数字选择：", "详情见上一条消息")
    assert layout.texts == (text,)
    card = layout.card
    assert card is not None and len(card["main_title"]["title"]) <= 36
    assert card["main_title"]["desc"] == "详情见上一条消息"


def test_more_buttons_than_a_card_holds_become_numbered_lines() -> None:
    buttons = tuple(((f"{n}号楼", f"j:b:{n}"),) for n in range(1, CARD_BUTTONS + 3))
    layout = lay_out(Rendered("请选择楼栋", buttons), "t", "回复数字选择：", "")
    assert layout.card is None
    [text] = layout.texts
    assert text.startswith("请选择楼栋\n\n回复数字选择：\n1. 1号楼\n2. 2号楼")
    assert layout.choices == tuple(f"j:b:{n}" for n in range(1, CARD_BUTTONS + 3))


def test_long_button_labels_are_cut_and_repeated_data_shown_once() -> None:
    buttons = ((("🙋 我也遇到（加入 #1234）", "r:m:1234"), ("again", "r:m:1234")),)
    card = lay_out(Rendered("同一楼栋已有类似工单", buttons), "t", "", "").card
    assert card is not None
    [button] = card["button_list"]
    assert len(button["text"]) == 10 and button["text"].endswith("…")


def test_photos_go_first_and_text_is_cut_within_2048_bytes() -> None:
    text = "\n".join(f"第{n}行：" + "字" * 50 for n in range(60))
    layout = lay_out(
        Rendered(text, photos=(Attachment("photo", "a.jpg"), Attachment("voice", "v"))), "t", "", ""
    )
    assert layout.photos == ("a.jpg",)
    assert all(len(part.encode()) <= 2048 for part in layout.texts) and len(layout.texts) > 1
    assert "".join(layout.texts).replace("\n", "") == text.replace("\n", "")


def test_split_text_cuts_a_line_without_breaks_between_characters() -> None:
    parts = split_text("字" * 1000)
    assert [len(p) for p in parts] == [682, 318]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        b"<xml><a>1</a>",
        b"<other>1</other>",
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
        b"<xml><Content>&lol2;</Content></xml>",
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Content>&e;</Content></xml>',
        b"<xml><Content>&undefined;</Content></xml>",
    ],
)
def test_malformed_and_hostile_xml_is_refused(body: bytes) -> None:
    with pytest.raises(Malformed):
        read_xml(body)


def test_update_ids_are_msgid_or_the_event_and_fit_the_log() -> None:
    assert update_id_of({"MsgId": "1234567890123456", "MsgType": "text"}) == "1234567890123456"
    event = {
        "MsgType": "event",
        "FromUserName": "LiuWang",
        "CreateTime": "1700000000",
        "Event": "template_card_event",
        "EventKey": "t:a:12",
        "TaskId": "20240501-ab",
    }
    assert update_id_of(event) == "LiuWang:1700000000:template_card_event:t:a:12:20240501-ab"
    long = update_id_of({**event, "TaskId": "x" * 128})
    assert long is not None and len(long) <= 64 and long != update_id_of({**event, "TaskId": "y" * 128})
    assert update_id_of({"MsgType": "text"}) is None
    assert update_id_of({"MsgId": "12; drop", "MsgType": "text"}) is None


def test_locations_out_of_range_are_not_locations() -> None:
    assert location_of({"Location_X": "43.16", "Location_Y": "124.35"}) is not None
    for x, y in (("91", "0"), ("nan", "1"), ("1", "inf"), ("", "")):
        assert location_of({"Location_X": x, "Location_Y": y}) is None


def test_amr_length_is_counted_from_its_frames() -> None:
    frame = bytes([0x3C]) + bytes(31)  # mode 7 (12.2 kbit/s): 32 bytes per 20 ms
    assert amr_seconds(b"#!AMR\n" + frame * 250) == 5
    assert amr_seconds(b"RIFF....") is None
