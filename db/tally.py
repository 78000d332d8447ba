"""The tally of an owners' decision (DESIGN §4.2): a pure, exact function over plain values.

How it counts (Civil Code Art. 278 and Art. 1259; SPC interpretation on building ownership Art. 8–9):

- The electorate is one `Home` per exclusive part with its registered area in 0.01 m² (a positive int) and
  an `owner_key`. Homes sharing an owner_key are one owner (several homes of one buyer; the developer's
  unsold homes all carry one key such as `DEVELOPER`). Co-owners of a home are one `Home`, so one vote.
- Total area = sum of all home areas; total owners = number of distinct owner keys.
- One `Ballot` per home. A second ballot for the same home, or a ballot for a home outside the electorate,
  raises ValueError: the caller (the database's one-vote constraint, the first co-owner to vote, a vote
  change replacing the old row) decides which ballot stands, never the order of a list.
- Area follows each home's own ballot. An owner takes part if any of their homes cast a ballot (abstaining
  is taking part); their participating area is the area of the homes that voted. An owner whose homes
  voted differently counts, by headcount, for the option holding MORE than half of their voting area
  (a candidate's approvers likewise); with no such majority they count as abstaining by headcount.
- Quorum: participating area ≥ 2/3 of total area AND participating owners ≥ 2/3 of total owners.
- Approval, among participants: matters 1–5 and 9 need > 1/2 of participating area AND > 1/2 of
  participating owners (exactly 1/2 fails); matters 6–8 need ≥ 3/4 of both (exactly 3/4 passes).
  Abstentions and 反对 take part but do not approve. Without quorum nothing passes: "no_quorum".
- An election is one question per candidate, each judged by the approval rule alone. Seats go to the
  passing candidates ranked by approving owners, then approving area; when candidates tied on both
  straddle the last seat, they (and the seats left for them) are reported as a run-off.
- All arithmetic is on ints, Fractions are made once at the end; no floats anywhere.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import compress
from operator import attrgetter, not_
from typing import Literal, NoReturn

YES, NO, ABSTAIN = "yes", "no", "abstain"
CHOICES = (YES, NO, ABSTAIN)
DEVELOPER = "developer"  # the owner_key conventionally shared by all of the developer's unsold homes
SPECIAL_MATTERS = frozenset({6, 7, 8})
QUORUM = Fraction(2, 3)  # "以上": reaching it is enough
ORDINARY_APPROVAL = Fraction(1, 2)  # "过半数": must be exceeded
SPECIAL_APPROVAL = Fraction(3, 4)  # "以上": reaching it is enough

Choice = Literal["yes", "no", "abstain"]
Outcome = Literal["passed", "failed", "no_quorum"]


@dataclass(frozen=True, slots=True)
class Home:
    """One exclusive part in the frozen electorate: its registered area (0.01 m²) and its owner."""

    home_id: str
    area_centi_m2: int
    owner_key: str


@dataclass(frozen=True, slots=True)
class Ballot:
    """One home's ballot: "yes" | "no" | "abstain" for a decision, or the approved candidate ids."""

    home_id: str
    choice: Choice | frozenset[str]  # election: frozenset of candidates (empty = approves no one)


@dataclass(frozen=True, slots=True)
class Approval:
    """The approval count for one question: "yes" of a decision, or one candidate of an election."""

    option: str
    area: int  # approving area, 0.01 m²
    owners: int  # approving owners
    area_share: Fraction | None  # of participating area; None when nobody took part
    owner_share: Fraction | None  # of participating owners; None when nobody took part
    area_met: bool
    owners_met: bool
    passed: bool  # both met and the quorum reached


