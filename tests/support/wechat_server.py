"""Plays WeChat's servers: builds real-shaped callback XML, signs it (and encrypts it in safe mode), POSTs
it to our callback over HTTP, retries like WeChat when no answer comes in time, and reads the passive
reply it got (decrypting and checking it in safe mode).

`WeChatServer(base_url, token, app_id, aes_key)` is one official account's side; `server.user(openid)`
is a follower whose methods return callback XML (text, image, voice, location, link, events, menu taps).
`await server.post(xml)` delivers one; the `Delivery` says what each try got and the reply it read.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import xmltodict
from wechatpy.crypto import PrpCrypto, WeChatCrypto

from tests.support.wechat_api import APP_ID, WeChatApi

ACCOUNT = "gh_0123456789ab"  # the official account's own id (ToUserName)
TOKEN = "linliWechatToken2026"  # 3 to 32 letters or digits, as the console takes
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as the console gives one
TRIES = 3  # WeChat gives up after three tries
TIMEOUT = 5.0  # seconds WeChat waits for each answer


def cdata(value: str) -> str:
    """A CDATA section holding `value` (a `]]>` inside is split across two sections)."""
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def build_xml(fields: dict[str, str | int | float]) -> str:
    """Callback XML as WeChat writes it: strings in CDATA, numbers bare."""
    inner = "".join(
        f"<{name}>{value if isinstance(value, int | float) else cdata(str(value))}</{name}>"
        for name, value in fields.items()
    )
    return f"<xml>{inner}</xml>"


def sign(*parts: str) -> str:
    """WeChat's signature: sha1 of the parts sorted and joined."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


@dataclass
class Try:
    """One POST of a callback: its HTTP status and body, or the error when no answer came in time."""

    status: int | None
    body: bytes = b""
    error: str = ""


@dataclass
class Delivery:
    """What delivering one callback came to: every try, and the passive reply read from the last answer."""

    tries: list[Try] = field(default_factory=list)
    reply: dict[str, Any] | None = None  # the passive reply's XML fields; None for "success" or ""

    @property
    def status(self) -> int | None:
        """The HTTP status of the last try (None when it got no answer)."""
        return self.tries[-1].status if self.tries else None

    @property
    def body(self) -> bytes:
        """The raw body of the last answer."""
        return self.tries[-1].body if self.tries else b""

    @property
    def text(self) -> str:
        """The passive reply's text ("" when the answer was "success" or not text)."""
        if self.reply is None or self.reply.get("MsgType") != "text":
            return ""
        return str(self.reply.get("Content") or "")

    @property
    def success(self) -> bool:
        """Whether the answer was the plain "success" (or empty) that tells WeChat nothing passive."""
        return self.status == 200 and self.body.strip() in (b"success", b"")


@dataclass
class WxUser:
    """A follower of the account; each method returns one callback's XML (not yet delivered)."""

    server: WeChatServer
    openid: str

    def _base(self, msg_type: str) -> dict[str, str | int | float]:
        return {
            "ToUserName": self.server.account,
            "FromUserName": self.openid,
            "CreateTime": self.server.create_time(),
            "MsgType": msg_type,
        }

    def _message(self, msg_type: str, **fields: str | int | float) -> str:
        return build_xml({**self._base(msg_type), **fields, "MsgId": self.server.next_msg_id()})

    def _event(self, event: str, **fields: str | int | float) -> str:
        return build_xml({**self._base("event"), "Event": event, **fields})

    def text(self, content: str) -> str:
        """A text message."""
        return self._message("text", Content=content)

    def tap(self, item_id: str, content: str) -> str:
        """A tap on a 客服 menu item: a text message carrying the item's id as bizmsgmenuid."""
        return self._message("text", Content=content, bizmsgmenuid=item_id)

    def image(self, media_id: str, pic_url: str = "") -> str:
        """An image message: WeChat's PicUrl and MediaId (the double's when it is attached)."""
        api = self.server.api
        url = pic_url or (api.pic_url(media_id) if api else f"http://mmbiz.qpic.cn/{media_id}")
        return self._message("image", PicUrl=url, MediaId=media_id)

    def voice(self, media_id: str, recognition: str | None = None, fmt: str = "amr") -> str:
        """A voice message; `recognition` is WeChat's speech-to-text when the account has it on."""
        extra: dict[str, str | int | float] = {"MediaId": media_id, "Format": fmt}
        if recognition is not None:
            extra["Recognition"] = recognition
        return self._message("voice", **extra)

    def location(self, latitude: float, longitude: float, label: str = "", scale: int = 15) -> str:
        """A location message (Location_X is the latitude, Location_Y the longitude)."""
        return self._message("location", Location_X=latitude, Location_Y=longitude, Scale=scale, Label=label)

    def link(self, title: str, url: str, description: str = "") -> str:
        """A shared link."""
        return self._message("link", Title=title, Description=description, Url=url)

    def unknown(self, msg_type: str = "hologram") -> str:
        """A message of a type nobody knows (yet)."""
        return self._message(msg_type, Content="?")

    def subscribe(self, scene: str = "") -> str:
        """Follow the account: plainly, or by scanning a parametric QR code (EventKey qrscene_<scene>)."""
        if not scene:
            return self._event("subscribe", EventKey="")
        return self._event("subscribe", EventKey=f"qrscene_{scene}", Ticket=secrets.token_hex(8))

    def scan(self, scene: str) -> str:
        """Scan a parametric QR code while already following (EventKey is the bare scene)."""
        return self._event("SCAN", EventKey=scene, Ticket=secrets.token_hex(8))

    def unsubscribe(self) -> str:
        """Unfollow the account."""
        return self._event("unsubscribe", EventKey="")

    def click(self, key: str) -> str:
        """A press on a CLICK button of the account's menu."""
        return self._event("CLICK", EventKey=key)

    def view(self, url: str) -> str:
        """A press on a VIEW (link) button of the account's menu."""
        return self._event("VIEW", EventKey=url)

    def event(self, name: str, **fields: str | int | float) -> str:
        """Any event, e.g. one nobody handles."""
        return self._event(name, **fields)


