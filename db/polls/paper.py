"""Paper ballots' rules (DESIGN §4.8): one ballot per owner whatever the channel, the paper register, the
sealed batch of a secret poll, and the stub codes printed on its ballots.

A paper ballot takes its owner unit's one `poll_turnout` row (channel "paper"), exactly as an online vote
does: the primary key (poll, unit) refuses the second ballot whichever channel comes second, and the loser
is told which ballot stands. In an open poll the choice goes into `poll_ballot` at once; in a secret poll
only the register row is written (a sealed envelope handed in), and the choices are entered at the close,
in one batch, against stub codes and the areas written on the ballots, then confirmed by a second person.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import exists, func, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from db.models import Poll, PollBallot, PollBatch, PollHome, PollPaper, PollStub, PollTurnout
from db.polls.ballots import _box, canonical_choice, new_code, normalise_code, receipt_hash
from db.polls.terms import PollError
from db.rows import id_of

CHANNELS = ("online", "paper", "proxy")
METHODS = ("door", "meeting", "box")  # 扫楼 · 现场 · 投票箱
MAX_COLLECTOR = 50
MAX_STUBS = 50_000  # one print run; more may be issued again


@dataclass(frozen=True, slots=True)
class PaperBallot:
    """A paper ballot as its collector wrote it down."""

    home_id: int
    choice: str  # yes | no | abstain, or candidate numbers "1,3" ("" approves no one); "" when sealed
    method: str  # one of METHODS
    collector: str  # who collected it (a name, at most 50 characters)
    collected_at: datetime  # not in the future, not before voting opened
    photo_channel: str = ""  # the photo of the signed ballot (or of the sealed envelope)
    photo_ref: str = ""


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


@dataclass(frozen=True, slots=True)
class SealedBallot:
    """One sealed ballot opened at the close: the code on its stub, the area written on it, the choice."""

    code: str
    area_centi_m2: int
    choice: str


@dataclass(frozen=True, slots=True)
class LineError:
    """One bad line of a ballot file: its number (1 = the header; 0 = the file as a whole), the reason key
    and what was at fault (for "home_voted", how the standing ballot was cast)."""

    line: int
    reason: str
    detail: str = ""


class PaperFileError(ValueError):
    """A ballot file that cannot be taken whole: every bad line, nothing entered."""

    def __init__(self, problems: list[LineError]) -> None:
        super().__init__("; ".join(f"line {p.line}: {p.reason}" for p in problems))
        self.problems = problems


# --- one ballot per owner --------------------------------------------------------------------------------


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


def _open_poll(session: Session, poll_id: int, now: datetime) -> Poll:
    """The poll, open now, share-locked like a vote: a close waits for the entry, an entry sees a close."""
    poll = session.get(Poll, poll_id, with_for_update={"read": True}, populate_existing=True)
    if poll is None:
        raise PollError("not_found")
    if poll.state != "open" or not poll.opens_at <= now < poll.closes_at:
        raise PollError(
            "closed" if poll.state in ("closed", "cancelled") or now >= poll.closes_at else "not_open"
        )
    return poll


def _checked(poll: Poll, paper: PaperBallot, now: datetime, photo_required: bool = True) -> tuple[str, str]:
    """The paper ballot's choice in stored form and its collector's name tidied, or PollError. A ballot
    entered one by one shows its signed paper; a file's ballots are kept on paper by the committee."""
    if paper.method not in METHODS:
        raise PollError("method")
    collector = " ".join(paper.collector.split())
    if not collector or len(collector) > MAX_COLLECTOR:
        raise PollError("collector")
    at = paper.collected_at
    if at.tzinfo is None or not poll.opens_at <= at <= now:
        raise PollError("collected_at")
    if poll.secret:
        if paper.choice:
            raise PollError("sealed_choice")  # nobody but the owner sees a secret ballot before the close
        return "", collector
    if photo_required and not paper.photo_ref:
        raise PollError("photo")  # the signed ballot is the evidence an open count rests on
    return canonical_choice(poll, paper.choice), collector


