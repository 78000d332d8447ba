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

from sqlalchemy import exists, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from db.models import Poll, PollBallot, PollBatch, PollHome, PollPaper, PollStub, PollTurnout
from db.polls.ballots import (
    Existing,
    _box,
    canonical_choice,
    new_code,
    normalise_code,
    receipt_hash,
    standing_ballot,
    take_unit,
)
from db.polls.electorate import unit_area, unit_areas
from db.polls.terms import PollError
from db.rows import id_of

CHANNELS = ("online", "paper", "proxy")
METHODS = ("door", "meeting", "box")  # 扫楼 · 现场 · 投票箱
MAX_COLLECTOR = 50
MAX_PHOTO_REF, MAX_PHOTO_CHANNEL = 200, 16  # the columns' lengths
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
class SealedBallot:
    """One sealed ballot opened at the close: the code on its stub, the area written on it, the choice. A
    spoiled ballot (废票: no clear choice, its code perhaps unreadable) takes part and approves nothing, like
    an abstention, so that one bad envelope does not hold the count back."""

    code: str
    area_centi_m2: int
    choice: str
    spoiled: bool = False


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
        raise PollError("photo")
    if len(paper.photo_ref) > MAX_PHOTO_REF or len(paper.photo_channel) > MAX_PHOTO_CHANNEL:
        raise PollError(
            "photo"
        )  # a file name too long to keep  # the signed ballot is the evidence an open count rests on
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
        session.add(_open_ballot(poll, home.unit, unit_area(session, id_of(poll), home.unit), choice))
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
    areas = unit_areas(session, id_of(poll)) if ready else {}
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
            .where(
                PollPaper.poll_id == poll_id,
                col(PollPaper.sealed).is_(True),
                col(PollPaper.voided_at).is_(None),
            )
            .order_by(col(PollPaper.collected_at), col(PollPaper.unit))
        ).all()
    )


