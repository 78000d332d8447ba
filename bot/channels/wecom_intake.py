"""A stored WeCom callback as an Inbound: the member's photo or voice fetched at once into our file store,
a number typed back turned into the button it names, and a member bound by an invite joined first."""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.channels.wecom_client import INVALID_MEDIA, WeComClient, WeComError
from bot.channels.wecom_wire import CHANNEL, amr_seconds, location_of, text_of
from bot.stores import FileStore, Identities
from bot.uploads import NotAnImage, TooManyPixels, reencode
from core import actions
from db import people
from handlers.types import Attachment, Inbound

if TYPE_CHECKING:
    from bot.clock import Clock

log = logging.getLogger(__name__)
MAX_MEDIA = 10 * 1024 * 1024  # WeCom's own limit for a photo; a voice message is far smaller
JOIN_EVENTS = ("enter_agent", "subscribe")  # the member opened the app, or it was made visible to them


class Reader:
    """Reads stored callbacks into Inbounds (blocking: run in a worker thread)."""

    def __init__(
        self,
        api: WeComClient,
        identities: Identities,
        files: FileStore,
        clock: Clock,
        sessions: sessionmaker[Session],
    ) -> None:
        self.api = api
        self.identities = identities
        self.files = files
        self.clock = clock
        self.sessions = sessions

    def inbound(self, update_id: str, fields: dict[str, Any]) -> Inbound | None:
        """The Inbound for a stored callback, or None when it asks for no turn (an event we do not act
        on). Raises WeComError when a member's file cannot be fetched now (tried again later)."""
        userid = text_of(fields, "FromUserName")
        base: dict[str, Any] = {
            "channel": CHANNEL,
            "user_ref": userid,
            "chat_ref": userid,
            "update_id": update_id,
            "display_name": userid[:100],  # WeCom sends no name; staff see the member's userid
        }
        kind = text_of(fields, "MsgType").lower()
        event = text_of(fields, "Event").lower() if kind == "event" else ""
        if event == "unsubscribe":
            self.identities.mark_unreachable(userid)
            return None
        if kind == "event" and event not in (*JOIN_EVENTS, "template_card_event", "click"):
            return None  # menu views, location reports and the like: nothing to answer
        code = self.bound_invite(userid)
        if code is not None:
            # Staff bound an invite to this member: their first contact joins them, whatever it says.
            return Inbound(**base, text=f"/start {code}")
        if event in JOIN_EVENTS:
            # A member seen for the first time is told how to join; a known one opening the app is not
            # greeted every time.
            return Inbound(**base, text="/start") if self.identities.id_of(userid) is None else None
        if event == "click":  # the app's menu: the command its key names, as a Telegram menu button
            press = actions.decode(text_of(fields, "EventKey"))
            return Inbound(**base, text=press.command) if isinstance(press, actions.Menu) else None
        if event == "template_card_event":
            key = text_of(fields, "EventKey")
            return Inbound(**base, button=key) if key else Inbound(**base, unsupported=True)
        if kind == "text":
            content = fields.get("Content")
            text = content if isinstance(content, str) else ""
            button = self.numbered(userid, text)
            return Inbound(**base, button=button) if button else Inbound(**base, text=text)
        if kind == "location":
            point = location_of(fields)
            return Inbound(**base, location=point) if point else Inbound(**base, unsupported=True)
        if kind in ("image", "voice"):
            attachment = self.media(kind, text_of(fields, "MediaId"))
            if attachment is None:
                return Inbound(**base, unsupported=True)
            return Inbound(**base, attachments=(attachment,))
        return Inbound(**base, unsupported=True)  # video, file, link …

    def bound_invite(self, userid: str) -> str | None:
        """The code of an unused invite staff bound to this member, if any."""
        with self.sessions() as session:
            return people.wecom_invite(session, userid, self.clock.now())

    def numbered(self, userid: str, text: str) -> str | None:
        """The button data a typed number names in the last numbered menu, or None."""
        typed = text.strip().rstrip(".。")
        if not typed.isdigit() or len(typed) > 3:
            return None
        choices = self.identities.choices_of(userid)
        number = int(typed)  # full-width digits too: "２"
        return choices[number - 1] if 1 <= number <= len(choices) else None

    def media(self, kind: str, media_id: str) -> Attachment | None:
        """A member's photo (re-encoded: upright, bounded, no metadata) or voice, stored under a new
        name; None when WeCom no longer has it or it is not what it claims to be."""
        if not media_id:
            return None
        try:
            data = self.api.download(media_id, MAX_MEDIA)
        except WeComError as exc:
            if exc.errcode in INVALID_MEDIA or exc.errcode == -2:
                log.warning("WeCom media %s cannot be had: %s", media_id, exc)
                return None
            raise
        if kind == "voice":
            name = f"{secrets.token_urlsafe(24)}.amr"
            self.files.save(name, data)
            return Attachment("voice", name, duration=amr_seconds(data), size=len(data))
        try:
            stored, ext = reencode(data)
        except (NotAnImage, TooManyPixels) as exc:
            log.warning("WeCom photo %s is not one we take: %s", media_id, exc)
            return None
        name = f"{secrets.token_urlsafe(24)}.{ext}"
        self.files.save(name, stored)
        return Attachment("photo", name, size=len(stored))