def enter(
    session: Session,
    poll_id: int,
    person_id: int | None,
    paper: PaperBallot,
    now: datetime,
    source: str = "chat",
) -> tuple[PollHome, bool]:
    """Take one paper ballot for a home (a secret poll: register its sealed ballot); returns the home's row in
    the electorate and whether it was sealed. PollError with the reason, BallotTaken when its owner voted."""
    poll = _open_poll(session, poll_id, now)
    home = session.get(PollHome, (poll.id, paper.home_id))
    if home is None:
        raise PollError("not_in_poll")
    choice, collector = _checked(poll, paper, now)
    take_unit(session, poll, home.unit, person_id, "paper", home.home_id, now)
    session.add(_paper_row(poll, home, paper, collector, person_id, now, source))
    if not poll.secret:
        session.add(_open_ballot(poll, home.unit, _unit_area(session, id_of(poll), home.unit), choice))
    session.flush()
    return home, poll.secret


def _paper_row(
    poll: Poll,
    home: PollHome,
    paper: PaperBallot,
    collector: str,
    person_id: int | None,
    now: datetime,
    source: str,
) -> PollPaper:
    return PollPaper(
        poll_id=id_of(poll),
        unit=home.unit,
        home_id=home.home_id,
        method=paper.method,
        collector=collector,
        collected_at=paper.collected_at,
        photo_channel=paper.photo_channel,
        photo_ref=paper.photo_ref,
        sealed=poll.secret,
        entered_by=person_id,
        entered_at=now,
        source=source,
    )


def _open_ballot(poll: Poll, unit: str, area: int, choice: str) -> PollBallot:
    """An open poll's paper ballot: its choice and unit are on the signed paper anyway; its receipt is made
    with a code nobody keeps (the owner checks an open ballot on the list, by home)."""
    return PollBallot(
        id=secrets.token_hex(16),
        poll_id=id_of(poll),
        seal=secrets.token_hex(32),
        area_centi_m2=area,
        choice=choice,
        receipt=receipt_hash(id_of(poll), choice, new_code()),
        unit=unit,
    )


def _unit_area(session: Session, poll_id: int, unit: str) -> int:
    return int(
        session.exec(
            select(func.coalesce(func.sum(PollHome.area_centi_m2), 0)).where(
                PollHome.poll_id == poll_id, PollHome.unit == unit
            )
        ).one()
    )


@dataclass(frozen=True, slots=True)
class FileBallot:
    """A line of a ballot file, its home found: what `enter_many` writes."""

    line: int
    home_id: int
    paper: PaperBallot


def enter_many(
    session: Session,
    poll_id: int,
    person_id: int | None,
    rows: list[FileBallot],
    now: datetime,
    source: str = "file",
) -> list[PollHome]:
    """Take many paper ballots whole or not at all (PaperFileError naming every bad line), in bulk: a few
    statements for the batch, whatever its size."""
    poll = _open_poll(session, poll_id, now)
    homes = _homes_by_id(session, id_of(poll), sorted({r.home_id for r in rows}))
    voted: dict[str, str] = dict(
        session.exec(
            select(PollTurnout.unit, PollTurnout.channel).where(PollTurnout.poll_id == poll.id)
        ).all()
    )
    problems: list[LineError] = []
    taken: dict[str, int] = {}  # unit -> the line that took it
    ready: list[tuple[PollHome, PaperBallot, str, str]] = []
    for row in rows:
        home = homes.get(row.home_id)
        if home is None:
            problems.append(LineError(row.line, "not_in_poll"))
            continue
        try:
            choice, collector = _checked(poll, row.paper, now, photo_required=False)
        except PollError as exc:
            problems.append(LineError(row.line, exc.reason))
            continue
        if home.unit in voted:
            problems.append(LineError(row.line, "home_voted", voted[home.unit]))
            continue
        if home.unit in taken:
            problems.append(LineError(row.line, "twice", str(taken[home.unit])))
            continue
        taken[home.unit] = row.line
        ready.append((home, row.paper, choice, collector))
    if problems:
        raise PaperFileError(problems)
    areas = _unit_areas(session, id_of(poll)) if ready else {}
    try:
        with session.begin_nested():
            session.execute(
                insert(PollTurnout),
                [
                    {
                        "poll_id": id_of(poll),
                        "unit": home.unit,
                        "person_id": person_id,
                        "voted_at": now,
                        "changes": 0,
                        "channel": "paper",
                        "home_id": home.home_id,
                    }
                    for home, _, _, _ in ready
                ],
            )
            session.execute(
                insert(PollPaper),
                [
                    _paper_row(poll, home, paper, collector, person_id, now, source).model_dump()
                    for home, paper, _, collector in ready
                ],
            )
            if not poll.secret:
                session.execute(
                    insert(PollBallot),
                    [
                        _open_ballot(poll, home.unit, areas[home.unit], choice).model_dump()
                        for home, _, choice, _ in ready
                    ],
                )
    except IntegrityError:
        # An owner voted online while the file was being checked: name them, take nothing.
        session.expire_all()
        raced = []
        for home, _, _, _ in ready:
            existing = standing_ballot(session, id_of(poll), home.unit)
            if existing is not None:
                line = taken[home.unit]
                raced.append(LineError(line, "home_voted", existing.channel))
        raise PaperFileError(raced or [LineError(0, "busy")]) from None
    return [home for home, _, _, _ in ready]


