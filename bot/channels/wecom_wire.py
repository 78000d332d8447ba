"""WeCom's wire format: a decrypted callback read safely, its update id, what we keep of it, and a Rendered
laid out as WeCom app messages (text chunks, a template card with buttons, or numbered lines)."""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any

import xmltodict

from bot.channels.menus import Menu
from handlers.types import Location, Rendered

CHANNEL = "wecom"
TEXT_BYTES = 2048  # a text message's content, in UTF-8 bytes
CARD_BUTTONS = 6
# A button_interaction card's lengths as WeCom documents them, in characters (longer ones are cut).
TITLE, DESC, SUB_TITLE, KEYNAME, VALUE, BUTTON_TEXT = 36, 44, 112, 5, 26, 10
HORIZONTAL = 6
UPDATE_ID = 64  # the inbound log's update_id column
HOSTILE = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)  # no callback of WeCom's declares either
KEY_VALUE = re.compile(rf"^([^：:]{{1,{KEYNAME}}})[：:]\s*(.+)$")


class Malformed(ValueError):
    """A callback body we cannot read as WeCom's XML."""


def read_xml(data: bytes | str) -> dict[str, Any]:
    """The fields of `<xml>…</xml>`; Malformed for anything else. A document type or entity declaration
    is refused before parsing (XML bombs), and the parser expands no entities either."""
    raw = data.encode() if isinstance(data, str) else data
    if HOSTILE.search(raw):
        raise Malformed("document type or entity declarations are not accepted")
    try:
        parsed = xmltodict.parse(raw, disable_entities=True)
    except Exception as exc:  # expat's errors, ValueError from a refused entity, bad encodings
        raise Malformed(f"not XML: {type(exc).__name__}") from None
    root = parsed.get("xml") if isinstance(parsed, dict) else None
    if not isinstance(root, dict):
        raise Malformed("no <xml> root")
    return dict(root)


def text_of(fields: dict[str, Any], name: str) -> str:
    """A field as text ("" when absent or not a plain value)."""
    value = fields.get(name)
    return value.strip() if isinstance(value, str) else ""


def update_id_of(fields: dict[str, Any]) -> str | None:
    """The id a callback is stored under: MsgId for a message; for an event (which has none) who, when,
    which event, which button and which card. None when it is neither."""
    msg_id = text_of(fields, "MsgId")
    if msg_id:
        return msg_id[:UPDATE_ID] if msg_id.isdigit() else None
    if text_of(fields, "MsgType").lower() != "event" or not text_of(fields, "FromUserName"):
        return None
    parts = ("FromUserName", "CreateTime", "Event", "EventKey", "TaskId")
    key = ":".join(text_of(fields, name) for name in parts)
    if len(key) <= UPDATE_ID:
        return key
    return "ev:" + hashlib.sha256(key.encode()).hexdigest()[:48]  # long keys and task ids: one id each


def location_of(fields: dict[str, Any]) -> Location | None:
    """A location message's point (Location_X is the latitude), or None when it is not a valid one."""
    try:
        latitude, longitude = float(text_of(fields, "Location_X")), float(text_of(fields, "Location_Y"))
    except ValueError:
        return None
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        return None
    if abs(latitude) > 90 or abs(longitude) > 180:
        return None
    return Location(latitude, longitude)


AMR_FRAME_BYTES = (13, 14, 16, 18, 20, 21, 27, 32, 6, 1, 1, 1, 1, 1, 1, 1)  # AMR-NB, by frame type


def amr_seconds(data: bytes) -> int | None:
    """How long an AMR-NB recording (WeCom's voice format) lasts: its 20 ms frames counted; None when the
    bytes are not AMR."""
    if not data.startswith(b"#!AMR\n"):
        return None
    frames, at = 0, 6
    while at < len(data):
        at += AMR_FRAME_BYTES[(data[at] >> 3) & 0x0F]
        frames += 1
    return max(1, round(frames * 0.02))


# --- sending ---------------------------------------------------------------------------------------


def split_text(text: str, limit: int = TEXT_BYTES) -> list[str]:
    """Text in parts of at most `limit` UTF-8 bytes, cut at paragraphs or lines where possible."""
    parts: list[str] = []
    while len(text.encode()) > limit:
        head = text.encode()[:limit].decode(errors="ignore")
        cut = head.rfind("\n\n")
        if cut <= 0:
            cut = head.rfind("\n")
        if cut <= 0:
            cut = len(head)
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip("\n")
    parts.append(text)
    return [p for p in parts if p.strip()] or []


