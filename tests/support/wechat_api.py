"""A WeChat Official Account API double: answers the OA API from memory, in-process or over HTTP.
It also plays WeChat's OAuth authorize page, so one double can serve as both hosts.

`WeChatApi` is the core: it records every call (path, query, JSON body, monotonic time), issues and
revokes access tokens (plain and stable), keeps each follower's 48-hour 客服 window (told of inbound
messages by the callback poster or `note_inbound`), stores media, QR tickets and OAuth codes, and can
answer the next N calls of a path with an injected errcode. `InProcessAdapter` plugs it into `requests`
(what wechatpy's client uses) without sockets; `WeChatApiServer` serves it on 127.0.0.1 with uvicorn.
Its clock is a callable returning epoch seconds, so tests move the 48-hour window without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import hashlib
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from tests.support.served import AsgiServer

JSON = dict[str, Any]
APP_ID = "wx0123456789abcdef"
SECRET = "test-app-secret-0123456789abcdef"
WINDOW = 48 * 3600  # seconds after a follower's last message in which 客服 messages may reach them
TEXT_BYTES = 2048  # what one 客服 text may carry
MENU_ITEMS = 10  # items one msgmenu may hold
IN_PROCESS_BASE = "http://wechat-api.test"  # the base URL the in-process adapter is mounted on
ERRMSG = {
    0: "ok",
    40001: "invalid credential, access_token is invalid or not latest",
    40003: "invalid openid",
    40007: "invalid media_id",
    40013: "invalid appid",
    40014: "invalid access_token",
    40016: "invalid button size",
    40018: "invalid button name size",
    40019: "invalid button key size",
    40029: "invalid code",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    41001: "access_token missing",
    42001: "access_token expired",
    43004: "require subscribe",
    43101: "user refuse to accept the msg",
    44002: "empty post data",
    45002: "content size out of limit",
    45009: "reach max api daily quota limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    47001: "data format error",
}
QR_KINDS = ("QR_SCENE", "QR_STR_SCENE", "QR_LIMIT_SCENE", "QR_LIMIT_STR_SCENE")
AUTHORIZE = "/connect/oauth2/authorize"  # on the open host (WECHAT_OPEN_BASE_URL): point it here too
# Endpoints that need no access token.
OPEN_PATHS = ("/cgi-bin/token", "/cgi-bin/stable_token", "/sns/oauth2/access_token")


class WxError(Exception):
    """An error the double answers as `{"errcode": …, "errmsg": …}`."""

    def __init__(self, errcode: int, errmsg: str = "") -> None:
        super().__init__(errmsg or ERRMSG.get(errcode, "error"))
        self.errcode = errcode
        self.errmsg = errmsg or ERRMSG.get(errcode, "error")


@dataclass
class WxCall:
    """One API call: what was asked and what the double answered (errcode 0 when it succeeded)."""

    path: str
    query: dict[str, str]
    body: Any  # the decoded JSON body, a dict of multipart fields, or None
    at: float = field(default_factory=time.monotonic)
    errcode: int = 0
    answer: Any = None

    @property
    def ok(self) -> bool:
        """Whether the double answered it without an error."""
        return self.errcode == 0

    @property
    def touser(self) -> str:
        """The openid a send went to ("" for other calls)."""
        return str(self.body.get("touser", "")) if isinstance(self.body, dict) else ""

    @property
    def msgtype(self) -> str:
        """The kind of 客服 message sent (text, image, msgmenu …), "" for other calls."""
        return str(self.body.get("msgtype", "")) if isinstance(self.body, dict) else ""

    @property
    def text(self) -> str:
        """The text of a 客服 text message, or the head of a msgmenu."""
        if not isinstance(self.body, dict):
            return ""
        if self.msgtype == "text":
            return str(self.body.get("text", {}).get("content", ""))
        if self.msgtype == "msgmenu":
            return str(self.body.get("msgmenu", {}).get("head_content", ""))
        return ""


@dataclass
class Follower:
    """What the double knows of one openid: following or not, and its 客服 window."""

    followed: bool = True
    last_inbound: float | None = None
    window_sent: int = 0


@dataclass
class Media:
    """A stored media file."""

    data: bytes
    content_type: str
    kind: str  # image | voice | thumb | video


class WeChatApi:
    """The in-memory OA API; `handle` answers one HTTP request, whatever carried it."""

    def __init__(
        self,
        app_id: str = APP_ID,
        secret: str = SECRET,
        clock: Callable[[], float] = time.time,
        token_ttl: int = 7200,
        window_messages: int = 20,
    ) -> None:
        self.app_id = app_id
        self.secret = secret
        self.clock = clock
        self.token_ttl = token_ttl
        self.window_messages = window_messages
        self.base_url = IN_PROCESS_BASE  # set to the server's address when served over HTTP
        self.in_wechat = ""  # the openid WeChat's authorize page signs in (the phone's owner)
        self.calls: list[WxCall] = []
        self.followers: dict[str, Follower] = {}
        self.media: dict[str, Media] = {}
        self.menu: JSON | None = None
        self.qr_tickets: dict[str, JSON] = {}
        self.tokens: dict[str, float] = {}  # token → epoch seconds it expires at
        self.revoked: set[str] = set()
        self.stable: str = ""  # the stable token handed out until it expires or is forced anew
        self.stable_forced = 0  # how many stable_token calls asked force_refresh
        self.issued: list[str] = []  # every token issued, in order
        self._injected: dict[str, list[tuple[int, str]]] = {}
        self._codes: dict[str, str] = {}  # OAuth code → openid (one use each)
        self._ids = itertools.count(1000)
        self._lock = threading.Lock()
        self._routes: dict[str, Callable[[WxCall, bytes], Any]] = {
            "/cgi-bin/token": self._token,
            "/cgi-bin/stable_token": self._stable_token,
            "/cgi-bin/message/custom/send": self._custom_send,
            "/cgi-bin/message/template/send": self._template_send,
            "/cgi-bin/menu/create": self._menu_create,
            "/cgi-bin/menu/get": lambda call, raw: {"menu": self.menu} if self.menu else _raise(46003),
            "/cgi-bin/media/upload": self._media_upload,
            "/cgi-bin/media/get": self._media_get,
            "/cgi-bin/qrcode/create": self._qrcode_create,
            "/sns/oauth2/access_token": self._oauth_token,
        }

    # --- what tests use -------------------------------------------------------------------------

    def inject(self, path: str, errcode: int, times: int = 1, errmsg: str = "") -> None:
        """Answer the next `times` calls of `path` (e.g. /cgi-bin/message/custom/send) with `errcode`."""
        with self._lock:
            self._injected.setdefault(path, []).extend([(errcode, errmsg)] * times)

    def revoke(self, token: str | None = None) -> None:
        """Invalidate one issued token (default: every one); calls with it then get 40001."""
        with self._lock:
            revoked = [token] if token else list(self.tokens)
            self.revoked.update(revoked)
            if self.stable in revoked:
                self.stable = ""

    def follow(self, openid: str) -> Follower:
        """Make `openid` a follower (without opening its 客服 window)."""
        with self._lock:
            follower = self.followers.setdefault(openid, Follower())
            follower.followed = True
            return follower

    def unfollow(self, openid: str) -> None:
        """The person unfollowed: sends to them get 43004 from now on."""
        with self._lock:
            self.followers.setdefault(openid, Follower()).followed = False

    def note_inbound(self, openid: str, at: float | None = None) -> None:
        """The follower wrote or tapped: their 48-hour window (and its message count) starts now."""
        with self._lock:
            follower = self.followers.setdefault(openid, Follower())
            follower.followed = True
            follower.last_inbound = self.clock() if at is None else at
            follower.window_sent = 0

    def add_media(self, data: bytes, content_type: str = "image/jpeg", kind: str = "image") -> str:
        """Store a media file as WeChat would for an inbound image or voice; returns its MediaId."""
        media_id = f"{kind}-{next(self._ids)}-{secrets.token_hex(4)}"
        with self._lock:
            self.media[media_id] = Media(data, content_type, kind)
        return media_id

    def pic_url(self, media_id: str) -> str:
        """Where an inbound image's PicUrl points (served by the double)."""
        return f"{self.base_url}/mmbiz/{media_id}"

    def _authorize(self, query: dict[str, str]) -> str:
        """Where WeChat's authorize page sends the browser: redirect_uri with a code for whoever is
        `in_wechat` now (and the state), or without a code when nobody is or the appid is wrong."""
        redirect = query.get("redirect_uri", "")
        openid = self.in_wechat if query.get("appid") == self.app_id else ""
        answer = {"state": query.get("state", "")}
        if openid and query.get("scope") in ("snsapi_base", "snsapi_userinfo"):
            answer = {"code": self.oauth_code(openid), **answer}
        return f"{redirect}{'&' if '?' in redirect else '?'}{urlencode(answer)}"

    def oauth_code(self, openid: str) -> str:
        """A one-use OAuth code that /sns/oauth2/access_token turns into this openid."""
        code = secrets.token_hex(8)
        with self._lock:
            self._codes[code] = openid
        return code

    def calls_to(self, path: str, openid: str | None = None) -> list[WxCall]:
        """Recorded calls of one path, optionally only those addressed to one openid."""
        return [c for c in list(self.calls) if c.path == path and (openid is None or c.touser == openid)]

    def custom_to(self, openid: str) -> list[WxCall]:
        """The 客服 messages that reached `openid`, in order."""
        return [c for c in self.calls_to("/cgi-bin/message/custom/send", openid) if c.ok]

    def texts_to(self, openid: str) -> list[str]:
        """The 客服 texts that reached `openid`, in order."""
        return [c.text for c in self.custom_to(openid) if c.msgtype == "text"]

    def menus_to(self, openid: str) -> list[JSON]:
        """The 客服 msgmenu messages that reached `openid`: head_content, list, tail_content."""
        return [dict(c.body["msgmenu"]) for c in self.custom_to(openid) if c.msgtype == "msgmenu"]

    def images_to(self, openid: str) -> list[bytes]:
        """The images sent to `openid` by 客服 message, as the bytes uploaded."""
        found = []
        for call in self.custom_to(openid):
            if call.msgtype == "image":
                media = self.media.get(str(call.body["image"]["media_id"]))
                found.append(media.data if media else b"")
        return found

    def templates_to(self, openid: str) -> list[JSON]:
        """The template messages that reached `openid`: template_id, url, data."""
        return [dict(c.body) for c in self.calls_to("/cgi-bin/message/template/send", openid) if c.ok]

    def said_to(self, openid: str) -> list[str]:
        """Everything `openid` read from us by 客服 message: texts and menus' heads, in order."""
        return [c.text for c in self.custom_to(openid) if c.msgtype in ("text", "msgmenu")]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
        """Poll until predicate() is true; fail with the recent calls when the deadline passes."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                recent = [(c.path, c.errcode, c.touser, c.text[:30]) for c in self.calls[-12:]]
                raise AssertionError(f"timed out waiting for {what or predicate}; last calls: {recent}")
            await asyncio.sleep(0.02)

    # --- the API ------------------------------------------------------------------------------------

    def handle(
        self, method: str, url: str, body: bytes = b"", content_type: str = ""
    ) -> tuple[int, str, bytes]:
        """Answer one request: (HTTP status, content type, body). Errors are JSON with HTTP 200, as
        WeChat answers them; a 302's body is the Location it sends the browser to."""
        parts = urlsplit(url)
        path, query = parts.path, dict(parse_qsl(parts.query, keep_blank_values=True))
        if path == AUTHORIZE:  # WeChat's authorize page: back to redirect_uri with a code, or a refusal
            return 302, "text/plain", self._authorize(query).encode()
        if path.startswith("/mmbiz/"):  # a PicUrl: a plain download, no token
            media = self.media.get(path.removeprefix("/mmbiz/"))
            if media is None:
                return 404, "text/plain", b"not found"
            return 200, media.content_type, media.data
        call = WxCall(path, query, _decode_body(body, content_type))
        with self._lock:
            self.calls.append(call)
            injected = self._injected.get(path)
            planted = injected.pop(0) if injected else None
        try:
            if planted is not None:
                raise WxError(*planted)
            route = self._routes.get(path)
            if route is None:
                return 404, "text/plain", b"no such API"
            if path not in OPEN_PATHS:
                self._check_token(query.get("access_token", ""))
            answer = route(call, body)
        except WxError as exc:
            call.errcode = exc.errcode
            call.answer = {"errcode": exc.errcode, "errmsg": exc.errmsg}
            return 200, "application/json", json.dumps(call.answer).encode()
        if isinstance(answer, Media):
            call.answer = {"media": len(answer.data)}
            return 200, answer.content_type, answer.data
        call.answer = answer
        return 200, "application/json", json.dumps(answer, ensure_ascii=False).encode()

    def _check_token(self, token: str) -> None:
        if not token:
            raise WxError(41001)
        with self._lock:
            expires = self.tokens.get(token)
            if expires is None or token in self.revoked:
                raise WxError(40001)
            if self.clock() >= expires:
                raise WxError(42001)

    def _issue(self) -> str:
        token = f"ACCESS_{next(self._ids)}_{secrets.token_hex(6)}"
        self.tokens[token] = self.clock() + self.token_ttl
        self.issued.append(token)
        return token

    def _credentials(self, appid: object, secret: object) -> None:
        if appid != self.app_id:
            raise WxError(40013)
        if secret != self.secret:
            raise WxError(40125)

    def _token(self, call: WxCall, raw: bytes) -> JSON:
        if call.query.get("grant_type") != "client_credential":
            raise WxError(47001)
        self._credentials(call.query.get("appid"), call.query.get("secret"))
        with self._lock:
            token = self._issue()
        return {"access_token": token, "expires_in": self.token_ttl}

    def _stable_token(self, call: WxCall, raw: bytes) -> JSON:
        body = call.body if isinstance(call.body, dict) else {}
        if body.get("grant_type") != "client_credential":
            raise WxError(47001)
        self._credentials(body.get("appid"), body.get("secret"))
        with self._lock:
            now = self.clock()
            current = self.stable
            alive = bool(current) and current not in self.revoked and self.tokens.get(current, 0) > now
            if body.get("force_refresh") is True:
                self.stable_forced += 1
                if current:
                    self.revoked.add(current)  # forcing a new one ends the old one
                alive = False
            if not alive:
                self.stable = self._issue()
            return {"access_token": self.stable, "expires_in": int(self.tokens[self.stable] - now)}

    def _recipient(self, call: WxCall) -> tuple[str, Follower]:
        body = call.body if isinstance(call.body, dict) else None
        if body is None:
            raise WxError(44002)
        openid = str(body.get("touser") or "")
        if not openid:
            raise WxError(40003)
        follower = self.followers.get(openid)
        if follower is None or not follower.followed:
            raise WxError(43004)
        return openid, follower

    def _custom_send(self, call: WxCall, raw: bytes) -> JSON:
        _, follower = self._recipient(call)
        body = call.body
        kind = body.get("msgtype")
        if kind == "text":
            content = str(body.get("text", {}).get("content", ""))
            if not content.strip():
                raise WxError(44002)
            if len(content.encode()) > TEXT_BYTES:
                raise WxError(45002)
        elif kind == "image":
            if str(body.get("image", {}).get("media_id", "")) not in self.media:
                raise WxError(40007)
        elif kind == "msgmenu":
            menu = body.get("msgmenu", {})
            items = menu.get("list", [])
            if not isinstance(items, list) or not 1 <= len(items) <= MENU_ITEMS:
                raise WxError(47001)
            if any(not str(i.get("id", "")) or not str(i.get("content", "")) for i in items):
                raise WxError(47001)
            if len(json.dumps(menu, ensure_ascii=False).encode()) > TEXT_BYTES:
                raise WxError(45002)
        else:
            raise WxError(47001)
        with self._lock:
            last = follower.last_inbound
            if last is None or self.clock() - last > WINDOW:
                raise WxError(45015)
            if follower.window_sent >= self.window_messages:
                raise WxError(45047)
            follower.window_sent += 1
        return {"errcode": 0, "errmsg": "ok"}

    def _template_send(self, call: WxCall, raw: bytes) -> JSON:
        self._recipient(call)
        body = call.body
        if not str(body.get("template_id") or ""):
            raise WxError(40037)
        data = body.get("data")
        if not isinstance(data, dict) or any(
            not isinstance(v, dict) or "value" not in v for v in data.values()
        ):
            raise WxError(47001)
        return {"errcode": 0, "errmsg": "ok", "msgid": next(self._ids)}

    def _menu_create(self, call: WxCall, raw: bytes) -> JSON:
        body = call.body if isinstance(call.body, dict) else {}
        buttons = body.get("button")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            raise WxError(40016)
        for top in buttons:
            if not 1 <= len(str(top.get("name", "")).encode()) <= 16:
                raise WxError(40018)
            subs = top.get("sub_button")
            items = subs if subs else [top]
            if subs is not None and len(subs) > 5:
                raise WxError(40016)
            for item in items:
                if item is not top and not 1 <= len(str(item.get("name", "")).encode()) <= 60:
                    raise WxError(40018)
                if item.get("type") == "click" and not 1 <= len(str(item.get("key", "")).encode()) <= 128:
                    raise WxError(40019)
                if item.get("type") == "view" and not str(item.get("url", "")):
                    raise WxError(47001)
        self.menu = body
        return {"errcode": 0, "errmsg": "ok"}

    def _media_upload(self, call: WxCall, raw: bytes) -> JSON:
        kind = call.query.get("type", "")
        fields = call.body if isinstance(call.body, dict) else {}
        upload = fields.get("media")
        if kind not in ("image", "voice", "video", "thumb") or not isinstance(upload, tuple):
            raise WxError(47001)
        _, content_type, data = upload
        media_id = self.add_media(data, content_type or "application/octet-stream", kind)
        return {"type": kind, "media_id": media_id, "created_at": int(self.clock())}

    def _media_get(self, call: WxCall, raw: bytes) -> Media:
        media = self.media.get(call.query.get("media_id", ""))
        if media is None:
            raise WxError(40007)
        return media

    def _qrcode_create(self, call: WxCall, raw: bytes) -> JSON:
        body = call.body if isinstance(call.body, dict) else {}
        scene = body.get("action_info", {}).get("scene", {})
        if body.get("action_name") not in QR_KINDS:
            raise WxError(47001)
        if not scene:
            raise WxError(47001)
        ticket = hashlib.sha1(json.dumps(scene, sort_keys=True).encode()).hexdigest()
        url = f"http://weixin.qq.com/q/{ticket[:22]}"
        with self._lock:
            self.qr_tickets[ticket] = {"scene": scene, "url": url}
        answer: JSON = {"ticket": ticket, "url": url}
        if "expire_seconds" in body:
            answer["expire_seconds"] = body["expire_seconds"]
        return answer

    def _oauth_token(self, call: WxCall, raw: bytes) -> JSON:
        query = call.query
        self._credentials(query.get("appid"), query.get("secret"))
        if query.get("grant_type") != "authorization_code":
            raise WxError(47001)
        with self._lock:
            openid = self._codes.pop(query.get("code", ""), None)
        if openid is None:
            raise WxError(40029)
        return {
            "access_token": f"OAUTH_{secrets.token_hex(6)}",
            "expires_in": 7200,
            "refresh_token": f"REFRESH_{secrets.token_hex(6)}",
            "openid": openid,
            "scope": "snsapi_base",
        }


