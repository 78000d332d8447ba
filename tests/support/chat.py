"""A fake user that talks to the Service the way a channel would, for dialog tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from bot.service import Service
from db.models import Identity
from handlers.types import Attachment, Inbound, Location, Rendered

_ids = itertools.count(1)


@dataclass
class ChatUser:
    """Sends text, button presses, photos, voice and locations; remembers the last replies."""

    service: Service
    user_ref: str
    channel: str = "web"
    name: str = ""
    last: list[Rendered] = field(default_factory=list)

    def _send(self, **kw: object) -> list[Rendered]:
        update_id = kw.pop("update_id", None) or f"{self.user_ref}:{next(_ids)}"
        inbound = Inbound(
            channel=self.channel,
            user_ref=self.user_ref,
            chat_ref=self.user_ref,
            update_id=str(update_id),
            display_name=self.name,
            **kw,
        )  # type: ignore[arg-type]
        self.last = self.service.handle(inbound).replies
        return self.last

    def say(self, text: str, update_id: str | None = None) -> list[Rendered]:
        """Type a message."""
        return self._send(text=text, update_id=update_id)

    def data(self, data: str) -> list[Rendered]:
        """Press a button by its raw callback data (also for forging data)."""
        return self._send(button=data)

    def press(self, label: str) -> list[Rendered]:
        """Press the button whose label contains `label` among the last replies."""
        for message in reversed(self.last):
            for row in message.buttons:
                for text, data in row:
                    if label in text:
                        return self.data(data)
        raise AssertionError(f"no button {label!r} in {[m.buttons for m in self.last]}")

    def photo(self, ref: str, caption: str = "") -> list[Rendered]:
        """Send a photo."""
        return self._send(text=caption, attachments=(Attachment("photo", ref),))

    def voice(self, ref: str, seconds: int) -> list[Rendered]:
        """Send a voice message."""
        return self._send(attachments=(Attachment("voice", ref, duration=seconds),))

    def location(self, latitude: float, longitude: float) -> list[Rendered]:
        """Share a location."""
        return self._send(location=Location(latitude, longitude))

    def contact(self, phone: str) -> list[Rendered]:
        """Share one's own phone number with the platform's contact button (Telegram)."""
        return self._send(contact_phone=phone)

    def unsupported(self) -> list[Rendered]:
        """Send something the bot does not understand (a sticker)."""
        return self._send(unsupported=True)

    @property
    def text(self) -> str:
        """All text of the last replies, joined."""
        return "\n".join(m.text for m in self.last)

    def buttons(self) -> list[str]:
        """Labels of every button in the last replies."""
        return [label for m in self.last for row in m.buttons for label, _ in row]

    def report(self, category: str, description: str, photos: int = 0) -> str:
        """Walk the whole report flow and return the final text."""
        return file_report(self, description, category=category, photos=photos)


def file_report(user: ChatUser, text: str, category: str = "其他", photos: int = 0) -> str:
    """File a report the way a resident does (报事, a category, the description, photos on the summary,
    提交) and return the final text; "me too" offers are declined. Tests that only need a ticket use
    this, so they keep working when the report's steps change."""
    user.say("/report")
    user.press(category)
    user.say(text)
    if "我也遇到" in user.text or "Me too" in user.text:
        user.press("新建") if "新建" in user.text else user.press("new one")
    for n in range(photos):
        user.photo(f"photo-{user.user_ref}-{n}")
    user.press("提交")
    return user.text


def person_of(sessions: sessionmaker[Session], user: ChatUser) -> int:
    """The person id behind a chat user (who must have written at least once)."""
    with sessions() as session:
        found = session.exec(select(Identity.person_id).where(Identity.external_id == user.user_ref)).first()
    assert found is not None, f"{user.user_ref} has not written yet"
    return found
