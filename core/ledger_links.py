"""Signed links to the statement page (收支公示): the chat hands a person a link that speaks for them for a
while, so a resident on Telegram or WeChat opens the page without signing in anywhere.

A link names the person and when it stops working, sealed with an HMAC under a key derived from the app's
sealing key together with the statement it opens (a link to one statement opens no other); the page still
asks the permission policy whether that person may see the statement, so a link copied to someone else
shows only what its owner may see, and a forged or expired one shows nothing.
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


def _mac(seal_key: bytes, person_id: int, statement_id: int, expires: int) -> str:
    message = f"{person_id}:{statement_id}:{expires}".encode()
    digest = hmac.new(_key(seal_key), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def _token(seal_key: bytes, person_id: int, statement_id: int, expires: int) -> str:
    return f"{person_id}.{expires}.{_mac(seal_key, person_id, statement_id, expires)}"


def issue(
    seal_key: bytes, person_id: int, statement_id: int, now: datetime, lifetime: timedelta = LIFETIME
) -> str:
    """A token that lets this person open this statement's page until `now + lifetime`."""
    return _token(seal_key, person_id, statement_id, int((now + lifetime).timestamp()))


def _read(seal_key: bytes, token: str, statement_id: int) -> tuple[int, int] | None:
    """The person and expiry a token carries for a statement, or None when it is malformed or forged."""
    parts = token.split(".") if len(token) <= 80 else []
    if len(parts) != 3 or not seal_key:
        return None
    person_id = parse_id(parts[0])
    expires = int(parts[1]) if parts[1].isascii() and parts[1].isdigit() and len(parts[1]) <= 12 else None
    if person_id is None or expires is None:
        return None
    # Compared as bytes: a str holding other than ASCII would make compare_digest raise.
    expected = _mac(seal_key, person_id, statement_id, expires).encode()
    if not hmac.compare_digest(parts[2].encode("utf-8", "replace"), expected):
        return None
    return person_id, expires


def person_of(seal_key: bytes, token: str, statement_id: int, now: datetime) -> int | None:
    """The person a token speaks for on this statement's page, or None when it is malformed, forged, for
    another statement or expired."""
    found = _read(seal_key, token, statement_id)
    if found is None:
        return None
    person_id, expires = found
    return person_id if now.timestamp() < expires else None


def for_statement(seal_key: bytes, token: str, statement_id: int, other_id: int) -> str:
    """The same person's token, expiring at the same time, for another statement (another version of
    the one open); "" when the token is not good for `statement_id`."""
    found = _read(seal_key, token, statement_id)
    if found is None:
        return ""
    return _token(seal_key, found[0], other_id, found[1])


def page_url(public_url: str, statement_id: int, token: str) -> str:
    """The address of a statement's page with a person's token."""
    return f"{public_url.rstrip('/')}/accounts/{statement_id}?t={token}"
