"""A grid worker's duty (DESIGN §4.1): off duty, their grid's backup receives the new tickets."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select

from core import audit, permissions
from core.permissions import Action, may
from core.work import Work
from db import people
from db.cases import states
from db.cases.states import TicketError
from db.models import Grid, OrgNode, Person, Ticket


@dataclass(frozen=True, slots=True)
class GridCover:
    """One of the worker's grids, and whether its backup takes new tickets while they are away."""

    name: str
    backup: bool
    backup_name: str


@dataclass(frozen=True, slots=True)
class Duty:
    """Where a worker now stands: off duty or not, their grids' cover, and how many tickets they hold."""

    off: bool
    grids: list[GridCover]
    held: int


def set_duty(work: Work, actor: permissions.Actor, off: bool | None) -> Duty:
    """Go off duty (True), back on (False) or the other way round (None); the tickets already held stay
    (refused: not_allowed for anyone but a grid worker)."""
    if not may(actor, Action.DUTY):
        raise TicketError("not_allowed")
    person = work.session.get(Person, actor.person_id) if actor.person_id else None
    if person is None:
        raise TicketError("not_found")
    person.off_duty = (not person.off_duty) if off is None else off
    grids = []
    for grid in work.session.exec(
        select(Grid).where(Grid.worker_id == person.id).order_by(col(Grid.id))
    ).all():
        backup = work.session.get(Person, grid.backup_id) if grid.backup_id else None
        grids.append(
            GridCover(grid.name, bool(backup and not backup.off_duty), backup.name if backup else "")
        )
    held = work.session.exec(
        select(Ticket.id).where(Ticket.holder_id == person.id, col(Ticket.state).in_(states.OPEN_STATES))
    ).all()
    return Duty(person.off_duty, grids, len(held))


# --- staff managing a community's grids (the console's 居民 section) -------------------------------------

# Who may decide which grid worker takes a community's new tickets: those who decide transfers there.
MANAGE_GRIDS = Action.DECIDE_TRANSFER


@dataclass(frozen=True, slots=True)
class ManagedGrid:
    """A grid as staff see it, with the community's other grid workers who could be its backup."""

    grid: people.GridView
    candidates: list[tuple[int, str]]


def managed_grids(work: Work, actor: permissions.Actor) -> list[ManagedGrid]:
    """The grids of the communities the actor manages, each with its possible backups."""
    paths = [grant.path for grant in permissions.grants_for(actor, MANAGE_GRIDS)]
    found = []
    for grid in people.grids_under(work.session, paths):
        worker = grid.worker[0] if grid.worker is not None else None
        workers = people.grid_workers_of(work.session, grid.community_path)
        found.append(ManagedGrid(grid, [w for w in workers if w[0] != worker]))
    return found


def _managed_grid(work: Work, actor: permissions.Actor, grid_id: int) -> tuple[Grid, OrgNode, str]:
    """A grid the actor may manage, its community and the role they act in (refused: not_found,
    not_allowed)."""
    grid = work.session.get(Grid, grid_id)
    community = work.session.get(OrgNode, grid.community_id) if grid is not None else None
    if grid is None or community is None:
        raise TicketError("not_found")
    role = permissions.acting_role(actor, MANAGE_GRIDS, permissions.place(community.path))
    if role is None:
        raise TicketError("not_allowed")
    return grid, community, role.value


def set_worker_duty(work: Work, actor: permissions.Actor, grid_id: int, off: bool) -> None:
    """Staff put a grid's worker off duty (their backup gets the new tickets) or back on, as the worker
    does with /duty; audited (refused: not_found, not_allowed, no_worker)."""
    grid, community, role = _managed_grid(work, actor, grid_id)
    worker = work.session.get(Person, grid.worker_id) if grid.worker_id is not None else None
    if worker is None:
        raise TicketError("no_worker")
    before = worker.off_duty
    worker.off_duty = off
    work.session.add(worker)
    audit.record(
        work,
        actor,
        role,
        "grid.duty",
        "person",
        worker.id,
        community.path,
        {"off_duty": before, "grid": grid.name},
        {"off_duty": off, "grid": grid.name},
    )


def set_backup(work: Work, actor: permissions.Actor, grid_id: int, backup_id: int | None) -> None:
    """Staff choose a grid's backup among the community's grid workers (None: no backup); audited
    (refused: not_found, not_allowed, bad_backup for someone else or the worker themselves)."""
    grid, community, role = _managed_grid(work, actor, grid_id)
    if backup_id is not None:
        allowed = {person_id for person_id, _ in people.grid_workers_of(work.session, community.path)}
        if backup_id not in allowed or backup_id == grid.worker_id:
            raise TicketError("bad_backup")
    before = grid.backup_id
    grid.backup_id = backup_id
    work.session.add(grid)
    audit.record(
        work,
        actor,
        role,
        "grid.backup",
        "grid",
        grid.id,
        community.path,
        {"backup_id": before},
        {"backup_id": backup_id},
    )
