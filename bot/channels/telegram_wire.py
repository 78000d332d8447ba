"""Telegram's wire format: an update as an Inbound, a Rendered as text chunks and a keyboard, what we keep
of an update, and the numbers Telegram sends (update ids, retry_after)."""

from __future__ import annotations

import warnings
from datetime import timedelta
from typing import Any, SupportsFloat, SupportsIndex

from telegram import Update
from telegram.error import RetryAfter

from handlers.types import Attachment, Inbound, Location, Rendered

CHANNEL = "telegram"
TEXT_LIMIT = 4096


def to_inbound(update: Update) -> Inbound | None:
    """Translate a Telegram update; None for updates that carry nothing to answer."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None or user.is_bot:
        return None
    if chat.type != "private":
        return None  # the bot talks to people one to one; group chats are for notices (later)
    base: dict[str, Any] = {
        "channel": CHANNEL,
        "user_ref": str(user.id),
        "chat_ref": str(chat.id),
        "update_id": str(update.update_id),
        "display_name": user.full_name[:100],
    }
    query = update.callback_query
    if query is not None:
        if not query.data:
            return Inbound(**base, unsupported=True)
        return Inbound(**base, button=query.data)
    message = update.message
    if message is None:
        return Inbound(**base, unsupported=True)  # edits, reactions and the like
    text = message.text or message.caption or ""
    attachments: list[Attachment] = []
    if message.photo:
        best = message.photo[-1]
        attachments.append(Attachment("photo", best.file_id, size=best.file_size))
    elif message.document is not None and (message.document.mime_type or "").startswith("image/"):
        attachments.append(Attachment("photo", message.document.file_id, size=message.document.file_size))
    if message.voice is not None:
        # The raw seconds: reading `.duration` warns while PTB moves it to timedelta.
        seconds = int(message.voice.to_dict().get("duration") or 0)
        attachments.append(Attachment("voice", message.voice.file_id, duration=seconds))
    location = None
    if message.location is not None:
        location = Location(message.location.latitude, message.location.longitude)
    contact = message.contact
    if contact is not None:
        if contact.user_id == user.id and contact.phone_number:
            # The contact button shares the sender's own number; only that is taken as theirs.
            return Inbound(**base, contact_phone=contact.phone_number[:32])
        # Someone else's card (forwarded, or picked from the address book): the flow refuses it, and its
        # number is never taken as the sender's.
        attachments.append(Attachment("contact", ""))
    if not text and not attachments and location is None:
        return Inbound(**base, unsupported=True)
    return Inbound(**base, text=text, attachments=tuple(attachments), location=location)


def keyboard(message: Rendered) -> dict[str, Any] | None:
    """The inline keyboard as the Bot API takes it, or None: PTB's objects would only be turned back into
    this."""
    if not message.buttons:
        return None
    return {
        "inline_keyboard": [
            [{"text": label[:64], "callback_data": data} for label, data in row] for row in message.buttons
        ]
    }


def location_keyboard(label: str) -> dict[str, Any]:
    """A one-time keyboard whose one button shares the user's location."""
    button = {"text": label, "request_location": True}
    return {"keyboard": [[button]], "resize_keyboard": True, "one_time_keyboard": True}


def contact_keyboard(label: str) -> dict[str, Any]:
    """A one-time keyboard whose one button shares the user's own phone number."""
    button = {"text": label, "request_contact": True}
    return {"keyboard": [[button]], "resize_keyboard": True, "one_time_keyboard": True}


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split text into chunks Telegram accepts, at paragraph or line boundaries where possible."""
    chunks: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n\n", 0, limit)
        if cut <= 0:
            cut = text.rfind("\n", 0, limit)
        if cut <= 0:
            cut = limit
        chunks.append(text[:cut].rstrip())
        text = text[cut:].lstrip("\n")
    chunks.append(text)
    return [c for c in chunks if c] or [""]


def kept_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """An update as we store it: a button press keeps only the id of the message it sat on, not its text
    (which may be a secret ballot's choice and receipt code)."""
    query = payload.get("callback_query")
    if not isinstance(query, dict) or not isinstance(query.get("message"), dict):
        return payload
    message = query["message"]
    slim = {key: message[key] for key in ("message_id", "chat", "date") if key in message}
    return {**payload, "callback_query": {**query, "message": slim}}


def as_kept(raw: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Updates by id as we store them, and as they are parsed, live or after a restart alike (no turn
    reads the text or keyboard of the message a button sat on; parsing them cost as much as the rest)."""
    return [(str(item["update_id"]), kept_payload(item)) for item in raw]


def update_id_of(payload: dict[str, Any]) -> int | None:
    """The update's id when it is a whole number in range (not 1.5, true or a string), else None."""
    value = payload.get("update_id")
    if type(value) is not int or not 0 <= value < 2**63:
        return None
    return value


def retry_seconds(value: object) -> float:
    """retry_after as seconds, whether PTB gives an int or a timedelta."""
    if isinstance(value, RetryAfter):
        with warnings.catch_warnings():  # PTB warns that the int will become a timedelta; both work here
            warnings.simplefilter("ignore")
            value = value.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, str | SupportsFloat | SupportsIndex):
        return float(value)
    raise TypeError(f"retry_after is neither seconds nor a timedelta: {value!r}")