@dataclass(frozen=True, slots=True)
class Result:
    """Every number the tally decided on, and the outcome."""

    matter: int
    matter_class: Literal["ordinary", "special"]
    total_area: int
    total_owners: int
    participating_area: int
    participating_owners: int
    ballots: int  # homes that voted
    split_owners: int  # owners whose homes did not all cast the same ballot
    area_turnout: Fraction
    owner_turnout: Fraction
    quorum_threshold: Fraction  # reached when turnout >= threshold
    quorum_area_met: bool
    quorum_owners_met: bool
    quorum: bool
    approval_threshold: Fraction
    approval_inclusive: bool  # True: share >= threshold passes (special); False: share > threshold
    approvals: tuple[Approval, ...]  # decision: one, option "yes"; election: one per candidate, in order
    no_area: int  # decision: area that voted 反对 (0 in an election)
    no_owners: int
    abstain_area: int  # decision: 弃权; election: ballots approving no candidate
    abstain_owners: int
    outcome: Outcome  # election: "passed" when at least one candidate passed
    seats: int = 0
    elected: tuple[str, ...] = ()  # ranked
    runoff: tuple[str, ...] = ()  # tied candidates that must go to a run-off ...
    runoff_seats: int = 0  # ... for this many remaining seats


def _share(part: int, whole: int) -> Fraction | None:
    return Fraction(part, whole) if whole else None


def _met(share: Fraction | None, threshold: Fraction, inclusive: bool) -> bool:
    if share is None:
        return False
    return share >= threshold if inclusive else share > threshold


@dataclass(slots=True)
class _Index:
    single: dict[str, int]  # home id -> area, for the homes of owners holding one home
    shared: dict[str, Home]  # home id -> home, for the homes of owners holding several homes
    total_area: int
    total_owners: int


@dataclass(slots=True)
class _Counts:
    approve_area: dict[str, int]  # per option ("yes", or each candidate)
    approve_owners: dict[str, int]
    participating_area: int
    participating_owners: int
    ballots: int
    split_owners: int
    no_area: int = 0
    no_owners: int = 0
    abstain_area: int = 0
    abstain_owners: int = 0


def _rank(approval: Approval) -> tuple[int, int]:
    """Seats go by approving owners, then approving area (higher first)."""
    return approval.owners, approval.area


def _index(electorate: Sequence[Home]) -> _Index:
    """Check the electorate and split it by whether the home's owner holds one home or several."""
    if not electorate:
        raise ValueError("the electorate is empty")
    # map/compress/zip keep the per-home work in C: this runs over every home at every tally.
    areas = list(map(attrgetter("area_centi_m2"), electorate))
    if set(map(type, areas)) != {int} or min(areas) <= 0:  # type(True) is bool: booleans are refused too
        bad = next(h for h in electorate if type(h.area_centi_m2) is not int or h.area_centi_m2 <= 0)
        raise ValueError(
            f"home {bad.home_id!r}: area must be a positive int of 0.01 m², got {bad.area_centi_m2!r}"
        )
    ids = list(map(attrgetter("home_id"), electorate))
    owner_keys = list(map(attrgetter("owner_key"), electorate))
    homes_of = Counter(owner_keys)
    multi = {owner for owner, held in homes_of.items() if held > 1}
    in_multi = list(map(multi.__contains__, owner_keys))
    alone = list(map(not_, in_multi))
    single = dict(zip(compress(ids, alone), compress(areas, alone), strict=True))
    shared = dict(zip(compress(ids, in_multi), compress(electorate, in_multi), strict=True))
    if len(single) + len(shared) != len(electorate) or not single.keys().isdisjoint(shared):
        seen: set[str] = set()
        for home_id in ids:
            if home_id in seen:
                raise ValueError(f"home {home_id!r} appears twice in the electorate")
            seen.add(home_id)
    return _Index(single, shared, sum(areas), len(homes_of))


def _refuse(index: _Index, home_id: str) -> NoReturn:
    if home_id in index.single or home_id in index.shared:
        raise ValueError(f"home {home_id!r} has more than one ballot")
    raise ValueError(f"home {home_id!r} is not in the electorate")


