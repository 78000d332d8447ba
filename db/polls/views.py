"""What a person sees of polls: the polls over their homes, those in a jurisdiction, where a poll runs,
and live turnout (who took part, never what they chose)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from core.permissions import path_ids
from db.models import Home, OrgNode, Poll, PollHome, PollTurnout, Residency
from db.polls.authoring import buildings_of
from db.polls.terms import OPEN_STATES, RESULT_PUBLICITY, in_scope


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


@dataclass(frozen=True, slots=True)
class Turnout:
    """Participation by area and by owners, for the whole scope or one building."""

    name: str
    area: int
    total_area: int
    owners: int
    total_owners: int


def turnout(session: Session, poll: Poll) -> tuple[Turnout, list[Turnout]]:
    """Live turnout overall and per building (an owner with homes in two buildings counts in both)."""
    voted = set(session.exec(select(PollTurnout.unit).where(PollTurnout.poll_id == poll.id)).all())
    rows = session.exec(
        select(PollHome.building_id, PollHome.unit, PollHome.area_centi_m2).where(PollHome.poll_id == poll.id)
    ).all()
    names = {n.id: n.name for n in buildings_of(session, poll.node_id)}
    per: dict[int, list[Any]] = {}
    for building_id, unit, area in rows:
        acc = per.setdefault(building_id, [0, 0, set(), set()])
        acc[1] += area
        acc[3].add(unit)
        if unit in voted:
            acc[0] += area
            acc[2].add(unit)
    buildings = [
        Turnout(names.get(b, str(b)), a, ta, len(u), len(tu))
        for b, (a, ta, u, tu) in sorted(per.items(), key=lambda kv: names.get(kv[0], ""))
    ]
    units_voted = len(voted)
    area_voted = sum(area for _, unit, area in rows if unit in voted)
    return Turnout("", area_voted, poll.total_area, units_voted, poll.total_owners), buildings
