"""A Bot API double: answers Telegram Bot API methods from memory, in-process or over HTTP on localhost.

`BotApi` is the core: it records every call, queues updates for getUpdates (long polling included),
and builds real-shaped update JSON through `TgUser`. `InProcessRequest` plugs it into
python-telegram-bot as a `BaseRequest`; `BotApiServer` serves it at `http://127.0.0.1:<port>/bot<token>/<method>`
so the real HTTP client can talk to it. `NoNetworkRequest` fails on any call.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from telegram.error import NetworkError
from telegram.request import BaseRequest, RequestData

from tests.support.served import AsgiServer

JSON = dict[str, Any]
DEFAULT_TOKEN = "123:ABC"
_INT_PARAMS = ("chat_id", "offset", "limit", "timeout", "message_id", "user_id", "reply_to_message_id")
SEND_METHODS = ("sendMessage", "sendPhoto", "sendMediaGroup", "sendLocation", "sendDocument")


@dataclass
class ApiCall:
    """One Bot API call the bot made: method name, decoded parameters, and what the double answered."""

    method: str
    params: JSON
    status: int = 200
    result: Any = None
    at: float = field(default_factory=time.monotonic)  # when the double received it (monotonic seconds)

    @property
    def chat_id(self) -> int | None:
        """The target chat of a send, if any."""
        value = self.params.get("chat_id")
        return value if isinstance(value, int) else None

    @property
    def text(self) -> str:
        """The text (or caption) sent."""
        return str(self.params.get("text") or self.params.get("caption") or "")

    def buttons(self) -> list[tuple[str, str]]:
        """(label, callback_data) of every inline button in the call's reply_markup."""
        markup = self.params.get("reply_markup") or {}
        rows = markup.get("inline_keyboard", []) if isinstance(markup, dict) else []
        return [(b.get("text", ""), b.get("callback_data", "")) for row in rows for b in row]


def _coerce(params: JSON) -> JSON:
    """Decode form values (JSON-encoded objects, numeric ids) so both transports record the same params."""
    out: JSON = {}
    for key, value in params.items():
        if isinstance(value, str) and value[:1] in ("{", "["):
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        if key in _INT_PARAMS and isinstance(value, str) and re.fullmatch(r"-?\d+", value):
            value = int(value)
        if isinstance(value, str) and value in ("true", "false") and key not in ("text", "caption"):
            value = value == "true"
        out[key] = value
    return out


@dataclass
class Limits:
    """Telegram's sending limits as the double enforces them: at most `per_second` messages in any
    `window` seconds overall and `per_chat` in any `window` seconds to one chat (an album counts each
    photo), answered with 429 and `retry_after` when broken; plus random 5xx with a seeded probability."""

    per_second: float = 30.0
    per_chat: int = 1
    window: float = 1.0
    error_rate: float = 0.0
    seed: int = 0
    _overall: deque[float] = field(default_factory=deque, repr=False)
    _chats: dict[int, deque[float]] = field(default_factory=dict, repr=False)
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def server_error(self) -> bool:
        """Whether this request fails with a 5xx (drawn from the seeded generator)."""
        return self.error_rate > 0 and self._random.random() < self.error_rate

    def retry_after(self, chat_id: int, count: int, now: float) -> int:
        """0 when `count` more messages to `chat_id` keep within the limits, else whole seconds to wait."""
        horizon = now - self.window
        while self._overall and self._overall[0] <= horizon:
            self._overall.popleft()
        chat = self._chats.get(chat_id)
        while chat and chat[0] <= horizon:
            chat.popleft()
        waits = []
        if len(self._overall) + count > self.per_second:
            waits.append(self._overall[0] + self.window - now)
        if chat is not None and len(chat) + count > self.per_chat:
            waits.append(chat[0] + self.window - now)
        return max(1, math.ceil(max(waits))) if waits else 0

    def book(self, chat_id: int, count: int, now: float) -> None:
        """Count delivered messages against the windows."""
        for _ in range(count):
            self._overall.append(now)
            self._chats.setdefault(chat_id, deque()).append(now)
        if len(self._chats) > 100_000:
            self._chats = {k: v for k, v in self._chats.items() if v and v[-1] > now - self.window}


