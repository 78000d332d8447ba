"""What the WeCom API double keeps and checks: its calls, the messages and cards members received, WeCom's
errcodes and a template card's limits."""

from __future__ import annotations

import re
import time
from collections.abc import Container
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]
CORP_ID = "ww5f3c2a1b0e9d8c7b"
SECRET = "wecom-app-secret-for-tests-000000000001"
AGENT_ID = 1000002
TEXT_BYTES = 2048  # a text or markdown message's content, in UTF-8 bytes
CARD_BUTTONS = 6
TASK_ID = re.compile(r"^[0-9A-Za-z_\-@]{1,128}$")
# The card's lengths as WeCom documents them (characters); WeCom cuts longer ones, the double refuses them
# so that a test sees what a member would have lost.
CARD_LIMITS = {"title": 36, "desc": 44, "sub_title_text": 112, "keyname": 5, "value": 26, "button": 10}
PER_MINUTE, PER_HOUR = 30, 1000

# errcodes, as WeCom answers them
OK = 0
INVALID_CREDENTIAL = 40001
INVALID_ACCESS_TOKEN = 40014
EXPIRED_ACCESS_TOKEN = 42001
INVALID_CORP_ID = 40013
INVALID_MEDIA_ID = 40007
INVALID_PARAMETER = 40058
EMPTY_CONTENT = 44004
CONTENT_TOO_LONG = 45002
FREQUENCY_LIMIT = 45009
CONCURRENCY_LIMIT = 45033
ALL_INVALID = 81013  # user & party & tag all invalid: not in the app's visible range, or no such member
USER_NOT_FOUND = 60111
INVALID_RESPONSE_CODE = 40029


@dataclass
class WeComCall:
    """One API call the bot made: method, path (after /cgi-bin/), query, JSON body, and the answer."""

    method: str
    path: str
    query: dict[str, str]
    body: JSON | None
    at: float  # the double's clock when it was received (the one its limits and tokens count in)
    errcode: int = 0
    answer: JSON | None = None
    monotonic: float = field(default_factory=time.monotonic)  # when it was received, in real seconds

    @property
    def touser(self) -> list[str]:
        """The members a message/send was addressed to."""
        value = (self.body or {}).get("touser", "")
        return [u for u in str(value).split("|") if u]


@dataclass
class Card:
    """A template card a member received, with its buttons and what became of it."""

    userid: str
    task_id: str
    body: JSON
    response_code: str
    replaced: str = ""  # the replace_name shown once the card was updated after a press

    @property
    def title(self) -> str:
        """The card's main title."""
        return str(self.body.get("main_title", {}).get("title", ""))

    @property
    def text(self) -> str:
        """Everything the card shows as text: title, description, sub title and the horizontal lines."""
        main = self.body.get("main_title", {})
        parts = [main.get("title", ""), main.get("desc", ""), self.body.get("sub_title_text", "")]
        parts += [f"{h.get('keyname', '')}：{h.get('value', '')}" for h in self.horizontal]
        return "\n".join(p for p in parts if p)

    @property
    def horizontal(self) -> list[JSON]:
        """The card's horizontal_content_list."""
        return list(self.body.get("horizontal_content_list", []))

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(text, key) of every button."""
        return [(str(b.get("text", "")), str(b.get("key", ""))) for b in self.body.get("button_list", [])]

    def key(self, label: str) -> str:
        """The key of the button whose text contains `label`."""
        for text, key in self.buttons:
            if label in text:
                return key
        raise AssertionError(f"no button {label!r} on card {self.task_id}: {self.buttons}")


@dataclass
class Received:
    """One message a member received: its type and content (the raw JSON body)."""

    userid: str
    msgtype: str
    body: JSON
    at: float

    @property
    def text(self) -> str:
        """The text of a text or markdown message, or a card's text."""
        if self.msgtype in ("text", "markdown"):
            return str(self.body.get(self.msgtype, {}).get("content", ""))
        if self.msgtype == "template_card":
            return Card(self.userid, "", self.body.get("template_card", {}), "").text
        return ""


class Refused(Exception):
    """A call WeCom answers with an errcode."""

    def __init__(self, errcode: int, errmsg: str = "") -> None:
        super().__init__(errmsg or str(errcode))
        self.errcode = errcode
        self.errmsg = errmsg or f"errcode {errcode}"


def check_card(card: JSON, used: Container[str]) -> None:
    """Refuse a template card as WeCom would (the double is stricter about lengths than WeCom, which cuts)."""
    if card.get("card_type") != "button_interaction":
        raise Refused(INVALID_PARAMETER, "card_type must be button_interaction")
    task_id = str(card.get("task_id", ""))
    if not TASK_ID.match(task_id) or task_id in used:
        raise Refused(INVALID_PARAMETER, f"task_id {task_id!r} invalid or used before")
    main = card.get("main_title") or {}
    if not main.get("title"):
        raise Refused(INVALID_PARAMETER, "main_title.title is required")
    _length("title", main.get("title"))
    _length("desc", main.get("desc"))
    _length("sub_title_text", card.get("sub_title_text"))
    lines = card.get("horizontal_content_list", [])
    if len(lines) > 6:
        raise Refused(INVALID_PARAMETER, "horizontal_content_list holds at most 6")
    for line in lines:
        _length("keyname", line.get("keyname"))
        _length("value", line.get("value"))
    buttons = card.get("button_list") or []
    if not 1 <= len(buttons) <= CARD_BUTTONS:
        raise Refused(INVALID_PARAMETER, "button_list holds 1 to 6 buttons")
    keys = [str(b.get("key", "")) for b in buttons]
    if len(set(keys)) != len(keys) or any(not k or len(k.encode()) > 1024 for k in keys):
        raise Refused(INVALID_PARAMETER, "button keys must be unique, 1 to 1024 bytes")
    for button in buttons:
        _length("button", button.get("text"))


def _length(what: str, value: object) -> None:
    if value is not None and len(str(value)) > CARD_LIMITS[what]:
        raise Refused(INVALID_PARAMETER, f"{what} longer than {CARD_LIMITS[what]}: {value!r}")
