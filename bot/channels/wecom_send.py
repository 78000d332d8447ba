"""Sending to a WeCom member: a Rendered laid out as app messages (photos, text, a template card or
numbered lines), our stored photos uploaded once and their media ids reused while WeCom keeps them."""

from __future__ import annotations

import logging
import secrets
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.channels.base import ChatBusy, RetryLater, Unreachable
from bot.channels.wecom_client import NotAMember, TooFrequent, WeComClient, WeComError
from bot.channels.wecom_wire import Layout, lay_out, messages_in
from bot.stores import FileStore, Identities
from handlers.types import Rendered

if TYPE_CHECKING:
    from bot.clock import Clock
    from bot.render import Renderer

log = logging.getLogger(__name__)
MEMBER_BUDGET = 45009  # what WeCom answers when one member was sent too many app messages
NUMBERED = "wecom.numbered"
SEE_ABOVE = "wecom.see_above"
CARD_DONE = "wecom.card_done"
MEDIA_KEPT = timedelta(days=2, hours=12)  # WeCom keeps an upload three days; reused for less than that


class Sender:
    """Turns Rendered messages into message.send calls for one app (blocking: run in a worker thread)."""

    def __init__(
        self,
        api: WeComClient,
        identities: Identities,
        files: FileStore,
        renderer: Renderer,
        clock: Clock,
        default_locale: str,
    ) -> None:
        self.api = api
        self.identities = identities
        self.files = files
        self.renderer = renderer
        self.clock = clock
        self.default_locale = default_locale
        self._uploaded: dict[str, tuple[str, datetime]] = {}  # our file name → (media_id, when)
        self._lock = threading.Lock()

    def words(self, userid: str, key: str) -> str:
        """One of the channel's own texts in the member's language."""
        locale = self.identities.locale_of(userid) or self.default_locale
        return self.renderer.text(locale, key)

    def layout(self, userid: str, message: Rendered) -> Layout:
        """How the message goes out; the member's language is read only when the layout has words of ours."""
        task_id = f"{self.clock.now():%Y%m%d%H%M%S}-{secrets.token_hex(8)}"
        plain = lay_out(message, task_id, "", "")
        if plain.choices or (plain.card is not None and plain.texts):
            return lay_out(message, task_id, self.words(userid, NUMBERED), self.words(userid, SEE_ABOVE))
        return plain

    def count(self, message: Rendered) -> int:
        """How many app messages `deliver` makes of this message."""
        layout = lay_out(message, "x", "", "")
        return messages_in(layout, sum(1 for ref in layout.photos if self.files.path(ref) is not None))

    def deliver(self, userid: str, message: Rendered) -> Layout:
        """Send photos, then text, then the card; remember numbered choices. Raises Unreachable when the
        member cannot be written to, RetryLater when WeCom asks us to slow down, WeComError otherwise."""
        layout = self.layout(userid, message)
        try:
            for ref in layout.photos:
                self._photo(userid, ref)
            for text in layout.texts:
                self.api.send(userid, {"msgtype": "text", "text": {"content": text}})
            if layout.card is not None:
                self.api.send(userid, {"msgtype": "template_card", "template_card": layout.card})
        except NotAMember as exc:
            raise Unreachable(str(exc)) from exc
        except TooFrequent as exc:
            if exc.errcode == MEMBER_BUDGET:  # this member's 30 a minute or 1000 an hour: only they wait
                raise ChatBusy(exc.seconds) from exc
            raise RetryLater(exc.seconds) from exc
        if layout.choices:
            self.identities.set_choices(userid, list(layout.choices))
        return layout

    def _photo(self, userid: str, ref: str) -> None:
        """One of our stored photos as an image message; a photo that is not ours (another platform's
        file id) or that WeCom refuses is left out rather than holding back the text."""
        data = self.files.read(ref)
        if data is None:
            return
        try:
            media_id = self._media_id(ref, data)
            self.api.send(userid, {"msgtype": "image", "image": {"media_id": media_id}})
        except (NotAMember, TooFrequent):
            raise
        except WeComError as exc:
            if exc.errcode == 0:
                raise  # WeCom did not answer: the whole message is tried again later
            log.warning("WeCom refused photo %s for %s (%s); sending the rest", ref, userid, exc)

    def _media_id(self, ref: str, data: bytes) -> str:
        now = self.clock.now()
        with self._lock:
            known = self._uploaded.get(ref)
        if known is not None and now - known[1] < MEDIA_KEPT:
            return known[0]
        media_id = self.api.upload_image(data, ref)
        with self._lock:
            self._uploaded[ref] = (media_id, now)
            if len(self._uploaded) > 1000:  # old uploads are useless after three days anyway
                self._uploaded = {k: v for k, v in self._uploaded.items() if now - v[1] < MEDIA_KEPT}
        return media_id

    def close_card(self, userid: str, response_code: str) -> None:
        """After a press, the card's buttons give way to "已处理", so the same card cannot be pressed
        again; a card WeCom no longer lets us update (72 hours, a code used) is left as it is."""
        if not response_code:
            return
        try:
            self.api.update_card(userid, response_code, self.words(userid, CARD_DONE))
        except WeComError as exc:
            log.info("WeCom: card of %s not updated (%s)", userid, exc)