class BotApi:
    """The in-memory Bot API: getUpdates queue with long polling, sends recorded, configurable refusals."""

    def __init__(self, token: str = DEFAULT_TOKEN, username: str = "linli_test_bot") -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        self.me: JSON = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Linli",
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.calls: list[ApiCall] = []
        self.forbidden: set[int] = set()
        self.refusals: dict[str, tuple[int, str]] = {}  # method → (status, description) answered to it
        self.commands: dict[str | None, list[JSON]] = {}
        self.webhook_url = ""
        self.offline = False  # when True, the in-process transport fails as if the host were unreachable
        self.acknowledged: set[int] = set()  # update ids confirmed by a later getUpdates offset
        self.limits: Limits | None = None  # set by enforce(): rate limits and random 5xx on sends
        self.throttled: list[ApiCall] = []  # sends answered 429 because a limit was broken
        self.server_errors: list[ApiCall] = []  # sends answered with a random 5xx
        self.delivered: dict[int, list[str]] = {}  # per chat, every message that arrived (text or caption)
        self.delivered_at: list[float] = []  # when each delivered message arrived (monotonic seconds)
        self._pending: list[JSON] = []
        self._update_ids = itertools.count(1000)
        self._message_ids = itertools.count(1)
        self._query_ids: set[str] = set()
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._closed = False
        self._methods: dict[str, Callable[[JSON], Any]] = {
            "getMe": lambda p: self.me,
            "logOut": lambda p: True,
            "close": lambda p: True,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendMediaGroup": self._send_media_group,
            "sendLocation": self._send_other,
            "sendDocument": self._send_document,
            "sendChatAction": lambda p: True,
            "editMessageText": self._edit,
            "editMessageReplyMarkup": self._edit,
            "deleteMessage": lambda p: True,
            "answerCallbackQuery": self._answer_callback,
            "setMyCommands": self._set_commands,
            "getMyCommands": lambda p: self.commands.get(p.get("language_code"), []),
            "deleteMyCommands": self._delete_commands,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._webhook_info,
            "getFile": lambda p: {"file_id": p.get("file_id"), "file_unique_id": "u", "file_path": "x.jpg"},
        }

    # --- what tests use -------------------------------------------------------------------------

    def user(self, user_id: int, first_name: str = "测试", language_code: str = "zh-hans") -> TgUser:
        """A Telegram user who can build updates addressed to this bot."""
        return TgUser(self, user_id, first_name, language_code)

    def enforce(
        self, per_second: float = 30.0, per_chat: int = 1, error_rate: float = 0.0, seed: int = 0
    ) -> Limits:
        """Enforce Telegram's limits on sends from now on (429 with retry_after), with random 5xx."""
        self.limits = Limits(per_second=per_second, per_chat=per_chat, error_rate=error_rate, seed=seed)
        return self.limits

    def delivered_total(self) -> int:
        """How many messages arrived, over all chats."""
        return sum(len(texts) for texts in self.delivered.values())

    def duplicated(self, expected: int = 1) -> dict[int, int]:
        """Chats that received more than `expected` messages, with how many extra."""
        return {chat: len(t) - expected for chat, t in self.delivered.items() if len(t) > expected}

    def forbid(self, chat_id: int) -> None:
        """Answer 403 Forbidden (bot blocked by the user) to every send to this chat."""
        self.forbidden.add(int(chat_id))

    def refuse(self, method: str, status: int = 400, description: str = "Bad Request: refused") -> None:
        """Answer every call of `method` with this error from now on (e.g. a photo Telegram rejects)."""
        self.refusals[method] = (status, description)

    def next_update_id(self) -> int:
        """A fresh, increasing update id."""
        return next(self._update_ids)

    def enqueue(self, *updates: JSON) -> None:
        """Queue updates for getUpdates and wake a waiting long poll."""
        with self._lock:
            self._pending.extend(updates)
            waiters, self._waiters = self._waiters, []
        self._wake(waiters)

    def close(self) -> None:
        """Answer every waiting and future long poll at once (for shutdown)."""
        with self._lock:
            self._closed = True
            waiters, self._waiters = self._waiters, []
        self._wake(waiters)

    def calls_to(self, method: str, chat_id: int | None = None) -> list[ApiCall]:
        """Recorded successful and failed calls of one method, optionally to one chat."""
        return [
            c for c in list(self.calls) if c.method == method and (chat_id is None or c.chat_id == chat_id)
        ]

    def texts(self, chat_id: int) -> list[str]:
        """Every text the bot sent to a chat, in order."""
        return [c.text for c in self.calls_to("sendMessage", chat_id) if c.status == 200]

    def last_buttons(self, chat_id: int) -> list[tuple[str, str]]:
        """The inline buttons of the last message to a chat that had any."""
        for call in reversed(self.calls_to("sendMessage", chat_id)):
            if call.status == 200 and call.buttons():
                return call.buttons()
        return []

    def last_message(self, chat_id: int) -> JSON | None:
        """The Message object of the bot's last successful send to a chat."""
        for call in reversed(self.calls):
            if call.chat_id == chat_id and call.status == 200 and isinstance(call.result, dict):
                return call.result
        return None

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
        """Poll until predicate() is true; fail with the recorded calls when the deadline passes."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                recent = [(c.method, c.params.get("chat_id"), c.text[:40]) for c in self.calls[-15:]]
                raise AssertionError(f"timed out waiting for {what or predicate}; last calls: {recent}")
            await asyncio.sleep(0.02)

    # --- the API ------------------------------------------------------------------------------------

    async def call(self, token: str, method: str, params: JSON) -> tuple[int, JSON]:
        """Answer one Bot API request: (HTTP status, Telegram response body)."""
        params = _coerce(params)
        if token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        if method == "getUpdates":
            return await self._get_updates(params)
        handler = self._methods.get(method)
        record = ApiCall(method, params)
        self.calls.append(record)
        if handler is None:
            record.status = 404
            return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
        try:
            if method in self.refusals:
                raise _ApiError(*self.refusals[method])
            limited = self.limits is not None and method in SEND_METHODS
            if limited:
                self._enforce(record)
            result = handler(params)
        except _ApiError as exc:
            record.status = exc.status
            body: JSON = {"ok": False, "error_code": exc.status, "description": exc.description}
            if exc.retry_after:
                body["parameters"] = {"retry_after": exc.retry_after}
            return exc.status, body
        record.result = result
        if method in SEND_METHODS:
            self._deliver(record, result)
        return 200, {"ok": True, "result": result}

    @staticmethod
    def _messages(record: ApiCall) -> int:
        media = record.params.get("media")
        return len(media) if record.method == "sendMediaGroup" and isinstance(media, list) else 1

    def _enforce(self, record: ApiCall) -> None:
        """Refuse a send as Telegram would: 403 for a blocked chat, a random 5xx, 429 over a limit."""
        assert self.limits is not None
        chat_id = record.chat_id
        if chat_id is None:
            return  # the handler answers 400
        if chat_id in self.forbidden:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        if self.limits.server_error():
            self.server_errors.append(record)
            raise _ApiError(502, "Bad Gateway")
        count = self._messages(record)
        wait = self.limits.retry_after(chat_id, count, record.at)
        if wait:
            self.throttled.append(record)
            raise _ApiError(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        self.limits.book(chat_id, count, record.at)

    def _deliver(self, record: ApiCall, result: Any) -> None:
        chat_id = record.chat_id
        if chat_id is None:
            return
        texts = [""] * len(result) if isinstance(result, list) else [record.text]
        self.delivered.setdefault(chat_id, []).extend(texts)
        self.delivered_at.extend([record.at] * len(texts))

    async def _get_updates(self, params: JSON) -> tuple[int, JSON]:
        self.calls.append(ApiCall("getUpdates", params))
        if self.webhook_url:
            description = "Conflict: can't use getUpdates method while webhook is active"
            return 409, {"ok": False, "error_code": 409, "description": description}
        offset = int(params.get("offset") or 0)
        limit = max(1, min(int(params.get("limit") or 100), 100))
        timeout = float(params.get("timeout") or 0)
        with self._lock:
            if offset > 0:
                confirmed = [u["update_id"] for u in self._pending if u["update_id"] < offset]
                self.acknowledged.update(confirmed)
                self._pending = [u for u in self._pending if u["update_id"] >= offset]
            ready = list(self._pending[:limit])
            waiter: asyncio.Future[None] | None = None
            if not ready and timeout > 0 and not self._closed:
                loop = asyncio.get_running_loop()
                waiter = loop.create_future()
                self._waiters.append((loop, waiter))
        if waiter is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, timeout)
            with self._lock:
                ready = list(self._pending[:limit])
        return 200, {"ok": True, "result": ready}

    @staticmethod
    def _wake(waiters: Iterable[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]) -> None:
        for loop, future in waiters:

            def done(f: asyncio.Future[None] = future) -> None:
                if not f.done():
                    f.set_result(None)

            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(done)

    def _chat(self, params: JSON) -> int:
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, int):
            raise _ApiError(400, "Bad Request: chat not found")
        if chat_id in self.forbidden:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    def _message(self, chat_id: int, **content: Any) -> JSON:
        chat = {"id": chat_id, "type": "private" if chat_id > 0 else "group"}
        return {
            "message_id": next(self._message_ids),
            "from": self.me,
            "chat": chat,
            "date": int(time.time()),
            **content,
        }

    @staticmethod
    def _inline_markup(params: JSON) -> JSON:
        markup = params.get("reply_markup")
        if not isinstance(markup, dict) or "inline_keyboard" not in markup:
            return {}
        for row in markup["inline_keyboard"]:
            for button in row:
                if len(str(button.get("callback_data", "")).encode()) > 64:
                    raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return {"reply_markup": markup}

    def _send_message(self, params: JSON) -> JSON:
        chat_id = self._chat(params)
        text = str(params.get("text") or "")
        if not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise _ApiError(400, "Bad Request: message is too long")
        return self._message(chat_id, text=text, **self._inline_markup(params))

    @staticmethod
    def _photo_sizes(file_id: str) -> list[JSON]:
        return [
            {"file_id": f"{file_id}", "file_unique_id": f"u-{file_id}", "width": 90, "height": 90},
        ]

    @staticmethod
    def _caption(params: JSON) -> JSON:
        caption = str(params.get("caption") or "")
        if len(caption) > 1024:
            raise _ApiError(400, "Bad Request: message caption is too long")
        return {"caption": caption} if caption else {}

    def _send_photo(self, params: JSON) -> JSON:
        chat_id = self._chat(params)
        extra = self._caption(params)
        return self._message(chat_id, photo=self._photo_sizes(str(params.get("photo"))), **extra)

    def _send_media_group(self, params: JSON) -> list[JSON]:
        chat_id = self._chat(params)
        media = params.get("media") or []
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise _ApiError(400, "Bad Request: wrong number of media in the album")
        return [self._message(chat_id, photo=self._photo_sizes(str(m.get("media")))) for m in media]

    def _send_document(self, params: JSON) -> JSON:
        chat_id = self._chat(params)
        document = {"file_id": str(params.get("document")), "file_unique_id": "d"}
        return self._message(chat_id, document=document, **self._caption(params))

    def _send_other(self, params: JSON) -> JSON:
        return self._message(self._chat(params))

    def _edit(self, params: JSON) -> JSON:
        return self._message(self._chat(params), text=str(params.get("text") or ""))

    def _answer_callback(self, params: JSON) -> bool:
        if str(params.get("callback_query_id")) not in self._query_ids:
            raise _ApiError(
                400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        return True

    def _set_commands(self, params: JSON) -> bool:
        commands = params.get("commands") or []
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _ApiError(400, "Bad Request: command description is invalid")
        self.commands[params.get("language_code") or None] = list(commands)
        return True

    def _delete_commands(self, params: JSON) -> bool:
        self.commands.pop(params.get("language_code") or None, None)
        return True

    def _set_webhook(self, params: JSON) -> bool:
        self.webhook_url = str(params.get("url") or "")
        return True

    def _delete_webhook(self, params: JSON) -> bool:
        self.webhook_url = ""
        if params.get("drop_pending_updates"):
            with self._lock:
                self._pending.clear()
        return True

    def _webhook_info(self, params: JSON) -> JSON:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }


class _ApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: int = 0) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


@dataclass
class TgUser:
    """A Telegram user; each method returns one real-shaped update JSON (not yet delivered)."""

    api: BotApi
    id: int
    first_name: str = "测试"
    language_code: str = "zh-hans"
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    @property
    def sender(self) -> JSON:
        """The `from` object."""
        return {
            "id": self.id,
            "is_bot": False,
            "first_name": self.first_name,
            "language_code": self.language_code,
        }

    @property
    def chat(self) -> JSON:
        """The private chat with the bot."""
        return {"id": self.id, "first_name": self.first_name, "type": "private"}

    def _update(self, kind: str, body: JSON) -> JSON:
        return {"update_id": self.api.next_update_id(), kind: body}

    def _message(self, chat: JSON | None = None, **content: Any) -> JSON:
        return {
            "message_id": next(self._message_ids),
            "from": self.sender,
            "chat": chat or self.chat,
            "date": int(time.time()),
            **content,
        }

    def text(self, text: str, chat: JSON | None = None) -> JSON:
        """A plain text message."""
        return self._update("message", self._message(chat, text=text))

    def command(self, name: str, args: str = "") -> JSON:
        """A /command with a bot_command entity, e.g. command("start", "DEMO-OWNER")."""
        head = f"/{name}"
        text = f"{head} {args}" if args else head
        entities = [{"offset": 0, "length": len(head), "type": "bot_command"}]
        return self._update("message", self._message(text=text, entities=entities))

    def start(self, invite: str = "") -> JSON:
        """/start with an optional invite code (what a t.me deep link sends)."""
        return self.command("start", invite)

    def callback(self, data: str, message: JSON | None = None) -> JSON:
        """A press on an inline button with this callback data, on the bot's last message to us."""
        query_id = f"{self.id}{next(self._message_ids):08d}"
        self.api._query_ids.add(query_id)
        body: JSON = {
            "id": query_id,
            "from": self.sender,
            "chat_instance": f"-{self.id}77",
            "data": data,
        }
        message = message or self.api.last_message(self.id)
        body["message"] = message or {
            "message_id": 1,
            "from": self.api.me,
            "chat": self.chat,
            "date": int(time.time()),
            "text": "…",
        }
        return self._update("callback_query", body)

    def press(self, label: str) -> JSON:
        """Press the button whose label contains `label` on the latest message that has buttons."""
        for call in reversed(self.api.calls_to("sendMessage", self.id)):
            if call.status == 200 and call.buttons():
                for text, data in call.buttons():
                    if label in text:
                        return self.callback(data, call.result)
                raise AssertionError(f"no button {label!r} for user {self.id} in {call.buttons()}")
        raise AssertionError(f"user {self.id} has no message with buttons")

    def photo(self, file_id: str, caption: str = "") -> JSON:
        """A photo message (three sizes, as Telegram sends)."""
        sizes = [
            {
                "file_id": f"{file_id}-s",
                "file_unique_id": f"{file_id}s",
                "width": 90,
                "height": 67,
                "file_size": 1200,
            },
            {
                "file_id": f"{file_id}-m",
                "file_unique_id": f"{file_id}m",
                "width": 320,
                "height": 240,
                "file_size": 15000,
            },
            {
                "file_id": file_id,
                "file_unique_id": f"{file_id}x",
                "width": 1280,
                "height": 960,
                "file_size": 120000,
            },
        ]
        extra = {"caption": caption} if caption else {}
        return self._update("message", self._message(photo=sizes, **extra))

    def voice(self, file_id: str, seconds: int) -> JSON:
        """A voice message."""
        voice = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "duration": seconds,
            "mime_type": "audio/ogg",
            "file_size": 4000 * seconds,
        }
        return self._update("message", self._message(voice=voice))

    def location(self, latitude: float, longitude: float) -> JSON:
        """A shared location."""
        return self._update("message", self._message(location={"latitude": latitude, "longitude": longitude}))

    def contact(self, phone: str, user_id: int | None = None, first_name: str = "") -> JSON:
        """A shared contact: the user's own number from the contact button, or (another `user_id`, or
        None for someone not on Telegram) a card of someone else."""
        card: JSON = {"phone_number": phone, "first_name": first_name or self.first_name}
        owner = self.id if user_id is None else user_id
        if owner:
            card["user_id"] = owner
        return self._update("message", self._message(contact=card))

    def sticker(self) -> JSON:
        """A sticker (something the bot does not understand)."""
        sticker = {
            "file_id": "CAACAgIAAxkBAAE",
            "file_unique_id": "AgADsticker",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
        }
        return self._update("message", self._message(sticker=sticker))

    def edited(self, text: str, message_id: int = 1) -> JSON:
        """An edit of an earlier message."""
        body = self._message(text=text)
        body["message_id"] = message_id
        body["edit_date"] = int(time.time())
        return self._update("edited_message", body)

    def kicked(self) -> JSON:
        """The user blocked the bot (my_chat_member with status kicked)."""
        now = int(time.time())
        return self._update(
            "my_chat_member",
            {
                "chat": self.chat,
                "from": self.sender,
                "date": now,
                "old_chat_member": {"user": self.api.me, "status": "member"},
                "new_chat_member": {"user": self.api.me, "status": "kicked", "until_date": 0},
            },
        )

    def group_text(self, text: str, group_id: int = -100123) -> JSON:
        """A message this user wrote in a group the bot is in."""
        return self.text(text, chat={"id": group_id, "title": "1栋业主群", "type": "supergroup"})


