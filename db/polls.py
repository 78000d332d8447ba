"""Owners' polls (DESIGN §4.2): create and announce, freeze the electorate at opening, vote with secret
ballots and receipts, live turnout, reminders, close with the tally and publish the result.

Secrecy: `poll_turnout` records who voted (one row per owner unit, the one-vote constraint) and
`poll_ballot` what was chosen (area, choice, receipt hash). They share no key: a ballot's id is random,
it carries no person, home, unit or time, and the `seal` that lets a permitted change find the ballot
again is an HMAC under the application's ballot key, which never enters the database. Only an open
(non-secret) poll also writes the unit on its ballots.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from itertools import combinations
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.events import Event
from core.permissions import (
    VERIFIED,
    Action,
    Actor,
    ResidentKind,
    grants_for,
    is_voter,
    may,
    outermost,
    place,
)
from db import notices, outbox
from db.models import (
    Home,
    Notice,
    OrgNode,
    Poll,
    PollBallot,
    PollHome,
    PollTurnout,
    PollVoter,
    Residency,
)
from db.org import in_subtrees
from db.people import grants_of
from db.sla import Policy
from db.tally import CHOICES, Ballot, Result, tally
from db.tally import Home as TallyHome

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
OPENED = "pollpush.opened"
REMINDER = "pollpush.reminder"
AUTHOR_OPENED = "pollpush.opened_author"
AUTHOR_CLOSED = "pollpush.closed_author"
OPEN_STATES = ("announced", "open")


class PollError(ValueError):
    """A poll rule was broken; `reason` is a short key the handlers turn into a message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- who may run a poll, and where -----------------------------------------------------------------


def author_compounds(session: Session, person_id: int) -> list[OrgNode]:
    """The compounds a person may run polls in: those the policy puts in their jurisdiction for polls."""
    grants = grants_for(Actor(person_id, grants_of(session, person_id)), Action.RUN_POLL)
    paths = outermost(g.path for g in grants)
    if not paths:
        return []
    found = session.exec(
        select(OrgNode).where(OrgNode.kind == "compound", in_subtrees(col(OrgNode.path), paths))
    ).all()
    return sorted(found, key=lambda n: (n.path, n.name))


def may_author(session: Session, person_id: int | None, node: OrgNode) -> bool:
    """Whether the person may run polls in this compound (None: the system, e.g. the CLI)."""
    if person_id is None:
        return True
    actor = Actor(person_id, grants_of(session, person_id))
    return node.kind == "compound" and may(actor, Action.RUN_POLL, place(node.path))


def buildings_of(session: Session, compound_id: int) -> list[OrgNode]:
    """A compound's buildings, by name."""
    return list(
        session.exec(
            select(OrgNode)
            .where(OrgNode.parent_id == compound_id, OrgNode.kind == "building")
            .order_by(col(OrgNode.name))
        ).all()
    )


def _scope_homes(session: Session, poll: Poll) -> list[Home]:
    query = select(Home).where(Home.compound_id == poll.node_id)
    if poll.buildings:
        query = query.where(col(Home.building_id).in_(poll.buildings))
    return list(session.exec(query.order_by(col(Home.id))).all())


def in_scope(poll: Poll, home: Home) -> bool:
    """Whether a home lies in the poll's compound and chosen buildings."""
    return home.compound_id == poll.node_id and (not poll.buildings or home.building_id in poll.buildings)


# --- creating and announcing ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Draft:
    """Everything staff decide about a poll before it is announced."""

    node_id: int
    title: str
    body: str
    matter: int
    kind: str
    opens_at: datetime
    closes_at: datetime
    buildings: tuple[int, ...] = ()
    candidates: tuple[str, ...] = ()
    seats: int = 0
    secret: bool = True
    changeable: bool = False
    consultative: bool = False
    shortened_reason: str = ""
    attachment: tuple[str, str, str] | None = None  # (kind, channel, ref)


