"""Sending on WeChat: a Rendered as 客服 messages (photos uploaded, buttons as a menu or numbered lines),
and a push as a 客服 message inside the 48-hour window or a template message outside it. WeChat's
errcodes become the outcomes the dispatcher knows: Unreachable, RetryLater, or an error to retry.

Every method blocks (API calls, database): the channel runs them in worker threads."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot.channels.base import RetryLater, Unreachable
from bot.channels.wechat_client import BACK_OFF, UNREACHABLE, WINDOW_CLOSED, OfficialAccount, PlatformError
from bot.channels.wechat_oauth import page_link
from bot.channels.wechat_templates import TemplateBook, values_for
from bot.channels.wechat_wire import custom_messages, flat_buttons
from bot.stores import FileStore, Identities
from handlers.types import Rendered

if TYPE_CHECKING:
    from bot.channels.wechat import WeChatConfig
    from bot.clock import Clock
    from bot.render import Renderer

log = logging.getLogger(__name__)
WINDOW = timedelta(hours=48)  # 客服 messages reach a follower this long after their last message
MEDIA_KEPT = 2 * 24 * 3600.0  # an uploaded image is reused this long (WeChat keeps it 3 days)
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp"}
# The per-window count ran out on WeChat's side (it also counts a turn's answers): a template instead.
COUNT_USED_UP = 45047


class WindowClosed(Exception):
    """WeChat refused a 客服 message: the window is closed or its count used up."""


class Sender:
    """Sends 客服 and template messages to followers."""

    def __init__(
        self,
        config: WeChatConfig,
        api: OfficialAccount,
        identities: Identities,
        files: FileStore,
        renderer: Renderer,
        clock: Clock,
        book: TemplateBook,
    ) -> None:
        self.config = config
        self.api = api
        self.identities = identities
        self.files = files
        self.renderer = renderer
        self.clock = clock
        self.book = book
        self._uploaded: dict[str, tuple[str, float]] = {}  # our file → (media_id, when uploaded)
        self._lock = threading.Lock()

    def text(self, locale: str, key: str, context: dict[str, Any] | None = None) -> str:
        """One of the channel's own texts (templates/<locale>/wechat.j2)."""
        return self.renderer.text(locale, f"wechat.{key}", context)

    def locale_of(self, openid: str) -> str:
        """The follower's language, else the default."""
        return self.identities.locale_of(openid) or self.config.default_locale

    def bodies(self, message: Rendered, locale: str) -> list[dict[str, Any]]:
        """The 客服 message bodies of a Rendered, without its photos."""
        return custom_messages(message, lambda key, ctx: self.text(locale, key, ctx), self.config.public_url)

    def custom(self, openid: str, message: Rendered, locale: str, remember_choices: bool = True) -> None:
        """Send a message as 客服 messages: photos, then text or a menu. Raises Unreachable, RetryLater,
        WindowClosed, or PlatformError for anything else."""
        try:
            for photo in message.photos:
                media_id = self._media_for(photo.ref) if photo.kind == "photo" else None
                if media_id is not None:
                    self.api.send_custom(openid, {"msgtype": "image", "image": {"media_id": media_id}})
            for body in self.bodies(message, locale):
                self.api.send_custom(openid, body)
        except PlatformError as exc:
            raise _outcome(exc) from exc
        if remember_choices and message.buttons:
            self.identities.set_choices(openid, [data for _, data in flat_buttons(message)])

    def template(self, openid: str, message: Rendered, locale: str) -> None:
        """Send a message as the template message of its kind, linking to the H5 page on its item."""
        kind = self.book.kind_of(message)
        values = values_for(
            message,
            self.text(locale, f"tpl_{kind}"),
            self.text(locale, "tpl_hint"),
            self.clock.now(),
            self.renderer.zone,
        )
        template_id, data = self.book.body(message, values)
        try:
            self.api.send_template(
                openid, template_id, page_link(self.config.public_url, message.about), data
            )
        except PlatformError as exc:
            raise _outcome(exc) from exc

    def push(self, openid: str, message: Rendered) -> None:
        """A 客服 message while the follower's window is open (and its count not used up), otherwise, or
        when WeChat says the window is closed, a template message."""
        locale = self.locale_of(openid)
        now = self.clock.now()
        limit = self.config.window_messages
        if self.identities.take_window(openid, now, WINDOW, limit, self.count(message)):
            try:
                self.custom(openid, message, locale)
                return
            except WindowClosed:
                log.info("WeChat: the 客服 window of %s is closed; sending a template message", openid)
                self.identities.spend_window(openid, limit)  # used up: no 客服 call until they write
        self.template(openid, message, locale)

    def count(self, message: Rendered) -> int:
        """How many 客服 messages `custom` makes of a message."""
        photos = sum(1 for p in message.photos if p.kind == "photo")
        return photos + len(self.bodies(message, self.config.default_locale))

    def _media_for(self, ref: str) -> str | None:
        """The media_id of one of our stored photos, uploaded once and reused while WeChat keeps it;
        None for anything that is not our file (another platform's file id)."""
        with self._lock:
            known = self._uploaded.get(ref)
        if known is not None and time.monotonic() - known[1] < MEDIA_KEPT:
            return known[0]
        data = self.files.read(ref)
        if data is None:
            return None
        extension = ref.rsplit(".", 1)[-1]
        media_id = self.api.upload_image(ref, data, CONTENT_TYPES.get(extension, "image/jpeg"))
        with self._lock:
            self._uploaded[ref] = (media_id, time.monotonic())
            if len(self._uploaded) > 1000:  # forget the oldest: a broadcast's photo is one entry
                oldest = min(self._uploaded, key=lambda k: self._uploaded[k][1])
                self._uploaded.pop(oldest, None)
        return media_id


def _outcome(exc: PlatformError) -> Exception:
    """The channel outcome of a WeChat errcode."""
    if exc.errcode in UNREACHABLE:
        return Unreachable(str(exc))
    if exc.errcode in WINDOW_CLOSED or exc.errcode == COUNT_USED_UP:
        return WindowClosed(str(exc))
    if exc.errcode in BACK_OFF:
        return RetryLater(BACK_OFF[exc.errcode])
    return exc
