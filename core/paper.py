"""Paper ballots (DESIGN §4.8): committee members and community staff enter the ballots collected door to
door (扫楼), at a meeting (现场) or from the ballot box (投票箱), one at a time in chat or a batch from
a file; in a secret poll the register records the sealed ballots handed in, and the sealed ballots
are entered at the close in one batch that a second person confirms.

Every write asks `Action.ENTER_BALLOT` over the poll's compound once; a refusal is a `PollError` whose
`reason` the chat and the console word. One home (one owner unit) casts one ballot whatever the channel:
the database refuses a second, and `BallotTaken` says which ballot stands (channel and time, never the
choice of a secret poll).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from core import audit
from core.permissions import Action, Actor, acting_role, may, place
from core.work import Work
from db.models import Home, OrgNode, Poll, PollBatch, PollHome, PollPaper
from db.polls import paper as rules
from db.polls.authoring import buildings_of
from db.polls.ballots import BallotTaken, Existing, standing_ballot
from db.polls.paper import (
    METHODS,
    FileBallot,
    LineError,
    PaperBallot,
    PaperFileError,
    SealedBallot,
)
from db.polls.terms import PollError
from db.rows import id_of

__all__ = [
    "METHODS",
    "BallotTaken",
    "Batch",
    "Entered",
    "Existing",
    "HomeRow",
    "LineError",
    "PaperBallot",
    "PaperFileError",
    "PollError",
    "Register",
    "SealedBallot",
]


@dataclass(frozen=True, slots=True)
class Entered:
    """A paper ballot taken: for which home and owner unit, and whether it is a sealed one (secret poll)."""

    poll_id: int
    home_id: int
    unit: str
    sealed: bool


@dataclass(frozen=True, slots=True)
class HomeRow:
    """A home of an entrance as the entry flow lists it: its number and whether its owner has voted."""

    home_id: int
    number: str
    voted: Existing | None


# --- who may ----------------------------------------------------------------------------------------------


def may_enter(work: Work, actor: Actor, poll: Poll) -> bool:
    """Whether the actor may enter paper ballots and letters of this poll (ENTER_BALLOT over its compound)."""
    node = work.session.get(OrgNode, poll.node_id)
    return node is not None and may(actor, Action.ENTER_BALLOT, place(node.path))


def _poll_to_enter(work: Work, actor: Actor, poll_id: int) -> Poll:
    poll = work.session.get(Poll, poll_id)
    if poll is None:
        raise PollError("not_found")
    if not may_enter(work, actor, poll):
        raise PollError("not_allowed")
    return poll


def _audit(work: Work, actor: Actor, action: str, poll: Poll, after: dict[str, object]) -> None:
    """Note an entry in the audit log under the poll's compound (never a secret poll's choices)."""
    node = work.session.get(OrgNode, poll.node_id)
    path = node.path if node is not None else ""
    role = acting_role(actor, Action.ENTER_BALLOT, place(path)) if path else None
    audit.record(work, actor, role.value if role else "", action, "poll", poll.id, path, None, after)


def entry_polls(work: Work, actor: Actor) -> list[Poll]:
    """Polls whose paper ballots the actor may enter now: open ones, and secret ones awaiting their batch."""
    polls = work.session.exec(
        select(Poll).where(Poll.state == "open").order_by(col(Poll.closes_at), col(Poll.id))
    ).all()
    return [p for p in polls if may_enter(work, actor, p) and (work.now < p.closes_at or p.secret)]


# --- finding a home -------------------------------------------------------------------------------------


def buildings(work: Work, poll: Poll) -> list[OrgNode]:
    """The buildings of the poll's scope, by name (the first step of finding a home)."""
    found = buildings_of(work.session, poll.node_id)
    return [b for b in found if not poll.buildings or b.id in poll.buildings]


def entrances(work: Work, poll: Poll, building_id: int) -> list[OrgNode]:
    """A building's entrances, by name (empty when the building is outside the poll)."""
    if building_id not in {b.id for b in buildings(work, poll)}:
        return []
    return list(
        work.session.exec(
            select(OrgNode)
            .where(OrgNode.parent_id == building_id, OrgNode.kind == "entrance")
            .order_by(col(OrgNode.name))
        ).all()
    )


