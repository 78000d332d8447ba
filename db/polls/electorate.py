"""Who may vote (DESIGN §4.2): homes in scope and their owner units (one buyer of several homes counts
once, co-owners of a home cast one vote, the developer's unsold homes are one owner), frozen when voting
opens, and where a person stands in a poll."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
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
    scope = [col(Home.compound_id) == compound_id]
    if buildings:
        scope.append(col(Home.building_id).in_(list(buildings)))
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


def _scope_homes(session: Session, poll: Poll) -> list[Home]:
    return _homes_in(session, poll.node_id, poll.buildings)


def _homes_in(session: Session, compound_id: int, buildings: list[int] | tuple[int, ...]) -> list[Home]:
    query = select(Home).where(Home.compound_id == compound_id)
    if buildings:
        query = query.where(col(Home.building_id).in_(list(buildings)))
    return list(session.exec(query.order_by(col(Home.id))).all())


def _verified_owners(session: Session, homes: list[Home]) -> dict[int, list[int]]:
    """The verified owners of each home, by home id (only they vote: is_voter)."""
    owners: dict[int, list[int]] = defaultdict(list)
    if homes:
        rows = session.exec(
            select(Residency.home_id, Residency.person_id).where(
                col(Residency.home_id).in_([h.id for h in homes]),
                Residency.kind == ResidentKind.OWNER.value,
                Residency.status == VERIFIED,
            )
        ).all()
        for home_id, person_id in rows:
            owners[home_id].append(person_id)
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
    owners = _verified_owners(session, homes)
    home_unit, _ = _units(homes, owners)
    electorate = [tally.Home(str(id_of(h)), h.area_centi_m2, home_unit[id_of(h)]) for h in homes]
    # taking part is what counts for the quorum: an abstention takes part
    ballots = [tally.Ballot(str(id_of(h)), "abstain") for h in homes if id_of(h) in owners]
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


def _units(homes: list[Home], owners: dict[int, list[int]]) -> tuple[dict[int, str], dict[int, str]]:
    """Owner units per home and per person: homes sharing an owner are one unit (SPC interpretation
    Art. 9: one buyer of several homes counts once; co-owners of a home cast one vote); the developer's
    unsold homes are one unit; a home whose owner is not registered here is a unit of its own."""
    parent: dict[int, int] = {id_of(h): id_of(h) for h in homes}

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
    owners = _verified_owners(session, homes)
    home_unit, person_unit = _units(homes, owners)
    session.add_all(
        PollHome(
            poll_id=id_of(poll),
            home_id=id_of(h),
            building_id=h.building_id,
            unit=home_unit[id_of(h)],
            area_centi_m2=h.area_centi_m2,
        )
        for h in homes
    )
    session.add_all(
        PollVoter(poll_id=id_of(poll), person_id=p, unit=u) for p, u in sorted(person_unit.items())
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


def voter_ids(session: Session, poll_id: int) -> list[int]:
    """Everyone in the frozen electorate who may vote."""
    return list(session.exec(select(PollVoter.person_id).where(PollVoter.poll_id == poll_id)).all())


def non_voters(session: Session, poll_id: int) -> list[int]:
    """Owners in the electorate whose unit has not voted."""
    voted = select(PollTurnout.unit).where(PollTurnout.poll_id == poll_id)
    return list(
        session.exec(
            select(PollVoter.person_id).where(PollVoter.poll_id == poll_id, col(PollVoter.unit).not_in(voted))
        ).all()
    )


def own_turnout(session: Session, poll_id: int, person_id: int) -> PollTurnout | None:
    """The turnout row of the person's owner unit (whoever of its co-owners voted), if any."""
    voter = session.get(PollVoter, (poll_id, person_id))
    return session.get(PollTurnout, (poll_id, voter.unit)) if voter is not None else None


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


def units_of(session: Session, poll_id: int, person_id: int) -> list[str]:
    """The owner units a person votes for in a poll's frozen electorate, sorted."""
    return sorted(
        session.exec(
            select(PollVoter.unit).where(PollVoter.poll_id == poll_id, PollVoter.person_id == person_id)
        ).all()
    )