IN_LIMIT = 1000  # beyond this many ids one read of the whole poll beats a long list of bind parameters


def _homes_by_id(session: Session, poll_id: int, ids: list[int]) -> dict[int, PollHome]:
    """These homes of the frozen electorate by id (a large file reads the whole electorate once)."""
    query = select(PollHome).where(PollHome.poll_id == poll_id)
    if len(ids) <= IN_LIMIT:
        query = query.where(col(PollHome.home_id).in_(ids))
    return {h.home_id: h for h in session.exec(query).all()}


def _unit_areas(session: Session, poll_id: int) -> dict[str, int]:
    return {
        unit: int(area)
        for unit, area in session.exec(
            select(PollHome.unit, func.sum(PollHome.area_centi_m2))
            .where(PollHome.poll_id == poll_id)
            .group_by(col(PollHome.unit))
        ).all()
    }


# --- secret polls: stubs, the register, the sealed batch --------------------------------------------------


def stub_hash(poll_id: int, code: str) -> str:
    """What is kept of a stub code: sha256 of the poll and the code (the code itself is only on paper)."""
    return hashlib.sha256(f"linli-stub|{poll_id}|{code}".encode()).hexdigest()


def issue_stubs(session: Session, poll_id: int, count: int, now: datetime) -> list[str]:
    """Issue `count` new stub codes for a secret poll that has not closed; only their hashes are kept."""
    poll = session.get(Poll, poll_id)
    if poll is None:
        raise PollError("not_found")
    if not poll.secret:
        raise PollError("not_secret")
    if poll.state not in ("announced", "open") or now >= poll.closes_at:
        raise PollError("closed")
    if not 1 <= count <= MAX_STUBS:
        raise PollError("count")
    codes: set[str] = set()
    while len(codes) < count:
        codes.add(new_code())
    ordered = sorted(codes)
    session.execute(
        insert(PollStub),
        [
            {"poll_id": poll_id, "code_hash": stub_hash(poll_id, c), "issued_at": now, "used": False}
            for c in ordered
        ],
    )
    session.flush()
    return ordered


def sealed_units(session: Session, poll_id: int) -> list[PollPaper]:
    """The register of a secret poll: the sealed ballots handed in, in the order they came."""
    return list(
        session.exec(
            select(PollPaper)
            .where(PollPaper.poll_id == poll_id, col(PollPaper.sealed).is_(True))
            .order_by(col(PollPaper.collected_at), col(PollPaper.unit))
        ).all()
    )


def awaiting(session: Session, poll: Poll) -> bool:
    """Whether the poll's count must wait: sealed ballots were registered and no batch is confirmed yet."""
    if not poll.secret:
        return False
    sealed = session.exec(
        select(exists().where(col(PollPaper.poll_id) == poll.id, col(PollPaper.sealed).is_(True)))
    ).one()
    if not sealed:
        return False
    batch = session.get(PollBatch, poll.id)
    return batch is None or batch.state != "confirmed"


_CHOICE_WORDS = {"同意": "yes", "赞成": "yes", "反对": "no", "不同意": "no", "弃权": "abstain"}


def choice_word(poll: Poll, text: str) -> str:
    """A choice as written on paper (同意/反对/弃权, yes/no/abstain; candidate numbers "1 3", "1、3") in its
    stored form, or PollError("choice" | "too_many")."""
    word = text.strip()
    if poll.kind == "decision":
        return canonical_choice(poll, _CHOICE_WORDS.get(word, word.lower()))
    numbers = [p for p in word.replace("、", " ").replace(",", " ").replace("，", " ").split() if p]
    return canonical_choice(poll, ",".join(numbers))


