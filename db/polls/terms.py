"""What every poll job shares: the error a broken rule raises, the limits of a poll, and its states."""

from __future__ import annotations

import secrets
from datetime import timedelta

from db.models import Home, Poll

KINDS = ("decision", "election")
MATTERS = range(1, 10)
SPECIAL_MATTERS = frozenset({6, 7, 8})
NOTICE_PERIOD = timedelta(days=15)  # notice before voting opens, unless shortened with a reason
MIN_WINDOW = timedelta(hours=24)
MAX_WINDOW = timedelta(days=90)
MAX_AHEAD = timedelta(days=365)
REMINDERS = (timedelta(days=3), timedelta(days=1))  # before the close, to owners who have not voted
RESULT_PUBLICITY = timedelta(days=15)
MAX_TITLE = 100
MAX_BODY = 3000
MAX_REASON = 300
MAX_CANDIDATES = 10  # receipts are checked by trying every ballot a voter could have cast
MAX_CANDIDATE_NAME = 30
DEVELOPER_UNIT = "developer"
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed back
CODE_LENGTH = 12
OPEN_STATES = ("announced", "open")
ANNOUNCED_TO = ("owners", "tenants")  # who a poll's notices reach (announcement, withdrawal, result)


def readable_code(groups: tuple[int, ...]) -> str:
    """A random code in groups of CODE_ALPHABET letters joined by dashes, e.g. (4, 4, 4): `ABCD-EFGH-JKLM`."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(sum(groups)))
    return _grouped(raw, groups)


def typed_code(text: str, groups: tuple[int, ...]) -> str:
    """A typed code in its printed form (case, spaces and dashes forgiven); "" if malformed."""
    raw = "".join(ch for ch in text.upper() if ch.isalnum())
    if len(raw) != sum(groups) or any(ch not in CODE_ALPHABET for ch in raw):
        return ""
    return _grouped(raw, groups)


def _grouped(raw: str, groups: tuple[int, ...]) -> str:
    parts, at = [], 0
    for size in groups:
        parts.append(raw[at : at + size])
        at += size
    return "-".join(parts)


class PollError(ValueError):
    """A poll rule was broken; `reason` is a short key the handlers turn into a message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def in_scope(poll: Poll, home: Home) -> bool:
    """Whether a home lies in the poll's compound and chosen buildings."""
    return home.compound_id == poll.node_id and (not poll.buildings or home.building_id in poll.buildings)
