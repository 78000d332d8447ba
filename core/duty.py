"""A grid worker's duty (DESIGN §4.1): off duty, their grid's backup receives the new tickets."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select

from core import permissions
from core.permissions import Action, may
from core.work import Work
from db.cases import states
from db.cases.states import TicketError
from db.models import Grid, Person, Ticket


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
