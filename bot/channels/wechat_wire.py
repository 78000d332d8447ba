"""WeChat's wire format: callback XML read safely, a callback as what it asks of us, passive replies, the
OA menu, and a Rendered as 客服 messages (text parts, a msgmenu or numbered lines)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import xmltodict
from wechatpy.replies import TextReply

from bot.channels.menus import Menu
from bot.channels.wechat_oauth import page_link
from core import actions
from handlers.types import Location, Rendered

CHANNEL = "wechat"
TEXT_BYTES = 2048  # what one text message (客服 or passive) may carry
MENU_ITEMS = 10  # items one 客服 menu message holds; longer lists become numbered lines and a link
MAX_FIELD = 20_000  # a callback field longer than this is not WeChat's
NUMBER = re.compile(r"^\s*([0-9０-９]{1,3})\s*[.。、)）]?\s*$")
Text = Callable[[str, dict[str, Any] | None], str]  # a template block rendered in the account's language

# The account's menu (自定义菜单): three buttons, at most five below each; each a CLICK whose key is the
# encoded press of the command, as a Telegram menu button carries it. Reporting stays one tap; what is about
# the resident's own compound (their tickets, polls, accounts, committee) sits together under 我的小区.
MENU: Menu = (
    ("menu_report", (("", "/report"),)),
    (
        "menu_compound",
        (
            ("menu_my", "/my"),
            ("menu_polls", "/polls"),
            ("menu_accounts", "/accounts"),
            ("menu_committee", "/committee"),
            ("menu_proxy", "/proxy"),
        ),
    ),
    (
        "menu_more",
        (
            ("menu_notices", "/notices"),
            ("menu_policy", "/policy"),
            ("menu_help", "/help"),
            ("menu_lang", "/lang"),
        ),
    ),
)


class BadCallback(ValueError):
    """The body is not a WeChat callback we can read (malformed XML, entities, no sender)."""


def read_xml(body: bytes | str) -> dict[str, Any]:
    """The fields of `<xml>…</xml>`; entity declarations are refused (no expansion, no bombs)."""
    try:
        parsed = xmltodict.parse(body, disable_entities=True)
    except Exception as exc:  # expat errors, "entities are disabled", bad encodings
        raise BadCallback(f"not readable XML: {type(exc).__name__}") from None
    root = parsed.get("xml") if isinstance(parsed, dict) else None
    if not isinstance(root, dict):
        raise BadCallback("no <xml> element")
    return root


def callback_fields(body: bytes | str) -> dict[str, str]:
    """A callback's fields as flat strings (as we store them): nested or repeated elements are dropped."""
    fields: dict[str, str] = {}
    for name, value in read_xml(body).items():
        if value is None:
            fields[name] = ""
        elif isinstance(value, str):
            if len(value) > MAX_FIELD:
                raise BadCallback(f"{name} is too long")
            fields[name] = value
    if not fields.get("FromUserName") or not fields.get("MsgType"):
        raise BadCallback("no FromUserName or MsgType")
    return fields


def update_id_of(fields: dict[str, str]) -> str:
    """The callback's id for deduplication: MsgId, or for events FromUserName:CreateTime:Event, with a
    short hash of the EventKey so two menu buttons pressed within one second are two events."""
    msg_id = fields.get("MsgId", "").strip()
    if msg_id.isdigit() and len(msg_id) <= 24:
        return msg_id
    key = hashlib.sha1(fields.get("EventKey", "").encode()).hexdigest()[:8]
    sender, created, event = (
        fields.get("FromUserName", ""),
        fields.get("CreateTime", ""),
        fields.get("Event", ""),
    )
    return f"{sender}:{created}:{key}:{event}"[:64]


@dataclass(frozen=True, slots=True)
class Media:
    """A media file a callback names: downloaded before the turn."""

    kind: str  # image | voice
    media_id: str
    pic_url: str = ""
    format: str = ""


@dataclass(frozen=True, slots=True)
class Incoming:
    """What a callback asks of us: a turn (with text, a press or media), or only a note."""

    action: str  # turn | unsubscribe | ignore
    text: str = ""
    button: str | None = None
    media: tuple[Media, ...] = ()
    location: Location | None = None
    unsupported: bool = False
    numbered: bool = False  # the text may be a numbered reply to the last menu


def incoming(fields: dict[str, str]) -> Incoming:
    """Classify a callback by its MsgType and Event."""
    kind = fields.get("MsgType", "").lower()
    if kind == "event":
        return _event(fields)
    if kind == "text":
        menu_id = fields.get("bizmsgmenuid", "").strip()
        if menu_id:  # a tap on a 客服 menu item: its id is the button's data
            return Incoming("turn", button=menu_id)
        return Incoming("turn", text=fields.get("Content", ""), numbered=True)
    if kind == "image":
        media = Media("image", fields.get("MediaId", ""), fields.get("PicUrl", ""))
        return Incoming("turn", media=(media,))
    if kind == "voice":
        media = Media("voice", fields.get("MediaId", ""), format=fields.get("Format", ""))
        # WeChat's speech recognition, when the account has it: offered as the description.
        return Incoming("turn", text=fields.get("Recognition", "").strip(), media=(media,))
    if kind == "location":
        try:
            latitude, longitude = float(fields["Location_X"]), float(fields["Location_Y"])
        except (KeyError, ValueError):
            return Incoming("turn", unsupported=True)
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            return Incoming("turn", unsupported=True)
        return Incoming("turn", location=Location(latitude, longitude))
    return Incoming("turn", unsupported=True)  # links, videos, files, types WeChat adds later


