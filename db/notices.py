"""Notices and policy publicity: who receives a notice, writing it, acknowledgements, cancelling,
reminders, delivery reports, what a resident may still see, and muted kinds.

The rules speak in meanings: writing a notice returns a `NoticePublished` event naming its recipients, a
reminder a `NoticeReminder`; the notify layer (core/notify/notices.py) turns them into outbox rows. An
outbox row carrying a notice_id is that notice's delivery to one person (reminders carry none), which is
what the queries below count and look for. Who may send or manage a notice is asked by the use cases
(core/notices.py) of the permission policy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from core.events import NoticePublished, NoticeReminder
from core.permissions import STAFF_ROLES, VERIFIED, ResidentKind, Role, path_ids, under
from db import outbox
from db.models import Home, Mute, Notice, NoticeAck, OrgNode, Outbox, Person, Residency, RoleGrant
from db.org import in_subtrees
from db.rows import id_of, table_of
from db.sla import Policy

KINDS = ("policy", "fees", "meeting", "outage", "safety", "rating")  # fees: 收支公示; rating: 红黑榜
URGENT_KINDS = ("outage", "safety")
UNMUTABLE = ("safety",)
ROLES = ("owners", "tenants", "grid_workers", "staff")
DEFAULT_ROLES = ("owners", "tenants")
RESIDENT_ROLES = {"owners": ResidentKind.OWNER.value, "tenants": ResidentKind.TENANT.value}
STAFF_GRANTS = tuple(r.value for r in STAFF_ROLES)  # whom the audience "staff" reaches
MAX_TITLE = 100
MAX_BODY = 3500
DEFAULT_PUBLICITY = timedelta(days=30)  # a notice without a publicity period is listed this long
PLACE_KINDS = ("district", "street", "community", "compound")  # sent over; buildings chosen under one
STATUSES = ("sent", "pending", "failed", "unreachable", "cancelled")


class NoticeError(ValueError):
    """A notice rule was broken; `reason` is a short key the handlers turn into a message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- who ------------------------------------------------------------------------------------------


def ancestor_ids(node: OrgNode) -> list[int]:
    """The ids on a node's path, itself included (from the root down)."""
    return path_ids(node.path)


def audience(session: Session, node_id: int, buildings: list[int], roles: list[str]) -> list[int]:
    """The person ids a notice to a node (optionally only some buildings) for some roles reaches."""
    node = session.get(OrgNode, node_id)
    if node is None:
        return []
    found: set[int] = set()
    kinds = [RESIDENT_ROLES[r] for r in roles if r in RESIDENT_ROLES]
    if kinds:
        entrance = table_of(OrgNode).alias("entrance")
        query = (
            select(Residency.person_id)
            .join(Home, col(Home.id) == Residency.home_id)
            .join(entrance, entrance.c.id == Home.entrance_id)
            .where(
                Residency.status == VERIFIED,
                col(Residency.kind).in_(kinds),
                in_subtrees(entrance.c.path, [node.path]),
            )
        )
        if buildings:
            query = query.where(col(Home.building_id).in_(buildings))
        found.update(session.exec(query).all())
    grant_roles: list[str] = []
    if "grid_workers" in roles:
        grant_roles.append(Role.GRID_WORKER.value)
    if "staff" in roles:
        grant_roles.extend(STAFF_GRANTS)
    if grant_roles:
        found.update(
            session.exec(
                select(RoleGrant.person_id)
                .join(OrgNode, col(OrgNode.id) == RoleGrant.node_id)
                .where(col(RoleGrant.role).in_(grant_roles), in_subtrees(col(OrgNode.path), [node.path]))
            ).all()
        )
    return sorted(found)


def muted(session: Session, person_id: int) -> set[str]:
    """The kinds a person has muted."""
    return set(session.exec(select(Mute.kind).where(Mute.person_id == person_id)).all())


def mute(session: Session, person_id: int, kind: str) -> None:
    """Stop receiving a kind of notice; safety notices cannot be muted."""
    if kind not in KINDS:
        raise NoticeError("kind")
    if kind in UNMUTABLE:
        raise NoticeError("not_mutable")
    if session.get(Mute, (person_id, kind)) is None:
        session.add(Mute(person_id=person_id, kind=kind))
        session.flush()


def unmute(session: Session, person_id: int, kind: str) -> None:
    """Receive a muted kind of notice again."""
    if kind not in KINDS:
        raise NoticeError("kind")
    session.exec(delete(Mute).where(col(Mute.person_id) == person_id, col(Mute.kind) == kind))


