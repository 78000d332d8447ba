"""The 08:00 morning digests, written to the outbox so the dispatcher sends them within the limits.

Grid workers get their open tasks, those due today and those overdue; community and street staff get the
overdue and recently unrated-closed tickets of their jurisdiction. Nobody with nothing to report gets a
message, and a person gets at most one digest a local day, however often the job runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, func, select

from core import actions
from core.permissions import Action, roles_for
from db import outbox
from db.cases.states import OPEN_STATES
from db.models import OrgNode, Outbox, RoleGrant, Ticket
from db.org import in_subtrees

TASK_ROLES = roles_for(Action.DIGEST_TASKS)  # grid workers: their own open tasks
STAFF_ROLES = roles_for(Action.DIGEST_JURISDICTION)  # community and street staff: their jurisdiction
UNRATED_DAYS = 3
TEMPLATES = ("digest.grid", "digest.staff")


def _day(now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The local day containing `now`, as [start, end)."""
    start = datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone)
    return start, start + timedelta(days=1)


def _already_sent(session: Session, day_start: datetime) -> set[int]:
    """People who got a digest today already (a second run, a second process, a restart)."""
    return set(
        session.exec(
            select(Outbox.person_id).where(
                col(Outbox.template).in_(TEMPLATES), col(Outbox.created_at) >= day_start
            )
        ).all()
    )


def _grid_digest(session: Session, person_id: int, now: datetime, day_end: datetime) -> dict[str, Any] | None:
    tickets = session.exec(
        select(Ticket)
        .where(Ticket.holder_id == person_id, col(Ticket.state).in_(OPEN_STATES))
        .order_by(col(Ticket.clock_due_at).is_(None), col(Ticket.clock_due_at), col(Ticket.id))
    ).all()
    if not tickets:
        return None
    running = [t for t in tickets if t.paused_at is None and t.clock_due_at is not None]
    first = running[0] if running else None
    return {
        "open": len(tickets),
        "due_today": sum(1 for t in running if now <= t.clock_due_at < day_end),  # type: ignore[operator]
        "overdue": sum(1 for t in running if t.clock_due_at < now),  # type: ignore[operator]
        "first": {
            "code": first.id,
            "category": first.category,
            "stage": first.clock_stage,
            "due": first.clock_due_at.isoformat(),  # type: ignore[union-attr]
        }
        if first
        else None,
    }


def _staff_digest(session: Session, nodes: list[OrgNode], now: datetime) -> dict[str, Any] | None:
    under = in_subtrees(col(OrgNode.path), [n.path for n in nodes])
    base = select(func.count()).select_from(Ticket).join(OrgNode, col(OrgNode.id) == Ticket.compound_id)
    overdue = session.exec(
        base.where(
            under,
            col(Ticket.state).in_(OPEN_STATES),
            col(Ticket.paused_at).is_(None),
            col(Ticket.clock_due_at) < now,
        )
    ).one()
    unrated = session.exec(
        base.where(
            under,
            Ticket.state == "closed",
            Ticket.rating == "",
            col(Ticket.resolved_at).is_not(None),
            col(Ticket.closed_at) >= now - timedelta(days=UNRATED_DAYS),
        )
    ).one()
    unassigned = session.exec(
        base.where(under, col(Ticket.state).in_(OPEN_STATES), col(Ticket.holder_id).is_(None))
    ).one()
    if not overdue and not unrated:
        return None
    return {
        "overdue": overdue,
        "unrated": unrated,
        "unassigned": unassigned,
        "scope": "、".join(n.name for n in nodes),
    }


def morning_digest(session: Session, now: datetime, zone: ZoneInfo) -> int:
    """Queue today's digests in the outbox (the caller commits); returns how many were queued."""
    day_start, day_end = _day(now, zone)
    done = _already_sent(session, day_start)
    grants = session.exec(
        select(RoleGrant).where(col(RoleGrant.role).in_((*TASK_ROLES, *STAFF_ROLES))).order_by(RoleGrant.id)
    ).all()
    workers = sorted({g.person_id for g in grants if g.role in TASK_ROLES})
    staff: dict[int, list[int]] = {}
    for grant in grants:
        if grant.role in STAFF_ROLES:
            staff.setdefault(grant.person_id, []).append(grant.node_id)
    queued = 0
    for person_id in workers:
        if person_id in done:
            continue
        context = _grid_digest(session, person_id, now, day_end)
        if context is not None:
            outbox.enqueue(session, person_id, "digest.grid", context, [], now)
            done.add(person_id)
            queued += 1
    for person_id, node_ids in sorted(staff.items()):
        if person_id in done:
            continue
        nodes = list(session.exec(select(OrgNode).where(col(OrgNode.id).in_(node_ids))).all())
        context = _staff_digest(session, nodes, now) if nodes else None
        if context is not None:
            buttons = [[{"data": actions.Menu(command="/queue").encode(), "label": "queue.btn_open"}]]
            outbox.enqueue(session, person_id, "digest.staff", context, buttons, now)
            done.add(person_id)
            queued += 1
    return queued


def send_digests(sessions: Callable[[], Session], now: datetime, zone: ZoneInfo) -> int:
    """Queue the morning digests in one transaction; returns how many were queued."""
    with sessions() as session:
        queued = morning_digest(session, now, zone)
        session.commit()
    return queued
