"""Hot-spot use cases (DESIGN §4.7, 主动治理): the sweep opens one proactive ticket (主动发现) per cluster
for the community staff and gathers later tickets into it; staff tell the building once; staff read the
hot spots of their jurisdiction.

The proactive ticket is an ordinary ticket held at the community level (its queue, its clocks, the ladder
above it), filed by the system: its reporter is a person row named 主动发现 that has no account and no
home (made once, remembered on the watermark row), so nothing meant for a reporter reaches a resident, no
resident's /my lists it, and it has no building or home of its own, so it is never offered as "me too"
nor counted by detection. The cluster row says where it is and which tickets it gathers.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from core import audit, permissions
from core.events import HotSpotJoined, HotSpotOpened, HotSpotTold
from core.permissions import Action, may, place
from core.ticket_views import jurisdiction
from core.work import Work
from db import notices
from db.cases import clocks, places, states
from db.cases.timeline import SYSTEM, number, record
from db.hotspots import detect
from db.hotspots.tables import BUILDING, HotSpot, HotSpotWatch
from db.models import OrgNode, Ticket
from db.org import in_subtrees
from db.rows import table_of

log = logging.getLogger(__name__)
MERGED_NOTE = "已并入主动发现 #{code}"  # on each gathered ticket's staff-only timeline


class HotSpotError(Exception):
    """A hot-spot action refused; `reason` names the message the person sees."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- the sweep ------------------------------------------------------------------------------------


def detect_new(work: Work) -> Counter[str]:
    """Look at the tickets filed since the last run: open a proactive ticket per new cluster, gather tickets
    into clusters still open; returns what was done ("hotspot_opened", "hotspot_joined", and
    "hotspot_later" when a ticket was busy). Nothing when another sweeper is detecting right now.

    A ticket another transaction holds (the ladder's claim of another sweeper, a turn) is not waited for
    beyond a moment: detection stops there, keeps its watermark before it and goes on at the next sweep."""
    done: Counter[str] = Counter()
    session = work.session
    watch = detect.lock_watch(session)
    if watch is None:
        return done
    policy = work.policy
    seen = detect.Seen.empty()
    batch = detect.new_tickets(session, watch, work.now, policy.cluster_window)
    while batch:
        taken = detect.clustered(session, [number(t) for t in batch])
        for ticket in batch:
            if number(ticket) not in taken:
                try:
                    with session.begin_nested():
                        outcome = _examine(work, watch, seen, ticket)
                except Exception as exc:  # one odd ticket must not stop detection for the others
                    if detect.busy(exc):
                        done["hotspot_later"] += 1
                        return done
                    log.exception("hot spots: ticket %s could not be examined", ticket.id)
                    seen = detect.Seen.empty()  # what it read may have been rolled back
                    outcome = ""
                if outcome:
                    done[outcome] += 1
            detect.moved(watch, ticket)
        if len(batch) < detect.BATCH:
            break
        last = batch[-1]
        batch = detect.after(session, last.created_at, number(last), work.now)
    return done


def _examine(work: Work, watch: HotSpotWatch, seen: detect.Seen, ticket: Ticket) -> str:
    policy = work.policy
    found = detect.examine(
        work.session, seen, ticket, policy.cluster_size, policy.cluster_window, policy.repeat_window
    )
    if found is None:
        return ""
    if found.hot_spot is not None:
        return "hotspot_joined" if _join(work, found.hot_spot, [ticket]) else ""
    seen.opened(_open(work, watch, found))
    return "hotspot_opened"