def homes(work: Work, poll: Poll, entrance_id: int) -> list[HomeRow]:
    """An entrance's homes in the frozen electorate, by number, each with the ballot that stands for it."""
    found = work.session.exec(
        select(PollHome.home_id, Home.number)
        .join(Home, (col(PollHome.home_id) == Home.id) & (col(PollHome.poll_id) == poll.id))
        .where(Home.entrance_id == entrance_id)
    ).all()
    voted = rules.homes_voted(work.session, id_of(poll), [home_id for home_id, _ in found])
    rows = [HomeRow(home_id, number, voted.get(home_id)) for home_id, number in found]
    return sorted(rows, key=lambda r: _number_key(r.number))


def _number_key(number: str) -> tuple[int, str]:
    """Home numbers in the order of the doors: 101, 102, …, 1001 (numbers as numbers, then as text)."""
    digits = "".join(ch for ch in number if ch.isdigit())
    return (int(digits) if digits else 0, number)


def counts(work: Work, poll: Poll) -> dict[str, int]:
    """How many paper ballots were entered, by how they were collected (never by home or choice)."""
    rows = work.session.exec(
        select(PollPaper.method, func.count())
        .where(PollPaper.poll_id == poll.id)
        .group_by(col(PollPaper.method))
    ).all()
    return {str(method): int(n) for method, n in rows}


def existing(work: Work, actor: Actor, poll_id: int, home_id: int) -> Existing | None:
    """The ballot that stands for the home's owner unit, if any (PollError "not_allowed" for others)."""
    poll = _poll_to_enter(work, actor, poll_id)
    home = work.session.get(PollHome, (poll.id, home_id))
    if home is None:
        raise PollError("not_in_poll")
    return standing_ballot(work.session, id_of(poll), home.unit)


# --- entering ballots -------------------------------------------------------------------------------------


def enter_paper(work: Work, actor: Actor, poll_id: int, ballot: PaperBallot, source: str = "chat") -> Entered:
    """Take one paper ballot (a secret poll: register one sealed ballot); PollError with the reason, or
    BallotTaken when the home's owner has voted by any channel. Reasons: not_allowed, not_found, not_open,
    closed, not_in_poll, choice, too_many, method, collector, collected_at, photo."""
    poll = _poll_to_enter(work, actor, poll_id)
    home, sealed = rules.enter(work.session, id_of(poll), actor.person_id, ballot, work.now, source)
    _audit(work, actor, "poll.paper", poll, {"home": home.home_id, "method": ballot.method, "sealed": sealed})
    return Entered(id_of(poll), home.home_id, home.unit, sealed)


COLUMNS = ("building", "entrance", "number", "choice", "method", "collector", "collected_at")
_HEADERS = {  # the Chinese headings a committee's spreadsheet may use
    "楼栋": "building",
    "单元": "entrance",
    "门牌": "number",
    "房号": "number",
    "选择": "choice",
    "方式": "method",
    "收票人": "collector",
    "时间": "collected_at",
    "照片": "photo",
}
_METHOD_WORDS = {"扫楼": "door", "现场": "meeting", "投票箱": "box"}


TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S")


def _local_time(work: Work, text: str) -> datetime | None:
    """`YYYY-MM-DD HH:MM` (or `2026/12/1 9:30`, as a spreadsheet in Chinese settings writes it) in the
    configured time zone, or None."""
    typed = " ".join(text.split())
    for form in TIME_FORMATS:
        try:
            return datetime.strptime(typed, form).replace(tzinfo=work.policy.zone)
        except ValueError:
            continue
    return None


def _labels(session: Session, poll: Poll) -> dict[int, str]:
    """The poll's homes as people name them (`1栋 1单元 101`), by id, read in one query."""
    return {home_id: " ".join(names) for names, home_id in _homes_by_address(session, poll).items()}


def _homes_by_address(session: Session, poll: Poll) -> dict[tuple[str, str, str], int]:
    """The poll's homes by (building, entrance, number) names, read in one query."""
    building = OrgNode.__table__.alias("building")  # type: ignore[attr-defined]
    entrance = OrgNode.__table__.alias("entrance")  # type: ignore[attr-defined]
    rows = session.execute(
        select(building.c.name, entrance.c.name, Home.number, Home.id)
        .select_from(PollHome)
        .join(Home, col(Home.id) == PollHome.home_id)
        .join(entrance, entrance.c.id == Home.entrance_id)
        .join(building, building.c.id == Home.building_id)
        .where(PollHome.poll_id == poll.id)
    ).all()
    return {(b, e, n): home_id for b, e, n, home_id in rows}