def check(session: Session, author_id: int | None, draft: Draft, now: datetime) -> Draft:
    """Validate a draft against every rule; returns it cleaned (trimmed texts, sorted buildings)."""
    title, body, reason = draft.title.strip(), draft.body.strip(), draft.shortened_reason.strip()
    if not title or len(title) > MAX_TITLE:
        raise PollError("title")
    if not body or len(body) > MAX_BODY:
        raise PollError("body")
    if type(draft.matter) is not int or draft.matter not in MATTERS:
        raise PollError("matter")
    if draft.kind not in KINDS:
        raise PollError("kind")
    candidates = tuple(c.strip() for c in draft.candidates)
    seats = draft.seats
    if draft.kind == "election":
        if len(candidates) < 1 or len(candidates) > MAX_CANDIDATES:
            raise PollError("candidates")
        if any(not c or len(c) > MAX_CANDIDATE_NAME for c in candidates) or len(set(candidates)) != len(
            candidates
        ):
            raise PollError("candidates")
        if type(seats) is not int or not 1 <= seats <= len(candidates):
            raise PollError("seats")
    elif candidates:
        raise PollError("candidates")
    elif seats:
        raise PollError("seats")
    node = session.get(OrgNode, draft.node_id)
    if node is None or node.kind != "compound":
        raise PollError("node")
    if not may_author(session, author_id, node):
        raise PollError("not_allowed")
    known = {b.id for b in buildings_of(session, node.id)}  # type: ignore[arg-type]
    buildings = tuple(sorted(set(draft.buildings)))
    if not set(buildings) <= known:
        raise PollError("buildings")
    if draft.opens_at < now - timedelta(minutes=5) or draft.opens_at > now + MAX_AHEAD:
        raise PollError("opens_at")
    if draft.opens_at < now + NOTICE_PERIOD - timedelta(minutes=5) and not reason:
        raise PollError("reason")  # a shorter notice than 15 days needs its reason stated
    if len(reason) > MAX_REASON:
        raise PollError("reason")
    if draft.attachment is not None:
        kind, channel, ref = draft.attachment
        if kind not in ("photo", "document") or not 0 < len(ref) <= 200 or not 0 < len(channel) <= 16:
            raise PollError("attachment")
    window = draft.closes_at - max(draft.opens_at, now)  # measured from when voting will really open
    if window < MIN_WINDOW or window > MAX_WINDOW:
        raise PollError("window")
    homes = session.exec(
        select(func.count())
        .select_from(Home)
        .where(Home.compound_id == node.id, *([col(Home.building_id).in_(buildings)] if buildings else []))
    ).one()
    if not homes:
        raise PollError("no_homes")
    return Draft(
        node_id=node.id,  # type: ignore[arg-type]
        title=title,
        body=body,
        matter=draft.matter,
        kind=draft.kind,
        opens_at=max(draft.opens_at, now),
        closes_at=draft.closes_at,
        buildings=buildings,
        candidates=candidates,
        seats=seats if draft.kind == "election" else 0,
        secret=draft.secret,
        changeable=draft.changeable,
        consultative=draft.consultative,
        shortened_reason=reason if draft.opens_at < now + NOTICE_PERIOD - timedelta(minutes=5) else "",
        attachment=draft.attachment,
    )


def create(session: Session, author_id: int | None, draft: Draft, now: datetime, policy: Policy) -> Poll:
    """Write a poll and its announcement to everyone in scope (a notice), in the caller's transaction."""
    draft = check(session, author_id, draft, now)
    kind, channel, ref = draft.attachment or ("", "", "")
    poll = Poll(
        node_id=draft.node_id,
        buildings=list(draft.buildings),
        title=draft.title,
        body=draft.body,
        attachment_kind=kind,
        attachment_channel=channel,
        attachment_ref=ref,
        matter=draft.matter,
        kind=draft.kind,
        candidates=list(draft.candidates),
        seats=draft.seats,
        secret=draft.secret,
        changeable=draft.changeable,
        consultative=draft.consultative,
        shortened_reason=draft.shortened_reason,
        author_id=author_id,
        created_at=now,
        opens_at=draft.opens_at,
        closes_at=draft.closes_at,
        state="announced",
        next_due_at=draft.opens_at,
    )
    session.add(poll)
    session.flush()
    poll.announce_notice_id = _publish(
        session, poll, announcement(poll), poll.closes_at, draft.attachment, now, policy
    )
    session.flush()
    return poll