def _open(work: Work, watch: HotSpotWatch, found: detect.Found) -> HotSpot:
    """File the proactive ticket at the community, write the cluster and gather its tickets."""
    session, now = work.session, work.now
    first = found.tickets[0]
    building = session.get(OrgNode, first.building_id) if first.building_id else None
    compound = session.get(OrgNode, first.compound_id) if first.compound_id else None
    where = " ".join(n.name for n in (compound, building) if n is not None)
    codes = "、".join(f"#{t.id}" for t in found.tickets)
    if found.kind == BUILDING:
        text = f"主动发现：{where} {len(found.tickets)} 张同类工单（{codes}）"
    else:
        text = f"主动发现：同一户办结后再次报修（{codes}）"
    proactive = Ticket(
        category=first.category,
        sla_class=first.sla_class,
        urgent=any(t.urgent for t in found.tickets),
        state=states.NEW,
        reporter_id=detect.system_reporter(session, watch, now),
        compound_id=first.compound_id,
        description=text,
        location_text=where,
        level="community",
        created_at=now,
        updated_at=now,
    )
    session.add(proactive)
    session.flush()
    proactive.holder_node_id = places.level_node(session, proactive, "community")
    accept_by = clocks.promise(proactive, work.policy)
    states.queued(proactive)
    clocks.start(proactive, clocks.ACCEPT, now, work.policy, accept_by - now)
    record(session, proactive, SYSTEM, "created", text, now)
    record(session, proactive, SYSTEM, "queued", "", now)
    assert first.building_id is not None and first.compound_id is not None
    spot = HotSpot(
        key=found.key,
        kind=found.kind,
        place_id=first.building_id if found.kind == BUILDING else (first.home_id or 0),
        category=first.category,
        compound_id=first.compound_id,
        building_id=first.building_id,
        home_id=None if found.kind == BUILDING else first.home_id,
        ticket_id=number(proactive),
        since=first.created_at,
        last_at=first.created_at,
        size=0,
        opened_at=now,
    )
    session.add(spot)
    session.flush()
    gathered = detect.link(session, spot, list(found.tickets), now)
    _note(work, spot, [t for t in found.tickets if t.id in gathered])  # not one another cluster holds
    assert spot.id is not None
    work.record(HotSpotOpened(spot.id, number(proactive), found.kind, tuple(gathered)))
    return spot


def _join(work: Work, spot: HotSpot, tickets: list[Ticket]) -> bool:
    added = detect.link(work.session, spot, tickets, work.now)
    if not added:
        return False
    _note(work, spot, [t for t in tickets if t.id in added])
    assert spot.id is not None
    for ticket_id in added:
        work.record(HotSpotJoined(spot.id, spot.ticket_id, ticket_id, spot.size))
    return True


def _note(work: Work, spot: HotSpot, tickets: list[Ticket]) -> None:
    """A staff-only line on each gathered ticket's timeline: which proactive ticket it went into."""
    note = MERGED_NOTE.format(code=spot.ticket_id)
    for ticket in tickets:
        record(work.session, ticket, SYSTEM, "internal", note, work.now)


# --- staff ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Told:
    """The building was told: how many residents the message goes to."""

    hot_spot_id: int
    ticket_id: int
    recipients: int


def _building_path(work: Work, spot: HotSpot) -> str:
    building = work.session.get(OrgNode, spot.building_id)
    return building.path if building is not None else ""


def check_tell(work: Work, actor: permissions.Actor, hot_spot_id: int) -> HotSpot:
    """The cluster whose building the actor may tell (refused: not_found, not_building, already_told)."""
    spot = work.session.get(HotSpot, hot_spot_id)
    if spot is None:
        raise HotSpotError("not_found")
    path = _building_path(work, spot)
    if not path or not may(actor, Action.SEND_NOTICE, place(path)):
        raise HotSpotError("not_found")  # another jurisdiction's hot spot is not shown to exist
    if spot.kind != BUILDING:
        raise HotSpotError("not_building")
    if spot.told_at is not None:
        raise HotSpotError("already_told")
    return spot


def audience_size(work: Work, spot: HotSpot) -> int:
    """How many residents telling the building would reach."""
    return len(notices.audience(work.session, spot.building_id, [], ["owners", "tenants"]))


