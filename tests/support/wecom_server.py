"""Plays WeCom's servers: builds the callbacks a WeCom app receives, encrypts and signs them as WeCom does
(wechatpy's WeChatCrypto: token, EncodingAESKey, corp id), and POSTs them to /wecom/callback over HTTP,
retrying like WeCom (three tries, five seconds apart, when no 200 comes back in time).

The HTTP client is any httpx.Client: FastAPI's TestClient for the app in this process, or an
httpx.Client with a base_url for a running `linli run`.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from wechatpy.work.crypto import WeChatCrypto

from tests.support.wecom_api import AGENT_ID, CORP_ID, WeComApi

TOKEN = "wecomcallbacktoken01"
AES_KEY = "vgIm0ZCc2s4rIEcf0twSBkzDRREcY6Q4IYHjq4rx6Jc"  # 43 characters, as WeCom's console shows it
PATH = "/wecom/callback"
TRIES = 3
RETRY_DELAY = 5.0


def cdata(value: str) -> str:
    """A CDATA section (WeCom wraps every string field in one)."""
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    """msg_signature as WeCom computes it: sha1 of the four values, sorted and joined."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


@dataclass
class Delivery:
    """What came of posting one callback: every try's HTTP status (None when it timed out or failed)."""

    body: bytes
    params: dict[str, str]
    statuses: list[int | None] = field(default_factory=list)
    answers: list[bytes] = field(default_factory=list)

    @property
    def status(self) -> int | None:
        """The last try's status."""
        return self.statuses[-1] if self.statuses else None


