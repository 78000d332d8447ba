"""A WeCom (企业微信) API double: answers the app-message endpoints from memory, over HTTP on localhost.

`WeComApi` is the core: it records every call (path, query, JSON body, when), issues and revokes access
tokens, delivers app messages (text, markdown, image, template cards with buttons) while keeping WeCom's
per-member limits (30 a minute, 1 000 an hour), updates cards after a press, and keeps uploaded media.
Errors can be injected for the next calls of a path. `WeComApiServer` serves it at
`http://127.0.0.1:<port>/cgi-bin/...` so the real client (wechatpy over requests) talks to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from tests.support.served import AsgiServer
from tests.support.wecom_records import (
    AGENT_ID,
    ALL_INVALID,
    CONTENT_TOO_LONG,
    CORP_ID,
    EMPTY_CONTENT,
    EXPIRED_ACCESS_TOKEN,
    FREQUENCY_LIMIT,
    INVALID_ACCESS_TOKEN,
    INVALID_CORP_ID,
    INVALID_CREDENTIAL,
    INVALID_MEDIA_ID,
    INVALID_PARAMETER,
    INVALID_RESPONSE_CODE,
    JSON,
    PER_HOUR,
    PER_MINUTE,
    SECRET,
    TEXT_BYTES,
    Card,
    Received,
    Refused,
    WeComCall,
    check_card,
)

__all__ = ["AGENT_ID", "CORP_ID", "FREQUENCY_LIMIT", "SECRET", "Card", "WeComApi", "WeComApiServer"]


class WeComApi:
    """The in-memory WeCom API for one app (corp id, secret, agent id)."""

    def __init__(
        self,
        corp_id: str = CORP_ID,
        secret: str = SECRET,
        agent_id: int = AGENT_ID,
        clock: Callable[[], float] = time.monotonic,
        expires_in: int = 7200,
    ) -> None:
        self.corp_id = corp_id
        self.secret = secret
        self.agent_id = agent_id
        self.clock = clock
        self.expires_in = expires_in
        self.calls: list[WeComCall] = []
        self.tokens: dict[str, float] = {}  # token → when it expires (the double's clock)
        self.revoked: set[str] = set()
        self.members: set[str] | None = None  # the app's visible range; None: every userid is a member
        self.received: list[Received] = []
        self.cards: dict[str, Card] = {}  # by task_id
        self.media: dict[str, tuple[bytes, str, str]] = {}  # media_id → (bytes, content type, filename)
        self.menu: JSON | None = None  # the app's menu, once published
        self.limited: list[WeComCall] = []  # sends refused because a member's limit was reached
        self._injected: dict[str, deque[tuple[int, str]]] = {}
        self._sent_to: dict[str, deque[float]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # --- what tests use -------------------------------------------------------------------------

    def fail(self, path: str, errcode: int, times: int = 1, errmsg: str = "") -> None:
        """Answer the next `times` calls of `path` (e.g. "message/send") with this errcode."""
        with self._lock:
            queue = self._injected.setdefault(path.strip("/"), deque())
            queue.extend([(errcode, errmsg)] * times)

    def revoke(self, token: str | None = None) -> None:
        """Invalidate one issued token (or all): calls with it are answered 40014."""
        with self._lock:
            self.revoked.update([token] if token else list(self.tokens))

    def expire(self) -> None:
        """Let every issued token run out: calls with them are answered 42001."""
        with self._lock:
            now = self.clock()
            self.tokens = {token: min(at, now) for token, at in self.tokens.items()}

    def add_media(self, data: bytes, content_type: str = "image/jpeg", filename: str = "photo.jpg") -> str:
        """Keep a file as WeCom keeps a member's upload; returns its media_id for a callback."""
        media_id = f"MEDIA{next(self._ids):06d}{secrets.token_hex(8)}"
        with self._lock:
            self.media[media_id] = (data, content_type, filename)
        return media_id

    def calls_to(self, path: str) -> list[WeComCall]:
        """Recorded calls of one path (after /cgi-bin/)."""
        path = path.strip("/")
        return [c for c in list(self.calls) if c.path == path]

    def messages(self, userid: str, msgtype: str | None = None) -> list[Received]:
        """What a member received, oldest first, optionally of one type."""
        return [r for r in list(self.received) if r.userid == userid and msgtype in (None, r.msgtype)]

    def texts(self, userid: str) -> list[str]:
        """The contents of every text and markdown message a member received."""
        return [r.text for r in self.messages(userid) if r.msgtype in ("text", "markdown")]

    def everything(self, userid: str) -> list[str]:
        """The text of every message a member received (texts, markdown and cards), oldest first."""
        return [r.text for r in self.messages(userid)]

    def cards_of(self, userid: str) -> list[Card]:
        """The template cards a member received, oldest first."""
        return [c for c in list(self.cards.values()) if c.userid == userid]

    def last_card(self, userid: str, containing: str = "") -> Card:
        """The newest card a member received (whose text contains `containing`)."""
        for card in reversed(self.cards_of(userid)):
            if containing in card.text:
                return card
        raise AssertionError(f"{userid} received no card with {containing!r}: {self.everything(userid)}")

    def images(self, userid: str) -> list[bytes]:
        """The bytes of every image a member received."""
        out = []
        for r in self.messages(userid, "image"):
            media = self.media.get(str(r.body.get("image", {}).get("media_id", "")))
            if media is not None:
                out.append(media[0])
        return out

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
        """Block until predicate() holds (the bot answers after the callback returned); fail with the
        recent calls when the deadline passes."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                recent = [(c.path, c.errcode, c.touser) for c in self.calls[-15:]]
                raise AssertionError(f"timed out waiting for {what or predicate}; last calls: {recent}")
            time.sleep(0.01)

    async def until(self, predicate: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
        """`wait_for` for a test running in an event loop (the double may be served by that same loop)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                recent = [(c.path, c.errcode, c.touser) for c in self.calls[-15:]]
                raise AssertionError(f"timed out waiting for {what or predicate}; last calls: {recent}")
            await asyncio.sleep(0.02)

    # --- the API --------------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: dict[str, str], body: JSON | None, upload: bytes | None = None
    ) -> tuple[JSON, bytes | None, str]:
        """Answer one request: (JSON answer, or the bytes of a file with its content type)."""
        path = path.strip("/")
        call = WeComCall(method.upper(), path, dict(query), body, self.clock())
        with self._lock:
            self.calls.append(call)
            injected = self._injected.get(path)
            try:
                if injected:
                    raise Refused(*injected.popleft())
                if path == "gettoken":
                    answer: JSON = self._token(query)
                else:
                    self._check_token(query.get("access_token", ""))
                    if path == "media/get":
                        data, content_type, _ = self._media(query)
                        call.answer = {"errcode": 0, "bytes": len(data)}
                        return {}, data, content_type
                    answer = self._route(path, query, body, upload, call)
            except Refused as refused:
                call.errcode = refused.errcode
                answer = {"errcode": refused.errcode, "errmsg": refused.errmsg}
            else:
                answer = {"errcode": 0, "errmsg": "ok", **answer}
            call.answer = answer
            return answer, None, ""

    def _route(
        self, path: str, query: dict[str, str], body: JSON | None, upload: bytes | None, call: WeComCall
    ) -> JSON:
        if path == "message/send":
            return self._send(body or {}, call)
        if path == "message/update_template_card":
            return self._update_card(body or {})
        if path == "media/upload":
            return self._upload(query, upload)
        if path == "menu/create":
            return self._menu_create(query, body or {})
        raise Refused(INVALID_PARAMETER, f"no such path {path}")

    def _menu_create(self, query: dict[str, str], body: JSON) -> JSON:
        """The app's menu: at most three buttons, five below each, names within WeCom's lengths."""
        buttons = body.get("button")
        if str(query.get("agentid")) != str(self.agent_id) or not isinstance(buttons, list):
            raise Refused(INVALID_PARAMETER, "menu/create needs the agentid and a button list")
        if not 0 < len(buttons) <= 3 or any(len(b.get("sub_button", [])) > 5 for b in buttons):
            raise Refused(INVALID_PARAMETER, "at most 3 buttons with 5 below each")
        for button in [*buttons, *(s for b in buttons for s in b.get("sub_button", []))]:
            if not button.get("name") or len(str(button["name"]).encode()) > 16:
                raise Refused(INVALID_PARAMETER, f"bad button name {button.get('name')!r}")
        self.menu = body
        return {}

    def _token(self, query: dict[str, str]) -> JSON:
        if query.get("corpid") != self.corp_id:
            raise Refused(INVALID_CORP_ID, "invalid corpid")
        if query.get("corpsecret") != self.secret:
            raise Refused(INVALID_CREDENTIAL, "invalid credential")
        token = f"WECOMTOKEN{next(self._ids):04d}{secrets.token_hex(12)}"
        self.tokens[token] = self.clock() + self.expires_in
        return {"access_token": token, "expires_in": self.expires_in}

    def _check_token(self, token: str) -> None:
        if token not in self.tokens or token in self.revoked:
            raise Refused(INVALID_ACCESS_TOKEN, "invalid access_token")
        if self.tokens[token] <= self.clock():
            raise Refused(EXPIRED_ACCESS_TOKEN, "access_token expired")

    def _media(self, query: dict[str, str]) -> tuple[bytes, str, str]:
        media = self.media.get(query.get("media_id", ""))
        if media is None:
            raise Refused(INVALID_MEDIA_ID, "invalid media_id")
        return media

    def _upload(self, query: dict[str, str], upload: bytes | None) -> JSON:
        kind = query.get("type", "")
        if kind not in ("image", "voice", "video", "file") or not upload:
            raise Refused(INVALID_PARAMETER, "invalid media type or empty file")
        media_id = f"UP{next(self._ids):06d}{secrets.token_hex(8)}"
        self.media[media_id] = (upload, "image/jpeg" if kind == "image" else "application/octet-stream", "")
        return {"type": kind, "media_id": media_id, "created_at": str(int(time.time()))}

    def _send(self, body: JSON, call: WeComCall) -> JSON:
        if body.get("agentid") != self.agent_id:
            raise Refused(INVALID_PARAMETER, "invalid agentid")
        users = call.touser
        valid = [u for u in users if self.members is None or u in self.members]
        invalid = [u for u in users if u not in valid]
        if not valid:
            raise Refused(ALL_INVALID, f"user & party & tag all invalid, invaliduser {'|'.join(invalid)}")
        msgtype = str(body.get("msgtype", ""))
        content = self._content(msgtype, body)
        now = self.clock()
        for userid in valid:
            if not self._room(userid, now):
                self.limited.append(call)
                raise Refused(FREQUENCY_LIMIT, "api freq out of limit")
        answer: JSON = {"invaliduser": "|".join(invalid), "msgid": f"msg{next(self._ids)}"}
        for userid in valid:
            self._sent_to.setdefault(userid, deque()).append(now)
            self.received.append(Received(userid, msgtype, body, now))
            if msgtype == "template_card":
                code = secrets.token_hex(16)
                self.cards[content["task_id"]] = Card(userid, content["task_id"], content, code)
                answer["response_code"] = code
        return answer

    def _room(self, userid: str, now: float) -> bool:
        """Whether one more message to the member keeps within 30 a minute and 1 000 an hour."""
        sent = self._sent_to.setdefault(userid, deque())
        while sent and sent[0] <= now - 3600:
            sent.popleft()
        last_minute = sum(1 for at in sent if at > now - 60)
        return last_minute < PER_MINUTE and len(sent) < PER_HOUR

    def _content(self, msgtype: str, body: JSON) -> JSON:
        part = body.get(msgtype)
        if not isinstance(part, dict):
            raise Refused(INVALID_PARAMETER, f"missing {msgtype}")
        if msgtype in ("text", "markdown"):
            text = str(part.get("content", ""))
            if not text.strip():
                raise Refused(EMPTY_CONTENT, "empty content")
            if len(text.encode()) > TEXT_BYTES:
                raise Refused(CONTENT_TOO_LONG, "content size out of limit")
        elif msgtype == "image":
            if str(part.get("media_id", "")) not in self.media:
                raise Refused(INVALID_MEDIA_ID, "invalid media_id")
        elif msgtype == "template_card":
            check_card(part, self.cards)
        else:
            raise Refused(INVALID_PARAMETER, f"msgtype {msgtype} not supported by the double")
        return part

    def _update_card(self, body: JSON) -> JSON:
        if body.get("agentid") != self.agent_id:
            raise Refused(INVALID_PARAMETER, "invalid agentid")
        code = str(body.get("response_code", ""))
        card = next((c for c in self.cards.values() if c.response_code == code and code), None)
        if card is None:
            raise Refused(INVALID_RESPONSE_CODE, "invalid response_code (unknown or used)")
        replace = str((body.get("button") or {}).get("replace_name", ""))
        if not replace:
            raise Refused(INVALID_PARAMETER, "button.replace_name is required")
        card.replaced = replace
        card.response_code = ""  # a response code updates a card once
        return {}

    def press_code(self, task_id: str) -> str:
        """A fresh ResponseCode for a press on this card (what WeCom puts in the event)."""
        with self._lock:
            card = self.cards[task_id]
            card.response_code = secrets.token_hex(16)
            return card.response_code