def _count_decision(index: _Index, ballots: Iterable[Ballot]) -> _Counts:
    """Area and owners per choice in one pass over the ballots (ints only)."""
    area = {YES: 0, NO: 0, ABSTAIN: 0}
    owners = {YES: 0, NO: 0, ABSTAIN: 0}
    single = dict(index.single)
    shared = dict(index.shared)
    single_pop = single.pop
    shared_pop = shared.pop
    voted: dict[str, dict[str, int]] = {}  # owner of several homes -> area per choice of their voting homes
    for ballot in ballots:
        choice = ballot.choice
        if choice not in area:
            raise ValueError(f"home {ballot.home_id!r}: choice must be yes, no or abstain, got {choice!r}")
        home_area = single_pop(ballot.home_id, None)
        if home_area is not None:
            area[choice] += home_area
            owners[choice] += 1
            continue
        home = shared_pop(ballot.home_id, None)
        if home is None:
            _refuse(index, ballot.home_id)
        home_area = home.area_centi_m2
        area[choice] += home_area
        per = voted.setdefault(home.owner_key, {})
        per[choice] = per.get(choice, 0) + home_area
    for per in voted.values():  # an owner of several homes counts for the choice of most of their area
        owner_area = sum(per.values())
        for choice, choice_area in per.items():
            if 2 * choice_area > owner_area:
                owners[choice] += 1
                break
        else:
            owners[ABSTAIN] += 1
    single_voters = len(index.single) - len(single)
    return _Counts(
        approve_area={YES: area[YES]},
        approve_owners={YES: owners[YES]},
        participating_area=area[YES] + area[NO] + area[ABSTAIN],
        participating_owners=single_voters + len(voted),
        ballots=single_voters + len(index.shared) - len(shared),
        split_owners=sum(len(per) > 1 for per in voted.values()),
        no_area=area[NO],
        no_owners=owners[NO],
        abstain_area=area[ABSTAIN],
        abstain_owners=owners[ABSTAIN],
    )


def _count_election(index: _Index, ballots: Iterable[Ballot], candidates: tuple[str, ...]) -> _Counts:
    """Approving area and owners per candidate in one pass over the ballots (ints only)."""
    allowed = frozenset(candidates)
    area = dict.fromkeys(candidates, 0)
    owners = dict.fromkeys(candidates, 0)
    single = dict(index.single)
    shared = dict(index.shared)
    single_pop = single.pop
    shared_pop = shared.pop
    part_area = abstain_area = abstain_owners = 0
    voted: dict[str, list[tuple[int, frozenset[str]]]] = {}  # owner of several homes -> (area, approved)
    for ballot in ballots:
        chosen = ballot.choice
        if not isinstance(chosen, frozenset) or not chosen <= allowed:
            raise ValueError(f"home {ballot.home_id!r}: an election ballot is a frozenset of candidates")
        home_area = single_pop(ballot.home_id, None)
        if home_area is None:
            home = shared_pop(ballot.home_id, None)
            if home is None:
                _refuse(index, ballot.home_id)
            home_area = home.area_centi_m2
            voted.setdefault(home.owner_key, []).append((home_area, chosen))
        elif chosen:
            for candidate in chosen:
                owners[candidate] += 1
        else:
            abstain_owners += 1
        part_area += home_area
        if chosen:
            for candidate in chosen:
                area[candidate] += home_area
        else:
            abstain_area += home_area
    split = 0
    for homes in voted.values():  # an owner of several homes approves with most of their area
        split += len({chosen for _, chosen in homes}) > 1
        owner_area = 0
        per: dict[str, int] = {}
        for home_area, chosen in homes:
            owner_area += home_area
            for option in chosen or ("",):  # "" collects the area that approved no one
                per[option] = per.get(option, 0) + home_area
        for option, option_area in per.items():
            if 2 * option_area > owner_area:
                if option:
                    owners[option] += 1
                else:
                    abstain_owners += 1
    single_voters = len(index.single) - len(single)
    return _Counts(
        approve_area=area,
        approve_owners=owners,
        participating_area=part_area,
        participating_owners=single_voters + len(voted),
        ballots=single_voters + len(index.shared) - len(shared),
        split_owners=split,
        abstain_area=abstain_area,
        abstain_owners=abstain_owners,
    )


