"""Signed links to the statement page (收支公示): the chat hands a person a link that speaks for them for a
while, so a resident on Telegram or WeChat opens the page without signing in anywhere.

A link names the person and when it stops working, sealed with an HMAC under a key derived from the app's
sealing key; the page still asks the permission policy whether that person may see the statement, so a
link copied to someone else shows only what its owner may see, and a forged or expired one shows nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

from db.types import parse_id

LIFETIME = timedelta(days=7)
_LABEL = b"linli statement page"


def _key(seal_key: bytes) -> bytes:
    """The links' own key: derived, so a link never reveals anything about the sealing key itself."""
    return hmac.new(seal_key, _LABEL, hashlib.sha256).digest()


def _mac(seal_key: bytes, person_id: int, expires: int) -> str:
    digest = hmac.new(_key(seal_key), f"{person_id}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def issue(seal_key: bytes, person_id: int, now: datetime, lifetime: timedelta = LIFETIME) -> str:
    """A token that lets this person open statement pages until `now + lifetime`."""
    expires = int((now + lifetime).timestamp())
    return f"{person_id}.{expires}.{_mac(seal_key, person_id, expires)}"


def person_of(seal_key: bytes, token: str, now: datetime) -> int | None:
    """The person a token speaks for, or None when it is malformed, forged or expired."""
    parts = token.split(".") if len(token) <= 80 else []
    if len(parts) != 3 or not seal_key:
        return None
    person_id = parse_id(parts[0])
    expires = int(parts[1]) if parts[1].isascii() and parts[1].isdigit() and len(parts[1]) <= 12 else None
    if person_id is None or expires is None:
        return None
    if not hmac.compare_digest(parts[2], _mac(seal_key, person_id, expires)):
        return None
    return person_id if now.timestamp() < expires else None


def page_url(public_url: str, statement_id: int, token: str) -> str:
    """The address of a statement's page with a person's token."""
    return f"{public_url.rstrip('/')}/accounts/{statement_id}?t={token}"