def _split_url(url: str) -> tuple[str, str]:
    """(token, method) from a Bot API URL such as http://host/bot123:ABC/sendMessage."""
    match = re.search(r"/bot([^/]+)/([A-Za-z]+)$", url.split("?", 1)[0])
    if match is None:
        return "", ""
    return match.group(1), match.group(2)


class _NoSocket(BaseRequest):
    """A python-telegram-bot request with nothing to open, close or time out."""

    @property
    def read_timeout(self) -> float | None:
        """No network, so no default read timeout."""
        return None

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""


class InProcessRequest(_NoSocket):
    """A python-telegram-bot request that answers from a BotApi in memory; no sockets."""

    def __init__(self, api: BotApi) -> None:
        self.api = api

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        """Hand the call to the BotApi and return its JSON answer."""
        if self.api.offline:
            raise NetworkError("Bot API double is offline (connection refused)")
        token, api_method = _split_url(url)
        params = dict(request_data.parameters) if request_data is not None else {}
        status, body = await self.api.call(token, api_method, params)
        return status, json.dumps(body).encode()


class NoNetworkRequest(_NoSocket):
    """A request that refuses every call and remembers it: for code that must not touch the network."""

    def __init__(self) -> None:
        self.attempts: list[str] = []

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        """Record the attempt and fail."""
        self.attempts.append(_split_url(url)[1] or url)
        raise AssertionError(f"unexpected Bot API call: {url.rsplit('/', 1)[-1]}")


