"""Domain events: what happened, in meanings (ids, kinds, numbers), never in chat words or buttons.

The rules in db/ return them; use cases record them on the turn's `Work`; the notify layer turns them into
messages for the outbox before the transaction commits. Each event is a small frozen dataclass; a
section per aggregate keeps them findable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened which may concern people other than the one who acted."""


# --- tickets -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TicketAssigned(Event):
    """A ticket was handed to whoever must act on it now: its grid worker, or the staff of the level
    holding it (at filing, `by` is None), or the person staff gave it to."""

    ticket_id: int
    by: int | None = None


@dataclass(frozen=True, slots=True)
class TicketAccepted(Event):
    """The handler took the ticket on, acting in `role`."""

    ticket_id: int
    role: str


@dataclass(frozen=True, slots=True)
class ProgressPosted(Event):
    """The handler posted progress: a note, and photos as (channel, ref)."""

    ticket_id: int
    role: str
    note: str
    photos: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ResidentAsked(Event):
    """The handler asked the reporter something; the clock waits for the answer."""

    ticket_id: int
    role: str
    question: str


@dataclass(frozen=True, slots=True)
class ResidentAnswered(Event):
    """The resident added something while the ticket waited for them; the clock runs again."""

    ticket_id: int


@dataclass(frozen=True, slots=True)
class TransferRequested(Event):
    """A handler asked the community staff to give the ticket to someone else."""

    ticket_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class TransferDecided(Event):
    """Community staff approved or refused the transfer `requester_id` asked for."""

    ticket_id: int
    requester_id: int
    approved: bool


@dataclass(frozen=True, slots=True)
class TicketResolved(Event):
    """The handler closed the work with a closure kind, a note and photos; the reporter is asked to rate."""

    ticket_id: int
    role: str
    kind: str
    note: str
    photos: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class TicketReopened(Event):
    """The reporter was dissatisfied: the ticket is open again one level up, with their comment."""

    ticket_id: int
    comment: str


@dataclass(frozen=True, slots=True)
class TicketClosedAsDuplicate(Event):
    """Staff closed the ticket as a duplicate of `original_id`; its residents follow the original."""

    ticket_id: int
    original_id: int


@dataclass(frozen=True, slots=True)
class TicketReclassified(Event):
    """Staff changed the ticket's category or urgency with a reason; its deadlines follow the new class."""

    ticket_id: int
    category: str
    urgent: bool
    reason: str
    due: datetime | None


@dataclass(frozen=True, slots=True)
class TicketReplied(Event):
    """Staff or the handler answered the residents in words they chose (a reply template, edited)."""

    ticket_id: int
    role: str
    note: str


@dataclass(frozen=True, slots=True)
class TicketSupervised(Event):
    """Staff above the ticket's level sent whoever holds it a supervision reminder (督办) with a note."""

    ticket_id: int
    role: str
    note: str


@dataclass(frozen=True, slots=True)
class TicketReminded(Event):
    """A reminder point of the running clock passed: `point` is its fraction of the clock."""

    ticket_id: int
    point: float
    stage: str
    due: datetime | None


@dataclass(frozen=True, slots=True)
class TicketEscalated(Event):
    """A clock ran out: the ticket climbed from one level of the ladder to the next."""

    ticket_id: int
    from_level: str
    to_level: str
    by_hand: bool = False  # staff above pushed it up (督办), rather than a clock running out


@dataclass(frozen=True, slots=True)
class TicketBreached(Event):
    """A clock ran out at the top of the ladder: nowhere left to climb, the supervisors are alerted."""

    ticket_id: int
    level: str
    stage: str


@dataclass(frozen=True, slots=True)
class ResidentUnreachable(Event):
    """A push about the ticket could not reach one of its residents (they blocked the bot)."""

    ticket_id: int
    resident_id: int


@dataclass(frozen=True, slots=True)
class TasksDigest(Event):
    """A grid worker's morning: their open tasks, those due today and overdue, and the next one due."""

    person_id: int
    open: int
    due_today: int
    overdue: int
    first_ticket: int | None = None
    first_category: str = ""
    first_stage: str = ""
    first_due: datetime | None = None


@dataclass(frozen=True, slots=True)
class JurisdictionDigest(Event):
    """A community or street staff member's morning: overdue, recently unrated and unassigned tickets."""

    person_id: int
    overdue: int
    unrated: int
    unassigned: int
    places: tuple[str, ...]


# --- notices -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoticePublished(Event):
    """A notice was written: each recipient (those who muted its kind already left out) is to receive it."""

    notice_id: int
    recipients: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class NoticeReminder(Event):
    """Recipients who got a notice asking for acknowledgement and have not given it are reminded."""

    notice_id: int
    recipients: tuple[int, ...]


# --- polls ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PollOpened(Event):
    """Voting opened: the electorate is frozen; its owners may vote, and the author learns its size."""

    poll_id: int


@dataclass(frozen=True, slots=True)
class PollReminder(Event):
    """A reminder is due to the owners whose home has not voted, `days_left` whole days before the close."""

    poll_id: int
    days_left: int


@dataclass(frozen=True, slots=True)
class PollAwaitingPaper(Event):
    """Voting ended but the sealed paper ballots of a secret poll are still to be entered and confirmed: the
    count waits for them; those who run the poll are told once."""

    poll_id: int
    sealed: int  # sealed ballots in the register