def _raise(errcode: int) -> Any:
    raise WxError(errcode)


def _decode_body(body: bytes, content_type: str) -> Any:
    """A JSON body as a dict (wechatpy posts JSON without saying so), multipart fields as a dict of
    name → value or (filename, content type, bytes), else None."""
    if not body:
        return None
    if content_type.startswith("multipart/form-data"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        fields: JSON = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            if filename is not None:
                fields[str(name)] = (filename, part.get_content_type(), payload)
            else:
                fields[str(name)] = payload.decode("utf-8", "replace")
        return fields
    with contextlib.suppress(ValueError):
        return json.loads(body)
    return None


class InProcessAdapter(BaseAdapter):
    """A `requests` transport answering from a WeChatApi in memory: mount it on a session at
    IN_PROCESS_BASE (`session.mount(IN_PROCESS_BASE, InProcessAdapter(api))`)."""

    def __init__(self, api: WeChatApi) -> None:
        super().__init__()
        self.api = api

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        """Hand the request to the double and build the Response it answered."""
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        content_type = str(request.headers.get("Content-Type", ""))
        status, answer_type, content = self.api.handle(
            str(request.method), str(request.url), bytes(body), content_type
        )
        response = requests.Response()
        response.status_code = status
        headers = {"Content-Type": answer_type}
        if status == 302:
            headers["Location"] = content.decode()
        response.headers = CaseInsensitiveDict(headers)
        response._content = content
        response.url = str(request.url)
        response.request = request
        response.encoding = "utf-8" if "json" in answer_type or "text" in answer_type else None
        return response

    def close(self) -> None:
        """Nothing to close."""


def asgi_app(api: WeChatApi) -> Any:
    """The WeChatApi as a Starlette app answering every path."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        status, content_type, content = api.handle(
            request.method, url, body, request.headers.get("content-type", "")
        )
        if status == 302:
            return Response(status_code=302, headers={"Location": content.decode()})
        return Response(content, status_code=status, media_type=content_type)

    return Starlette(routes=[Route("/{path:path}", endpoint, methods=["GET", "POST"])])


class WeChatApiServer(AsgiServer):
    """Serves a WeChatApi over HTTP on 127.0.0.1; its `url` is what WECHAT_API_BASE_URL takes."""

    def __init__(self, api: WeChatApi, port: int | None = None) -> None:
        super().__init__(asgi_app(api), port, "the WeChat API double")
        self.api = api
        api.base_url = self.url  # PicUrls point here