def area_of(text: str) -> int | None:
    """An area in m² as written (`89.5`, `120.35`, `89.5㎡`) in 0.01 m², or None."""
    raw = text.strip().removesuffix("㎡").removesuffix("m²").removesuffix("平").strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    centi = value * 100
    if not value.is_finite() or centi != centi.to_integral_value() or not 0 < centi < 10**9:
        return None
    return int(centi)


def _m2(area_centi_m2: int) -> str:
    """An area as written on a ballot: `89.5 ㎡`."""
    return f"{area_centi_m2 / 100:.2f}".rstrip("0").rstrip(".") + " ㎡"


def parse_batch(poll: Poll, text: str) -> list[SealedBallot]:
    """Sealed ballots typed or uploaded one per line: `code, area in m², choice` (PaperFileError)."""
    ballots: list[SealedBallot] = []
    problems: list[LineError] = []
    for number, line in enumerate(text.splitlines(), 1):
        parts = [p.strip() for p in line.replace("，", ",").replace("\t", ",").split(",")]
        if not any(parts):
            continue
        if len(parts) != 3:
            problems.append(LineError(number, "columns", line.strip()))
            continue
        code, area_text, choice_text = parts
        code_ok = normalise_code(code)
        area = area_of(area_text)
        if not code_ok:
            problems.append(LineError(number, "code", code))
        elif area is None:
            problems.append(LineError(number, "area", area_text))
        else:
            try:
                choice = choice_word(poll, choice_text)
            except PollError as exc:
                problems.append(LineError(number, exc.reason, choice_text))
                continue
            ballots.append(SealedBallot(code_ok, area, choice))
    if problems:
        raise PaperFileError(problems)
    if not ballots:
        raise PaperFileError([LineError(0, "empty")])
    return ballots


def _ended_secret(session: Session, poll_id: int, now: datetime) -> Poll:
    poll = session.get(Poll, poll_id, with_for_update=True, populate_existing=True)
    if poll is None:
        raise PollError("not_found")
    if not poll.secret:
        raise PollError("not_secret")
    if poll.state != "open":
        raise PollError("closed")
    if now < poll.closes_at:
        raise PollError("not_ended")  # the envelopes are opened together, once voting has ended
    return poll


def enter_batch(
    session: Session, poll_id: int, person_id: int, ballots: list[SealedBallot], now: datetime, key: bytes
) -> PollBatch:
    """Enter the sealed ballots once voting ended, to wait for a second person. PaperFileError unless every
    code is an unused stub code of this poll, given once, and the areas are exactly the register's."""
    poll = _ended_secret(session, poll_id, now)
    register = sealed_units(session, id_of(poll))
    if not register:
        raise PollError("no_register")
    if session.get(PollBatch, poll.id) is not None:
        raise PollError("batch_exists")
    problems: list[LineError] = []
    seen: dict[str, int] = {}
    hashes = [stub_hash(id_of(poll), b.code) for b in ballots]
    stubs = select(PollStub.code_hash, PollStub.used).where(PollStub.poll_id == poll.id)
    if len(hashes) <= IN_LIMIT:
        stubs = stubs.where(col(PollStub.code_hash).in_(hashes))
    known: dict[str, bool] = dict(session.exec(stubs).all())
    for number, (ballot, digest) in enumerate(zip(ballots, hashes, strict=True), 1):
        if digest not in known:
            problems.append(LineError(number, "code_unknown", ballot.code))
        elif known[digest]:
            problems.append(LineError(number, "code_used", ballot.code))
        elif ballot.code in seen:
            problems.append(LineError(number, "code_twice", str(seen[ballot.code])))
        seen.setdefault(ballot.code, number)
        try:
            canonical_choice(poll, ballot.choice)
        except PollError as exc:
            problems.append(LineError(number, exc.reason, ballot.choice))
    areas = _unit_areas(session, id_of(poll))
    expected = Counter(areas[p.unit] for p in register)
    entered = Counter(b.area_centi_m2 for b in ballots)
    extra = entered - expected
    for number, ballot in enumerate(ballots, 1):
        if extra[ballot.area_centi_m2] > 0:
            extra[ballot.area_centi_m2] -= 1
            problems.append(LineError(number, "area_unmatched", _m2(ballot.area_centi_m2)))
    missing = expected - entered
    if missing:
        problems.append(LineError(0, "area_missing", " ".join(_m2(a) for a in sorted(missing.elements()))))
    if len(ballots) != len(register):
        problems.append(LineError(0, "count", f"{len(ballots)}/{len(register)}"))
    if problems:
        raise PaperFileError(problems)
    plain = json.dumps([[b.code, b.area_centi_m2, b.choice] for b in ballots])
    batch = PollBatch(
        poll_id=id_of(poll),
        state="pending",
        ballots=_box(key).encrypt(plain.encode()).decode(),
        count=len(ballots),
        entered_by=person_id,
        entered_at=now,
    )
    session.add(batch)
    session.flush()
    return batch


