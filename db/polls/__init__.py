"""Owners' polls (DESIGN §4.2), one module per job:

- `terms`: the error, the limits and states every job shares
- `authoring`: drafts, their checks, creating a poll with its announcement, withdrawing it
- `electorate`: who may vote (homes, owner units, co-owners, the developer), frozen at the opening
- `ballots`: casting and changing a vote, secrecy (the sealed box), receipts
- `counting`: the close's count, and the result kept as numbers
- `schedule`: open, remind, close when their time comes
- `views`: what a person sees (lists, scope, live turnout)

The names below are the ones other layers use; the use cases in core/polls.py are the way in for writes.
"""

from db.polls.authoring import Draft, buildings_of, check
from db.polls.ballots import (
    Cast,
    check_receipt,
    digest,
    read_choice,
    receipt_hash,
    receipts,
    unreadable_polls,
)
from db.polls.counting import count
from db.polls.electorate import standing, unit_area
from db.polls.schedule import due
from db.polls.terms import (
    DEVELOPER_UNIT,
    KINDS,
    MATTERS,
    MAX_AHEAD,
    MAX_BODY,
    MAX_CANDIDATE_NAME,
    MAX_CANDIDATES,
    MAX_REASON,
    MAX_TITLE,
    MAX_WINDOW,
    MIN_WINDOW,
    NOTICE_PERIOD,
    RESULT_PUBLICITY,
    SPECIAL_MATTERS,
    PollError,
)

__all__ = [
    "DEVELOPER_UNIT",
    "KINDS",
    "MATTERS",
    "MAX_AHEAD",
    "MAX_BODY",
    "MAX_CANDIDATES",
    "MAX_CANDIDATE_NAME",
    "MAX_REASON",
    "MAX_TITLE",
    "MAX_WINDOW",
    "MIN_WINDOW",
    "NOTICE_PERIOD",
    "RESULT_PUBLICITY",
    "SPECIAL_MATTERS",
    "Cast",
    "Draft",
    "PollError",
    "buildings_of",
    "check",
    "check_receipt",
    "count",
    "digest",
    "due",
    "read_choice",
    "receipt_hash",
    "receipts",
    "standing",
    "unit_area",
    "unreadable_polls",
]