class WeChatServer:
    """One official account's WeChat side: signs, encrypts, posts and retries callbacks to us."""

    def __init__(
        self,
        base_url: str,
        token: str = TOKEN,
        app_id: str = APP_ID,
        aes_key: str = "",
        api: WeChatApi | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        path: str = "/wechat/callback",
        timeout: float = TIMEOUT,
        retry_delay: float = 0.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        account: str = ACCOUNT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.app_id = app_id
        self.aes_key = aes_key
        self.api = api
        self.transport = transport
        self.path = path
        self.timeout = timeout
        self.retry_delay = retry_delay  # WeChat's next try follows its 5 s timeout; tests make it short
        self.sleep = sleep
        self.clock = clock
        self.account = account
        self._msg_ids = itertools.count(int(time.time() * 1000) * 1000 % 10**18)

    def user(self, openid: str) -> WxUser:
        """A follower who builds callbacks addressed to this account."""
        return WxUser(self, openid)

    def next_msg_id(self) -> int:
        """A fresh 64-bit MsgId."""
        return next(self._msg_ids)

    def create_time(self) -> int:
        """CreateTime: epoch seconds by the server's clock."""
        return int(self.clock())

    def client(self) -> httpx.AsyncClient:
        """An HTTP client to our callback (over the given transport, else the network)."""
        return httpx.AsyncClient(base_url=self.base_url, transport=self.transport, timeout=self.timeout)

    def signed_query(self, body: str | None = None) -> tuple[dict[str, str], str]:
        """The query WeChat adds to a callback, and the body to post (encrypted in safe mode)."""
        timestamp, nonce = str(int(self.clock())), secrets.token_hex(5)
        query = {"signature": sign(self.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
        if body is None or not self.aes_key:
            return query, body or ""
        key = WeChatCrypto(self.token, self.aes_key, self.app_id).key
        encrypt = PrpCrypto(key).encrypt(body, self.app_id).decode()
        query |= {"encrypt_type": "aes", "msg_signature": sign(self.token, timestamp, nonce, encrypt)}
        return query, build_xml({"ToUserName": self.account, "Encrypt": encrypt})

    async def verify(self, echostr: str = "", forged: bool = False) -> httpx.Response:
        """The console's URL check: GET with signature, timestamp, nonce and echostr."""
        query, _ = self.signed_query()
        if forged:
            query["signature"] = "0" * 40
        query["echostr"] = echostr or secrets.token_hex(8)
        async with self.client() as client:
            return await client.get(self.path, params=query)

    def _note(self, xml: str) -> None:
        """Tell the API double of the follower's action, as WeChat's own servers know of it."""
        if self.api is None:
            return
        fields = xmltodict.parse(xml)["xml"]
        openid = str(fields.get("FromUserName") or "")
        if fields.get("MsgType") == "event" and str(fields.get("Event")) == "unsubscribe":
            self.api.unfollow(openid)
        elif openid:
            self.api.note_inbound(openid, self.clock())

    async def post(
        self,
        xml: str,
        tries: int = TRIES,
        forged: bool = False,
        query: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Delivery:
        """Deliver a callback: up to `tries` POSTs, the next only when one got no answer in time (or a
        5xx), as WeChat does; reads the passive reply of the answer. `forged` spoils the signatures,
        `query`/`raw` override what is sent (for bad input)."""
        self._note(xml)
        signed, body = self.signed_query(xml)
        if forged:
            signed["signature"] = "f" * 40
            if "msg_signature" in signed:
                signed["msg_signature"] = "f" * 40
        params = query if query is not None else signed
        content = raw if raw is not None else body.encode()
        delivery = Delivery()
        async with self.client() as client:
            for attempt in range(tries):
                if attempt:
                    await self.sleep(self.retry_delay)
                try:
                    response = await client.post(
                        self.path, params=params, content=content, headers={"Content-Type": "text/xml"}
                    )
                except httpx.TimeoutException as exc:
                    delivery.tries.append(Try(None, error=f"timeout: {type(exc).__name__}"))
                    continue
                except httpx.TransportError as exc:
                    delivery.tries.append(Try(None, error=f"{type(exc).__name__}: {exc}"))
                    continue
                delivery.tries.append(Try(response.status_code, response.content))
                if response.status_code < 500:
                    break
        if delivery.status == 200 and not delivery.success:
            delivery.reply = self.read_reply(delivery.body)
        return delivery

    def read_reply(self, body: bytes) -> dict[str, Any]:
        """The passive reply's fields; in safe mode it must be encrypted and signed, or this fails."""
        fields: dict[str, Any] = xmltodict.parse(body)["xml"]
        if not self.aes_key:
            assert "Encrypt" not in fields, "an encrypted reply in plaintext mode"
            return fields
        assert "Encrypt" in fields, f"a plaintext reply in safe mode: {body[:200]!r}"
        crypto = WeChatCrypto(self.token, self.aes_key, self.app_id)
        plain = crypto.decrypt_message(
            body, fields["MsgSignature"], str(fields["TimeStamp"]), str(fields["Nonce"])
        )
        decrypted: dict[str, Any] = xmltodict.parse(plain)["xml"]
        return decrypted
