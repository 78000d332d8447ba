"""Media a follower sends: downloaded at once (WeChat keeps it three days) into our file store, photos
re-encoded like web uploads, voices kept as they came with their length read from the AMR frames."""

from __future__ import annotations

import logging
import secrets

import requests

from bot.channels.wechat_client import OfficialAccount, PlatformError
from bot.channels.wechat_wire import Media
from bot.stores import FileStore
from bot.uploads import reencode
from handlers.types import Attachment

log = logging.getLogger(__name__)
MAX_MEDIA = 10 * 1024 * 1024  # WeChat's own limit for an image; a voice is far smaller
AMR_MAGIC = b"#!AMR\n"
# Bytes after the header byte of one 20 ms AMR-NB frame, by frame type (0–7 speech, 8 comfort noise).
AMR_FRAME = (12, 13, 15, 17, 19, 20, 26, 31, 5, 0, 0, 0, 0, 0, 0, 0)
VOICE_FORMATS = ("amr", "speex", "mp3")


class MediaLost(Exception):
    """The media could not be downloaded (expired, refused, not what it claimed to be)."""


def fetch(api: OfficialAccount, http: requests.Session, files: FileStore, media: Media) -> Attachment:
    """Download one media file and keep it; the Attachment names our copy. Raises MediaLost."""
    data = _download(api, http, media)
    if media.kind == "image":
        try:
            stored, extension = reencode(data)
        except ValueError as exc:  # NotAnImage, TooManyPixels
            raise MediaLost(f"image: {exc}") from None
        name = f"{secrets.token_urlsafe(24)}.{extension}"
        files.save(name, stored)
        return Attachment("photo", name, size=len(stored))
    extension = media.format.lower() if media.format.lower() in VOICE_FORMATS else "amr"
    name = f"{secrets.token_urlsafe(24)}.{extension}"
    files.save(name, data)
    return Attachment("voice", name, duration=amr_seconds(data), size=len(data))


def _download(api: OfficialAccount, http: requests.Session, media: Media) -> bytes:
    """The file from media/get, else (an image) from its PicUrl."""
    try:
        data, _ = api.download(media.media_id)
    except (PlatformError, requests.RequestException) as exc:
        if not media.pic_url.startswith(("https://", "http://")):
            raise MediaLost(str(exc)) from None
        log.info("WeChat media/get refused %s (%s); fetching its PicUrl", media.media_id, exc)
        try:
            response = http.get(media.pic_url, timeout=10)
            response.raise_for_status()
        except requests.RequestException as error:
            raise MediaLost(str(error)) from None
        data = response.content
    if not data:
        raise MediaLost("empty file")
    if len(data) > MAX_MEDIA:
        raise MediaLost(f"{len(data)} bytes")
    return data


def amr_seconds(data: bytes) -> int | None:
    """A voice's length in whole seconds (at least 1) from its AMR-NB frames; None for other formats."""
    if not data.startswith(AMR_MAGIC):
        return None
    position, frames = len(AMR_MAGIC), 0
    while position < len(data):
        frame_type = (data[position] >> 3) & 0x0F
        position += 1 + AMR_FRAME[frame_type]
        frames += 1
    return max(1, round(frames * 0.02))
