"""The tally of an owners' decision (DESIGN §4.2): a pure, exact function over plain values.

How it counts (Civil Code Art. 278 and Art. 1259; SPC interpretation on building ownership Art. 8–9):

- The electorate is one `Home` per exclusive part with its registered area in 0.01 m² (a positive int) and
  an `owner_key`. Homes sharing an owner_key are one owner; the caller keys homes on the EXACT set of
  their owners (SPC Art. 9, "同一买受人拥有一个以上专有部分的，按一人计算"): homes whose owner sets are
  equal share a key (one buyer's several homes, or a couple's two flats), while sets that merely overlap
  do not: homes owned by H+W, W+M and M+X are three owners, not one chain merged into a single owner.
  The developer's unsold homes all carry one key such as `DEVELOPER`. Co-owners of a home are one `Home`,
  so one vote.
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
- `prepare(homes)` checks and indexes an electorate once (when the poll opens) into an immutable
  `Electorate`; `tally` takes that or a plain sequence of homes (prepared anew at each call).
  A bad electorate raises ValueError from `prepare`; the same checks run for a plain sequence.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import compress, count
from operator import add, attrgetter, eq, gt, not_
from types import MappingProxyType
from typing import Literal

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


@dataclass(frozen=True, slots=True, eq=False)
class Electorate:
    """A poll's electorate, checked and indexed once by `prepare`; `tally` reads it and never changes it."""

    total_area: int  # 0.01 m²
    total_owners: int
    # Read-only views. _single: home id -> area, for the homes of owners holding one home (and the sum of
    # those areas); _shared: home id -> (owner number, area), for the homes of the _shared_owners owners
    # holding several, numbered 0, 1, ... so that a tally counts them in lists, not dicts.
    _single: MappingProxyType[str, int] = field(repr=False)
    _single_area: int = field(repr=False)
    _shared: MappingProxyType[str, tuple[int, int]] = field(repr=False)
    _shared_owners: int = field(repr=False)

    def __len__(self) -> int:
        """The number of homes."""
        return len(self._single) + len(self._shared)


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


_home_id = attrgetter("home_id")
_area_of = attrgetter("area_centi_m2")
_owner_of = attrgetter("owner_key")


def prepare(homes: Iterable[Home]) -> Electorate:
    """Check an electorate and index it for `tally`: done once, when the poll opens and freezes it."""
    homes = homes if isinstance(homes, list | tuple) else list(homes)
    if not homes:
        raise ValueError("the electorate is empty")
    # map/compress/zip keep the per-home work in C.
    areas = list(map(_area_of, homes))
    same: dict[int, int] = {}  # one int object per distinct area: a tally reads a few ints, not one per home
    if set(map(type, areas)) == {int}:  # type(True) is bool: booleans are refused too
        areas = list(map(same.setdefault, areas, areas))
    if not same or min(same) <= 0:
        bad = next(h for h in homes if type(h.area_centi_m2) is not int or h.area_centi_m2 <= 0)
        raise ValueError(
            f"home {bad.home_id!r}: area must be a positive int of 0.01 m², got {bad.area_centi_m2!r}"
        )
    ids = list(map(_home_id, homes))
    owner_keys = list(map(_owner_of, homes))
    homes_of = Counter(owner_keys)
    number: dict[str, int] = {}  # owner of several homes -> their number
    if len(homes_of) == len(homes):  # every owner holds one home
        single, shared = dict(zip(ids, areas, strict=True)), {}
    else:
        multi = compress(homes_of, map((1).__lt__, homes_of.values()))
        number = dict(zip(multi, count()))
        in_multi = list(map(number.__contains__, owner_keys))
        alone = list(map(not_, in_multi))
        single = dict(zip(compress(ids, alone), compress(areas, alone), strict=True))
        numbers = map(number.__getitem__, compress(owner_keys, in_multi))
        numbered = zip(numbers, compress(areas, in_multi), strict=True)
        shared = dict(zip(compress(ids, in_multi), numbered, strict=True))
    if len(single) + len(shared) != len(homes) or not single.keys().isdisjoint(shared):
        seen: set[str] = set()
        for home_id in ids:
            if home_id in seen:
                raise ValueError(f"home {home_id!r} appears twice in the electorate")
            seen.add(home_id)
    return Electorate(
        total_area=sum(areas),
        total_owners=len(homes_of),
        _single=MappingProxyType(single),
        _single_area=sum(single.values()),
        _shared=MappingProxyType(shared),
        _shared_owners=len(number),
    )