@dataclass(frozen=True, slots=True)
class ProxyFlagged(Event):
    """A person now holds proxies for more homes than the configured limit: staff of the compound are told."""

    proxy_id: int  # the poll_proxy row that went over the limit
    person_id: int
    homes: int


@dataclass(frozen=True, slots=True)
class PollClosed(Event):
    """Voting closed: the ballots were counted and the result published as notice `notice_id`."""

    poll_id: int
    notice_id: int | None


@dataclass(frozen=True, slots=True)
class PollWithdrawn(Event):
    """A poll was withdrawn before voting opened; notice `notice_id` told those who had its announcement."""

    poll_id: int
    notice_id: int | None


# --- people --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResidentAwaitsApproval(Event):
    """A person who joined without an invite chose a home; staff over it are to verify them."""

    residency_id: int
    person_id: int
    home_id: int
    kind: str  # owner | tenant


@dataclass(frozen=True, slots=True)
class ResidencyDecided(Event):
    """Staff verified or rejected a residency; the person is to hear which."""

    residency_id: int
    person_id: int
    home_id: int
    approved: bool


# --- statements of accounts (收支公示) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatementPublished(Event):
    """A statement of accounts was published as notice `notice_id` (its own NoticePublished tells the
    residents); `version` > 1 is a correction of the version it supersedes."""

    statement_id: int
    compound_id: int
    notice_id: int
    version: int


@dataclass(frozen=True, slots=True)
class StatementLate(Event):
    """A period's statement is still not published: `stage` "filer" reminds those who file it (30 days
    after the period ended), "community" the community staff over the compound (7 days later)."""

    compound_id: int
    period_start: str  # ISO date
    period_end: str
    filer: str  # company | committee
    stage: str  # filer | community
    recipients: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class LineQuestioned(Event):
    """A resident asked about a line of a published statement; it became ticket `ticket_id`."""

    statement_id: int
    line_id: int
    ticket_id: int


# --- committees ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommitteeInstalled(Event):
    """A committee (kind owners | management) took office in a compound, replacing `replaced_id` if any;
    `poll_id` when an election installed it."""

    committee_id: int
    compound_id: int
    kind: str
    replaced_id: int | None = None
    poll_id: int | None = None


@dataclass(frozen=True, slots=True)
class CommitteeTermReminder(Event):
    """A committee's term ends in `months` months: the committee, community and street staff are told."""

    committee_id: int
    compound_id: int
    months: int


@dataclass(frozen=True, slots=True)
class CommitteeLapsed(Event):
    """A committee's term is over with no committee in office: `months` whole months since the end."""

    committee_id: int
    compound_id: int
    months: int


@dataclass(frozen=True, slots=True)
class HandoverOpened(Event):
    """An outgoing committee owes its successor a handover by its deadline."""

    handover_id: int


@dataclass(frozen=True, slots=True)
class HandoverOverdue(Event):
    """A handover is past its deadline by `days_late` days and not done."""

    handover_id: int
    days_late: int


@dataclass(frozen=True, slots=True)
class ElectionUnmatched(Event):
    """An election passed: the elected names that match no single verified owner of the compound, and
    those matched by name alone (name, building, entrance, home number), which staff confirm."""

    poll_id: int
    compound_id: int
    names: tuple[str, ...]
    installed: bool
    matched: tuple[tuple[str, str, str, str], ...] = ()


# --- property-company evaluation (DESIGN §4.5) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordEntered(Event):
    """Street or district staff entered a good or bad record of a company; its staff are to hear of it."""

    record_id: int


@dataclass(frozen=True, slots=True)
class RecordAppealed(Event):
    """A company appealed a record against it; the staff who entered it are to decide."""

    record_id: int


@dataclass(frozen=True, slots=True)
class AppealDecided(Event):
    """Staff upheld or rejected a company's appeal; the company's staff are to hear which."""

    record_id: int
    upheld: bool


@dataclass(frozen=True, slots=True)
class SurveyOpened(Event):
    """The owners' satisfaction survey of a company opened; every verified owner of a home it covers is
    asked, once per home."""

    survey_id: int


@dataclass(frozen=True, slots=True)
class SurveyReminded(Event):
    """The survey closes soon: owners whose homes have not answered are reminded once."""

    survey_id: int


@dataclass(frozen=True, slots=True)
class SurveyClosed(Event):
    """The survey closed; those who opened it are told the turnout."""

    survey_id: int
    answered: int
    homes: int


# --- hot spots -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HotSpotOpened(Event):
    """The sweep found a cluster (`kind`: building or repeat) and opened proactive ticket `ticket_id` for
    the community, gathering `tickets`."""

    hot_spot_id: int
    ticket_id: int
    kind: str
    tickets: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class HotSpotJoined(Event):
    """A new ticket joined a cluster whose proactive ticket is still open; it now gathers `size`."""

    hot_spot_id: int
    ticket_id: int
    joined: int
    size: int


@dataclass(frozen=True, slots=True)
class HotSpotTold(Event):
    """Staff told the building's residents, once, that the cluster's problem is known and handled."""

    hot_spot_id: int
    recipients: tuple[int, ...]