def clip(text: str, limit: int) -> str:
    """Text cut to `limit` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Layout:
    """How one Rendered goes out on WeCom: texts first, then at most one card; `choices` is the button
    data behind numbered lines (empty when there are none)."""

    texts: tuple[str, ...] = ()
    card: dict[str, Any] | None = None
    choices: tuple[str, ...] = ()
    photos: tuple[str, ...] = field(default=())


def buttons_of(message: Rendered) -> list[tuple[str, str]]:
    """Every button of a message in reading order, each data once (card keys must be unique)."""
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for row in message.buttons:
        for label, data in row:
            if data not in seen:
                seen.add(data)
                out.append((label, data))
    return out


def lay_out(message: Rendered, task_id: str, numbered_header: str, see_above: str) -> Layout:
    """Text with up to six buttons → a template card (title from the first line, the rest as sub title or
    key/value lines; the whole text sent first when it does not fit); more buttons → numbered lines."""
    photos = tuple(p.ref for p in message.photos if p.kind == "photo")
    buttons = buttons_of(message)
    if not buttons:
        return Layout(tuple(split_text(message.text)), photos=photos)
    if len(buttons) > CARD_BUTTONS:
        lines = "\n".join(f"{n}. {label}" for n, (label, _) in enumerate(buttons, 1))
        text = f"{message.text}\n\n{numbered_header}\n{lines}".strip()
        return Layout(tuple(split_text(text)), choices=tuple(d for _, d in buttons), photos=photos)
    card, fits = _card(message.text, buttons, task_id, see_above)
    texts = () if fits else tuple(split_text(message.text))
    return Layout(texts, card, photos=photos)


def _card(
    text: str, buttons: list[tuple[str, str]], task_id: str, see_above: str
) -> tuple[dict[str, Any], bool]:
    """The card and whether it holds the whole text."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    title, rest = (lines[0], lines[1:]) if lines else ("…", [])
    card: dict[str, Any] = {
        "card_type": "button_interaction",
        "task_id": task_id,
        "button_list": [
            {"text": clip(label, BUTTON_TEXT) or "…", "style": 1, "key": data} for label, data in buttons
        ],
    }
    body = _body(rest) if len(title) <= TITLE else None
    if body is None:
        card["main_title"] = {"title": clip(title, TITLE), "desc": clip(see_above, DESC)}
        return card, False
    card["main_title"] = {"title": title}
    card.update(body)
    return card, True


def _body(rest: list[str]) -> dict[str, Any] | None:
    """The lines under the title as the card shows them (sub title, or key/value lines and a sub title),
    or None when they do not fit."""
    if not rest:
        return {}
    joined = "\n".join(rest)
    if len(joined) <= SUB_TITLE:
        return {"sub_title_text": joined}
    pairs: list[dict[str, str]] = []
    others: list[str] = []
    for line in rest:
        match = KEY_VALUE.match(line)
        if match and len(match.group(2)) <= VALUE and len(pairs) < HORIZONTAL:
            pairs.append({"keyname": match.group(1).strip(), "value": match.group(2).strip()})
        else:
            others.append(line)
    sub = "\n".join(others)
    if len(sub) > SUB_TITLE:
        return None
    body: dict[str, Any] = {"horizontal_content_list": pairs}
    if sub:
        body["sub_title_text"] = sub
    return body


def messages_in(layout: Layout, sendable_photos: int) -> int:
    """How many app messages a layout makes (each counts against a member's limits)."""
    return sendable_photos + len(layout.texts) + (1 if layout.card is not None else 0)


# The app's menu: what grid workers and staff reach for most, each a click whose key is the encoded
# command, as a Telegram menu button carries it.
MENU: Menu = (
    ("menu_tasks", (("", "/tasks"),)),
    ("menu_queue", (("", "/queue"),)),
    (
        "menu_more",
        (
            ("menu_notices", "/notices"),
            ("menu_stats", "/stats"),
            ("menu_rating", "/rating"),
            ("menu_help", "/help"),
            ("menu_lang", "/lang"),
        ),
    ),
)