@dataclass
class WeComServer:
    """Signs and posts callbacks for one WeCom app to the bot."""

    client: httpx.Client
    api: WeComApi | None = None  # the API double, for cards pressed and media kept
    token: str = TOKEN
    aes_key: str = AES_KEY
    corp_id: str = CORP_ID
    agent_id: int = AGENT_ID
    path: str = PATH
    delay: float = RETRY_DELAY
    sleep: Callable[[float], None] = time.sleep
    # WeCom drops a callback not answered within five seconds and tries again (None: FastAPI's TestClient,
    # which takes no timeout)
    timeout: float | None = 5.0
    clock: Callable[[], float] = time.time
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(7_000_000_000_000_000_000))

    @property
    def crypto(self) -> WeChatCrypto:
        """The crypto WeCom shares with the app."""
        return WeChatCrypto(self.token, self.aes_key, self.corp_id)

    def now(self) -> int:
        """CreateTime for a callback: whole seconds."""
        return int(self.clock())

    # --- callbacks --------------------------------------------------------------------------------

    def _xml(self, userid: str, msgtype: str, fields: dict[str, Any], msg_id: bool = True) -> str:
        head = {
            "ToUserName": self.corp_id,
            "FromUserName": userid,
            "CreateTime": self.now(),
            "MsgType": msgtype,
        }
        body = {**head, **fields, "AgentID": self.agent_id}
        if msg_id:
            body["MsgId"] = next(self._ids)
        parts = [f"<{k}>{cdata(v) if isinstance(v, str) else v}</{k}>" for k, v in body.items()]
        return "<xml>" + "".join(parts) + "</xml>"

    def text(self, userid: str, content: str) -> str:
        """A text message."""
        return self._xml(userid, "text", {"Content": content})

    def image(self, userid: str, media_id: str, pic_url: str = "https://wework.qpic.cn/wwpic/x/0") -> str:
        """A photo (WeCom keeps the file for three days under the MediaId)."""
        return self._xml(userid, "image", {"PicUrl": pic_url, "MediaId": media_id})

    def voice(self, userid: str, media_id: str, fmt: str = "amr") -> str:
        """A voice message."""
        return self._xml(userid, "voice", {"MediaId": media_id, "Format": fmt})

    def location(
        self, userid: str, latitude: float, longitude: float, label: str = "", scale: int = 15
    ) -> str:
        """A shared location (Location_X is the latitude, Location_Y the longitude)."""
        fields = {"Location_X": latitude, "Location_Y": longitude, "Scale": scale, "Label": label}
        return self._xml(userid, "location", fields)

    def video(self, userid: str, media_id: str) -> str:
        """A video (something the bot does not take)."""
        return self._xml(userid, "video", {"MediaId": media_id, "ThumbMediaId": media_id})

    def enter_agent(self, userid: str) -> str:
        """The member opened the app."""
        return self._xml(userid, "event", {"Event": "enter_agent", "EventKey": ""}, msg_id=False)

    def click(self, userid: str, key: str) -> str:
        """A tap on a button of the app's menu: EventKey is the button's key."""
        return self._xml(userid, "event", {"Event": "click", "EventKey": key}, msg_id=False)

    def card_event(
        self,
        userid: str,
        key: str,
        task_id: str,
        card_type: str = "button_interaction",
        response_code: str = "",
    ) -> str:
        """A press on a template card button: EventKey is the button's key."""
        fields = {
            "Event": "template_card_event",
            "EventKey": key,
            "TaskId": task_id,
            "CardType": card_type,
            "ResponseCode": response_code,
        }
        return self._xml(userid, "event", fields, msg_id=False)

    def press(self, userid: str, label: str, containing: str = "") -> str:
        """A press on the button `label` of the newest card the member received (through the API double)."""
        assert self.api is not None, "press needs the API double"
        card = self.api.last_card(userid, containing)
        if card.replaced:
            raise AssertionError(f"card {card.task_id} shows {card.replaced!r}: its buttons are gone")
        return self.card_event(
            userid, card.key(label), card.task_id, response_code=self.api.press_code(card.task_id)
        )

    # --- sending ----------------------------------------------------------------------------------

    def seal(self, xml: str, forged: bool = False) -> tuple[bytes, dict[str, str]]:
        """The callback as WeCom posts it: the encrypted envelope and the signed query."""
        nonce = secrets.token_hex(5)
        timestamp = str(self.now())
        envelope = self.crypto.encrypt_message(xml, nonce, timestamp)
        encrypted = envelope.split("<Encrypt><![CDATA[", 1)[1].split("]]>", 1)[0]
        sign = signature(self.token, timestamp, nonce, encrypted)
        if forged:
            sign = signature("not-the-token", timestamp, nonce, encrypted)
        body = (
            f"<xml><ToUserName>{cdata(self.corp_id)}</ToUserName><Encrypt>{cdata(encrypted)}</Encrypt>"
            f"<AgentID>{cdata(str(self.agent_id))}</AgentID></xml>"
        )
        return body.encode(), {"msg_signature": sign, "timestamp": timestamp, "nonce": nonce}

    def _timeout(self) -> dict[str, float]:
        return {"timeout": self.timeout} if self.timeout is not None else {}

    def post(self, body: bytes, params: dict[str, str]) -> httpx.Response:
        """One POST of a sealed callback."""
        return self.client.post(
            self.path, content=body, params=params, headers={"Content-Type": "text/xml"}, **self._timeout()
        )

    def deliver(self, xml: str, tries: int = TRIES, forged: bool = False) -> Delivery:
        """Post a callback until it is answered 200, at most `tries` times, `delay` seconds apart."""
        body, params = self.seal(xml, forged)
        return self.redeliver(Delivery(body, params), tries)

    def redeliver(self, delivery: Delivery, tries: int = TRIES) -> Delivery:
        """Post the same sealed callback again (a retry as WeCom makes it)."""
        for attempt in range(tries):
            if attempt:
                self.sleep(self.delay)
            try:
                response = self.post(delivery.body, delivery.params)
            except httpx.HTTPError:
                delivery.statuses.append(None)
                continue
            delivery.statuses.append(response.status_code)
            delivery.answers.append(response.content)
            if response.status_code == 200:
                break
        return delivery

    def send(self, xml: str) -> httpx.Response:
        """Post a callback once and return the answer (tests of refusals)."""
        body, params = self.seal(xml)
        return self.post(body, params)

    def verify(self, echo: str = "", forged: bool = False) -> httpx.Response:
        """The URL check WeCom makes when the callback is saved in its console: GET, encrypted echostr."""
        echo = echo or secrets.token_hex(8)
        nonce = secrets.token_hex(5)
        timestamp = str(self.now())
        envelope = self.crypto.encrypt_message(echo, nonce, timestamp)
        encrypted = envelope.split("<Encrypt><![CDATA[", 1)[1].split("]]>", 1)[0]
        token = "not-the-token" if forged else self.token
        params = {
            "msg_signature": signature(token, timestamp, nonce, encrypted),
            "timestamp": timestamp,
            "nonce": nonce,
            "echostr": encrypted,
        }
        return self.client.get(self.path, params=params, **self._timeout())

    def post_raw(self, xml: str, sign_plain: bool = True) -> httpx.Response:
        """Post arbitrary text as the body, signed over an `Encrypt` value found in it (or over nothing):
        for malformed and hostile bodies."""
        nonce = secrets.token_hex(5)
        timestamp = str(self.now())
        encrypted = ""
        if sign_plain and "<Encrypt>" in xml:
            encrypted = xml.split("<Encrypt>", 1)[1].split("</Encrypt>", 1)[0]
            encrypted = encrypted.removeprefix("<![CDATA[").removesuffix("]]>")
        params = {
            "msg_signature": signature(self.token, timestamp, nonce, encrypted),
            "timestamp": timestamp,
            "nonce": nonce,
        }
        return self.client.post(self.path, content=xml.encode(), params=params, **self._timeout())
