"""Channel-neutral messages: what arrives (Inbound) and what the bot answers (Reply)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.actions import Press

MAX_BUTTON_DATA = 64  # Telegram's callback_data limit, in bytes
# Channels whose photos we download and keep as our own files, which every channel can show; a Telegram
# photo is a file id that only Telegram can show.
KEEPS_FILES = frozenset({"web", "wechat", "wecom"})


def shows_photo(source: str, channel: str) -> bool:
    """Whether a photo that came in on `source` can be shown on `channel`."""
    return source == channel or source in KEEPS_FILES


@dataclass(frozen=True, slots=True)
class Attachment:
    """A photo or voice message as the channel delivered it."""

    kind: str  # photo | voice | document | other
    ref: str  # the channel's file id or our stored file name
    duration: int | None = None
    size: int | None = None


@dataclass(frozen=True, slots=True)
class Location:
    """A point a user shared."""

    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class Inbound:
    """One thing a user did: typed text, pressed a button, sent media or a location."""

    channel: str
    user_ref: str  # the user's id on that channel
    chat_ref: str = ""
    update_id: str = ""
    text: str = ""
    button: str | None = None  # callback data of a pressed button
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    display_name: str = ""
    unsupported: bool = False  # an update kind we do not understand (sticker, poll, edit …)
    # The person's own phone number, shared with the platform's contact button (Telegram); typed
    # numbers arrive as text.
    contact_phone: str = ""

    @property
    def command(self) -> tuple[str, str] | None:
        """`("/report", "args")` when the text is a slash command, else None."""
        if not self.text.startswith("/"):
            return None
        head, _, rest = self.text.strip().partition(" ")
        return head.split("@", 1)[0].lower(), rest.strip()


@dataclass(frozen=True, slots=True)
class Button:
    """A button: a template label (or literal text for data such as names) and its callback data."""

    data: str
    label: str = ""  # a label key rendered from buttons.j2
    text: str = ""  # literal text (names from data), used when no label key is given
    args: dict[str, Any] = field(default_factory=dict)
    primary: bool = False  # the step's main action (✅提交): shown larger and coloured where a page can

    def __post_init__(self) -> None:
        if len(self.data.encode()) > MAX_BUTTON_DATA:
            raise ValueError(f"button data longer than {MAX_BUTTON_DATA} bytes: {self.data!r}")

    @classmethod
    def of(
        cls,
        press: Press,
        label: str = "",
        text: str = "",
        args: dict[str, Any] | None = None,
        primary: bool = False,
    ) -> Button:
        """The button that makes a press: its data encoded by the codec, with a label key or literal text."""
        return cls(press.encode(), label, text, args or {}, primary)


@dataclass(slots=True)
class Reply:
    """A message to show: a template name with its context, and rows of buttons."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)
    buttons: list[list[Button]] = field(default_factory=list)
    photos: list[Attachment] = field(default_factory=list)
    ask_location: bool = False  # Telegram shows a "share location" keyboard button
    ask_contact: bool = False  # Telegram shows a "share my phone number" keyboard button
    # The reply refuses what the person just typed (too long, not a phone number): a page that cleared
    # its text box on sending puts the text back, so nothing typed is lost.
    keeps_input: bool = False
    # Shown once and never kept by us: a secret ballot's choice and receipt code. The turn's stored
    # update is emptied and the web chat keeps a placeholder instead of the text.
    secret: bool = False
    kept: str = ""  # the template a kept history shows instead (default: common.secret_redacted)


@dataclass(frozen=True, slots=True)
class Rendered:
    """A reply in one language, ready for a channel: text and button rows of (label, data)."""

    text: str
    buttons: tuple[tuple[tuple[str, str], ...], ...] = ()
    photos: tuple[Attachment, ...] = ()
    ask_location: bool = False
    location_label: str = ""
    redacted: str = ""  # for a secret reply: the placeholder a kept history shows instead of the text
    # What the message is: its template (a platform that sends by kind, WeChat's template messages,
    # picks one by it), and the encoded view press of the ticket, notice or poll it is about, if any.
    topic: str = ""
    about: str = ""
    primary: str = ""  # the data of the step's main button, if one is marked
    ask_contact: bool = False
    contact_label: str = ""
    keeps_input: bool = False

    def kept(self) -> dict[str, Any]:
        """The message as we may store it: a secret reply keeps only its placeholder, without buttons."""
        if self.redacted:
            return {"text": self.redacted}
        return {
            "text": self.text,
            "buttons": [[list(button) for button in row] for row in self.buttons],
            "photos": [[p.kind, p.ref] for p in self.photos],
            "ask_location": self.ask_location,
            "location_label": self.location_label,
            "topic": self.topic,
            "about": self.about,
            "primary": self.primary,
            "ask_contact": self.ask_contact,
            "contact_label": self.contact_label,
        }

    @classmethod
    def from_kept(cls, data: dict[str, Any]) -> Rendered:
        """The message back from what `kept` stored."""
        return cls(
            text=str(data.get("text", "")),
            buttons=tuple(tuple((str(b[0]), str(b[1])) for b in row) for row in data.get("buttons", [])),
            photos=tuple(Attachment(str(kind), str(ref)) for kind, ref in data.get("photos", [])),
            ask_location=bool(data.get("ask_location", False)),
            location_label=str(data.get("location_label", "")),
            topic=str(data.get("topic", "")),
            about=str(data.get("about", "")),
            primary=str(data.get("primary", "")),
            ask_contact=bool(data.get("ask_contact", False)),
            contact_label=str(data.get("contact_label", "")),
        )
