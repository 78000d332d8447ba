"""Ballots and their secrecy (DESIGN §4.2): cast or change a unit's one vote, receipts, the sealed box.

`poll_turnout` records who voted (one row per owner unit, the one-vote constraint) and `poll_ballot` what
was chosen (area, choice, receipt hash). They share no key: a ballot's id is random, it carries no person,
home, unit or time, and the `seal` that lets a permitted change find the ballot again is an HMAC under the
application's ballot key, which never enters the database. A secret ballot's choice is stored encrypted
under that key until the close, which rewrites the whole box in random order. Only an open (non-secret)
poll also writes the unit on its ballots.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, tzinfo
from itertools import combinations

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from db.models import Poll, PollBallot, PollHome, PollPaper, PollTurnout, PollVoter
from db.polls import proxies
from db.polls.electorate import standing, unit_area
from db.polls.terms import OPEN_STATES, PollError, readable_code, typed_code
from db.rows import id_of
from db.tally import CHOICES


@dataclass(frozen=True, slots=True)
class Cast:
    """What a voter is shown once: the secret code of their receipt, and its public fingerprint."""

    code: str
    fingerprint: str
    choice: str
    changed: bool


def canonical_choice(poll: Poll, choice: str) -> str:
    """A ballot's choice in its one stored form, or PollError("choice")."""
    if poll.kind == "decision":
        if choice not in CHOICES:
            raise PollError("choice")
        return choice
    if choice == "":
        return ""  # approves no candidate: takes part, approves no one
    parts = choice.split(",")
    if not all(p.isdigit() and len(p) <= 2 for p in parts):
        raise PollError("choice")
    picked = sorted({int(p) for p in parts})
    if len(picked) != len(parts) or not all(1 <= p <= len(poll.candidates) for p in picked):
        raise PollError("choice")
    if len(picked) > poll.seats:
        raise PollError("too_many")
    return ",".join(map(str, picked))


RECEIPT_GROUPS = (4, 4, 4)  # CODE_LENGTH characters in three groups


def new_code() -> str:
    """A receipt code the voter keeps: 12 characters easy to read aloud, in three groups."""
    return readable_code(RECEIPT_GROUPS)


def normalise_code(text: str) -> str:
    """A typed receipt code in its printed form (case, spaces and dashes forgiven); "" if malformed."""
    return typed_code(text, RECEIPT_GROUPS)


def receipt_hash(poll_id: int, choice: str, code: str) -> str:
    """The receipt published for a ballot: sha256 of the poll, the choice and the voter's secret code."""
    return hashlib.sha256(f"linli-ballot|{poll_id}|{choice}|{code}".encode()).hexdigest()


def fingerprint(receipt: str) -> str:
    """The short form of a receipt that lists and messages show."""
    return receipt[:16]


def _box(key: bytes) -> Fernet:
    """The cipher that keeps a secret ballot's choice unreadable in the database until the close."""
    return Fernet(base64.urlsafe_b64encode(hmac.new(key, b"linli ballot box", hashlib.sha256).digest()))