def asgi_app(api: BotApi) -> Any:
    """The BotApi as a Starlette app at /bot<token>/<method> (GET or POST; JSON, form or multipart)."""
    from starlette.applications import Starlette
    from starlette.datastructures import UploadFile
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def endpoint(request: Request) -> JSONResponse:
        params: JSON = dict(request.query_params)
        content_type = request.headers.get("content-type", "")
        if "application/json" in content_type:
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        elif request.method == "POST":
            form = await request.form()
            for key, value in form.multi_items():
                params[key] = f"attach:{value.filename}" if isinstance(value, UploadFile) else value
        status, answer = await api.call(request.path_params["token"], request.path_params["method"], params)
        return JSONResponse(answer, status_code=status)

    return Starlette(routes=[Route("/bot{token}/{method}", endpoint, methods=["GET", "POST"])])


class BotApiServer(AsgiServer):
    """Serves a BotApi over HTTP on 127.0.0.1 inside the running event loop; `url` is
    TELEGRAM_API_BASE_URL."""

    def __init__(self, api: BotApi, port: int | None = None) -> None:
        super().__init__(asgi_app(api), port, "the Bot API double")
        self.api = api

    async def stop(self) -> None:
        """Answer waiting long polls and stop serving."""
        self.api.close()
        await super().stop()