def tell(work: Work, actor: permissions.Actor, hot_spot_id: int) -> Told:
    """Tell the building's residents (owners and tenants), once per cluster, that the problem is known and
    being handled; a second press, from anywhere, is refused with already_told."""
    spot = check_tell(work, actor, hot_spot_id)
    role = permissions.acting_role(actor, Action.SEND_NOTICE, place(_building_path(work, spot)))
    # Whoever marks it first tells it: a conditional update, so two desks pressing at once tell once.
    marked = work.session.connection().execute(
        update(table_of(HotSpot))
        .where(table_of(HotSpot).c.id == hot_spot_id, table_of(HotSpot).c.told_at.is_(None))
        .values(told_at=work.now, told_by=actor.person_id)
    )
    if marked.rowcount != 1:
        raise HotSpotError("already_told")
    work.session.refresh(spot)
    recipients = notices.audience(work.session, spot.building_id, [], ["owners", "tenants"])
    spot.told_count = len(recipients)
    compound = work.session.get(OrgNode, spot.compound_id)
    audit.record(
        work,
        actor,
        role.value if role is not None else "system",
        "hotspot.tell",
        "ticket",
        spot.ticket_id,
        compound.path if compound is not None else "",
        {"told": False},
        {"told": True, "recipients": len(recipients), "hot_spot": spot.id},
    )
    assert spot.id is not None
    work.record(HotSpotTold(spot.id, tuple(recipients)))
    return Told(spot.id, spot.ticket_id, len(recipients))


# --- reading --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Line:
    """A hot spot as staff read it: where, what, how many tickets since when, its proactive ticket."""

    id: int
    kind: str
    category: str
    compound: str
    building: str
    size: int
    since: datetime
    last_at: datetime
    opened_at: datetime
    ticket_id: int
    state: str
    current: bool
    told_at: datetime | None
    told_count: int
    building_path: str


def listed(
    work: Work, actor: permissions.Actor, current_only: bool = False, limit: int = 100, spot_id: int = 0
) -> list[Line]:
    """The hot spots under the actor's VIEW_STATS jurisdiction, newest first: those whose proactive
    ticket is still open (current), then, unless `current_only`, the recent others. Refused (not_staff)
    for someone with no such jurisdiction — residents never see hot spots."""
    nodes = jurisdiction(work, actor, Action.VIEW_STATS)
    if not nodes:
        raise HotSpotError("not_staff")
    compound, building = aliased(OrgNode), aliased(OrgNode)
    query = (
        select(HotSpot, Ticket.state, compound.name, building)
        .join(Ticket, col(Ticket.id) == HotSpot.ticket_id)
        .join(compound, col(compound.id) == HotSpot.compound_id)
        .join(building, col(building.id) == HotSpot.building_id)
        .where(in_subtrees(col(compound.path), [n.path for n in nodes]))
    )
    if current_only:
        query = query.where(col(Ticket.state).in_(states.OPEN_STATES))
    if spot_id:
        query = query.where(HotSpot.id == spot_id)
    rows = work.session.exec(
        query.order_by(col(HotSpot.opened_at).desc(), col(HotSpot.id).desc()).limit(limit)
    )
    lines = [
        Line(
            id=spot.id or 0,
            kind=spot.kind,
            category=spot.category,
            compound=compound_name,
            building=building_node.name,
            size=spot.size,
            since=spot.since,
            last_at=spot.last_at,
            opened_at=spot.opened_at,
            ticket_id=spot.ticket_id,
            state=state,
            current=state in states.OPEN_STATES,
            told_at=spot.told_at,
            told_count=spot.told_count,
            building_path=building_node.path,
        )
        for spot, state, compound_name, building_node in rows.all()
    ]
    return sorted(lines, key=lambda line: not line.current)  # stable: newest first within each


def one(work: Work, actor: permissions.Actor, hot_spot_id: int) -> tuple[Line, list[Ticket]]:
    """One hot spot under the actor's jurisdiction with the tickets it gathers (refused: not_found)."""
    found = listed(work, actor, spot_id=hot_spot_id)
    if not found:
        raise HotSpotError("not_found")
    return found[0], detect.tickets_of(work.session, hot_spot_id)


def may_tell(actor: permissions.Actor, line: Line) -> bool:
    """Whether the actor may tell this hot spot's building (and it still can be told)."""
    return (
        line.kind == BUILDING
        and line.told_at is None
        and may(actor, Action.SEND_NOTICE, place(line.building_path))
    )
