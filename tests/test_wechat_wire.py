"""WeChat's wire format and the template-message data file, without a server."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import xmltodict

from bot.channels.wechat_templates import KINDS, TemplateBook, values_for
from bot.channels.wechat_wire import (
    BadCallback,
    callback_fields,
    custom_messages,
    incoming,
    numbered_choice,
    passive_xml,
    split_text,
    update_id_of,
)
from bot.clock import FixedClock
from bot.render import Renderer
from bot.settings import SettingsError
from core import actions
from handlers.types import Rendered
from tests.conftest import TEST_KEYS
from tests.support.wechat_api import APP_ID, SECRET
from tests.support.wechat_server import TOKEN, WeChatServer

DATA = Path(__file__).resolve().parent.parent / "data" / "wechat_templates.yaml"
RENDERER = Renderer(ZoneInfo("Asia/Shanghai"))


def text_of(locale: str) -> object:
    return lambda key, ctx: RENDERER.text(locale, f"wechat.{key}", ctx)


def test_callbacks_read_as_wechat_writes_them() -> None:
    user = WeChatServer("http://x").user("o_user")
    voice = incoming(callback_fields(user.voice("m1", recognition="楼道灯坏了")))
    assert voice.text == "楼道灯坏了" and voice.media[0].kind == "voice" and voice.media[0].media_id == "m1"
    image = incoming(callback_fields(user.image("m2", pic_url="http://p/x.jpg")))
    assert image.media[0].pic_url == "http://p/x.jpg"
    location = incoming(callback_fields(user.location(31.2, 121.5, "阳光花园")))
    assert location.location is not None and location.location.latitude == 31.2
    assert incoming(callback_fields(user.subscribe("DEMO-OWNER"))).text == "/start DEMO-OWNER"
    assert incoming(callback_fields(user.scan("DEMO-OWNER"))).text == "/start DEMO-OWNER"
    assert incoming(callback_fields(user.subscribe())).text == "/start"
    assert incoming(callback_fields(user.click("cmd:/my"))).text == "/my"
    assert incoming(callback_fields(user.tap("r:x", "1. 取消"))).button == "r:x"
    assert incoming(callback_fields(user.unsubscribe())).action == "unsubscribe"
    assert incoming(callback_fields(user.location(999, 0))).unsupported  # not a place on earth


def test_update_ids_are_msgids_or_the_event_and_its_key() -> None:
    user = WeChatServer("http://x", clock=lambda: 1_700_000_000).user("o_user_000000000000000000001")
    assert update_id_of(callback_fields(user.text("hi"))).isdigit()
    report, my = (update_id_of(callback_fields(user.click(k))) for k in ("cmd:/report", "cmd:/my"))
    assert report != my and report.startswith("o_user_000000000000000000001:1700000000:")
    assert update_id_of(callback_fields(user.click("cmd:/my"))) == my  # the same press, the same id
    long = update_id_of(callback_fields(user.event("X" * 200)))
    assert len(long) <= 64


@pytest.mark.parametrize(
    "body",
    ["", "<xml>", "<xml><MsgType>text</MsgType></xml>", "<a/>", '<!DOCTYPE x [<!ENTITY e "e">]><xml/>'],
)
def test_what_is_not_a_callback_is_refused(body: str) -> None:
    with pytest.raises(BadCallback):
        callback_fields(body)


def test_numbered_replies_pick_from_the_choices() -> None:
    choices = ["a:1", "b:2", "c:3"]
    assert numbered_choice("2", choices) == "b:2"
    assert numbered_choice(" ３ ", choices) == "c:3"  # a full-width digit from a Chinese keyboard
    assert numbered_choice("1.", choices) == "a:1"
    assert numbered_choice("4", choices) is None and numbered_choice("0", choices) is None
    assert numbered_choice("2 号楼漏水", choices) is None and numbered_choice("1", []) is None


def test_a_passive_reply_survives_text_that_would_end_its_cdata() -> None:
    xml = passive_xml("不认识的命令 /x]]><MsgType>news</MsgType>", "o_user", "gh_1", 1)
    fields = xmltodict.parse(xml)["xml"]
    assert fields["Content"] == "不认识的命令 /x]]><MsgType>news</MsgType>" and fields["MsgType"] == "text"


def test_long_text_is_cut_within_the_byte_limit_at_lines() -> None:
    text = "\n".join(f"第{n}行：" + "内容" * 40 for n in range(40))
    parts = split_text(text)
    assert len(parts) > 1 and all(len(p.encode()) <= 2048 for p in parts)
    assert all(p.startswith("第") for p in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")


def test_buttons_become_a_menu_and_too_many_become_numbered_lines_with_a_link() -> None:
    two = Rendered("选一个", buttons=((("好", "cmd:/help"), ("不好", "cmd:/my")),))
    [menu] = custom_messages(two, text_of("zh_CN"), "https://l.example")  # type: ignore[arg-type]
    assert menu["msgmenu"]["list"] == [
        {"id": "cmd:/help", "content": "1. 好"},
        {"id": "cmd:/my", "content": "2. 不好"},
    ]
    many = Rendered("选一个", buttons=tuple(((f"选项{n}", f"cmd:/x{n}"),) for n in range(12)))
    [listed] = custom_messages(many, text_of("en"), "https://l.example")  # type: ignore[arg-type]
    body = listed["text"]["content"]
    assert "12. 选项11" in body and "https://l.example/wechat/oauth?next=%2Fchat" in body
    long = Rendered("很长" * 700, buttons=((("好", "cmd:/help"),),))
    sent = custom_messages(long, text_of("zh_CN"), "")  # type: ignore[arg-type]
    assert [m["msgtype"] for m in sent] == ["text", "text", "text", "msgmenu"]  # 4200 bytes, then the menu
    assert sent[-1]["msgmenu"]["head_content"] == "请选择："


def test_every_wechat_text_renders_in_both_languages() -> None:
    book = TemplateBook.load(DATA)
    for locale in ("zh_CN", "en"):
        for kind in KINDS:
            assert RENDERER.text(locale, f"wechat.tpl_{kind}")
        for key in ("menu_report", "menu_my", "menu_more", "menu_notices", "menu_polls", "menu_policy"):
            assert RENDERER.text(locale, f"wechat.{key}")
        for key in ("menu_help", "menu_lang", "menu_head", "ask_location", "busy", "tpl_hint"):
            assert RENDERER.text(locale, f"wechat.{key}")
        assert "3" in RENDERER.text(locale, "wechat.menu_tail", {"count": 3})
        assert "u" in RENDERER.text(locale, "wechat.long_list", {"url": "u"})
        assert RENDERER.text(locale, "wechat.media_failed", {"kind": "voice"})
        assert "2. b" in RENDERER.text(locale, "wechat.numbered", {"labels": ["a", "b"]})
    assert set(book.templates) == set(KINDS)


def test_template_fields_are_filled_and_cut_to_their_size() -> None:
    book = TemplateBook.load(DATA)
    about = actions.MyTicket("v", ticket=7).encode()
    message = Rendered(
        "工单 #7（停水/漏水）已办结：已修复，并已经通知物业公司复查。\n请评价",
        topic="cases.resolved",
        about=about,
    )
    clock = FixedClock()
    values = values_for(message, "服务回访", "点击查看详情", clock.now(), RENDERER.zone)
    template_id, data = book.body(message, values)
    assert template_id == "followup-template-id" and data["character_string1"]["value"] == "#7"
    assert len(data["thing2"]["value"]) == 20 and data["thing2"]["value"].endswith("…")
    assert data["time3"]["value"] == "2026-11-20 10:00"  # local time in Asia/Shanghai
    assert book.kind_of(Rendered("x", about=actions.Vote("v", poll=2).encode())) == "poll"
    assert book.kind_of(Rendered("x", about=about)) == "ticket"
    assert book.kind_of(Rendered("x")) == "general"


@pytest.mark.parametrize(
    ("content", "fault"),
    [
        ("ticket: [", "not valid UTF-8 YAML"),
        ("- a", "must map each kind"),
        ("parcel: {}", "unknown kind 'parcel'"),
        ("ticket: {template_id: a, fields: {thing1: '{summary}'}}", "kind 'followup' is missing"),
    ],
)
def test_a_bad_template_file_stops_the_start_with_one_line(tmp_path: Path, content: str, fault: str) -> None:
    path = tmp_path / "templates.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SettingsError, match=fault) as raised:
        TemplateBook.load(path)
    assert "\n" not in str(raised.value) and "WECHAT_TEMPLATES" in str(raised.value)


def test_a_template_with_an_unknown_placeholder_is_named(tmp_path: Path) -> None:
    good = DATA.read_text(encoding="utf-8")
    path = tmp_path / "templates.yaml"
    path.write_text(good.replace('thing1: "{summary}"', 'thing1: "{sumary}"', 1), encoding="utf-8")
    with pytest.raises(SettingsError, match=r"notice.fields.thing1: unknown placeholder \{sumary\}"):
        TemplateBook.load(path)


def test_building_the_app_with_a_missing_template_file_stops_it(sqlite_url: str, tmp_path: Path) -> None:
    from bot.bootstrap import build
    from bot.settings import load_settings

    settings = load_settings(
        LINLI_VAR_DIR=tmp_path / "var",
        DATABASE_URL=sqlite_url,
        WECHAT_APP_ID=APP_ID,
        WECHAT_APP_SECRET=SECRET,
        WECHAT_TOKEN=TOKEN,
        WECHAT_TEMPLATES=tmp_path / "nowhere.yaml",
        **TEST_KEYS,
    )
    with pytest.raises(SettingsError, match=r"nowhere\.yaml: cannot be read"):
        build(settings)