def _seal(poll: Poll, unit: str, key: bytes) -> str:
    if not poll.changeable:
        return secrets.token_hex(32)  # nothing will look for this ballot again: the seal names no one
    return hmac.new(key, f"seal|{poll.id}|{unit}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Existing:
    """The ballot that stands for a home: how it was cast and when (never what it chose)."""

    channel: str  # online | paper | proxy
    at: datetime
    sealed: bool = False  # a sealed paper ballot of a secret poll, its choice still in the envelope


class BallotTaken(PollError):
    """The home's owner has voted already (reason "home_voted"): `existing` is the ballot that stands."""

    def __init__(self, existing: Existing) -> None:
        super().__init__("home_voted")
        self.existing = existing


def standing_ballot(session: Session, poll_id: int, unit: str) -> Existing | None:
    """The ballot that stands for an owner unit (channel, when, sealed), or None."""
    turnout = session.get(PollTurnout, (poll_id, unit))
    if turnout is None:
        return None
    sealed = False
    if turnout.channel == "paper":
        paper = session.get(PollPaper, (poll_id, unit))
        sealed = paper is not None and paper.sealed
    return Existing(turnout.channel, turnout.voted_at, sealed)


def take_unit(
    session: Session,
    poll: Poll,
    unit: str,
    person_id: int | None,
    channel: str,
    home_id: int | None,
    now: datetime,
) -> PollTurnout:
    """Insert the unit's one turnout row, or raise BallotTaken with the ballot that stands (any channel)."""
    try:
        with session.begin_nested():
            # The primary key (poll, unit) is the one-ballot rule: an online vote and a paper entry for one
            # home at the same moment, in two processes, cannot both insert.
            row = PollTurnout(
                poll_id=id_of(poll),
                unit=unit,
                person_id=person_id,
                voted_at=now,
                channel=channel,
                home_id=home_id,
            )
            session.add(row)
            session.flush()
    except IntegrityError:
        session.expire_all()
        existing = standing_ballot(session, id_of(poll), unit)
        if existing is None:  # the other writer rolled back after all: the caller may try again
            raise PollError("busy") from None
        raise BallotTaken(existing) from None
    return row


def vote(
    session: Session,
    poll_id: int,
    person_id: int,
    choice: str,
    now: datetime,
    seal_key: bytes,
    home_id: int | None = None,
    zone: tzinfo | None = None,
) -> Cast:
    """Cast (or, where allowed, change) the one vote of the person's owner unit, or of `home_id`: one of their
    own units, or a home they hold a proxy for (the ballot is then recorded as cast by proxy); PollError with
    the reason ("which_home" when they vote for several owners and named none)."""
    # FOR SHARE: a close that holds the poll (FOR UPDATE) makes the vote wait and then see it closed, and
    # a vote being written makes the scheduler skip the poll (SKIP LOCKED) until it has committed; without
    # it a ballot could be committed after the count and be missing from the tally yet pass its receipt
    # check. populate_existing: the state is read afresh even if this session loaded the poll before.
    poll = session.get(Poll, poll_id, with_for_update={"read": True}, populate_existing=True)
    if poll is None:
        raise PollError("not_found")
    if poll.state != "open" or not poll.opens_at <= now < poll.closes_at:
        raise PollError(
            "closed" if poll.state in ("closed", "cancelled") or now >= poll.closes_at else "not_open"
        )
    unit, channel, home_id = _voting_for(session, poll, person_id, now, home_id, zone)
    choice = canonical_choice(poll, choice)
    code = new_code()
    receipt = receipt_hash(poll_id, choice, code)
    seal = _seal(poll, unit, seal_key)
    turnout = session.get(PollTurnout, (poll.id, unit), with_for_update=True)
    if turnout is not None:
        if turnout.person_id != person_id:
            raise PollError("home_voted")
        if not poll.changeable:
            raise PollError("voted")
        ballot = session.exec(
            select(PollBallot).where(PollBallot.poll_id == poll.id, PollBallot.seal == seal).with_for_update()
        ).one_or_none()
        if ballot is None:  # the ballot key changed since the vote: the ballot cannot be found again
            raise PollError("seal_lost")
        ballot.choice, ballot.receipt = _stored(poll, choice, seal_key), receipt
        turnout.changes += 1
        session.flush()
        return Cast(code, fingerprint(receipt), choice, changed=True)
    try:
        take_unit(session, poll, unit, person_id, channel, home_id, now)
    except BallotTaken:
        winner = session.get(PollTurnout, (poll.id, unit))
        raise PollError(
            "home_voted" if winner is not None and winner.person_id != person_id else "voted"
        ) from None
    session.add(
        PollBallot(
            id=secrets.token_hex(16),
            poll_id=id_of(poll),
            seal=seal,
            area_centi_m2=unit_area(session, id_of(poll), unit),
            choice=_stored(poll, choice, seal_key),
            receipt=receipt,
            unit=None if poll.secret else unit,
        )
    )
    session.flush()
    return Cast(code, fingerprint(receipt), choice, changed=False)


def _voting_for(
    session: Session, poll: Poll, person_id: int, now: datetime, home_id: int | None, zone: tzinfo | None
) -> tuple[str, str, int | None]:
    """The owner unit a vote is for, its channel ("online" for one's own, "proxy"), and the home named."""
    own = list(
        session.exec(
            select(PollVoter.unit).where(PollVoter.poll_id == poll.id, PollVoter.person_id == person_id)
        ).all()
    )
    if home_id is None:
        if len(own) == 1:
            return own[0], "online", None
        if own:
            raise PollError("which_home")
        raise PollError(standing(session, poll, person_id, now))
    home = session.get(PollHome, (poll.id, home_id))
    if home is None:
        raise PollError("not_in_poll")
    if home.unit in own:
        return home.unit, "online", None
    if home_id in proxies.homes_for(session, poll, person_id, now, zone):
        return home.unit, "proxy", home_id
    raise PollError("not_proxy")


def _stored(poll: Poll, choice: str, key: bytes) -> str:
    """A secret ballot's choice is stored encrypted: the row is written in the voter's own transaction
    (PostgreSQL's xmin, row order), and each row keeps its unit's area, which may be unique."""
    return _box(key).encrypt(choice.encode()).decode() if poll.secret else choice


def read_choice(key: bytes, stored: str) -> str:
    """A secret ballot's choice, decrypted with the application's key (audits, tests)."""
    return _box(key).decrypt(stored.encode()).decode()


def opened_ballots(session: Session, poll: Poll, key: bytes) -> list[tuple[str, int, str]]:
    """Every ballot of the poll as (id, area, choice), read with the application's key, in memory only."""
    ballots = session.exec(
        select(PollBallot.id, PollBallot.area_centi_m2, PollBallot.choice).where(
            PollBallot.poll_id == poll.id
        )
    ).all()
    if not poll.secret:
        return [(i, a, c) for i, a, c in ballots]
    box = _box(key)  # once: it derives the cipher's key
    return [(i, a, box.decrypt(c.encode()).decode()) for i, a, c in ballots]


def unreadable_polls(session: Session, key: bytes) -> list[int]:
    """Open or announced secret polls whose ballots this key cannot decrypt (one ballot of each is
    tried): the wrong BALLOT_KEY, which would make them uncountable at their close."""
    found: list[int] = []
    for poll in session.exec(
        select(Poll).where(col(Poll.secret).is_(True), col(Poll.state).in_(OPEN_STATES))
    ).all():
        stored = session.exec(select(PollBallot.choice).where(PollBallot.poll_id == poll.id).limit(1)).first()
        if stored is None:
            continue
        try:
            _box(key).decrypt(stored.encode())
        except InvalidToken:
            found.append(id_of(poll))
    return found


def reshuffle(session: Session, poll: Poll, key: bytes) -> None:
    """At the close: check every ballot decrypts, then write them all again in random order, under new
    ids, seals and ciphertexts, in the closing transaction: no trace of the voting transactions remains.

    Plain rows in, one DELETE and one executemany out: a box of 20 000 ballots is rewritten in seconds."""
    rows = session.exec(
        select(PollBallot.area_centi_m2, PollBallot.choice, PollBallot.receipt, PollBallot.unit).where(
            PollBallot.poll_id == poll.id
        )
    ).all()
    box = _box(key)
    opened = []
    for area, stored, receipt, unit in rows:
        try:
            choice = box.decrypt(stored.encode()).decode() if poll.secret else stored
        except InvalidToken:
            raise RuntimeError(
                f"poll {poll.id}: a ballot cannot be decrypted (was BALLOT_KEY changed?)"
            ) from None
        choice = canonical_choice(poll, choice)
        opened.append((area, box.encrypt(choice.encode()).decode() if poll.secret else choice, receipt, unit))
    session.exec(delete(PollBallot).where(col(PollBallot.poll_id) == poll.id))
    session.flush()
    secrets.SystemRandom().shuffle(opened)
    if opened:
        poll_id = id_of(poll)
        session.connection().execute(
            PollBallot.__table__.insert(),  # type: ignore[attr-defined]
            [
                {
                    "id": secrets.token_hex(16),
                    "poll_id": poll_id,
                    "seal": secrets.token_hex(32),
                    "area_centi_m2": area,
                    "choice": choice,
                    "receipt": receipt,
                    "unit": unit,
                }
                for area, choice, receipt, unit in opened
            ],
        )


def _possible_choices(poll: Poll) -> list[str]:
    if poll.kind == "decision":
        return list(CHOICES)
    numbers = range(1, len(poll.candidates) + 1)
    return [",".join(map(str, c)) for size in range(poll.seats + 1) for c in combinations(numbers, size)]


def check_receipt(session: Session, poll: Poll, code: str) -> tuple[str, str] | None:
    """The (choice, fingerprint) a receipt code was counted with, or None when no ballot carries it."""
    code = normalise_code(code)
    if not code:
        return None
    by_hash = {receipt_hash(id_of(poll), c, code): c for c in _possible_choices(poll)}
    found = session.exec(
        select(PollBallot.receipt).where(
            PollBallot.poll_id == poll.id, col(PollBallot.receipt).in_(list(by_hash))
        )
    ).first()
    return (by_hash[found], fingerprint(found)) if found else None


def receipts(session: Session, poll_id: int) -> list[str]:
    """Every ballot's receipt hash, sorted (the published list)."""
    return sorted(session.exec(select(PollBallot.receipt).where(PollBallot.poll_id == poll_id)).all())


def digest(receipt_list: list[str]) -> str:
    """sha256 over the sorted receipts, one per line: anyone with the list can recompute it."""
    return hashlib.sha256("\n".join(sorted(receipt_list)).encode()).hexdigest()
