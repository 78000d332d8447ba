"""Who may vote (DESIGN §4.2, §4.8): homes in scope and their owner units (homes with exactly the same
owners count once, co-owners of a home cast one vote, the developer's unsold homes are one owner), frozen
when voting opens, and where a person stands in a poll."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func
from sqlmodel import Session, col, select

from core.permissions import VERIFIED, ResidentKind, is_voter
from db import tally
from db.models import Home, Poll, PollHome, PollTurnout, PollVoter, Residency
from db.polls.terms import DEVELOPER_UNIT, in_scope
from db.rows import id_of


@dataclass(frozen=True, slots=True)
class Electorate:
    """A preview of the homes a poll would cover; the real electorate is frozen when voting opens."""

    homes: int
    area_centi_m2: int
    owned_homes: int  # homes with a verified owner now


def preview(session: Session, compound_id: int, buildings: list[int] | tuple[int, ...] = ()) -> Electorate:
    """Homes in scope, their total area, and how many have a verified owner at this moment."""
    scope = _scope(compound_id, buildings)
    homes, area = session.exec(
        select(func.count(), func.coalesce(func.sum(Home.area_centi_m2), 0)).select_from(Home).where(*scope)
    ).one()
    owned = session.exec(
        select(func.count(func.distinct(Residency.home_id)))
        .select_from(Residency)
        .join(Home, col(Home.id) == Residency.home_id)
        .where(*scope, Residency.kind == ResidentKind.OWNER.value, Residency.status == VERIFIED)
    ).one()
    return Electorate(int(homes), int(area), int(owned))


def _scope(compound_id: int, buildings: list[int] | tuple[int, ...]) -> list[Any]:
    """The conditions on `home` for a poll's scope: a compound, or some of its buildings (a handful of
    building ids, never one parameter per home)."""
    scope = [col(Home.compound_id) == compound_id]
    if buildings:
        scope.append(col(Home.building_id).in_(list(buildings)))
    return scope


def _homes_in(
    session: Session, compound_id: int, buildings: list[int] | tuple[int, ...]
) -> list[tuple[int, int, int, bool]]:
    """(id, building id, area, unsold) of the homes in scope, by id (plain rows: a compound may hold tens
    of thousands)."""
    rows = session.exec(
        select(Home.id, Home.building_id, Home.area_centi_m2, Home.unsold)
        .where(*_scope(compound_id, buildings))
        .order_by(col(Home.id))
    ).all()
    return [(int(i), b, a, bool(u)) for i, b, a, u in rows if i is not None]


def _verified_owners(
    session: Session, compound_id: int, buildings: list[int] | tuple[int, ...]
) -> dict[int, set[int]]:
    """The verified owners of each home in scope, by home id (only they vote: is_voter)."""
    owners: dict[int, set[int]] = defaultdict(set)
    rows = session.exec(
        select(Residency.home_id, Residency.person_id)
        .join(Home, col(Home.id) == Residency.home_id)
        .where(
            *_scope(compound_id, buildings),
            Residency.kind == ResidentKind.OWNER.value,
            Residency.status == VERIFIED,
        )
    ).all()
    for home_id, person_id in rows:
        owners[home_id].add(person_id)
    return owners


@dataclass(frozen=True, slots=True)
class Reach:
    """The best turnout a poll could have if voting opened now: every owner unit with a verified owner
    voting, against the electorate `freeze` would write, judged by the tally's quorum rule."""

    owners: int  # owner units with a verified owner
    total_owners: int
    area_centi_m2: int  # their area
    total_area_centi_m2: int
    quorum: bool  # whether even all of them voting would reach the quorum
    area_met: bool
    owners_met: bool


def reach(session: Session, compound_id: int, buildings: list[int] | tuple[int, ...] = ()) -> Reach | None:
    """What turnout verified owners could bring at best (None: no homes in scope, or an area the tally
    cannot count, such as a home registered without one)."""
    homes = _homes_in(session, compound_id, buildings)
    owners = _verified_owners(session, compound_id, buildings)
    home_unit, _ = _units(homes, owners)
    electorate = [tally.Home(str(h), area, home_unit[h]) for h, _, area, _ in homes]
    # taking part is what counts for the quorum: an abstention takes part
    ballots = [tally.Ballot(str(h), "abstain") for h, _, _, _ in homes if h in owners]
    try:
        best = tally.tally(electorate, ballots, matter=1)
    except ValueError:
        return None
    return Reach(
        best.participating_owners,
        best.total_owners,
        best.participating_area,
        best.total_area,
        best.quorum,
        best.quorum_area_met,
        best.quorum_owners_met,
    )


def _units(
    homes: list[tuple[int, int, int, bool]], owners: dict[int, set[int]]
) -> tuple[dict[int, str], set[tuple[int, str]]]:
    """Owner units per home, and the (person, unit) pairs who vote for them.

    SPC interpretation Art. 9 counts one buyer of several homes once: homes whose verified owners are
    exactly the same set of people are one unit, keyed on the first of them ("u<home id>"); co-owners of a
    home cast its one vote. Owner sets that merely overlap stay apart: H+W, W+M and M+X are three owners,
    and W votes in two units. The developer's unsold homes are one unit; a home whose owner is not
    registered here is a unit of its own ("h<home id>").
    """
    unit_of_set: dict[frozenset[int], str] = {}
    home_unit: dict[int, str] = {}
    voters: set[tuple[int, str]] = set()
    for home_id, _, _, unsold in homes:  # by id: the first home of a set names its unit
        persons = owners.get(home_id)
        if persons:
            key = frozenset(persons)
            unit = unit_of_set.get(key)
            if unit is None:
                unit = unit_of_set[key] = f"u{home_id}"
                voters.update((p, unit) for p in key)
            home_unit[home_id] = unit
        elif unsold:
            home_unit[home_id] = DEVELOPER_UNIT
        else:
            home_unit[home_id] = f"h{home_id}"
    return home_unit, voters