_DECISION_CHOICES = frozenset(CHOICES)
_NO_ONE = (None,)  # the option of an election ballot approving no one


def _fault(electorate: Electorate, ballots: Iterable[Ballot], candidates: frozenset[str] | None) -> None:
    """Raise the ValueError for the first ballot, in order, that cannot be counted (if there is one).

    The counting loops meet faults out of order (a ballot for an unknown or already counted home is set
    aside with those of owners holding several homes, checked last); this replays the checks ballot by
    ballot (the choice, then the home) so that the error names the first faulty ballot.
    """
    seen: set[str] = set()
    for ballot in ballots:
        choice = ballot.choice
        if candidates is None:
            try:
                valid = choice in _DECISION_CHOICES
            except TypeError:  # unhashable
                valid = False
            if not valid:
                raise ValueError(
                    f"home {ballot.home_id!r}: choice must be yes, no or abstain, got {choice!r}"
                )
        elif not isinstance(choice, frozenset) or not choice <= candidates:
            raise ValueError(f"home {ballot.home_id!r}: an election ballot is a frozenset of candidates")
        if ballot.home_id in seen:
            raise ValueError(f"home {ballot.home_id!r} has more than one ballot")
        if ballot.home_id not in electorate._single and ballot.home_id not in electorate._shared:
            raise ValueError(f"home {ballot.home_id!r} is not in the electorate")
        seen.add(ballot.home_id)


def _majorities(per_owner: list[int], owner_area: list[int]) -> int:
    """How many owners hold more than half of their voting area in `per_owner` (C-fast: map and sum)."""
    return sum(map(gt, map(add, per_owner, per_owner), owner_area))


def _count_decision(electorate: Electorate, ballots: Sequence[Ballot]) -> _Counts:
    """Area and owners per choice in one pass over the ballots (ints only)."""
    remaining = electorate._single.copy()  # C-fast; popping a home marks its ballot counted
    pop = remaining.pop
    single: dict[str, list[int]] = {YES: [], NO: [], ABSTAIN: []}  # areas of one-home owners' ballots
    # Looked up with whatever choice a ballot holds: the KeyError of any other is how a bad one is found.
    add_area: dict[Hashable, Callable[[int], None]] = {
        choice: areas.append for choice, areas in single.items()
    }
    rest: list[Ballot] = []  # ballots of owners holding several homes (or not countable)
    keep = rest.append
    # Owners of several homes, by number: their voting area, and per choice the area of their homes that
    # chose it. Lists of ints, no object per owner: the tally does not wake the garbage collector.
    owners_shared = electorate._shared_owners
    owner_area = [0] * owners_shared
    by_choice: dict[Hashable, list[int]] = {choice: [0] * owners_shared for choice in CHOICES}
    try:
        for ballot in ballots:
            home_area = pop(ballot.home_id, 0)  # 0: not a one-home owner's home, or already counted
            if home_area:
                add_area[ballot.choice](home_area)  # KeyError: not yes/no/abstain
            else:
                keep(ballot)
        if rest:
            shared_pop = electorate._shared.copy().pop
            for ballot in rest:
                owner, home_area = shared_pop(ballot.home_id)  # KeyError: unknown, or a second ballot
                by_choice[ballot.choice][owner] += home_area  # KeyError: not yes/no/abstain
                owner_area[owner] += home_area
    except (KeyError, TypeError):  # TypeError: an unhashable choice
        _fault(electorate, ballots, None)
        raise
    area = {choice: sum(areas) for choice, areas in single.items()}
    owners = {choice: len(areas) for choice, areas in single.items()}
    silent = owner_area.count(0)  # owners of several homes none of which voted
    voters = owners_shared - silent
    decided = unanimous = 0
    for choice in CHOICES:  # an owner of several homes counts for most of their area
        per_owner = by_choice[choice]
        area[choice] += sum(per_owner)
        majorities = _majorities(per_owner, owner_area)
        owners[choice] += majorities
        decided += majorities
        unanimous += sum(map(eq, per_owner, owner_area)) - silent  # all their voting area: 0 == 0 aside
    owners[ABSTAIN] += voters - decided  # no choice holds more than half: abstaining
    single_voters = len(electorate._single) - len(remaining)
    return _Counts(
        approve_area={YES: area[YES]},
        approve_owners={YES: owners[YES]},
        participating_area=area[YES] + area[NO] + area[ABSTAIN],
        participating_owners=single_voters + voters,
        ballots=single_voters + len(rest),
        split_owners=voters - unanimous,
        no_area=area[NO],
        no_owners=owners[NO],
        abstain_area=area[ABSTAIN],
        abstain_owners=owners[ABSTAIN],
    )