def recipients(
    session: Session, node_id: int, buildings: list[int], roles: list[str], kind: str
) -> list[int]:
    """The audience less those who muted this kind (nobody can mute safety notices)."""
    people = audience(session, node_id, buildings, roles)
    if kind in UNMUTABLE or not people:
        return people
    silenced = set(session.exec(select(Mute.person_id).where(Mute.kind == kind)).all())
    return [p for p in people if p not in silenced]


# --- writing --------------------------------------------------------------------------------------


def places_under(session: Session, roots: list[OrgNode]) -> list[OrgNode]:
    """The nodes a notice may be sent over inside these nodes (themselves, and down to compounds), in
    tree order."""
    if not roots:
        return []
    found = session.exec(
        select(OrgNode).where(
            col(OrgNode.kind).in_(PLACE_KINDS), in_subtrees(col(OrgNode.path), [r.path for r in roots])
        )
    ).all()
    unique = {n.id: n for n in [*roots, *found]}
    return sorted(unique.values(), key=lambda n: path_ids(n.path))


def check_buildings(session: Session, node: OrgNode, buildings: list[int]) -> list[int]:
    """The building ids, each checked to be a building under the node."""
    if not buildings:
        return []
    ids = sorted(set(buildings))
    found = session.exec(select(OrgNode).where(col(OrgNode.id).in_(ids))).all()
    if len(found) != len(ids) or any(b.kind != "building" or not under(b.path, node.path) for b in found):
        raise NoticeError("buildings")
    return ids


def release_time(urgent: bool, send_at: datetime, now: datetime, policy: Policy) -> datetime | None:
    """When a notice's rows may go: urgent ones at the send time; others also after quiet hours."""
    moment = send_at if urgent else max(send_at, policy.quiet_until(send_at))
    return moment if moment > now else None


def check(
    session: Session,
    kind: str,
    title: str,
    body: str,
    node_id: int,
    buildings: list[int],
    roles: list[str],
    send_at: datetime | None,
    publicity_until: datetime | None,
    now: datetime,
) -> tuple[str, str, list[str], list[int], datetime]:
    """A notice's fields checked (the first broken rule raises, in the order the chat asks them):
    the trimmed title and body, the roles in their order, the building ids, the send time."""
    if kind not in KINDS:
        raise NoticeError("kind")
    title, body = title.strip(), body.strip()
    if not title or len(title) > MAX_TITLE:
        raise NoticeError("title")
    if not body or len(body) > MAX_BODY:
        raise NoticeError("body")
    roles = [r for r in ROLES if r in set(roles)]
    if not roles:
        raise NoticeError("roles")
    node = session.get(OrgNode, node_id)
    if node is None:
        raise NoticeError("node")
    building_ids = check_buildings(session, node, buildings)
    send_at = max(send_at or now, now)
    if publicity_until is not None and publicity_until <= send_at:
        raise NoticeError("publicity")
    return title, body, roles, building_ids, send_at


def create(
    session: Session,
    author_id: int | None,
    kind: str,
    title: str,
    body: str,
    node_id: int,
    buildings: list[int],
    roles: list[str],
    send_at: datetime | None,
    publicity_until: datetime | None,
    ack_required: bool,
    attachment: tuple[str, str, str] | None,
    now: datetime,
    data: dict[str, Any] | None = None,
    mutable: bool = True,
) -> tuple[Notice, NoticePublished]:
    """Write a notice in the caller's transaction; the event names its recipients (muted kinds skipped).

    The author's right to send over the node is the caller's to check (core.notices). `data` is
    structured content the templates render in each reader's language (a poll's result).
    `mutable=False` reaches those who muted the kind too (a poll's legally required notice and result).
    """
    title, body, roles, building_ids, send_at = check(
        session, kind, title, body, node_id, buildings, roles, send_at, publicity_until, now
    )
    att_kind, att_channel, att_ref = attachment or ("", "", "")
    notice = Notice(
        kind=kind,
        title=title,
        body=body,
        attachment_kind=att_kind,
        attachment_channel=att_channel,
        attachment_ref=att_ref,
        author_id=author_id,
        node_id=node_id,
        buildings=building_ids,
        roles=roles,
        urgent=kind in URGENT_KINDS,
        ack_required=ack_required,
        send_at=send_at,
        publicity_until=publicity_until,
        state="scheduled",
        created_at=now,
        data=data or {},
    )
    session.add(notice)
    session.flush()
    people = (
        recipients(session, node_id, building_ids, roles, kind)
        if mutable
        else audience(session, node_id, building_ids, roles)
    )
    notice.audience_size = len(people)
    return notice, NoticePublished(id_of(notice), tuple(people))