def awaiting(session: Session, poll: Poll) -> bool:
    """Whether the poll's count must wait: sealed ballots were registered and no batch is confirmed yet."""
    if not poll.secret:
        return False
    sealed = session.exec(
        select(
            exists().where(
                col(PollPaper.poll_id) == poll.id,
                col(PollPaper.sealed).is_(True),
                col(PollPaper.voided_at).is_(None),
            )
        )
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


SPOILED = frozenset({"废票", "无效", "spoiled", "void"})


def _no_approval(poll: Poll) -> str:
    """The stored choice that takes part and approves nothing: 弃权, or an election's empty ballot."""
    return "abstain" if poll.kind == "decision" else ""


def parse_batch(poll: Poll, text: str) -> list[SealedBallot]:
    """Sealed ballots typed or uploaded one per line: `code, area in m², choice` (PaperFileError); the
    choice 废票 marks a spoiled ballot, whose code may be left empty when it cannot be read."""
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
        spoiled = choice_text.strip().lower() in SPOILED
        if not code_ok and not (spoiled and not code):
            problems.append(LineError(number, "code", code))
        elif area is None:
            problems.append(LineError(number, "area", area_text))
        elif spoiled:
            ballots.append(SealedBallot(code_ok, area, _no_approval(poll), spoiled=True))
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


def _weigh(
    session: Session, poll: Poll, register: list[PollPaper], ballots: list[SealedBallot]
) -> tuple[list[int], list[LineError]]:
    """The weight (the owner's area) each opened ballot counts with, found from the area written on it, or
    the lines and areas that match no registered envelope.

    An owner of one home writes its area; an owner of several (or the developer) may write the area of the
    home whose envelope was registered or their total. Ballots are matched to registered owners (Kuhn's
    augmenting paths over the distinct written areas), and a ballot counts with its owner's total. Where
    ballots with one written area would go to owners of different totals and chose differently, which
    weight goes with which choice cannot be known: those lines are refused, to be written with the total.
    """
    units = unit_areas(session, id_of(poll))
    home_area = dict(
        session.exec(
            select(PollHome.home_id, PollHome.area_centi_m2).where(
                PollHome.poll_id == poll.id,
                col(PollHome.home_id).in_(
                    select(PollPaper.home_id).where(
                        PollPaper.poll_id == poll.id, col(PollPaper.sealed).is_(True)
                    )
                ),
            )
        ).all()
    )
    owners = [(home_area[p.home_id], units[p.unit]) for p in register]  # (written one way, or the other)
    slots = Counter(b.area_centi_m2 for b in ballots)  # how many ballots carry each written area
    taken: dict[int, list[int]] = {value: [] for value in slots}  # written area -> owners matched to it

    def place(owner: int, visited: set[int]) -> bool:
        for value in dict.fromkeys(owners[owner]):
            if value not in slots or value in visited:
                continue
            visited.add(value)
            if len(taken[value]) < slots[value]:
                taken[value].append(owner)
                return True
            for other in list(taken[value]):
                if place(other, visited):
                    taken[value].remove(other)
                    taken[value].append(owner)
                    return True
        return False

    left = [owner for owner in range(len(owners)) if not place(owner, set())]
    problems: list[LineError] = []
    totals: dict[int, list[int]] = {value: sorted(owners[o][1] for o in taken[value]) for value in taken}
    weights: list[int] = []
    unmatched = {value: slots[value] - len(taken[value]) for value in slots}
    choices: dict[int, set[str]] = {}
    for ballot in ballots:
        choices.setdefault(ballot.area_centi_m2, set()).add(ballot.choice)
    for number, ballot in enumerate(ballots, 1):
        value = ballot.area_centi_m2
        if unmatched[value] > 0:  # more ballots wrote this area than owners it can belong to
            unmatched[value] -= 1
            problems.append(LineError(number, "area_unmatched", _m2(value)))
            weights.append(value)
            continue
        if len(set(totals[value])) > 1 and len(choices[value]) > 1:
            problems.append(LineError(number, "area_ambiguous", _m2(value)))
        weights.append(totals[value].pop(0) if totals[value] else value)
    if left:
        problems.append(LineError(0, "area_missing", " ".join(sorted(_m2(owners[o][0]) for o in left))))
    return weights, problems


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
        if not ballot.code and ballot.spoiled:
            pass  # a spoiled ballot whose code cannot be read: counted, with no receipt to check
        elif digest not in known:
            problems.append(LineError(number, "code_unknown", ballot.code))
        elif known[digest]:
            problems.append(LineError(number, "code_used", ballot.code))
        elif ballot.code in seen:
            problems.append(LineError(number, "code_twice", str(seen[ballot.code])))
        if ballot.code:
            seen.setdefault(ballot.code, number)
        try:
            canonical_choice(poll, ballot.choice)
        except PollError as exc:
            problems.append(LineError(number, exc.reason, ballot.choice))
    weights, unmatched = _weigh(session, poll, register, ballots)
    problems += unmatched
    if len(ballots) != len(register):
        problems.append(LineError(0, "count", f"{len(ballots)}/{len(register)}"))
    if problems:
        raise PaperFileError(problems)
    plain = json.dumps([[b.code, weight, b.choice] for b, weight in zip(ballots, weights, strict=True)])
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
    hashes = [stub_hash(id_of(poll), code) for code, _, _ in entries if code]
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
        if spent != len(hashes):
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
                    "receipt": receipt_hash(id_of(poll), choice, code or new_code()),
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


def void_sealed(
    session: Session, poll_id: int, home_id: int, person_id: int | None, now: datetime
) -> PollPaper:
    """Give a lost sealed envelope's home its ballot back once voting ended, before any batch: its turnout
    row goes (the home counts as not having voted), the register line stays, marked void."""
    poll = _ended_secret(session, poll_id, now)
    if session.get(PollBatch, poll.id) is not None:
        raise PollError("batch_exists")  # discard the batch first: it was checked against this register
    row = session.exec(
        select(PollPaper).where(
            PollPaper.poll_id == poll.id,
            PollPaper.home_id == home_id,
            col(PollPaper.sealed).is_(True),
            col(PollPaper.voided_at).is_(None),
        )
    ).one_or_none()
    if row is None:
        raise PollError("not_in_register")
    turnout = session.get(PollTurnout, (poll.id, row.unit))
    if turnout is not None:
        session.delete(turnout)
    row.voided_at, row.voided_by = now, person_id
    if not sealed_units(session, id_of(poll)):
        poll.next_due_at = now  # nothing left to wait for: the poll job counts it
    session.flush()
    return row


def pending_lines(session: Session, poll_id: int, key: bytes) -> list[tuple[str, int, str]]:
    """The waiting batch's ballots as entered (code, weight, choice), for the second person to check against
    the opened ballots before confirming; [] when none waits."""
    batch = session.get(PollBatch, poll_id)
    if batch is None or batch.state != "pending":
        return []
    return [
        (code, weight, choice)
        for code, weight, choice in json.loads(_box(key).decrypt(batch.ballots.encode()))
    ]


def discard_batch(session: Session, poll_id: int, now: datetime) -> None:
    """Drop a batch that is still waiting for confirmation (it was entered wrong)."""
    poll = _ended_secret(session, poll_id, now)
    batch = session.get(PollBatch, poll.id, with_for_update=True)
    if batch is None or batch.state != "pending":
        raise PollError("no_batch")
    session.delete(batch)
    session.flush()


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
