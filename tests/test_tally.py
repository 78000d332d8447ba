"""The poll tally (DESIGN §4.2): every boundary of quorum and approval, how owners count, elections, and
hypothesis properties (monotone in approving ballots, order-free, never a float, the counts of a plain
reference), each through both entry points: a plain list of homes and a prepared `Electorate`."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterator, Sequence
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from db.tally import ABSTAIN, DEVELOPER, NO, YES, Ballot, Electorate, Home, Result, prepare, tally

F = Fraction
ENTRIES = ("plain", "prepared")  # how `tally` is given the electorate


def given_as(homes: list[Home], entry: str) -> list[Home] | Electorate:
    """The electorate as a plain list of homes, or prepared once (as when a poll opens)."""
    return homes if entry == "plain" else prepare(homes)


def poll(spec: Sequence[tuple[int, str | None]]) -> tuple[list[Home], list[Ballot]]:
    """One single-home owner per (area, choice); choice None means the home did not vote."""
    homes = [Home(f"h{i}", area, f"o{i}") for i, (area, _) in enumerate(spec)]
    ballots = [Ballot(f"h{i}", choice) for i, (_, choice) in enumerate(spec) if choice is not None]
    return homes, ballots


def run(spec: Sequence[tuple[int, str | None]], matter: int = 4, entry: str = "plain") -> Result:
    """Tally a decision over single-home owners."""
    homes, ballots = poll(spec)
    return tally(given_as(homes, entry), ballots, matter)


THREE_TWO = [(1, YES)] * 3 + [(1, NO)] * 2

# (name, owners as (area, choice), matter, outcome, quorum area met, quorum owners met, area met, owners met)
BOUNDARIES = [
    (
        "exactly 2/3 of the area, 199/300 owners (2/3 - ε): no quorum",
        [(2, YES)] * 199 + [(2, None)] * 98 + [(1, None)] * 3,
        4, "no_quorum", True, False, True, True,
    ),
    (
        "exactly 2/3 of the owners, 200/301 of the area (2/3 - ε): no quorum",
        [(1, YES)] * 200 + [(1, None)] * 99 + [(2, None)],
        4, "no_quorum", False, True, True, True,
    ),
    ("exactly 2/3 of both: quorum", [(1, YES), (1, YES), (1, None)], 4, "passed", True, True, True, True),
    (
        "exactly 1/2 of the participating area approves (owners 2/3): fails",
        [(1, YES), (1, YES), (2, NO)],
        4, "failed", True, True, False, True,
    ),
    (
        "exactly 1/2 of the participating owners approve (area 3/4): fails",
        [(3, YES), (3, YES), (1, NO), (1, NO)],
        4, "failed", True, True, True, False,
    ),
    (
        "one 0.01 m² over half the area, 2/3 of owners: passes",
        [(5000, YES), (1, YES), (5000, NO)],
        4, "passed", True, True, True, True,
    ),
    ("3/5 of both, ordinary matter 5 (maintenance fund use): passes", THREE_TWO, 5, "passed", *[True] * 4),
    ("3/5 of both, ordinary matter 9: passes", THREE_TWO, 9, "passed", True, True, True, True),
    ("3/5 of both, special matter 8: fails", THREE_TWO, 8, "failed", True, True, False, False),
    ("exactly 3/4 of both, special matter 7: passes", [(1, YES)] * 3 + [(1, NO)], 7, "passed", *[True] * 4),
    (
        "3/4 of owners, 299/399 of the area (3/4 - ε), special matter 6: fails",
        [(100, YES), (100, YES), (99, YES), (100, NO)],
        6, "failed", True, True, False, True,
    ),
    (
        "3/4 of the area, 2/3 of owners (3/4 - ε), special matter 6: fails",
        [(2, YES), (1, YES), (1, NO)],
        6, "failed", True, True, True, False,
    ),
    (
        "abstain-heavy: 4 yes, 1 no, 5 abstain — more yes than no still fails",
        [(1, YES)] * 4 + [(1, NO)] + [(1, ABSTAIN)] * 5,
        3, "failed", True, True, False, False,
    ),
    (
        "abstentions make the quorum (4/6 take part) but do not approve",
        [(1, YES)] + [(1, ABSTAIN)] * 3 + [(1, None)] * 2,
        4, "failed", True, True, False, False,
    ),
    (
        "all abstain: quorum, nothing approved",
        [(1, ABSTAIN)] * 3,
        1, "failed", True, True, False, False,
    ),
    ("nobody votes", [(1, None)] * 3, 2, "no_quorum", False, False, False, False),
    (
        "approval would pass but the quorum is missed: no_quorum",
        [(1, YES)] * 2 + [(1, None)] * 2,
        4, "no_quorum", False, False, True, True,
    ),
]  # fmt: skip


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize(
    ("spec", "matter", "outcome", "q_area", "q_owners", "a_area", "a_owners"),
    [pytest.param(*row[1:], id=row[0]) for row in BOUNDARIES],
)
def test_boundaries(
    spec: list[tuple[int, str | None]],
    matter: int,
    outcome: str,
    q_area: bool,
    q_owners: bool,
    a_area: bool,
    a_owners: bool,
    entry: str,
) -> None:
    result = run(spec, matter, entry)
    (approval,) = result.approvals
    assert (result.quorum_area_met, result.quorum_owners_met) == (q_area, q_owners)
    assert (approval.area_met, approval.owners_met) == (a_area, a_owners)
    assert result.outcome == outcome
    assert approval.passed == (outcome == "passed")
    # Every number it decided on is there and adds up.
    voted = [(area, choice) for area, choice in spec if choice is not None]
    assert result.total_area == sum(area for area, _ in spec)
    assert result.total_owners == len(spec)
    assert result.participating_area == sum(area for area, _ in voted)
    assert result.participating_owners == result.ballots == len(voted)
    assert result.area_turnout == F(result.participating_area, result.total_area)
    assert result.owner_turnout == F(len(voted), len(spec))
    assert approval.area == sum(area for area, choice in voted if choice == YES)
    assert result.no_area == sum(area for area, choice in voted if choice == NO)
    assert result.abstain_area == sum(area for area, choice in voted if choice == ABSTAIN)
    assert approval.owners + result.no_owners + result.abstain_owners == len(voted)
    if voted:
        assert approval.area_share == F(approval.area, result.participating_area)
        assert approval.owner_share == F(approval.owners, len(voted))
    else:
        assert approval.area_share is approval.owner_share is None


def test_thresholds_and_class_are_reported() -> None:
    ordinary = run([(1, YES)], 5)
    special = run([(1, YES)], 6)
    assert (ordinary.matter_class, ordinary.approval_threshold, ordinary.approval_inclusive) == (
        "ordinary",
        F(1, 2),
        False,
    )
    assert (special.matter_class, special.approval_threshold, special.approval_inclusive) == (
        "special",
        F(3, 4),
        True,
    )
    assert ordinary.quorum_threshold == special.quorum_threshold == F(2, 3)


def test_exact_boundaries_in_both_directions_with_large_numbers() -> None:
    # 3/4 exactly by area with awkward areas (0.01 m² units): 3 * 33_333 vs 33_333.
    assert run([(33_333, YES)] * 3 + [(33_333, NO)], 7).outcome == "passed"
    assert run([(33_333, YES)] * 2 + [(33_332, YES), (33_333, NO)], 7).outcome == "failed"
    assert run([(33_333, YES)] * 2 + [(33_334, YES), (33_333, NO)], 7).outcome == "passed"


def test_one_owner_with_three_homes_counts_once_with_the_summed_area() -> None:
    homes = [Home("1-101", 10_000, "wang"), Home("1-102", 20_000, "wang"), Home("1-103", 30_000, "wang")]
    homes += [Home("2-101", 50_000, "li")]
    ballots = [Ballot("1-101", YES), Ballot("1-102", YES), Ballot("1-103", YES), Ballot("2-101", NO)]
    result = tally(homes, ballots, 4)
    (yes,) = result.approvals
    assert (result.total_owners, result.participating_owners, result.ballots) == (2, 2, 4)
    assert (result.total_area, yes.area, yes.owners) == (110_000, 60_000, 1)
    assert (yes.area_met, yes.owners_met, result.outcome) == (
        True,
        False,
        "failed",
    )  # 1 of 2 owners: not > 1/2
    assert (result.no_owners, result.split_owners) == (1, 0)


def test_homes_with_equal_owner_sets_are_one_owner_and_a_chain_of_overlapping_sets_is_three() -> None:
    # Keys as the electorate writes them: one per exact owner set. 夫+妻 own 101 and 104 (one owner);
    # 妻+母 own 102 and 母+弟 own 103: each set its own owner, so the chain 夫妻-妻母-母弟 is three owners.
    key = {"101": "夫妻", "102": "妻母", "103": "母弟", "104": "夫妻"}
    homes = [Home(h, 10_000, key[h]) for h in ("101", "102", "103", "104")]
    result = tally(homes, [Ballot("101", YES), Ballot("104", YES), Ballot("102", NO)], 4)
    (yes,) = result.approvals
    assert (result.total_owners, result.participating_owners) == (3, 2)
    assert (yes.owners, yes.area, result.no_owners, result.no_area) == (1, 20_000, 1, 10_000)
    # Merging the chain into one key would make one owner of all four homes: the wrong count.
    merged = tally([dataclasses.replace(h, owner_key="chain") for h in homes], [Ballot("102", NO)], 4)
    assert merged.total_owners == 1 and merged.quorum_owners_met


def test_owner_whose_homes_vote_differently_counts_with_the_majority_of_their_area() -> None:
    homes = [Home("a", 100, "wang"), Home("b", 200, "wang"), Home("c", 300, "wang"), Home("d", 500, "li")]
    ballots = [Ballot("a", YES), Ballot("b", NO), Ballot("c", YES), Ballot("d", ABSTAIN)]
    result = tally(homes, ballots, 4)
    (yes,) = result.approvals
    # Area follows each home: yes 400, no 200; wang holds 400 of his 600 voting area for yes: one yes owner.
    assert (yes.area, result.no_area, result.abstain_area) == (400, 200, 500)
    assert (yes.owners, result.no_owners, result.abstain_owners) == (1, 0, 1)
    assert (result.participating_owners, result.split_owners) == (2, 1)


def test_owner_split_evenly_counts_as_abstaining_by_headcount() -> None:
    homes = [Home("a", 100, "wang"), Home("b", 100, "wang"), Home("c", 100, "li")]
    result = tally(homes, [Ballot("a", YES), Ballot("b", NO), Ballot("c", YES)], 4)
    (yes,) = result.approvals
    assert (yes.area, result.no_area) == (200, 100)
    assert (yes.owners, result.no_owners, result.abstain_owners) == (1, 0, 1)
    assert yes.owner_share == F(1, 2) and result.outcome == "failed"


def test_owner_with_some_homes_voting_takes_part_with_those_homes_area() -> None:
    homes = [Home("a", 100, "wang"), Home("b", 700, "wang"), Home("c", 100, "li"), Home("d", 100, "zhao")]
    result = tally(homes, [Ballot("a", YES), Ballot("c", YES)], 4)
    assert (result.participating_owners, result.participating_area) == (2, 200)
    assert (result.quorum_owners_met, result.quorum_area_met, result.outcome) == (True, False, "no_quorum")


def test_co_owners_are_one_home_with_one_vote() -> None:
    # Husband and wife own 3-201 together: one Home, so one owner and one ballot.
    homes = [Home("3-201", 9_000, "3-201"), Home("3-202", 9_000, "3-202")]
    result = tally(homes, [Ballot("3-201", YES), Ballot("3-202", YES)], 4)
    assert (result.total_owners, result.participating_owners) == (2, 2)
    # The second co-owner's ballot is not counted silently: the caller must keep only the first.
    with pytest.raises(ValueError, match="more than one ballot"):
        tally(homes, [Ballot("3-201", YES), Ballot("3-202", NO), Ballot("3-201", NO)], 4)


def test_the_developers_unsold_homes_count_as_one_owner() -> None:
    homes = [Home(f"unsold-{i}", 10_000, DEVELOPER) for i in range(10)]
    homes += [Home(f"sold-{i}", 10_000, f"owner-{i}") for i in range(3)]
    ballots = [Ballot(f"unsold-{i}", YES) for i in range(10)] + [Ballot("sold-0", NO), Ballot("sold-1", NO)]
    result = tally(homes, ballots, 4)
    (yes,) = result.approvals
    assert (result.total_owners, result.participating_owners) == (4, 3)
    assert (result.total_area, result.participating_area, yes.area) == (130_000, 120_000, 100_000)
    assert result.quorum  # 3/4 of owners, 12/13 of the area
    assert (yes.owners, yes.owner_share, yes.area_met, result.outcome) == (1, F(1, 3), True, "failed")


def test_election_tie_for_the_last_seat_needs_a_run_off() -> None:
    homes = [Home(f"h{i}", 100, f"o{i}") for i in range(10)]
    a, b, c, d = "a", "b", "c", "d"
    choices = [{a, b}, {a, b}, {a, c}, {a, c}, {a, b, c}, {a, b, c}, {a}, {d}, set(), {b, c}]
    ballots = [Ballot(f"h{i}", frozenset(s)) for i, s in enumerate(choices)]
    result = tally(homes, ballots, 3, candidates=(a, b, c, d), seats=2)
    by = {x.option: x for x in result.approvals}
    assert [by[x].owners for x in (a, b, c, d)] == [7, 5, 5, 1]
    assert [by[x].passed for x in (a, b, c, d)] == [True, False, False, False]  # 5/10 is not > 1/2
    assert (result.elected, result.runoff) == ((a,), ())
    # One more ballot for b and c: both pass with 6/11 owners and 600/1100 m², tied for the second seat.
    homes.append(Home("h10", 100, "o10"))
    ballots.append(Ballot("h10", frozenset({b, c})))
    result = tally(homes, ballots, 3, candidates=(a, b, c, d), seats=2)
    assert (result.outcome, result.elected, result.runoff, result.runoff_seats) == ("passed", (a,), (b, c), 1)
    assert result.abstain_area == 100 and result.abstain_owners == 1  # h8 approved no one
    # With three seats the tie decides nothing.
    result = tally(homes, ballots, 3, candidates=(a, b, c, d), seats=3)
    assert (result.elected, result.runoff, result.runoff_seats) == ((a, b, c), (), 0)


def test_election_tie_on_owners_is_broken_by_area_then_ranked() -> None:
    homes = [Home("h0", 300, "o0"), Home("h1", 100, "o1"), Home("h2", 100, "o2")]
    ballots = [
        Ballot("h0", frozenset({"x", "y"})),
        Ballot("h1", frozenset({"x", "z"})),
        Ballot("h2", frozenset("zy")),
    ]
    result = tally(homes, ballots, 3, candidates=("x", "y", "z"), seats=2)
    # All three have 2 of 3 owners; y has 400 m², x 400 m², z 200 m² (z fails: 200/500 of the area).
    assert [a.passed for a in result.approvals] == [True, True, False]
    assert (result.elected, result.runoff) == (("x", "y"), ())
    result = tally(homes, ballots, 3, candidates=("x", "y", "z"), seats=1)
    assert (result.elected, result.runoff, result.runoff_seats) == ((), ("x", "y"), 1)


def test_election_ranks_by_approving_owners_before_area() -> None:
    homes = [Home("h0", 500, "o0"), Home("h1", 500, "o1")] + [Home(f"h{i}", 100, f"o{i}") for i in (2, 3, 4)]
    approved = {"h0": {"x", "y"}, "h1": {"y"}, "h2": {"x", "y"}, "h3": {"x"}, "h4": {"x"}}
    ballots = [Ballot(home_id, frozenset(names)) for home_id, names in approved.items()]
    result = tally(homes, ballots, 3, candidates=("y", "x"), seats=1)
    y, x = result.approvals
    assert (x.owners, x.area, y.owners, y.area) == (4, 800, 3, 1100)
    assert x.passed and y.passed and (result.elected, result.runoff) == (("x",), ())


def test_election_with_fewer_passing_candidates_than_seats_and_without_quorum() -> None:
    homes = [Home(f"h{i}", 100, f"o{i}") for i in range(3)]
    ballots = [Ballot(f"h{i}", frozenset({"x"})) for i in range(3)]
    result = tally(homes, ballots, 3, candidates=("x", "y"), seats=2)
    assert (result.outcome, result.elected, result.runoff) == ("passed", ("x",), ())
    result = tally(homes, ballots[:1], 3, candidates=("x", "y"), seats=2)
    assert (result.outcome, result.elected, [a.passed for a in result.approvals]) == (
        "no_quorum",
        (),
        [False] * 2,
    )
    result = tally(homes, [Ballot(f"h{i}", frozenset()) for i in range(3)], 3, candidates=("x", "y"), seats=1)
    assert (result.outcome, result.abstain_owners, result.elected) == ("failed", 3, ())


def test_election_owner_of_several_homes_approves_with_most_of_their_area() -> None:
    homes = [Home("a", 100, "wang"), Home("b", 300, "wang"), Home("c", 100, "li")]
    ballots = [Ballot("a", frozenset({"x"})), Ballot("b", frozenset({"y"})), Ballot("c", frozenset({"x"}))]
    result = tally(homes, ballots, 3, candidates=("x", "y"), seats=1)
    x, y = result.approvals
    assert (x.area, x.owners, y.area, y.owners) == (200, 1, 300, 1)
    assert (result.participating_owners, result.split_owners) == (2, 1)


@pytest.mark.parametrize("matter", [0, 10, -1, True, "3", 3.0])
def test_matter_out_of_range_is_refused(matter: object) -> None:
    with pytest.raises(ValueError, match="matter"):
        tally([Home("h", 1, "o")], [], matter)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("homes", "ballots", "kwargs", "message"),
    [
        ([], [], {}, "empty"),
        ([Home("h", 1, "o"), Home("h", 2, "p")], [], {}, "twice in the electorate"),
        ([Home("h", 0, "o")], [], {}, "positive int"),
        ([Home("h", 1.5, "o")], [], {}, "positive int"),  # type: ignore[arg-type]
        ([Home("h", True, "o")], [], {}, "positive int"),
        ([Home("h", 1, "o")], [Ballot("x", YES)], {}, "not in the electorate"),
        ([Home("h", 1, "o")], [Ballot("h", "同意")], {}, "yes, no or abstain"),  # type: ignore[arg-type]
        ([Home("h", 1, "o")], [Ballot("h", frozenset({"x"}))], {}, "yes, no or abstain"),
        ([Home("h", 1, "o")], [Ballot("h", YES)], {"candidates": ("x",), "seats": 1}, "frozenset"),
        (
            [Home("h", 1, "o")],
            [Ballot("h", frozenset({"z"}))],
            {"candidates": ("x",), "seats": 1},
            "frozenset",
        ),
        ([Home("h", 1, "o")], [], {"candidates": ("x",), "seats": 2}, "seats"),
        ([Home("h", 1, "o")], [], {"candidates": ("x",), "seats": 0}, "seats"),
        ([Home("h", 1, "o")], [], {"seats": 1}, "seats"),
        ([Home("h", 1, "o")], [], {"candidates": ("x", "x"), "seats": 1}, "distinct"),
        ([Home("h", 1, "o"), Home("g", 1, "o")], [Ballot("g", NO), Ballot("g", NO)], {}, "more than one"),
    ],
)
@pytest.mark.parametrize("entry", ENTRIES)
def test_bad_input_is_refused(
    homes: list[Home], ballots: list[Ballot], kwargs: dict, message: str, entry: str
) -> None:
    with pytest.raises(ValueError, match=message):
        tally(given_as(homes, entry), ballots, 4, **kwargs)


# --- hypothesis properties --------------------------------------------------------------------------

OWNERS = ("o0", "o1", "o2", "o3", "o4", DEVELOPER)


@st.composite
def polls(draw: st.DrawFn, max_area: int = 1_000) -> tuple[list[Home], dict[str, str], int]:
    """An electorate (some owners with several homes), the ballots cast, and a matter."""
    size = draw(st.integers(1, 12))
    homes = [
        Home(f"h{i}", draw(st.integers(1, max_area)), draw(st.sampled_from(OWNERS) | st.just(f"solo{i}")))
        for i in range(size)
    ]
    cast = draw(
        st.dictionaries(st.sampled_from([h.home_id for h in homes]), st.sampled_from((YES, NO, ABSTAIN)))
    )
    return homes, cast, draw(st.integers(1, 9))


def ballots_of(cast: dict[str, str]) -> list[Ballot]:
    return [Ballot(home_id, choice) for home_id, choice in cast.items()]  # type: ignore[arg-type]


@pytest.mark.parametrize("entry", ENTRIES)
@settings(max_examples=150, deadline=None)
@given(polls(), st.data())
def test_an_added_approving_ballot_never_turns_a_pass_into_a_fail(
    entry: str, poll_: tuple[list[Home], dict[str, str], int], data: st.DataObject
) -> None:
    homes, cast, matter = poll_
    silent = [h.home_id for h in homes if h.home_id not in cast]
    if not silent:
        return
    electorate = given_as(homes, entry)
    before = tally(electorate, ballots_of(cast), matter)
    extra = data.draw(st.sampled_from(silent))
    after = tally(electorate, ballots_of(cast | {extra: YES}), matter)
    if before.outcome == "passed":
        assert after.outcome == "passed"
    assert after.participating_area > before.participating_area
    assert after.approvals[0].area > before.approvals[0].area
    assert after.approvals[0].owners >= before.approvals[0].owners


@pytest.mark.parametrize("entry", ENTRIES)
@settings(max_examples=100, deadline=None)
@given(polls(), st.randoms(use_true_random=False))
def test_the_order_of_ballots_changes_nothing(
    entry: str, poll_: tuple[list[Home], dict[str, str], int], rnd
) -> None:
    homes, cast, matter = poll_
    ballots = ballots_of(cast)
    shuffled = ballots[:]
    rnd.shuffle(shuffled)
    homes_shuffled = homes[:]
    rnd.shuffle(homes_shuffled)
    assert tally(given_as(homes, entry), ballots, matter) == tally(
        given_as(homes_shuffled, entry), shuffled, matter
    )


@st.composite
def elections(
    draw: st.DrawFn, max_area: int = 1_000
) -> tuple[list[Home], list[Ballot], tuple[str, ...], int]:
    """An election poll with 1–4 candidates."""
    homes, cast, _ = draw(polls(max_area))
    candidates = ("p", "q", "r", "s")[: draw(st.integers(1, 4))]
    ballots = [Ballot(h, draw(st.frozensets(st.sampled_from(candidates)))) for h in cast]
    return homes, ballots, candidates, draw(st.integers(1, len(candidates)))


def floats_in(value: object) -> list[object]:
    """Every float reachable from a result."""
    if isinstance(value, float):
        return [value]
    if dataclasses.is_dataclass(value):
        return [f for field in dataclasses.fields(value) for f in floats_in(getattr(value, field.name))]
    if isinstance(value, tuple | list | frozenset | set):
        return [f for item in value for f in floats_in(item)]
    if isinstance(value, dict):
        return [f for pair in value.items() for f in floats_in(pair)]
    return []


@pytest.mark.parametrize("entry", ENTRIES)
@settings(max_examples=100, deadline=None)
@given(polls(), elections())
def test_results_contain_no_floats(
    entry: str,
    decision: tuple[list[Home], dict[str, str], int],
    election: tuple[list[Home], list[Ballot], tuple[str, ...], int],
) -> None:
    homes, cast, matter = decision
    result = tally(given_as(homes, entry), ballots_of(cast), matter)
    assert floats_in(result) == []
    assert isinstance(result.area_turnout, Fraction) and isinstance(result.total_area, int)
    homes, ballots, candidates, seats = election
    result = tally(given_as(homes, entry), ballots, 3, candidates=candidates, seats=seats)
    assert floats_in(result) == []
    assert len(result.elected) + result.runoff_seats <= seats
    assert set(result.elected).isdisjoint(result.runoff)


@pytest.mark.parametrize("entry", ENTRIES)
@settings(max_examples=100, deadline=None)
@given(elections(), st.randoms(use_true_random=False))
def test_election_is_order_free_and_an_added_approval_keeps_a_candidate_passing(
    entry: str, election: tuple[list[Home], list[Ballot], tuple[str, ...], int], rnd
) -> None:
    homes, ballots, candidates, seats = election
    electorate = given_as(homes, entry)
    before = tally(electorate, ballots, 3, candidates=candidates, seats=seats)
    shuffled = ballots[:]
    rnd.shuffle(shuffled)
    assert tally(electorate, shuffled, 3, candidates=candidates, seats=seats) == before
    silent = [h.home_id for h in homes if h.home_id not in {b.home_id for b in ballots}]
    if not silent:
        return
    target = rnd.choice(candidates)
    after = tally(
        electorate, [*ballots, Ballot(silent[0], frozenset({target}))], 3, candidates=candidates, seats=seats
    )
    assert not (
        before.approvals[candidates.index(target)].passed
        and not after.approvals[candidates.index(target)].passed
    )


def reference(homes: list[Home], ballots: list[Ballot], candidates: tuple[str, ...] = ()) -> dict:
    """The counts worked out the plain way, owner by owner and option by option, to check the tally."""
    home = {h.home_id: h for h in homes}
    voters: dict[str, list[tuple[int, object]]] = defaultdict(list)  # owner -> (area, choice) per ballot
    for ballot in ballots:
        voters[home[ballot.home_id].owner_key].append((home[ballot.home_id].area_centi_m2, ballot.choice))

    def says(choice: object, option: str) -> bool:  # election: "" is approving no one
        if candidates:
            return option in choice if option else not choice  # type: ignore[operator]
        return choice == option

    options = (*candidates, "") if candidates else (YES, NO, ABSTAIN)
    area = {o: sum(a for cast in voters.values() for a, c in cast if says(c, o)) for o in options}
    owners = {
        o: sum(
            2 * sum(a for a, c in cast if says(c, o)) > sum(a for a, _ in cast) for cast in voters.values()
        )
        for o in options
    }
    if not candidates:  # no choice holding more than half of an owner's area: abstaining by headcount
        owners[ABSTAIN] = len(voters) - owners[YES] - owners[NO]
    return {
        "participating_area": sum(a for cast in voters.values() for a, _ in cast),
        "participating_owners": len(voters),
        "ballots": len(ballots),
        "split_owners": sum(len({c for _, c in cast}) > 1 for cast in voters.values()),
        "area": area,
        "owners": owners,
    }


def counted(result: Result) -> dict:
    """The same counts read from a result."""
    if result.seats:
        area = {a.option: a.area for a in result.approvals} | {"": result.abstain_area}
        owners = {a.option: a.owners for a in result.approvals} | {"": result.abstain_owners}
    else:
        (yes,) = result.approvals
        area = {YES: yes.area, NO: result.no_area, ABSTAIN: result.abstain_area}
        owners = {YES: yes.owners, NO: result.no_owners, ABSTAIN: result.abstain_owners}
    return {
        "participating_area": result.participating_area,
        "participating_owners": result.participating_owners,
        "ballots": result.ballots,
        "split_owners": result.split_owners,
        "area": area,
        "owners": owners,
    }


@pytest.mark.parametrize("entry", ENTRIES)
@settings(max_examples=150, deadline=None)
@given(polls(max_area=3), elections(max_area=3))  # small areas: owners split exactly in half
def test_counts_match_a_plain_reference(
    entry: str,
    decision: tuple[list[Home], dict[str, str], int],
    election: tuple[list[Home], list[Ballot], tuple[str, ...], int],
) -> None:
    homes, cast, matter = decision
    ballots = ballots_of(cast)
    assert counted(tally(given_as(homes, entry), ballots, matter)) == reference(homes, ballots)
    homes, ballots, candidates, seats = election
    result = tally(given_as(homes, entry), ballots, 3, candidates=candidates, seats=seats)
    assert counted(result) == reference(homes, ballots, candidates)


# --- the prepared electorate -------------------------------------------------------------------------

WANG_LI = [Home("a", 100, "wang"), Home("b", 300, "wang"), Home("c", 200, "li"), Home("d", 400, "zhao")]


def test_prepare_reports_the_totals_and_is_immutable() -> None:
    electorate = prepare(iter(WANG_LI))  # any iterable of homes
    assert (electorate.total_area, electorate.total_owners, len(electorate)) == (1_000, 3, 4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        electorate.total_area = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        electorate._single["c"] = 1  # type: ignore[index]  # read-only views
    result = tally(electorate, [Ballot("c", YES)], 4)
    assert (result.total_area, result.total_owners) == (1_000, 3)


def test_a_prepared_electorate_is_reused_unchanged() -> None:
    electorate = prepare(WANG_LI)
    single, shared = dict(electorate._single), dict(electorate._shared)
    first = [Ballot("a", YES), Ballot("b", NO), Ballot("c", YES), Ballot("d", YES)]
    second = [Ballot("b", YES), Ballot("d", NO)]
    one = tally(electorate, first, 4)
    # Every ballot of the first tally was popped from the tally's own copy: the second sees all homes.
    two = tally(electorate, second, 4)
    (yes,) = one.approvals
    assert (one.participating_area, yes.area, yes.owners) == (1_000, 700, 2)
    assert (one.no_owners, one.split_owners) == (1, 1)  # wang: 300 of his 400 said no
    (yes,) = two.approvals
    assert (two.participating_area, two.participating_owners, yes.area, yes.owners) == (700, 2, 300, 1)
    assert (two.no_area, two.no_owners, two.ballots) == (400, 1, 2)
    # A tally that fails half-way (a second ballot for a home) leaves nothing behind either.
    with pytest.raises(ValueError, match="more than one ballot"):
        tally(electorate, [*second, Ballot("b", NO)], 4)
    with pytest.raises(ValueError, match="more than one ballot"):
        tally(electorate, [Ballot("c", YES), Ballot("c", YES)], 4)
    picks = [Ballot(h, frozenset({"x"})) for h in "abcd"]
    elected = tally(electorate, picks, 3, candidates=("x", "y"), seats=1)
    assert (elected.participating_area, elected.approvals[0].owners, elected.elected) == (1_000, 3, ("x",))
    assert tally(electorate, first, 4) == one == tally(WANG_LI, first, 4)
    assert tally(electorate, second, 4) == two == tally(WANG_LI, second, 4)
    assert (dict(electorate._single), dict(electorate._shared)) == (single, shared)
    assert (electorate.total_area, electorate.total_owners, len(electorate)) == (1_000, 3, 4)


@pytest.mark.parametrize(
    ("homes", "message"),
    [
        ([], "empty"),
        ([Home("h", 1, "o"), Home("h", 2, "p")], "twice in the electorate"),
        ([Home("h", 1, "o"), Home("g", 1, "o"), Home("h", 2, "o")], "twice in the electorate"),
        ([Home("h", 1, "o"), Home("g", 1, "p"), Home("h", 2, "p")], "twice in the electorate"),
        ([Home("h", 0, "o")], "positive int"),
        ([Home("g", 5, "o"), Home("h", -1, "o")], "home 'h': area must be a positive int"),
        ([Home("h", 1.5, "o")], "positive int"),  # type: ignore[arg-type]
        ([Home("h", True, "o")], "positive int"),
    ],
)
def test_a_bad_electorate_is_refused_when_prepared(homes: list[Home], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        prepare(homes)


def one_by_one(ballots: list[Ballot]) -> Iterator[Ballot]:
    yield from ballots


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize(
    ("ballots", "candidates", "message"),
    [
        # The first faulty ballot in order is named, whatever kind of fault comes later.
        ([Ballot("a", YES), Ballot("x", YES), Ballot("c", "同意")], (), "'x' is not in the electorate"),
        ([Ballot("a", YES), Ballot("c", "同意"), Ballot("x", YES)], (), "'c': choice must be yes"),
        ([Ballot("c", YES), Ballot("a", NO), Ballot("a", "x")], (), "'a': choice must be yes"),
        ([Ballot("c", YES), Ballot("a", NO), Ballot("c", "x")], (), "'c': choice must be yes"),
        ([Ballot("b", YES), Ballot("c", NO), Ballot("b", NO), Ballot("c", NO)], (), "'b' has more than one"),
        ([Ballot("c", YES), Ballot("b", NO), Ballot("c", NO), Ballot("b", NO)], (), "'c' has more than one"),
        ([Ballot("a", YES), Ballot("d", ["yes"])], (), "'d': choice must be yes"),  # unhashable
        (
            [Ballot("a", frozenset({"p"})), Ballot("c", frozenset({"z"})), Ballot("b", "p")],
            ("p", "q"),
            "'c': an election ballot",
        ),
        (
            [Ballot("c", frozenset({"p"})), Ballot("a", {"p"}), Ballot("d", frozenset({"z"}))],
            ("p", "q"),
            "'a': an election ballot",
        ),
        (
            [Ballot("c", frozenset()), Ballot("x", frozenset()), Ballot("c", frozenset())],
            ("p", "q"),
            "'x' is not in the electorate",
        ),
        ([Ballot("a", frozenset()), Ballot("a", frozenset({"q"}))], ("p", "q"), "'a' has more than one"),
    ],
)
def test_a_faulty_ballot_is_named_in_ballot_order(
    entry: str, ballots: list[Ballot], candidates: tuple[str, ...], message: str
) -> None:
    seats = 1 if candidates else 0
    for cast in (ballots, one_by_one(ballots)):  # a list, or an iterator read once
        with pytest.raises(ValueError, match=message):
            tally(given_as(WANG_LI, entry), cast, 4, candidates=candidates, seats=seats)


@pytest.mark.parametrize("entry", ENTRIES)
def test_ballots_may_come_from_any_iterable_and_subclasses_are_accepted(entry: str) -> None:
    class Approved(frozenset):
        pass

    class Choice(str):
        pass

    electorate = given_as(WANG_LI, entry)
    picks = [Ballot(h, Approved({"p"})) for h in "abcd"]
    result = tally(electorate, one_by_one(picks), 3, candidates=("p", "q"), seats=1)
    assert (result.approvals[0].area, result.approvals[0].owners, result.elected) == (1_000, 3, ("p",))
    votes = (Ballot(h, Choice(YES)) for h in "abcd")  # type: ignore[arg-type]
    (yes,) = tally(electorate, votes, 4).approvals
    assert (yes.area, yes.owners) == (1_000, 3)