def asgi_app(api: WeComApi) -> Any:
    """The WeComApi as a Starlette app at /cgi-bin/<path> (GET or POST; JSON or multipart)."""
    from starlette.applications import Starlette
    from starlette.datastructures import UploadFile
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def endpoint(request: Request) -> Response:
        query = dict(request.query_params)
        body: JSON | None = None
        upload: bytes | None = None
        content_type = request.headers.get("content-type", "")
        if "multipart/form-data" in content_type:
            form = await request.form()
            media = form.get("media")
            if isinstance(media, UploadFile):
                upload = await media.read()
        elif request.method == "POST":
            raw = await request.body()
            with contextlib.suppress(ValueError):
                parsed = json.loads(raw) if raw else None
                body = parsed if isinstance(parsed, dict) else None
            if body is None:
                return JSONResponse({"errcode": 47001, "errmsg": "data format error"})
        answer, data, data_type = await asyncio.to_thread(
            api.handle, request.method, request.path_params["path"], query, body, upload
        )
        if data is not None:
            headers = {"Content-Disposition": 'attachment; filename="media"'}
            return Response(data, media_type=data_type, headers=headers)
        return JSONResponse(answer)

    return Starlette(routes=[Route("/cgi-bin/{path:path}", endpoint, methods=["GET", "POST"])])


class WeComApiServer(AsgiServer):
    """Serves a WeComApi over HTTP on 127.0.0.1: inside a running event loop (`async with`), or in a
    thread of its own (`with`) for tests that call the app synchronously; `url` is WECOM_API_BASE_URL."""

    def __init__(self, api: WeComApi, port: int | None = None) -> None:
        super().__init__(asgi_app(api), port, "the WeCom API double")
        self.api = api