def read_file(work: Work, poll: Poll, text: str) -> list[FileBallot]:
    """The lines of a ballot file with their homes found, or PaperFileError naming every bad line."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    rows = list(reader)
    if not rows:
        raise PaperFileError([LineError(0, "empty")])
    header = [_HEADERS.get(h.strip(), h.strip().lower()) for h in rows[0]]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise PaperFileError([LineError(1, "header", ", ".join(missing))])
    at = {name: header.index(name) for name in (*COLUMNS, "photo") if name in header}
    addresses = _homes_by_address(work.session, poll)
    found: list[FileBallot] = []
    problems: list[LineError] = []
    for number, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            row = row + [""] * (len(header) - len(row))
        cell = {name: row[i].strip() for name, i in at.items()}
        home_id = addresses.get((cell["building"], cell["entrance"], cell["number"]))
        if home_id is None:
            address = " ".join((cell["building"], cell["entrance"], cell["number"]))
            problems.append(LineError(number, "home", address))
            continue
        when = _local_time(work, cell["collected_at"])
        if when is None:
            problems.append(LineError(number, "collected_at", cell["collected_at"]))
            continue
        choice = ""
        if not poll.secret:
            try:
                choice = rules.choice_word(poll, cell["choice"])
            except PollError as exc:
                problems.append(LineError(number, exc.reason, cell["choice"]))
                continue
        elif cell["choice"]:
            problems.append(LineError(number, "sealed_choice"))  # a secret ballot's choice stays sealed
            continue
        method = _METHOD_WORDS.get(cell["method"], cell["method"].lower())
        if method not in METHODS:
            problems.append(LineError(number, "method", cell["method"]))
            continue
        if not cell["collector"]:
            problems.append(LineError(number, "collector"))
            continue
        photo = cell.get("photo", "")
        paper = PaperBallot(home_id, choice, method, cell["collector"], when, "file" if photo else "", photo)
        found.append(FileBallot(number, home_id, paper))
    if problems:
        raise PaperFileError(problems)
    if not found:
        raise PaperFileError([LineError(0, "empty")])
    return found


def enter_file(work: Work, actor: Actor, poll_id: int, text: str) -> list[Entered]:
    """Take a CSV batch of paper ballots whole or not at all (PaperFileError lists every bad line).

    Columns (header required, UTF-8, a BOM forgiven): building, entrance, number, choice, method, collector,
    collected_at (YYYY-MM-DD HH:MM, local time), photo (optional: a file name kept as the reference).
    `choice` is 同意/反对/弃权 or yes/no/abstain for a decision, candidate numbers "1 3" for an election,
    empty (sealed) for a secret poll; `method` is 扫楼/现场/投票箱 or door/meeting/box."""
    poll = _poll_to_enter(work, actor, poll_id)
    lines = read_file(work, poll, text)
    taken = rules.enter_many(work.session, id_of(poll), actor.person_id, lines, work.now)
    _audit(work, actor, "poll.paper_file", poll, {"ballots": len(taken), "sealed": poll.secret})
    return [Entered(id_of(poll), h.home_id, h.unit, poll.secret) for h in taken]


# --- secret polls: the register and the sealed batch ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Batch:
    """The sealed batch of a secret poll: who entered it and when, who confirmed it (None: waiting)."""

    count: int
    entered_by: int
    entered_at: datetime
    confirmed_by: int | None = None
    confirmed_at: datetime | None = None


def _batch(row: PollBatch) -> Batch:
    return Batch(row.count, row.entered_by, row.entered_at, row.confirmed_by, row.confirmed_at)


@dataclass(frozen=True, slots=True)
class Register:
    """A secret poll's paper register: the sealed ballots handed in (home labels and when), and the batch."""

    sealed: int
    entries: list[tuple[str, datetime, int]] = field(default_factory=list)  # (home label, collected, home id)
    voided: list[tuple[str, datetime]] = field(
        default_factory=list
    )  # lost envelopes: (home label, voided at)
    batch: Batch | None = None
    awaiting: bool = False  # voting ended and the count waits for the confirmed batch