def _count_election(
    electorate: Electorate, ballots: Sequence[Ballot], candidates: tuple[str, ...]
) -> _Counts:
    """Approving area and owners per candidate in one pass over the ballots (ints only)."""
    remaining = electorate._single.copy()  # C-fast; popping a home marks its ballot counted
    pop = remaining.pop
    single: dict[str, list[int]] = {candidate: [] for candidate in candidates}  # one-home owners' areas
    add_area = {candidate: areas.append for candidate, areas in single.items()}
    none: list[int] = []  # areas of one-home owners' ballots approving no one
    no_one = none.append
    rest: list[Ballot] = []  # ballots of owners holding several homes (or not countable)
    keep = rest.append
    # Owners of several homes, by number, as in _count_decision: their voting area, per candidate (None:
    # approving no one) the area of their homes approving it, their first ballot, and those who split.
    owners_shared = electorate._shared_owners
    owner_area = [0] * owners_shared
    by_option = {option: [0] * owners_shared for option in (*candidates, None)}
    first: list[frozenset[str] | None] = [None] * owners_shared
    split: set[int] = set()
    try:
        for ballot in ballots:
            home_area = pop(ballot.home_id, 0)  # 0: not a one-home owner's home, or already counted
            if home_area:
                chosen = ballot.choice
                if type(chosen) is not frozenset and not isinstance(chosen, frozenset):
                    raise TypeError("an election ballot is a frozenset")
                if chosen:
                    for candidate in chosen:
                        add_area[candidate](home_area)  # KeyError: not a candidate
                else:
                    no_one(home_area)
            else:
                keep(ballot)
        if rest:
            allowed = frozenset(candidates)
            shared_pop = electorate._shared.copy().pop
            for ballot in rest:
                owner, home_area = shared_pop(ballot.home_id)  # KeyError: unknown, or a second ballot
                chosen = ballot.choice
                if not isinstance(chosen, frozenset) or not chosen <= allowed:
                    raise TypeError("an election ballot is a frozenset of candidates")
                owner_area[owner] += home_area
                for option in chosen or _NO_ONE:
                    by_option[option][owner] += home_area
                before = first[owner]
                if before is None:
                    first[owner] = chosen
                elif before != chosen:
                    split.add(owner)
    except (KeyError, TypeError):
        _fault(electorate, ballots, frozenset(candidates))
        raise
    area = {candidate: sum(areas) for candidate, areas in single.items()}
    owners = {candidate: len(areas) for candidate, areas in single.items()}
    abstain_area = sum(none) + sum(by_option[None])
    abstain_owners = len(none) + _majorities(by_option[None], owner_area)
    for candidate in candidates:  # an owner of several homes approves with most of their area
        area[candidate] += sum(by_option[candidate])
        owners[candidate] += _majorities(by_option[candidate], owner_area)
    single_voters = len(electorate._single) - len(remaining)
    return _Counts(
        approve_area=area,
        approve_owners=owners,
        participating_area=electorate._single_area - sum(remaining.values()) + sum(owner_area),
        participating_owners=single_voters + owners_shared - owner_area.count(0),
        ballots=single_voters + len(rest),
        split_owners=len(split),
        abstain_area=abstain_area,
        abstain_owners=abstain_owners,
    )


def tally(
    electorate: Electorate | Sequence[Home],
    ballots: Iterable[Ballot],
    matter: int,
    candidates: Sequence[str] = (),
    seats: int = 0,
) -> Result:
    """Count the ballots of a frozen electorate (prepared, or homes) on an Art. 278 matter (1–9)."""
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

    if not isinstance(electorate, Electorate):
        electorate = prepare(electorate)
    if not isinstance(ballots, list | tuple):
        ballots = list(ballots)  # read again to name the first faulty ballot
    if candidates:
        counts = _count_election(electorate, ballots, candidates)
        options = candidates
    else:
        counts = _count_decision(electorate, ballots)
        options = (YES,)
    total_area, total_owners = electorate.total_area, electorate.total_owners
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