def _publish(
    session: Session,
    poll: Poll,
    content: dict[str, Any],
    until: datetime,
    attachment: tuple[str, str, str] | None,
    now: datetime,
    policy: Policy,
) -> int | None:
    """Publish (公示) a poll's announcement or result to owners and tenants in scope; the notice's id."""
    notice, published = notices.create(
        session,
        author_id=None,  # the author's right was checked already; committee members hold no notice grant
        kind="meeting",
        title=poll.title,
        body=poll.body,
        node_id=poll.node_id,
        buildings=list(poll.buildings),
        roles=["owners", "tenants"],
        send_at=now,
        publicity_until=until,
        ack_required=False,
        attachment=attachment,
        now=now,
        data={"poll": content},
        mutable=False,  # a legal requirement: muting meeting notices does not skip a poll's notices
    )
    _tell_now(session, now, policy, published)
    return notice.id


def _tell_now(session: Session, now: datetime, policy: Policy, *events: Event) -> None:
    """Write the pushes events cause, in this transaction. A bridge while the polls' rules take no unit of
    work: once their use cases record events on the turn's Work, they publish them with the rest."""
    from core import notify  # the notify layer imports the rules; imported here, not at the top
    from core.work import Work

    work = Work(session, now, policy)
    work.record(*events)
    notify.publish(work)


def announcement(poll: Poll) -> dict[str, Any]:
    """What the announcement notice shows, as plain values for the templates."""
    return {
        "id": poll.id,
        "event": "announced",
        "matter": poll.matter,
        "special": poll.matter in SPECIAL_MATTERS,
        "kind": poll.kind,
        "candidates": list(poll.candidates),
        "seats": poll.seats,
        "secret": poll.secret,
        "changeable": poll.changeable,
        "consultative": poll.consultative,
        "shortened_reason": poll.shortened_reason,
        "opens_at": poll.opens_at.isoformat(),
        "closes_at": poll.closes_at.isoformat(),
    }


def cancel(session: Session, poll_id: int, person_id: int | None, now: datetime, policy: Policy) -> Poll:
    """Withdraw a poll that has not opened yet and tell everyone who had its announcement."""
    poll = session.get(Poll, poll_id, with_for_update=True, populate_existing=True)  # after the lock: fresh
    if poll is None:
        raise PollError("not_found")
    node = session.get(OrgNode, poll.node_id)
    if node is None or not may_author(session, person_id, node):
        raise PollError("not_allowed")
    if poll.state != "announced":
        raise PollError("not_cancellable")
    poll.state, poll.next_due_at, poll.closed_at = "cancelled", None, now
    notice = session.get(Notice, poll.announce_notice_id) if poll.announce_notice_id else None
    if notice is not None:  # the announcement is no longer on display; opened from history it says withdrawn
        notice.data = {**notice.data, "poll": {**notice.data.get("poll", {}), "cancelled": True}}
        notice.publicity_until = now
    withdrawn = {**announcement(poll), "event": "withdrawn", "cancelled": True}
    _publish(session, poll, withdrawn, now + RESULT_PUBLICITY, None, now, policy)
    return poll


# --- the electorate ---------------------------------------------------------------------------------