def register(work: Work, actor: Actor, poll_id: int) -> Register:
    """The register of sealed ballots and the state of the batch (PollError "not_allowed" for others)."""
    poll = _poll_to_enter(work, actor, poll_id)
    rows = rules.sealed_units(work.session, id_of(poll))
    labels = _labels(work.session, poll)  # one query, however many envelopes came in
    entries = [(labels.get(row.home_id, str(row.home_id)), row.collected_at, row.home_id) for row in rows]
    voided = [
        (labels.get(row.home_id, str(row.home_id)), row.voided_at)
        for row in work.session.exec(
            select(PollPaper).where(PollPaper.poll_id == poll.id, col(PollPaper.voided_at).is_not(None))
        ).all()
        if row.voided_at is not None
    ]
    batch = work.session.get(PollBatch, poll.id)
    awaiting = poll.state == "open" and work.now >= poll.closes_at and rules.awaiting(work.session, poll)
    return Register(len(rows), entries, voided, _batch(batch) if batch else None, awaiting)


def parse_batch(work: Work, actor: Actor, poll_id: int, text: str) -> list[SealedBallot]:
    """Sealed ballots typed or uploaded one per line: `code, area in m², choice` (PaperFileError)."""
    return rules.parse_batch(_poll_to_enter(work, actor, poll_id), text)


def enter_batch(work: Work, actor: Actor, poll_id: int, ballots: list[SealedBallot], key: bytes) -> Batch:
    """Enter the sealed ballots after voting ended, to wait for a second person's confirmation. Refused
    (PaperFileError) unless every code is a stub code of this poll, used once, every choice valid, and the
    areas written on them are exactly those of the homes in the register."""
    poll = _poll_to_enter(work, actor, poll_id)
    if actor.person_id is None:
        raise PollError("not_allowed")
    row = rules.enter_batch(work.session, id_of(poll), actor.person_id, ballots, work.now, key)
    _audit(work, actor, "poll.batch", poll, {"ballots": row.count})
    return _batch(row)


def pending_lines(work: Work, actor: Actor, poll_id: int, key: bytes) -> list[tuple[str, int, str]]:
    """The waiting batch's ballots (code, area counted in 0.01 m², choice) for someone other than the one
    who entered them, to check against the opened ballots before confirming ([] for the enterer)."""
    poll = _poll_to_enter(work, actor, poll_id)
    batch = work.session.get(PollBatch, poll.id)
    if batch is None or batch.entered_by == actor.person_id:
        return []
    return rules.pending_lines(work.session, id_of(poll), key)


def confirm_batch(work: Work, actor: Actor, poll_id: int, key: bytes) -> Batch:
    """A second person confirms the batch: the ballots join the box (choice apart from any home) and the
    poll is counted at the poll job's next turn. PollError "same_person" for the one who entered it."""
    poll = _poll_to_enter(work, actor, poll_id)
    if actor.person_id is None:
        raise PollError("not_allowed")
    row = rules.confirm_batch(work.session, id_of(poll), actor.person_id, work.now, key)
    _audit(work, actor, "poll.batch_confirm", poll, {"ballots": row.count})
    return _batch(row)


def void_sealed(work: Work, actor: Actor, poll_id: int, home_id: int) -> None:
    """A sealed envelope lost before the count: the home's ballot is given back (it counts as not having
    voted) and the register marks the line void; logged with who did it."""
    poll = _poll_to_enter(work, actor, poll_id)
    rules.void_sealed(work.session, id_of(poll), home_id, actor.person_id, work.now)
    _audit(work, actor, "poll.void_sealed", poll, {"home": home_id})


def discard_batch(work: Work, actor: Actor, poll_id: int) -> None:
    """Drop an unconfirmed batch (it was entered wrong); nothing was counted."""
    poll = _poll_to_enter(work, actor, poll_id)
    rules.discard_batch(work.session, id_of(poll), work.now)
    _audit(work, actor, "poll.batch_discard", poll, {})


def issue_stubs(work: Work, actor: Actor, poll_id: int, count: int) -> list[str]:
    """Issue `count` receipt codes for a secret poll's paper ballots (only their hashes are kept)."""
    poll = _poll_to_enter(work, actor, poll_id)
    codes = rules.issue_stubs(work.session, id_of(poll), count, work.now)
    _audit(work, actor, "poll.stubs", poll, {"count": len(codes)})
    return codes