def tally(
    electorate: Sequence[Home],
    ballots: Iterable[Ballot],
    matter: int,
    candidates: Sequence[str] = (),
    seats: int = 0,
) -> Result:
    """Count the ballots of a frozen electorate on an Art. 278 matter (1–9); see the module docstring."""
    if type(matter) is not int or not 1 <= matter <= 9:
        raise ValueError(f"matter must be an int from 1 to 9 (Civil Code Art. 278), got {matter!r}")
    candidates = tuple(candidates)
    if candidates:
        if len(set(candidates)) != len(candidates):
            raise ValueError("candidates must be distinct")
        if type(seats) is not int or not 1 <= seats <= len(candidates):
            raise ValueError(f"seats must be from 1 to {len(candidates)}, got {seats!r}")
    elif seats:
        raise ValueError("seats without candidates")
    special = matter in SPECIAL_MATTERS
    threshold = SPECIAL_APPROVAL if special else ORDINARY_APPROVAL

    index = _index(electorate)
    if candidates:
        counts = _count_election(index, ballots, candidates)
        options = candidates
    else:
        counts = _count_decision(index, ballots)
        options = (YES,)
    total_area, total_owners = index.total_area, index.total_owners
    part_area, part_owners = counts.participating_area, counts.participating_owners
    approve_area, approve_owners = counts.approve_area, counts.approve_owners

    area_turnout = Fraction(part_area, total_area)
    owner_turnout = Fraction(part_owners, total_owners)
    quorum_area_met = area_turnout >= QUORUM
    quorum_owners_met = owner_turnout >= QUORUM
    quorum = quorum_area_met and quorum_owners_met
    approvals = []
    for option in options:
        area_share = _share(approve_area[option], part_area)
        owner_share = _share(approve_owners[option], part_owners)
        area_met = _met(area_share, threshold, special)
        owners_met = _met(owner_share, threshold, special)
        approvals.append(
            Approval(
                option=option,
                area=approve_area[option],
                owners=approve_owners[option],
                area_share=area_share,
                owner_share=owner_share,
                area_met=area_met,
                owners_met=owners_met,
                passed=quorum and area_met and owners_met,
            )
        )

    elected: tuple[str, ...] = ()
    runoff: tuple[str, ...] = ()
    runoff_seats = 0
    if candidates:
        ranked = sorted(
            (a for a in approvals if a.passed), key=_rank, reverse=True
        )  # stable: ties keep order
        if len(ranked) <= seats:
            elected = tuple(a.option for a in ranked)
        else:
            last = _rank(ranked[seats - 1])
            ahead = [a.option for a in ranked if _rank(a) > last]
            tied = [a.option for a in ranked if _rank(a) == last]
            if len(ahead) + len(tied) <= seats:
                elected = tuple(ahead + tied)
            else:
                elected, runoff, runoff_seats = tuple(ahead), tuple(tied), seats - len(ahead)

    if not quorum:
        outcome: Outcome = "no_quorum"
    elif any(a.passed for a in approvals):
        outcome = "passed"
    else:
        outcome = "failed"
    return Result(
        matter=matter,
        matter_class="special" if special else "ordinary",
        total_area=total_area,
        total_owners=total_owners,
        participating_area=part_area,
        participating_owners=part_owners,
        ballots=counts.ballots,
        split_owners=counts.split_owners,
        area_turnout=area_turnout,
        owner_turnout=owner_turnout,
        quorum_threshold=QUORUM,
        quorum_area_met=quorum_area_met,
        quorum_owners_met=quorum_owners_met,
        quorum=quorum,
        approval_threshold=threshold,
        approval_inclusive=special,
        approvals=tuple(approvals),
        no_area=counts.no_area,
        no_owners=counts.no_owners,
        abstain_area=counts.abstain_area,
        abstain_owners=counts.abstain_owners,
        outcome=outcome,
        seats=seats,
        elected=elected,
        runoff=runoff,
        runoff_seats=runoff_seats,
    )