# --- after sending --------------------------------------------------------------------------------


def _delivered(now: datetime) -> Any:
    """An outbox row that reached its person, or whose notice is published though the push still waits
    (quiet hours hold pushes, not the notice board): what a resident may see and acknowledge. The
    query must join Notice."""
    return or_(
        col(Outbox.status) == "sent",
        and_(col(Outbox.status) == "pending", col(Notice.send_at) <= now),
    )


def is_recipient(session: Session, notice_id: int, person_id: int, now: datetime) -> bool:
    """Whether the notice reached this person (or is due to)."""
    found = session.exec(
        select(Outbox.id)
        .join(Notice, col(Notice.id) == Outbox.notice_id)
        .where(
            Outbox.notice_id == notice_id,
            Outbox.person_id == person_id,
            _delivered(now),
        )
    ).first()
    return found is not None


def acknowledge(session: Session, notice_id: int, person_id: int, now: datetime) -> bool:
    """Record that a recipient read the notice; False when they had already; NoticeError for others."""
    notice = session.get(Notice, notice_id)
    if notice is None or not notice.ack_required or not is_recipient(session, notice_id, person_id, now):
        raise NoticeError("not_recipient")
    if session.get(NoticeAck, (notice_id, person_id)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(NoticeAck(notice_id=notice_id, person_id=person_id, at=now))
    except IntegrityError:  # a double click racing itself: the other one recorded it
        return False
    return True


def acked(session: Session, person_id: int, notice_ids: list[int]) -> set[int]:
    """Which of these notices the person has acknowledged."""
    if not notice_ids:
        return set()
    return set(
        session.exec(
            select(NoticeAck.notice_id).where(
                NoticeAck.person_id == person_id, col(NoticeAck.notice_id).in_(notice_ids)
            )
        ).all()
    )


def cancel(session: Session, notice: Notice, now: datetime) -> int:
    """Stop what of a notice has not gone out; returns how many messages were held back."""
    if notice.state == "cancelled":
        raise NoticeError("already_cancelled")
    count = outbox.cancel_pending(session, id_of(notice), now)
    if count == 0:
        raise NoticeError("nothing_pending")
    notice.state, notice.cancelled_at = "cancelled", now
    session.flush()
    return count


def remind(session: Session, notice: Notice) -> NoticeReminder:
    """Whom to remind of a notice: every recipient it reached who has not acknowledged it."""
    if not notice.ack_required:
        raise NoticeError("no_ack")
    if notice.state == "cancelled":
        raise NoticeError("already_cancelled")
    reached = session.exec(
        select(Outbox.person_id).where(Outbox.notice_id == notice.id, Outbox.status == "sent")
    ).all()
    done = set(session.exec(select(NoticeAck.person_id).where(NoticeAck.notice_id == notice.id)).all())
    return NoticeReminder(id_of(notice), tuple(sorted(set(reached) - done)))


def report(session: Session, notice_id: int) -> dict[str, int]:
    """Delivery counts of a notice: audience, sent, pending, failed, unreachable, cancelled, acknowledged."""
    notice = session.get(Notice, notice_id)
    counts = {"audience": notice.audience_size if notice else 0, **{s: 0 for s in STATUSES}}
    rows = session.exec(
        select(Outbox.status, func.count()).where(Outbox.notice_id == notice_id).group_by(col(Outbox.status))
    ).all()
    for status, count in rows:
        counts[status] = counts.get(status, 0) + int(count)
    counts["acknowledged"] = int(
        session.exec(select(func.count()).where(NoticeAck.notice_id == notice_id)).one()
    )
    return counts


@dataclass(frozen=True, slots=True)
class Waiting:
    """A recipient who has not acknowledged a notice, where they live in its area: building (with its
    compound's name when the notice covers several), entrance and home number ("" for someone reached by
    their role, with no home there), and their name."""

    building: str
    entrance: str
    number: str
    name: str


def unacknowledged(session: Session, notice: Notice) -> list[Waiting]:
    """Everyone a notice went (or goes) to who has not acknowledged it, by building and home (the
    building named with its compound when the notice covers more than one compound); those without a
    home in its area (staff, grid workers) last."""
    notice_id = id_of(notice)
    done = select(NoticeAck.person_id).where(NoticeAck.notice_id == notice_id)
    waiting = (
        select(Outbox.person_id)
        .where(
            Outbox.notice_id == notice_id,
            col(Outbox.status) != "cancelled",
            col(Outbox.person_id).not_in(done),
        )
        .distinct()
    )
    names: dict[int, str] = {
        id_of_person: name
        for id_of_person, name in session.exec(
            select(Person.id, Person.name).where(col(Person.id).in_(waiting))
        ).all()
        if id_of_person is not None
    }
    if not names:
        return []
    node = session.get(OrgNode, notice.node_id)
    compound = table_of(OrgNode).alias("compound")
    building, entrance = table_of(OrgNode).alias("building"), table_of(OrgNode).alias("entrance")
    query = (
        sa_select(
            col(Residency.person_id), compound.c.name, building.c.name, entrance.c.name, col(Home.number)
        )
        .join(Home, col(Home.id) == Residency.home_id)
        .join(entrance, entrance.c.id == Home.entrance_id)
        .join(compound, compound.c.id == Home.compound_id)
        .join(building, building.c.id == Home.building_id, isouter=True)
        .where(
            col(Residency.person_id).in_(waiting),
            col(Residency.status) == VERIFIED,
            in_subtrees(entrance.c.path, [node.path] if node else []),
        )
        .order_by(col(Residency.id))
    )
    if notice.buildings:
        query = query.where(col(Home.building_id).in_(list(notice.buildings)))
    whole = node is not None and node.kind in ("compound", "building")
    homes: dict[int, tuple[str, str, str]] = {}
    session.flush()
    rows = session.connection().execute(query).all()
    for person_id, compound_name, building_name, entrance_name, number in rows:
        place = (building_name or "") if whole else f"{compound_name} {building_name or ''}".strip()
        homes.setdefault(person_id, (place, entrance_name or "", number))
    found = [Waiting(*homes.get(p, ("", "", "")), name or "") for p, name in names.items()]
    return sorted(
        found, key=lambda w: (not w.building, _natural(w.building), _natural(w.entrance), _natural(w.number))
    )


def _natural(text: str) -> tuple[Any, ...]:
    """A sort key that puts 2栋 before 10栋 and 201 before 1001."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


def publicity_end(notice: Notice) -> datetime:
    """When a notice stops being listed: its publicity period, or 30 days after it was sent."""
    return notice.publicity_until or notice.send_at + DEFAULT_PUBLICITY


def visible(session: Session, person_id: int, now: datetime, limit: int = 20) -> list[Notice]:
    """Notices that reached this person and are still in their publicity period, newest first."""
    reached = (
        select(Outbox.notice_id)
        .join(Notice, col(Notice.id) == Outbox.notice_id)
        .where(
            Outbox.person_id == person_id,
            col(Outbox.notice_id).is_not(None),
            _delivered(now),
        )
        .correlate(None)  # its own join of Notice, not the outer query's
    )
    return list(
        session.exec(
            select(Notice)
            .where(
                col(Notice.id).in_(reached),
                or_(
                    col(Notice.publicity_until) > now,
                    and_(
                        col(Notice.publicity_until).is_(None),
                        col(Notice.send_at) > now - DEFAULT_PUBLICITY,
                    ),
                ),
            )
            .order_by(col(Notice.send_at).desc(), col(Notice.id).desc())
            .limit(limit)
        ).all()
    )


def authored_under(
    session: Session, nodes: list[OrgNode], limit: int = 10, after: Notice | None = None
) -> list[Notice]:
    """The latest notices sent to any node under these nodes (a staff member's view), newest first;
    with `after`, those that come after that notice in this order (the next page)."""
    if not nodes:
        return []
    query = (
        select(Notice)
        .join(OrgNode, col(OrgNode.id) == Notice.node_id)
        .where(in_subtrees(col(OrgNode.path), [n.path for n in nodes]))
    )
    if after is not None:
        query = query.where(
            or_(
                col(Notice.created_at) < after.created_at,
                and_(col(Notice.created_at) == after.created_at, col(Notice.id) < after.id),
            )
        )
    return list(
        session.exec(query.order_by(col(Notice.created_at).desc(), col(Notice.id).desc()).limit(limit)).all()
    )