def _event(fields: dict[str, str]) -> Incoming:
    event = fields.get("Event", "").lower()
    key = fields.get("EventKey", "").strip()
    if event in ("subscribe", "scan"):
        # A parametric QR code joins with its invite, as a Telegram deep link does.
        invite = key.removeprefix("qrscene_").strip()
        return Incoming("turn", text=f"/start {invite}" if invite else "/start")
    if event == "unsubscribe":
        return Incoming("unsubscribe")
    if event == "click":
        press = actions.decode(key)
        if isinstance(press, actions.Menu):
            return Incoming("turn", text=press.command)
        return Incoming("turn", unsupported=True)
    return Incoming("ignore")  # VIEW (a link opened), template and mass send reports, location reports


def numbered_choice(text: str, choices: list[str]) -> str | None:
    """The button data a numbered reply ("1", "２") picks from the last menu, or None."""
    match = NUMBER.match(text)
    if match is None or not choices:
        return None
    digits = match.group(1).translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    index = int(digits) - 1
    return choices[index] if 0 <= index < len(choices) else None


def passive_xml(text: str, openid: str, account: str, now: int) -> str:
    """A passive text reply to one callback."""
    reply = TextReply(source=_cdata(account), target=_cdata(openid), content=_cdata(text), time=now)
    return str(reply.render())


def _cdata(value: str) -> str:
    """Text for a CDATA section as wechatpy writes it: a `]]>` inside (a user's words echoed back)
    would end the section, so it is split across two."""
    return value.replace("]]>", "]]]]><![CDATA[>")


def split_text(text: str, limit: int = TEXT_BYTES) -> list[str]:
    """Text in parts of at most `limit` UTF-8 bytes, cut at paragraphs or lines where possible."""
    parts: list[str] = []
    while len(text.encode()) > limit:
        head = text.encode()[:limit].decode("utf-8", "ignore")
        cut = head.rfind("\n\n")
        if cut <= 0:
            cut = head.rfind("\n")
        if cut <= 0:
            cut = len(head)
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip("\n")
    parts.append(text)
    return [p for p in parts if p.strip()]


def fits(text: str) -> bool:
    """Whether text goes as one message."""
    return bool(text.strip()) and len(text.encode()) <= TEXT_BYTES


def flat_buttons(message: Rendered) -> list[tuple[str, str]]:
    """A message's buttons in reading order: (label, data)."""
    return [button for row in message.buttons for button in row]


def plain(message: Rendered) -> bool:
    """Whether a message is text alone, short enough to be a passive reply."""
    return not message.buttons and not message.photos and not message.ask_location and fits(message.text)


def custom_messages(message: Rendered, text: Text, public_url: str) -> list[dict[str, Any]]:
    """A Rendered as 客服 message bodies (photos go first and are uploaded by the caller): text parts,
    then a msgmenu for its buttons, or numbered lines and a link when there are too many."""
    body = message.text
    if message.ask_location:  # WeChat has no location button: say where the ＋ menu is
        body = f"{body}\n\n{text('ask_location', None)}".strip()
    buttons = flat_buttons(message)
    if not buttons:
        return [_text(part) for part in split_text(body)]
    if len(buttons) > MENU_ITEMS:
        lines = text("numbered", {"labels": [label for label, _ in buttons]})
        link = text("long_list", {"url": page_link(public_url)})
        return [_text(part) for part in split_text(f"{body}\n\n{lines}\n\n{link}".strip())]
    tail = text("menu_tail", {"count": len(buttons)})
    items = [{"id": data, "content": f"{n}. {label}"} for n, (label, data) in enumerate(buttons, 1)]
    menu = {"head_content": body, "list": items, "tail_content": tail}
    if _menu_fits(menu):
        return [{"msgtype": "msgmenu", "msgmenu": menu}]
    # Too long for one menu message: the text first, then the menu under a short head.
    head = text("menu_head", None)
    parts = [_text(part) for part in split_text(body)]
    return [*parts, {"msgtype": "msgmenu", "msgmenu": {**menu, "head_content": head}}]


def _text(content: str) -> dict[str, Any]:
    return {"msgtype": "text", "text": {"content": content}}


def _menu_fits(menu: dict[str, Any]) -> bool:
    """Whether a menu goes as one message: its JSON within the message limit."""
    return (
        bool(menu["head_content"].strip())
        and len(json.dumps(menu, ensure_ascii=False).encode()) <= TEXT_BYTES
    )
