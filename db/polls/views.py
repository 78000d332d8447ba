"""What a person sees of polls: the polls over their homes, those in a jurisdiction, where a poll runs,
and live turnout (who took part, never what they chose)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from core.permissions import path_ids
from db.models import Home, OrgNode, Poll, PollHome, PollTurnout, Residency
from db.polls.authoring import buildings_of
from db.polls.terms import OPEN_STATES, RESULT_PUBLICITY, in_scope
from db.tally import QUORUM


def _homes(session: Session, person_id: int) -> list[Home]:
    """The homes a person lives in or asked to (any residency not rejected)."""
    return list(
        session.exec(
            select(Home)
            .join(Residency, col(Residency.home_id) == Home.id)
            .where(Residency.person_id == person_id, Residency.status != "rejected")
        ).all()
    )


def for_resident(session: Session, person_id: int, now: datetime) -> list[Poll]:
    """Polls over the person's homes: announced, open, or closed within the result's publicity period."""
    homes = _homes(session, person_id)
    if not homes:
        return []
    polls = session.exec(
        select(Poll)
        .where(
            col(Poll.node_id).in_({h.compound_id for h in homes}),
            or_(col(Poll.state).in_(OPEN_STATES), col(Poll.closed_at) > now - RESULT_PUBLICITY),
        )
        .order_by(col(Poll.closes_at).desc(), col(Poll.id).desc())
        .limit(20)
    ).all()
    return [p for p in polls if any(in_scope(p, h) for h in homes)]


def in_compounds(session: Session, compound_ids: list[int], limit: int = 10) -> list[Poll]:
    """The latest polls in these compounds."""
    if not compound_ids:
        return []
    return list(
        session.exec(
            select(Poll)
            .where(col(Poll.node_id).in_(compound_ids))
            .order_by(col(Poll.created_at).desc(), col(Poll.id).desc())
            .limit(limit)
        ).all()
    )


def over_homes_of(session: Session, poll: Poll, person_id: int) -> bool:
    """Whether the poll is over one of the person's homes (owner or tenant, verified or pending)."""
    return any(in_scope(poll, h) for h in _homes(session, person_id))


def in_compound_of(session: Session, poll: Poll, person_id: int) -> bool:
    """Whether the person lives in the poll's compound (verified), inside its buildings or not."""
    homes = session.exec(
        select(Home)
        .join(Residency, col(Residency.home_id) == Home.id)
        .where(Residency.person_id == person_id, Residency.status == "verified")
    ).all()
    return any(h.compound_id == poll.node_id for h in homes)


def place_names(session: Session, poll: Poll) -> tuple[str, list[str]]:
    """The compound's name and the names of the buildings a poll is limited to ([] = all of them)."""
    compound = session.get(OrgNode, poll.node_id)
    scope: list[str] = []
    if poll.buildings:
        scope = sorted(session.exec(select(OrgNode.name).where(col(OrgNode.id).in_(poll.buildings))).all())
    return (compound.name if compound else ""), scope


def path_names(session: Session, node: OrgNode) -> list[str]:
    """A node's names from the top of the tree down to itself (district, street, community, compound)."""
    ids = path_ids(node.path)
    found = {n.id: n.name for n in session.exec(select(OrgNode).where(col(OrgNode.id).in_(ids))).all()}
    return [found.get(i, "") for i in ids]


CHANNELS = ("online", "paper", "proxy")  # how a ballot was cast (DESIGN §4.8), in the order shown


@dataclass(frozen=True, slots=True)
class Part:
    """The owners (units) and area that took part by one channel."""

    area: int = 0
    owners: int = 0


@dataclass(frozen=True, slots=True)
class Turnout:
    """Participation by area and by owners, for the whole scope or one building, with its split by the
    channel the ballots came by (`channels`: online, paper, proxy, each present)."""

    name: str
    area: int
    total_area: int
    owners: int
    total_owners: int
    channels: dict[str, Part] = field(default_factory=lambda: {c: Part() for c in CHANNELS})

    @property
    def area_needed(self) -> int:
        """The least area that reaches the quorum line (two thirds of the total: reaching it is enough)."""
        return needed(self.total_area)

    @property
    def owners_needed(self) -> int:
        """The least number of owners that reaches the quorum line."""
        return needed(self.total_owners)


def needed(total: int) -> int:
    """The least count that reaches two thirds of a total (the tally's quorum: reaching it is enough)."""
    return -(-total * QUORUM.numerator // QUORUM.denominator)


def _split(found: dict[str, Part]) -> dict[str, Part]:
    """Every channel in order, those with no ballot at zero (an unknown channel is kept after them)."""
    return {**{c: found.get(c, Part()) for c in CHANNELS}, **found}


def turnout(session: Session, poll: Poll) -> tuple[Turnout, list[Turnout]]:
    """Live turnout overall and per building, split by channel (an owner with homes in two buildings
    counts in both). Summed in the database: two grouped queries, whatever the compound's size."""
    voted = and_(col(PollTurnout.poll_id) == PollHome.poll_id, col(PollTurnout.unit) == PollHome.unit)
    mine = col(PollHome.poll_id) == poll.id
    # A unit has at most one turnout row, so its homes fall in one channel group (NULL: not voted).
    per_building = session.exec(
        select(
            PollHome.building_id,
            PollTurnout.channel,
            func.sum(PollHome.area_centi_m2),
            func.count(func.distinct(PollHome.unit)),
        )
        .select_from(PollHome)
        .outerjoin(PollTurnout, voted)
        .where(mine)
        .group_by(col(PollHome.building_id), col(PollTurnout.channel))
    ).all()
    overall = session.exec(
        select(
            PollTurnout.channel, func.sum(PollHome.area_centi_m2), func.count(func.distinct(PollHome.unit))
        )
        .select_from(PollHome)
        .join(PollTurnout, voted)
        .where(mine)
        .group_by(col(PollTurnout.channel))
    ).all()
    names = {n.id: n.name for n in buildings_of(session, poll.node_id)}
    per: dict[int, dict[str | None, Part]] = {}
    for building_id, channel, area, units in per_building:
        per.setdefault(building_id, {})[channel] = Part(int(area or 0), int(units))
    buildings = []
    for building_id, groups in sorted(per.items(), key=lambda kv: (names.get(kv[0], ""), kv[0])):
        took_part = {c: p for c, p in groups.items() if c is not None}
        buildings.append(
            Turnout(
                names.get(building_id, str(building_id)),
                sum(p.area for p in took_part.values()),
                sum(p.area for p in groups.values()),
                sum(p.owners for p in took_part.values()),
                sum(p.owners for p in groups.values()),
                _split(took_part),
            )
        )
    channels = {str(c): Part(int(a or 0), int(u)) for c, a, u in overall}
    total = Turnout(
        "",
        sum(p.area for p in channels.values()),
        poll.total_area,
        sum(p.owners for p in channels.values()),
        poll.total_owners,
        _split(channels),
    )
    return total, buildings
