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

from dataclasses import dataclass, field
from datetime import datetime

from core.permissions import Actor
from core.work import Work
from db.models import OrgNode, Poll
from db.polls.terms import PollError

METHODS = ("door", "meeting", "box")  # 扫楼 · 现场 · 投票箱


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


@dataclass(frozen=True, slots=True)
class LineError:
    """One bad line of a ballot file: its number (1 = the header) and the reason key."""

    line: int
    reason: str
    detail: str = ""


class PaperFileError(ValueError):
    """A ballot file that cannot be taken whole: every bad line, nothing entered."""

    def __init__(self, problems: list[LineError]) -> None:
        super().__init__("; ".join(f"line {p.line}: {p.reason}" for p in problems))
        self.problems = problems


def may_enter(work: Work, actor: Actor, poll: Poll) -> bool:
    """Whether the actor may enter paper ballots and letters of this poll (ENTER_BALLOT over its compound)."""
    raise NotImplementedError


def entry_polls(work: Work, actor: Actor) -> list[Poll]:
    """Polls whose paper ballots the actor may enter now: open ones, and secret ones awaiting their batch."""
    raise NotImplementedError


def buildings(work: Work, poll: Poll) -> list[OrgNode]:
    """The buildings of the poll's scope, by name (the first step of finding a home)."""
    raise NotImplementedError


def entrances(work: Work, poll: Poll, building_id: int) -> list[OrgNode]:
    """A building's entrances, by name (empty when the building is outside the poll)."""
    raise NotImplementedError


def homes(work: Work, poll: Poll, entrance_id: int) -> list[HomeRow]:
    """An entrance's homes in the frozen electorate, by number, each with the ballot that stands for it."""
    raise NotImplementedError


def existing(work: Work, actor: Actor, poll_id: int, home_id: int) -> Existing | None:
    """The ballot that stands for the home's owner unit, if any (PollError "not_allowed" for others)."""
    raise NotImplementedError


def enter_paper(work: Work, actor: Actor, poll_id: int, ballot: PaperBallot, source: str = "chat") -> Entered:
    """Take one paper ballot (a secret poll: register one sealed ballot); PollError with the reason, or
    BallotTaken when the home's owner has voted by any channel. Reasons: not_allowed, not_found, not_open,
    closed, not_in_poll, choice, too_many, method, collector, collected_at, photo."""
    raise NotImplementedError


def enter_file(work: Work, actor: Actor, poll_id: int, text: str) -> list[Entered]:
    """Take a CSV batch of paper ballots whole or not at all (PaperFileError lists every bad line).

    Columns (header required, UTF-8, a BOM forgiven): building, entrance, number, choice, method, collector,
    collected_at (YYYY-MM-DD HH:MM, local time), photo (optional: a file name kept as the reference).
    `choice` is 同意/反对/弃权 or yes/no/abstain for a decision, candidate numbers "1 3" for an election,
    empty (sealed) for a secret poll; `method` is 扫楼/现场/投票箱 or door/meeting/box."""
    raise NotImplementedError


# --- secret polls: the register and the sealed batch ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class SealedBallot:
    """One sealed ballot opened at the close: the code on its stub, the area written on it, the choice."""

    code: str
    area_centi_m2: int
    choice: str


@dataclass(frozen=True, slots=True)
class Batch:
    """The sealed batch of a secret poll: who entered it and when, who confirmed it (None: waiting)."""

    count: int
    entered_by: int
    entered_at: datetime
    confirmed_by: int | None = None
    confirmed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Register:
    """A secret poll's paper register: the sealed ballots handed in (home labels and when), and the batch."""

    sealed: int
    entries: list[tuple[str, datetime]] = field(default_factory=list)  # (home label, collected at)
    batch: Batch | None = None
    awaiting: bool = False  # voting ended and the count waits for the confirmed batch


def register(work: Work, actor: Actor, poll_id: int) -> Register:
    """The register of sealed ballots and the state of the batch (PollError "not_allowed" for others)."""
    raise NotImplementedError


def parse_batch(text: str) -> list[SealedBallot]:
    """Sealed ballots typed or uploaded one per line: `code, area in m², choice` (PaperFileError)."""
    raise NotImplementedError


def enter_batch(work: Work, actor: Actor, poll_id: int, ballots: list[SealedBallot]) -> Batch:
    """Enter the sealed ballots after voting ended, to wait for a second person's confirmation. Refused
    (PaperFileError) unless every code is a stub code of this poll, used once, every choice valid, and the
    areas written on them are exactly those of the homes in the register."""
    raise NotImplementedError


def confirm_batch(work: Work, actor: Actor, poll_id: int) -> Batch:
    """A second person confirms the batch: the ballots join the box (choice apart from any home) and the
    poll is counted at the poll job's next turn. PollError "same_person" for the one who entered it."""
    raise NotImplementedError


def discard_batch(work: Work, actor: Actor, poll_id: int) -> None:
    """Drop an unconfirmed batch (it was entered wrong); nothing was counted."""
    raise NotImplementedError


def issue_stubs(work: Work, actor: Actor, poll_id: int, count: int) -> list[str]:
    """Issue `count` receipt codes for a secret poll's paper ballots (only their hashes are kept)."""
    raise NotImplementedError
