"""What the ticket list's filter form and bulk actions offer: the jurisdiction's compounds, buildings,
grids, holders, and the grid workers staff may give its tickets to."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from core.permissions import HOLDER_ROLES
from db.cases.places import GRID_WORKERS
from db.models import Grid, OrgNode, Person, RoleGrant

MAX_CHOICES = 300


def nodes(session: Session, ids: Sequence[int]) -> list[tuple[int, str]]:
    """(id, name) of org nodes, by name."""
    if not ids:
        return []
    found = session.exec(select(OrgNode.id, OrgNode.name).where(col(OrgNode.id).in_(ids))).all()
    return sorted(((i, n) for i, n in found if i is not None), key=lambda x: (x[1], x[0]))


def buildings(session: Session, compound_ids: Sequence[int]) -> list[tuple[int, str]]:
    """(id, "compound building") of the buildings of the compounds (at most MAX_CHOICES)."""
    if not compound_ids:
        return []
    compound = select(OrgNode.id, OrgNode.name).where(col(OrgNode.id).in_(compound_ids)).subquery()
    found = session.exec(
        select(OrgNode.id, compound.c.name, OrgNode.name)
        .join(compound, compound.c.id == OrgNode.parent_id)
        .where(OrgNode.kind == "building")
        .order_by(compound.c.name, col(OrgNode.name))
        .limit(MAX_CHOICES)
    ).all()
    return [(i, f"{c} {b}") for i, c, b in found if i is not None]


def communities(session: Session, compound_ids: Sequence[int]) -> list[int]:
    """The communities the compounds belong to."""
    if not compound_ids:
        return []
    found = session.exec(select(OrgNode.parent_id).where(col(OrgNode.id).in_(compound_ids)).distinct()).all()
    return sorted(i for i in found if i is not None)


def grids(session: Session, compound_ids: Sequence[int]) -> list[tuple[int, str]]:
    """(id, name) of the grids of the compounds' communities."""
    found = session.exec(
        select(Grid.id, Grid.name)
        .where(col(Grid.community_id).in_(communities(session, compound_ids) or [-1]))
        .order_by(col(Grid.name))
        .limit(MAX_CHOICES)
    ).all()
    return [(i, n) for i, n in found if i is not None]


def _people(session: Session, node_ids: Sequence[int], roles: Sequence[str]) -> list[tuple[int, str]]:
    if not node_ids:
        return []
    found = session.exec(
        select(Person.id, Person.name)
        .join(RoleGrant, col(RoleGrant.person_id) == Person.id)
        .where(col(RoleGrant.node_id).in_(node_ids), col(RoleGrant.role).in_(roles))
        .distinct()
        .limit(MAX_CHOICES)
    ).all()
    return sorted(((i, n) for i, n in found if i is not None), key=lambda x: (x[1], x[0]))


def holders(session: Session, compound_ids: Sequence[int]) -> list[tuple[int, str]]:
    """(id, name) of who may hold the jurisdiction's tickets: the people with a holding role on its
    communities or compounds."""
    where = [*communities(session, compound_ids), *compound_ids]
    return _people(session, where, [r.value for r in HOLDER_ROLES])


def workers(session: Session, compound_ids: Sequence[int]) -> list[tuple[int, str]]:
    """(id, name) of the grid workers of the compounds' communities: whom the chat offers to assign a
    ticket to (`db.cases.places.community_workers`), for the jurisdiction at once."""
    return _people(session, communities(session, compound_ids), GRID_WORKERS)
