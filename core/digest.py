"""The 08:00 morning digests (a query use case the scheduler runs): who has something to hear, and what.

Grid workers hear of their open tasks, those due today and those overdue; community and street staff of
the overdue and recently unrated-closed tickets of their jurisdiction. Nobody with nothing to report is
told, and a person is told at most once a local day, however often the job runs. The counts become
events; core/notify/digest.py words them.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, func, select

from core.events import JurisdictionDigest, TasksDigest
from core.notify.digest import TEMPLATES
from core.permissions import Action, roles_for
from core.work import Work
from db.cases.states import OPEN_STATES
from db.models import OrgNode, Outbox, RoleGrant, Ticket
from db.org import in_subtrees

TASK_ROLES = roles_for(Action.DIGEST_TASKS)  # grid workers: their own open tasks
STAFF_ROLES = roles_for(Action.DIGEST_JURISDICTION)  # community and street staff: their jurisdiction
UNRATED_DAYS = 3


def _day(now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The local day containing `now`, as [start, end)."""
    start = datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone)
    return start, start + timedelta(days=1)


def _already_told(session: Session, day_start: datetime) -> set[int]:
    """People who got a digest today already (a second run, a second process, a restart)."""
    return set(
        session.exec(
            select(Outbox.person_id).where(
                col(Outbox.template).in_(TEMPLATES), col(Outbox.created_at) >= day_start
            )
        ).all()
    )


def _tasks(session: Session, person_id: int, now: datetime, day_end: datetime) -> TasksDigest | None:
    tickets = session.exec(
        select(Ticket)
        .where(Ticket.holder_id == person_id, col(Ticket.state).in_(OPEN_STATES))
        .order_by(col(Ticket.clock_due_at).is_(None), col(Ticket.clock_due_at), col(Ticket.id))
    ).all()
    if not tickets:
        return None
    running = [(t, t.clock_due_at) for t in tickets if t.paused_at is None and t.clock_due_at is not None]
    due = [at for _, at in running]
    first = running[0] if running else None
    return TasksDigest(
        person_id,
        open=len(tickets),
        due_today=sum(1 for at in due if now <= at < day_end),
        overdue=sum(1 for at in due if at < now),
        first_ticket=first[0].id if first else None,
        first_category=first[0].category if first else "",
        first_stage=first[0].clock_stage if first else "",
        first_due=first[1] if first else None,
    )


def _jurisdiction(
    session: Session, person_id: int, nodes: list[OrgNode], now: datetime
) -> JurisdictionDigest | None:
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
    return JurisdictionDigest(person_id, overdue, unrated, unassigned, tuple(n.name for n in nodes))


def morning(work: Work, zone: ZoneInfo) -> int:
    """Record today's digests as events on the work (the caller publishes and commits); returns how many."""
    session, now = work.session, work.now
    day_start, day_end = _day(now, zone)
    done = _already_told(session, day_start)
    grants = session.exec(
        select(RoleGrant)
        .where(col(RoleGrant.role).in_((*TASK_ROLES, *STAFF_ROLES)))
        .order_by(col(RoleGrant.id))
    ).all()
    workers = sorted({g.person_id for g in grants if g.role in TASK_ROLES})
    staff: dict[int, list[int]] = {}
    for grant in grants:
        if grant.role in STAFF_ROLES:
            staff.setdefault(grant.person_id, []).append(grant.node_id)
    told = 0
    for person_id in workers:
        if person_id in done:
            continue
        tasks = _tasks(session, person_id, now, day_end)
        if tasks is not None:
            work.record(tasks)
            done.add(person_id)
            told += 1
    for person_id, node_ids in sorted(staff.items()):
        if person_id in done:
            continue
        nodes = list(session.exec(select(OrgNode).where(col(OrgNode.id).in_(node_ids))).all())
        jurisdiction = _jurisdiction(session, person_id, nodes, now) if nodes else None
        if jurisdiction is not None:
            work.record(jurisdiction)
            done.add(person_id)
            told += 1
    return told