def _units(homes: list[Home], owners: dict[int, list[int]]) -> tuple[dict[int, str], dict[int, str]]:
    """Owner units per home and per person: homes sharing an owner are one unit (SPC interpretation
    Art. 9: one buyer of several homes counts once; co-owners of a home cast one vote); the developer's
    unsold homes are one unit; a home whose owner is not registered here is a unit of its own."""
    parent: dict[int, int] = {h.id: h.id for h in homes}  # type: ignore[misc]

    def root(home_id: int) -> int:
        while parent[home_id] != home_id:
            parent[home_id] = parent[parent[home_id]]
            home_id = parent[home_id]
        return home_id

    first_home: dict[int, int] = {}
    for home_id, persons in owners.items():
        for person_id in persons:
            other = first_home.setdefault(person_id, home_id)
            a, b = root(home_id), root(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    home_unit: dict[int, str] = {}
    for home in homes:
        assert home.id is not None
        if home.id in owners:
            home_unit[home.id] = f"u{root(home.id)}"
        elif home.unsold:
            home_unit[home.id] = DEVELOPER_UNIT
        else:
            home_unit[home.id] = f"h{home.id}"
    person_unit = {p: home_unit[h] for p, h in first_home.items()}
    return home_unit, person_unit


def freeze(session: Session, poll: Poll) -> None:
    """Write the electorate as it stands now: every home in scope and the verified owners who vote."""
    homes = _scope_homes(session, poll)
    owners: dict[int, list[int]] = defaultdict(list)
    if homes:
        rows = session.exec(
            select(Residency.home_id, Residency.person_id).where(
                col(Residency.home_id).in_([h.id for h in homes]),
                Residency.kind == ResidentKind.OWNER.value,  # only verified owners vote (is_voter)
                Residency.status == VERIFIED,
            )
        ).all()
        for home_id, person_id in rows:
            owners[home_id].append(person_id)
    home_unit, person_unit = _units(homes, owners)
    session.add_all(
        PollHome(
            poll_id=poll.id,  # type: ignore[arg-type]
            home_id=h.id,  # type: ignore[arg-type]
            building_id=h.building_id,
            unit=home_unit[h.id],  # type: ignore[index]
            area_centi_m2=h.area_centi_m2,
        )
        for h in homes
    )
    session.add_all(
        PollVoter(poll_id=poll.id, person_id=p, unit=u)  # type: ignore[arg-type]
        for p, u in sorted(person_unit.items())
    )
    poll.total_area = sum(h.area_centi_m2 for h in homes)
    poll.total_owners = len(set(home_unit.values()))
    session.flush()


def unit_area(session: Session, poll_id: int, unit: str) -> int:
    """The summed area of an owner unit's homes in the frozen electorate."""
    return int(
        session.exec(
            select(func.coalesce(func.sum(PollHome.area_centi_m2), 0)).where(
                PollHome.poll_id == poll_id, PollHome.unit == unit
            )
        ).one()
    )


# --- who may vote -----------------------------------------------------------------------------------


def standing(session: Session, poll: Poll, person_id: int, now: datetime) -> str:
    """Where a person stands in a poll: "can_vote", "voted", "changeable", "home_voted", or why they
    cannot vote: "not_open", "closed", "tenant", "pending", "not_owner", "outside", "after_freeze"."""
    if poll.state == "open":
        voter = session.get(PollVoter, (poll.id, person_id))
        if voter is not None:
            turnout = session.get(PollTurnout, (poll.id, voter.unit))
            if turnout is None:
                return "can_vote" if now < poll.closes_at else "closed"
            if turnout.person_id != person_id:
                return "home_voted"
            return "changeable" if poll.changeable and now < poll.closes_at else "voted"
    elif poll.state == "closed" or poll.state == "cancelled":
        voter = session.get(PollVoter, (poll.id, person_id))
        if voter is not None and session.get(PollTurnout, (poll.id, voter.unit)) is not None:
            return "voted"
        return "closed"
    residencies = session.exec(
        select(Residency, Home)
        .join(Home, col(Home.id) == Residency.home_id)
        .where(Residency.person_id == person_id)
    ).all()
    mine = [(r, h) for r, h in residencies if in_scope(poll, h)]
    if any(is_voter(r.kind, r.status) for r, _ in mine):
        return "not_open" if poll.state == "announced" else "after_freeze"
    if any(r.kind == ResidentKind.OWNER and r.status == "pending" for r, _ in mine):
        return "pending"
    if any(r.kind == ResidentKind.TENANT for r, _ in mine):
        return "tenant"
    if any(is_voter(r.kind, r.status) for r, _ in residencies):
        return "outside"
    return "not_owner"


# --- voting -----------------------------------------------------------------------------------------


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


def new_code() -> str:
    """A receipt code the voter keeps: 12 characters easy to read aloud, in three groups."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalise_code(text: str) -> str:
    """A typed receipt code in its printed form (case, spaces and dashes forgiven); "" if malformed."""
    raw = "".join(ch for ch in text.upper() if ch.isalnum())
    if len(raw) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in raw):
        return ""
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


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


def vote(session: Session, poll_id: int, person_id: int, choice: str, now: datetime, seal_key: bytes) -> Cast:
    """Cast (or, where allowed, change) the person's owner unit's one vote; PollError with the reason."""
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
    voter = session.get(PollVoter, (poll.id, person_id))
    if voter is None:
        raise PollError(standing(session, poll, person_id, now))
    choice = canonical_choice(poll, choice)
    code = new_code()
    receipt = receipt_hash(poll_id, choice, code)
    seal = _seal(poll, voter.unit, seal_key)
    turnout = session.get(PollTurnout, (poll.id, voter.unit), with_for_update=True)
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
        with session.begin_nested():
            # The primary key (poll, unit) is the one-vote rule: a double click, a co-owner at the same
            # moment or a second process cannot insert a second row.
            session.add(PollTurnout(poll_id=poll.id, unit=voter.unit, person_id=person_id, voted_at=now))  # type: ignore[arg-type]
            session.flush()
    except IntegrityError:
        session.expire_all()
        winner = session.get(PollTurnout, (poll.id, voter.unit))
        raise PollError(
            "home_voted" if winner is not None and winner.person_id != person_id else "voted"
        ) from None
    session.add(
        PollBallot(
            id=secrets.token_hex(16),
            poll_id=poll.id,  # type: ignore[arg-type]
            seal=seal,
            area_centi_m2=unit_area(session, poll.id, voter.unit),  # type: ignore[arg-type]
            choice=_stored(poll, choice, seal_key),
            receipt=receipt,
            unit=None if poll.secret else voter.unit,
        )
    )
    session.flush()
    return Cast(code, fingerprint(receipt), choice, changed=False)


def _stored(poll: Poll, choice: str, key: bytes) -> str:
    """A secret ballot's choice is stored encrypted: the row is written in the voter's own transaction
    (PostgreSQL's xmin, row order), and each row keeps its unit's area, which may be unique."""
    return _box(key).encrypt(choice.encode()).decode() if poll.secret else choice


def read_choice(key: bytes, stored: str) -> str:
    """A secret ballot's choice, decrypted with the application's key (audits, tests)."""
    return _box(key).decrypt(stored.encode()).decode()


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
            found.append(poll.id)  # type: ignore[arg-type]
    return found


def _reshuffle(session: Session, poll: Poll, key: bytes) -> None:
    """At the close: check every ballot decrypts, then write them all again in random order, under new
    ids, seals and ciphertexts, in the closing transaction: no trace of the voting transactions remains."""
    rows = session.exec(select(PollBallot).where(PollBallot.poll_id == poll.id)).all()
    opened = []
    for row in rows:
        try:
            choice = _box(key).decrypt(row.choice.encode()).decode() if poll.secret else row.choice
        except InvalidToken:
            raise RuntimeError(
                f"poll {poll.id}: a ballot cannot be decrypted (was BALLOT_KEY changed?)"
            ) from None
        opened.append(
            (row.area_centi_m2, _stored(poll, canonical_choice(poll, choice), key), row.receipt, row.unit)
        )
    session.exec(delete(PollBallot).where(col(PollBallot.poll_id) == poll.id))  # type: ignore[call-overload]
    session.flush()
    secrets.SystemRandom().shuffle(opened)
    session.add_all(
        PollBallot(
            id=secrets.token_hex(16),
            poll_id=poll.id,  # type: ignore[arg-type]
            seal=secrets.token_hex(32),
            area_centi_m2=area,
            choice=choice,
            receipt=receipt,
            unit=unit,
        )
        for area, choice, receipt, unit in opened
    )
    session.flush()


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
    by_hash = {receipt_hash(poll.id, c, code): c for c in _possible_choices(poll)}  # type: ignore[arg-type]
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


# --- turnout while it runs ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Turnout:
    """Participation by area and by owners, for the whole scope or one building."""

    name: str
    area: int
    total_area: int
    owners: int
    total_owners: int


def turnout(session: Session, poll: Poll) -> tuple[Turnout, list[Turnout]]:
    """Live turnout overall and per building (an owner with homes in two buildings counts in both)."""
    voted = set(session.exec(select(PollTurnout.unit).where(PollTurnout.poll_id == poll.id)).all())
    rows = session.exec(
        select(PollHome.building_id, PollHome.unit, PollHome.area_centi_m2).where(PollHome.poll_id == poll.id)
    ).all()
    names = {n.id: n.name for n in buildings_of(session, poll.node_id)}
    per: dict[int, list[Any]] = {}
    for building_id, unit, area in rows:
        acc = per.setdefault(building_id, [0, 0, set(), set()])
        acc[1] += area
        acc[3].add(unit)
        if unit in voted:
            acc[0] += area
            acc[2].add(unit)
    buildings = [
        Turnout(names.get(b, str(b)), a, ta, len(u), len(tu))
        for b, (a, ta, u, tu) in sorted(per.items(), key=lambda kv: names.get(kv[0], ""))
    ]
    units_voted = len(voted)
    area_voted = sum(area for _, unit, area in rows if unit in voted)
    return Turnout("", area_voted, poll.total_area, units_voted, poll.total_owners), buildings


# --- the scheduler's steps ------------------------------------------------------------------------------


def due(session: Session, now: datetime, limit: int = 20) -> list[Poll]:
    """Lock polls with a step due, skipping rows another process holds (PostgreSQL)."""
    query = (
        select(Poll)
        .where(col(Poll.next_due_at).is_not(None), col(Poll.next_due_at) <= now)
        .order_by(col(Poll.next_due_at))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.exec(query).all())


def _reminder_times(poll: Poll) -> list[datetime]:
    return [poll.closes_at - before for before in REMINDERS]


def _next_due(poll: Poll) -> datetime | None:
    if poll.state == "announced":
        return poll.opens_at
    if poll.state != "open":
        return None
    pending = [t for t in _reminder_times(poll)[poll.reminders_sent :] if t > poll.opens_at]
    return min([*pending, poll.closes_at])


def step(session: Session, poll: Poll, now: datetime, policy: Policy, key: bytes) -> str:
    """Apply the poll's due step (open, remind, close) once; returns what was done ("" for nothing)."""
    done = ""
    if poll.state == "announced" and now >= poll.opens_at:
        open_poll(session, poll, now, policy)
        done = "opened"
    elif poll.state == "open" and now >= poll.closes_at:
        close(session, poll, now, policy, key)
        done = "closed"
    elif poll.state == "open":
        times = _reminder_times(poll)
        passed = [i for i, t in enumerate(times) if t <= now and t > poll.opens_at]
        if passed and passed[-1] >= poll.reminders_sent:
            remind(session, poll, now, policy)
            poll.reminders_sent = passed[-1] + 1  # a late sweep sends one reminder, not two at once
            done = "reminded"
    poll.next_due_at = _next_due(poll)
    return done


def _push(
    session: Session,
    poll: Poll,
    person_ids: list[int],
    template: str,
    now: datetime,
    policy: Policy,
    extra: dict[str, Any] | None = None,
    button: str = "pollpush.btn_open",
) -> int:
    context = {
        "poll_id": poll.id,
        "title": poll.title,
        "closes_at": poll.closes_at.isoformat(),
        "consultative": poll.consultative,
        "matter": poll.matter,
        **(extra or {}),
    }
    buttons = [[{"data": f"v:v:{poll.id}", "label": button}]]
    not_before = notices.release_time(False, now, now, policy)
    outbox.enqueue_many(
        session,
        [
            {
                "person_id": person_id,
                "template": template,
                "context": context,
                "buttons": buttons,
                "created_at": now,
                "not_before": not_before,
                "urgent": False,
                "status": "pending",
                "attempts": 0,
                "error": "",
            }
            for person_id in person_ids
        ],
    )
    return len(person_ids)


def open_poll(session: Session, poll: Poll, now: datetime, policy: Policy) -> None:
    """Freeze the electorate and tell every owner who may vote that voting is open."""
    freeze(session, poll)
    poll.state, poll.opened_at = "open", now
    # A short window, or an opening that ran late, skips reminders whose moment has already passed.
    poll.reminders_sent = sum(1 for t in _reminder_times(poll) if t <= max(poll.opens_at, now))
    voters = list(session.exec(select(PollVoter.person_id).where(PollVoter.poll_id == poll.id)).all())
    _push(session, poll, voters, OPENED, now, policy)
    if poll.author_id is not None:  # the author learns the electorate it will be judged against
        extra = {"voters": len(voters), "total_area": poll.total_area, "total_owners": poll.total_owners}
        _push(session, poll, [poll.author_id], AUTHOR_OPENED, now, policy, extra, "pollpush.btn_view")


def non_voters(session: Session, poll_id: int) -> list[int]:
    """Owners in the electorate whose unit has not voted."""
    voted = select(PollTurnout.unit).where(PollTurnout.poll_id == poll_id)
    return list(
        session.exec(
            select(PollVoter.person_id).where(PollVoter.poll_id == poll_id, col(PollVoter.unit).not_in(voted))
        ).all()
    )


def remind(session: Session, poll: Poll, now: datetime, policy: Policy) -> int:
    """Remind owners who have not voted; returns how many were queued."""
    days_left = max(1, -(-(poll.closes_at - now) // timedelta(days=1)))  # whole days, rounded up
    extra = {"days_left": days_left}
    return _push(session, poll, non_voters(session, poll.id), REMINDER, now, policy, extra)  # type: ignore[arg-type]


def count(session: Session, poll: Poll, key: bytes) -> Result:
    """Tally the ballots against the frozen electorate, without linking a ballot to anyone.

    Units that voted are replaced by their anonymous ballots (each its own one-unit owner with the
    ballot's area); the multiset of those areas must equal that of the units that voted.
    """
    voted = set(session.exec(select(PollTurnout.unit).where(PollTurnout.poll_id == poll.id)).all())
    unit_areas: dict[str, int] = defaultdict(int)
    for unit, area in session.exec(
        select(PollHome.unit, PollHome.area_centi_m2).where(PollHome.poll_id == poll.id)
    ).all():
        unit_areas[unit] += area
    ballots = session.exec(
        select(PollBallot.id, PollBallot.area_centi_m2, PollBallot.choice).where(
            PollBallot.poll_id == poll.id
        )
    ).all()
    if poll.secret:  # read with the application's key only, in memory
        box = _box(key)
        ballots = [(i, a, box.decrypt(c.encode()).decode()) for i, a, c in ballots]
    if sorted(a for _, a, _ in ballots) != sorted(unit_areas[u] for u in voted):
        raise RuntimeError(f"poll {poll.id}: ballots do not match the owners who voted")
    electorate = [TallyHome(u, a, u) for u, a in unit_areas.items() if u not in voted and a > 0]
    electorate += [TallyHome(f"b{i}", a, f"b{i}") for i, a, _ in ballots]
    if poll.kind == "decision":
        cast = [Ballot(f"b{i}", c) for i, _, c in ballots]  # type: ignore[arg-type]
        return tally(electorate, cast, poll.matter)
    candidates = tuple(str(n) for n in range(1, len(poll.candidates) + 1))
    cast = [Ballot(f"b{i}", frozenset(c.split(",")) if c else frozenset()) for i, _, c in ballots]
    return tally(electorate, cast, poll.matter, candidates, poll.seats)


def percent(share: Fraction | None) -> str:
    """A share as a percentage with two decimals, rounded half up (exact: no floats)."""
    if share is None:
        return "—"
    hundredths = (share.numerator * 20000 + share.denominator) // (2 * share.denominator)
    return f"{hundredths // 100}.{hundredths % 100:02d}%"


def _fraction(value: Fraction | None) -> str:
    return "" if value is None else f"{value.numerator}/{value.denominator}"


def summary(poll: Poll, result: Result, receipt_digest: str) -> dict[str, Any]:
    """The result as plain values for the templates and the published notice (exact fractions kept)."""
    approvals = [
        {
            "option": a.option,
            "name": poll.candidates[int(a.option) - 1] if poll.kind == "election" else "",
            "area": a.area,
            "owners": a.owners,
            "area_share": _fraction(a.area_share),
            "owner_share": _fraction(a.owner_share),
            "area_pct": percent(a.area_share),
            "owner_pct": percent(a.owner_share),
            "passed": a.passed,
        }
        for a in result.approvals
    ]
    return {
        **announcement(poll),
        "event": "result",
        "outcome": result.outcome,
        "total_area": result.total_area,
        "total_owners": result.total_owners,
        "participating_area": result.participating_area,
        "participating_owners": result.participating_owners,
        "area_turnout": _fraction(result.area_turnout),
        "owner_turnout": _fraction(result.owner_turnout),
        "area_turnout_pct": percent(result.area_turnout),
        "owner_turnout_pct": percent(result.owner_turnout),
        "quorum": result.quorum,
        "approval_threshold": _fraction(result.approval_threshold),
        "approval_inclusive": result.approval_inclusive,
        "approvals": approvals,
        "no_area": result.no_area,
        "no_owners": result.no_owners,
        "abstain_area": result.abstain_area,
        "abstain_owners": result.abstain_owners,
        "elected": [poll.candidates[int(o) - 1] for o in result.elected],
        "runoff": [poll.candidates[int(o) - 1] for o in result.runoff],
        "runoff_seats": result.runoff_seats,
        "ballots": result.ballots,
        "digest": receipt_digest,
    }


def close(session: Session, poll: Poll, now: datetime, policy: Policy, key: bytes) -> None:
    """Reshuffle the ballot box, count, store the result with the receipts' digest, and publish it (公示)."""
    _reshuffle(session, poll, key)
    poll.state, poll.closed_at = "closed", now
    result = count(session, poll, key)
    poll.digest = digest(receipts(session, poll.id))  # type: ignore[arg-type]
    poll.result = summary(poll, result, poll.digest)
    poll.result_notice_id = _publish(session, poll, poll.result, now + RESULT_PUBLICITY, None, now, policy)
    if poll.author_id is not None:  # staff are not in a result notice's audience: tell the author
        _push(
            session,
            poll,
            [poll.author_id],
            AUTHOR_CLOSED,
            now,
            policy,
            {"poll": poll.result},
            "pollpush.btn_view",
        )


# --- what people see ----------------------------------------------------------------------------------


def for_resident(session: Session, person_id: int, now: datetime) -> list[Poll]:
    """Polls over the person's homes: announced, open, or closed within the result's publicity period."""
    homes = session.exec(
        select(Home)
        .join(Residency, col(Residency.home_id) == Home.id)
        .where(Residency.person_id == person_id, Residency.status != "rejected")
    ).all()
    if not homes:
        return []
    polls = session.exec(
        select(Poll)
        .where(
            col(Poll.node_id).in_({h.compound_id for h in homes}),
            or_(col(Poll.state).in_(OPEN_STATES), col(Poll.closed_at) > now - RESULT_PUBLICITY),
        )
        .order_by(col(Poll.closes_at).desc(), col(Poll.id).desc())
        .limit(20)
    ).all()
    return [p for p in polls if any(in_scope(p, h) for h in homes)]


def for_staff(session: Session, person_id: int, limit: int = 10) -> list[Poll]:
    """The latest polls in the compounds a person may run polls in."""
    compounds = [c.id for c in author_compounds(session, person_id)]
    if not compounds:
        return []
    return list(
        session.exec(
            select(Poll)
            .where(col(Poll.node_id).in_(compounds))
            .order_by(col(Poll.created_at).desc(), col(Poll.id).desc())
            .limit(limit)
        ).all()
    )


def may_see(session: Session, poll: Poll, person_id: int, now: datetime) -> bool:
    """Whether the person may open this poll: it is over one of their homes, or in their jurisdiction."""
    homes = session.exec(
        select(Home)
        .join(Residency, col(Residency.home_id) == Home.id)
        .where(Residency.person_id == person_id, Residency.status != "rejected")
    ).all()
    if any(in_scope(poll, h) for h in homes):
        return True
    node = session.get(OrgNode, poll.node_id)
    return node is not None and may_author(session, person_id, node)