def freeze(session: Session, poll: Poll) -> None:
    """Write the electorate as it stands now: every home in scope and the verified owners who vote.

    Homes and owners are read by the poll's scope (joins, no list of ids) and written in bulk: a compound
    of 20 000 homes freezes in a few statements."""
    homes = _homes_in(session, poll.node_id, poll.buildings)
    owners = _verified_owners(session, poll.node_id, poll.buildings)
    home_unit, voters = _units(homes, owners)
    poll_id = id_of(poll)
    connection = session.connection()
    if homes:
        connection.execute(
            PollHome.__table__.insert(),  # type: ignore[attr-defined]
            [
                {"poll_id": poll_id, "home_id": h, "building_id": b, "unit": home_unit[h], "area_centi_m2": a}
                for h, b, a, _ in homes
            ],
        )
    if voters:
        connection.execute(
            PollVoter.__table__.insert(),  # type: ignore[attr-defined]
            [{"poll_id": poll_id, "person_id": p, "unit": u} for p, u in sorted(voters)],
        )
    poll.total_area = sum(a for _, _, a, _ in homes)
    poll.total_owners = len(set(home_unit.values()))
    session.flush()


def unit_areas(session: Session, poll_id: int) -> dict[str, int]:
    """Every owner unit's summed area in the frozen electorate (one grouped read)."""
    return {
        unit: int(area)
        for unit, area in session.exec(
            select(PollHome.unit, func.sum(PollHome.area_centi_m2))
            .where(PollHome.poll_id == poll_id)
            .group_by(col(PollHome.unit))
        ).all()
    }


def unit_area(session: Session, poll_id: int, unit: str) -> int:
    """The summed area of an owner unit's homes in the frozen electorate."""
    return int(
        session.exec(
            select(func.coalesce(func.sum(PollHome.area_centi_m2), 0)).where(
                PollHome.poll_id == poll_id, PollHome.unit == unit
            )
        ).one()
    )


def units_of(session: Session, poll_id: int, person_id: int) -> list[str]:
    """The owner units a person votes for in a poll's frozen electorate, sorted (several when they own
    homes with different co-owners)."""
    return sorted(
        session.exec(
            select(PollVoter.unit).where(PollVoter.poll_id == poll_id, PollVoter.person_id == person_id)
        ).all()
    )


def voter_ids(session: Session, poll_id: int) -> list[int]:
    """Everyone in the frozen electorate who may vote, each once."""
    return list(
        session.exec(
            select(PollVoter.person_id)
            .where(PollVoter.poll_id == poll_id)
            .distinct()
            .order_by(col(PollVoter.person_id))
        ).all()
    )


def non_voters(session: Session, poll_id: int) -> list[int]:
    """Owners in the electorate with at least one unit that has not voted, each once."""
    voted = select(PollTurnout.unit).where(PollTurnout.poll_id == poll_id)
    return list(
        session.exec(
            select(PollVoter.person_id)
            .where(PollVoter.poll_id == poll_id, col(PollVoter.unit).not_in(voted))
            .distinct()
            .order_by(col(PollVoter.person_id))
        ).all()
    )


def _unit_turnouts(session: Session, poll_id: int, person_id: int) -> list[tuple[str, PollTurnout | None]]:
    """Each of the person's units with its turnout row (None: that unit has not voted)."""
    rows = session.exec(
        select(PollVoter.unit, PollTurnout)
        .outerjoin(
            PollTurnout,
            and_(col(PollTurnout.poll_id) == PollVoter.poll_id, col(PollTurnout.unit) == PollVoter.unit),
        )
        .where(PollVoter.poll_id == poll_id, PollVoter.person_id == person_id)
        .order_by(col(PollVoter.unit))
    ).all()
    return [(unit, turnout) for unit, turnout in rows]


def own_turnout(session: Session, poll_id: int, person_id: int) -> PollTurnout | None:
    """The latest turnout row among the person's owner units (whoever cast it), if any voted."""
    cast = [t for _, t in _unit_turnouts(session, poll_id, person_id) if t is not None]
    return max(cast, key=lambda t: (t.voted_at, t.unit)) if cast else None


def standing(session: Session, poll: Poll, person_id: int, now: datetime) -> str:
    """Where a person stands in a poll: "can_vote", "voted", "changeable", "home_voted", or why they
    cannot vote: "not_open", "closed", "tenant", "pending", "not_owner", "outside", "after_freeze".

    With several owner units, "can_vote" while any of them has not voted; once all have, "voted" (or
    "changeable") if the person cast at least one of them, "home_voted" if co-owners cast them all."""
    if poll.state == "open":
        units = _unit_turnouts(session, id_of(poll), person_id)
        if units:
            if any(t is None for _, t in units):
                return "can_vote" if now < poll.closes_at else "closed"
            if all(t is not None and t.person_id != person_id for _, t in units):
                return "home_voted"
            return "changeable" if poll.changeable and now < poll.closes_at else "voted"
    elif poll.state == "closed" or poll.state == "cancelled":
        units = _unit_turnouts(session, id_of(poll), person_id)
        return "voted" if any(t is not None for _, t in units) else "closed"
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