def confirm_batch(session: Session, poll_id: int, person_id: int, now: datetime, key: bytes) -> PollBatch:
    """A second person confirms the batch: its ballots join the box like online secret ballots (no home, a
    random id and seal, the choice encrypted), the stubs are spent, and the poll is due to be counted."""
    poll = _ended_secret(session, poll_id, now)
    batch = session.get(PollBatch, poll.id, with_for_update=True)
    if batch is None or batch.state != "pending":
        raise PollError("no_batch")
    if batch.entered_by == person_id:
        raise PollError("same_person")
    entries = json.loads(_box(key).decrypt(batch.ballots.encode()))
    hashes = [stub_hash(id_of(poll), code) for code, _, _ in entries]
    with session.begin_nested():  # a refusal half-way leaves no stub spent and no ballot written
        spent = 0
        for start in range(0, len(hashes), IN_LIMIT):  # chunks: no statement with a bind parameter per ballot
            done = session.execute(
                update(PollStub)
                .where(
                    col(PollStub.poll_id) == poll.id,
                    col(PollStub.code_hash).in_(hashes[start : start + IN_LIMIT]),
                    col(PollStub.used).is_(False),
                )
                .values(used=True)
                .execution_options(synchronize_session=False)
            )
            spent += done.rowcount  # type: ignore[attr-defined]
        if spent != len(entries):
            raise PollError("code_used")
        box = _box(key)
        session.execute(
            insert(PollBallot),
            [
                {
                    "id": secrets.token_hex(16),
                    "poll_id": id_of(poll),
                    "seal": secrets.token_hex(32),
                    "area_centi_m2": area,
                    "choice": box.encrypt(choice.encode()).decode(),
                    "receipt": receipt_hash(id_of(poll), choice, code),
                    "unit": None,
                }
                for code, area, choice in entries
            ],
        )
    batch.state, batch.ballots = "confirmed", ""  # the entered list leaves the database
    batch.confirmed_by, batch.confirmed_at = person_id, now
    poll.next_due_at = now  # the poll job counts it at its next turn
    session.flush()
    return batch


def discard_batch(session: Session, poll_id: int, now: datetime) -> None:
    """Drop a batch that is still waiting for confirmation (it was entered wrong)."""
    poll = _ended_secret(session, poll_id, now)
    batch = session.get(PollBatch, poll.id, with_for_update=True)
    if batch is None or batch.state != "pending":
        raise PollError("no_batch")
    session.delete(batch)
    session.flush()


def counts_by_channel(session: Session, poll_id: int) -> dict[str, int]:
    """How many ballots came by each channel (online, paper, proxy)."""
    found = dict(
        session.exec(
            select(PollTurnout.channel, func.count())
            .where(PollTurnout.poll_id == poll_id)
            .group_by(col(PollTurnout.channel))
        ).all()
    )
    return {channel: int(found.get(channel, 0)) for channel in CHANNELS}


def homes_voted(session: Session, poll_id: int, home_ids: Iterable[int]) -> dict[int, Existing]:
    """The standing ballot of each of these homes' owner units that voted, by home id."""
    ids = list(home_ids)
    if not ids:
        return {}
    rows = session.exec(
        select(PollHome.home_id, PollTurnout.channel, PollTurnout.voted_at, PollPaper.sealed)
        .join(
            PollTurnout,
            (col(PollTurnout.poll_id) == PollHome.poll_id) & (col(PollTurnout.unit) == PollHome.unit),
        )
        .outerjoin(
            PollPaper, (col(PollPaper.poll_id) == PollHome.poll_id) & (col(PollPaper.unit) == PollHome.unit)
        )
        .where(PollHome.poll_id == poll_id, col(PollHome.home_id).in_(ids))
    ).all()
    return {home_id: Existing(channel, at, bool(sealed)) for home_id, channel, at, sealed in rows}
