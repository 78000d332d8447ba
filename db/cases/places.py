"""Where a ticket lies and who answers for it: the ladder's levels, the org nodes above its compound, the
staff of a level, its residents and whoever must act on it now."""

from __future__ import annotations

from sqlalchemy import and_, bindparam
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from core import permissions
from db.models import Grid, GridBuilding, OrgNode, Person, RoleGrant, Ticket, TicketFollower

LEVELS = ("grid", "community", "street", "department")
LEVEL_KIND = {"community": "community", "street": "street", "department": "district"}
# Who answers for a ticket held at a level, as the permission policy says (people to tell, not a check).
LEVEL_ROLES = {level: (role.value,) for level, role in permissions.LEVEL_ROLE.items()}
SUPERVISOR_ROLES = tuple(r.value for r in permissions.SUPERVISOR_ROLES)
GRID_WORKERS = (permissions.Role.GRID_WORKER.value,)


def _ancestors(session: Session, node_id: int | None) -> list[OrgNode]:
    """The node and everything above it, from the district down."""
    node = session.get(OrgNode, node_id) if node_id else None
    if node is None:
        return []
    ids = permissions.path_ids(node.path)
    nodes = {n.id: n for n in session.exec(_NODES, params={"b_ids": ids}).all()}
    return [nodes[i] for i in ids if i in nodes]


def level_node(session: Session, ticket: Ticket, level: str) -> int | None:
    """The org node whose staff answer for the ticket at a level (community, street or district)."""
    kind = LEVEL_KIND.get(level, "community")
    for node in _ancestors(session, ticket.compound_id):
        if node.kind == kind:
            return node.id
    return None


def staff_at(session: Session, node_id: int | None, roles: tuple[str, ...]) -> list[int]:
    """People holding one of the roles exactly on that node."""
    if node_id is None:
        return []
    grants = session.exec(_STAFF_AT, params={"b_node_id": node_id, "b_roles": list(roles)}).all()
    return sorted(set(grants))


# Built once: they run on every ticket filed, and building a query costs more than running it on SQLite.
_NODES = select(OrgNode).where(col(OrgNode.id).in_(bindparam("b_ids", expanding=True)))
_STAFF_AT = select(RoleGrant.person_id).where(
    RoleGrant.node_id == bindparam("b_node_id"), col(RoleGrant.role).in_(bindparam("b_roles", expanding=True))
)


def ticket_target(session: Session, ticket: Ticket) -> permissions.Target:
    """A ticket as the permission policy sees it: its compound, holder, level and the reporter's consent."""
    compound = session.get(OrgNode, ticket.compound_id) if ticket.compound_id else None
    return permissions.Target(
        (compound.path,) if compound else (), ticket.holder_id, ticket.level, ticket.share_contact
    )


def residents_of(session: Session, ticket: Ticket) -> list[int]:
    """The reporter and everyone who joined with "me too"."""
    followers = session.exec(
        select(TicketFollower.person_id).where(TicketFollower.ticket_id == ticket.id)
    ).all()
    return [ticket.reporter_id, *followers]


def holders_of(session: Session, ticket: Ticket) -> list[int]:
    """Who must act now: the handler, or the staff of the level holding the ticket."""
    if ticket.holder_id is not None:
        return [ticket.holder_id]
    return staff_at(session, ticket.holder_node_id, LEVEL_ROLES.get(ticket.level, LEVEL_ROLES["community"]))


def level_staff(session: Session, ticket: Ticket) -> list[int]:
    """The staff of the level holding the ticket, on its node (nobody at the grid level)."""
    return staff_at(session, ticket.holder_node_id, LEVEL_ROLES.get(ticket.level, ()))


def transfer_deciders(session: Session, ticket: Ticket) -> list[int]:
    """Who decides a transfer request: the staff of the ticket's community, whatever level holds it."""
    return staff_at(session, level_node(session, ticket, "community"), LEVEL_ROLES["community"])


def top_supervisors(session: Session, ticket: Ticket) -> list[int]:
    """Who is alerted when a clock runs out at the top of the ladder: the district's supervisors, or its
    department staff when it has none."""
    district = level_node(session, ticket, "department")
    return staff_at(session, district, SUPERVISOR_ROLES) or staff_at(
        session, district, LEVEL_ROLES["department"]
    )


def community_workers(session: Session, ticket: Ticket) -> list[int]:
    """The grid workers of the ticket's community: whom staff may give it to."""
    return staff_at(session, level_node(session, ticket, "community"), GRID_WORKERS)


def grid_worker_for(session: Session, building_id: int | None) -> tuple[int | None, int | None]:
    """(grid id, worker id) for a building: the primary worker, or the backup when the primary is off duty."""
    if building_id is None:
        return None, None
    row = session.exec(_GRID_WORKERS, params={"b_building_id": building_id}).first()
    if row is None:
        return None, None
    grid_id, primary_id, backup_id = row
    return grid_id, primary_id if primary_id is not None else backup_id


# The building's grid with its worker and backup, each only when on duty: one query, not four.
_PRIMARY, _BACKUP = aliased(Person), aliased(Person)
_GRID_WORKERS = (
    select(Grid.id, _PRIMARY.id, _BACKUP.id)
    .join(GridBuilding, col(GridBuilding.grid_id) == Grid.id)
    .outerjoin(_PRIMARY, and_(col(_PRIMARY.id) == Grid.worker_id, col(_PRIMARY.off_duty).is_(False)))
    .outerjoin(_BACKUP, and_(col(_BACKUP.id) == Grid.backup_id, col(_BACKUP.off_duty).is_(False)))
    .where(GridBuilding.building_id == bindparam("b_building_id"))
)


def grid_of_worker(session: Session, community_id: int | None, worker_id: int) -> Grid | None:
    """The grid of a community whose primary (else backup) worker this person is."""
    return (
        session.exec(
            select(Grid).where(Grid.community_id == community_id, Grid.worker_id == worker_id)
        ).first()
        or session.exec(
            select(Grid).where(Grid.community_id == community_id, Grid.backup_id == worker_id)
        ).first()
    )
