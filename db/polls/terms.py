"""What every poll job shares: the error a broken rule raises, the limits of a poll, and its states."""

from __future__ import annotations

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
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12
OPEN_STATES = ("announced", "open")
ANNOUNCED_TO = ("owners", "tenants")  # who a poll's notices reach (announcement, withdrawal, result)


class PollError(ValueError):
    """A poll rule was broken; `reason` is a short key the handlers turn into a message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def in_scope(poll: Poll, home: Home) -> bool:
    """Whether a home lies in the poll's compound and chosen buildings."""
    return home.compound_id == poll.node_id and (not poll.buildings or home.building_id in poll.buildings)
