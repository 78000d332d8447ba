"""Finding hot spots (DESIGN §4.7) from what changed since the last sweep, on indexed reads only.

Each sweep looks at the tickets filed since the watermark (`hot_spot_watch`, read by ix_ticket_created),
starting a few minutes before it: a turn that began earlier may commit after a later one, and a ticket
already looked at is either in a cluster (skipped) or looked at again with the same answer. For each:

- building rule: the latest cluster of its category in its building, if its proactive ticket is still
  open, gathers it; otherwise the tickets of that category and building filed in the window before it (and
  after the previous cluster's proactive ticket was resolved) are counted on ix_ticket_cluster, at most
  `cluster_size` of them — reaching the size opens a cluster of them;
- repeat rule (for a ticket no building cluster took): a ticket of the same home and category resolved
  in the repeat window before it (ix_ticket_repeat) opens a cluster of the two; a later report joins it
  while its proactive ticket is open.

A cluster is written once: its key (kind, place, category and the ticket that starts it) is unique, and
the watermark row is locked while a sweeper detects (PostgreSQL: FOR UPDATE SKIP LOCKED, so a second
sweeper skips detection instead of waiting; SQLite: BEGIN IMMEDIATE serialises writers).
The rules return plain results; the use case (core/hotspots.py) opens the proactive ticket and tells.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, func, select

from db.cases.states import OPEN_STATES, WITHDRAWN
from db.hotspots.tables import BUILDING, REPEAT, HotSpot, HotSpotTicket, HotSpotWatch
from db.models import Person, Ticket

WATCH_ID = 1
# Turns commit within seconds of the moment they stamp on a ticket: look this far behind the watermark.
SETTLE = timedelta(minutes=5)
BATCH = 500
SYSTEM_NAME = "主动发现"  # the reporter the system files proactive tickets as (no account, no home)
# How long detection waits for a ticket row another transaction holds (PostgreSQL) before leaving it to
# the next sweep: linking a ticket takes a key-share lock that a claimed (FOR UPDATE) row holds up.
LOCK_WAIT = "2s"


@dataclass(frozen=True, slots=True)
class Found:
    """What detection decided for one new ticket: open a cluster of `tickets`, or join `hot_spot`."""

    ticket: Ticket
    kind: str
    key: str = ""
    tickets: tuple[Ticket, ...] = ()
    hot_spot: HotSpot | None = None


def lock_watch(session: Session) -> HotSpotWatch | None:
    """The watermark row, locked for this transaction; None while another sweeper holds it."""
    query = select(HotSpotWatch).where(HotSpotWatch.id == WATCH_ID)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'"))
        query = query.with_for_update(skip_locked=True)
    found = session.exec(query).first()
    if found is None and session.get_bind().dialect.name != "postgresql":
        found = HotSpotWatch(id=WATCH_ID, seen_id=0)  # the migration writes it; a test database may not
        session.add(found)
        session.flush()
    return found


def busy(error: BaseException) -> bool:
    """Whether an error is a lock wait that ran out (PostgreSQL's lock_not_available)."""
    return isinstance(error, OperationalError) and getattr(error.orig, "sqlstate", "") == "55P03"


def system_reporter(session: Session, watch: HotSpotWatch, now: datetime) -> int:
    """The person proactive tickets are filed as, made once and remembered on the watermark row."""
    if watch.reporter_id is not None:
        return watch.reporter_id
    person = Person(name=SYSTEM_NAME, created_at=now)
    session.add(person)
    session.flush()
    assert person.id is not None
    watch.reporter_id = person.id
    return person.id


def new_tickets(session: Session, watch: HotSpotWatch, now: datetime, window: timedelta) -> list[Ticket]:
    """The next batch of tickets filed after the watermark (less SETTLE), oldest first; on the first run,
    those of the last window."""
    since = (watch.seen_at - SETTLE) if watch.seen_at is not None else now - window
    return list(
        session.exec(
            select(Ticket)
            .where(col(Ticket.created_at) > since, col(Ticket.created_at) <= now)
            .order_by(col(Ticket.created_at), col(Ticket.id))
            .limit(BATCH)
        ).all()
    )


def after(session: Session, moment: datetime, ticket_id: int, now: datetime) -> list[Ticket]:
    """The next batch after a ticket already looked at in this run (same moment: higher number)."""
    return list(
        session.exec(
            select(Ticket)
            .where(
                or_(
                    col(Ticket.created_at) > moment,
                    and_(col(Ticket.created_at) == moment, col(Ticket.id) > ticket_id),
                ),
                col(Ticket.created_at) <= now,
            )
            .order_by(col(Ticket.created_at), col(Ticket.id))
            .limit(BATCH)
        ).all()
    )


def clustered(session: Session, ticket_ids: list[int]) -> set[int]:
    """Which of these tickets are already in a cluster (one query for a batch)."""
    if not ticket_ids:
        return set()
    found = session.exec(select(HotSpotTicket.ticket_id).where(col(HotSpotTicket.ticket_id).in_(ticket_ids)))
    return set(found.all())


Place = tuple[str, int, str]  # kind, building or home, category


@dataclass(slots=True)
class Seen:
    """What one detection run has already read: the latest cluster of each place and category, and
    whether it is still open (a batch of reports about one lift reads it once)."""

    latest: dict[Place, tuple[HotSpot | None, datetime | None, bool]]

    @classmethod
    def empty(cls) -> Seen:
        """Nothing read yet."""
        return cls({})

    def opened(self, spot: HotSpot) -> None:
        """A cluster this run opened is the latest of its place, and open."""
        self.latest[(spot.kind, spot.place_id, spot.category)] = (spot, None, True)


def _latest(
    session: Session, seen: Seen, kind: str, place_id: int, category: str
) -> tuple[HotSpot | None, datetime | None, bool]:
    """The latest cluster of a kind at a place and category, when its proactive ticket stopped being worked
    on, and whether it is still open."""
    key = (kind, place_id, category)
    if key not in seen.latest:
        spot = session.exec(
            select(HotSpot)
            .where(HotSpot.kind == kind, HotSpot.place_id == place_id, HotSpot.category == category)
            .order_by(col(HotSpot.opened_at).desc(), col(HotSpot.id).desc())
            .limit(1)
        ).first()
        ended = _ended(session, spot) if spot is not None else None
        seen.latest[key] = (spot, ended, spot is not None and ended is None)
    return seen.latest[key]


def _ended(session: Session, spot: HotSpot) -> datetime | None:
    """When the cluster's proactive ticket stopped being worked on (None: it is still open)."""
    proactive = session.get(Ticket, spot.ticket_id)
    if proactive is None:
        return spot.opened_at
    if proactive.state in OPEN_STATES:
        return None
    return proactive.resolved_at or proactive.closed_at or proactive.updated_at


def by_key(session: Session, key: str) -> HotSpot | None:
    """The cluster with this key, if one was opened."""
    return session.exec(select(HotSpot).where(HotSpot.key == key)).first()


def examine(
    session: Session, seen: Seen, ticket: Ticket, size: int, window: timedelta, repeat: timedelta
) -> Found | None:
    """What one new ticket does: open or join a building cluster, else a repeat cluster, else nothing."""
    if ticket.building_id is None or ticket.state == WITHDRAWN:
        return None
    return _building(session, seen, ticket, size, window) or _repeat(session, seen, ticket, repeat)


def _building(session: Session, seen: Seen, ticket: Ticket, size: int, window: timedelta) -> Found | None:
    assert ticket.building_id is not None
    latest, ended, still_open = _latest(session, seen, BUILDING, ticket.building_id, ticket.category)
    start = ticket.created_at - window
    if latest is not None:
        if still_open:
            return Found(ticket, BUILDING, hot_spot=latest)
        if ended is not None:
            start = max(start, ended)
    # At most `size` of them: enough to decide, however many a building files.
    gathered = list(
        session.exec(
            select(Ticket)
            .where(
                Ticket.building_id == ticket.building_id,
                Ticket.category == ticket.category,
                col(Ticket.created_at) >= start,
                col(Ticket.created_at) <= ticket.created_at,
                Ticket.state != WITHDRAWN,
            )
            .order_by(col(Ticket.created_at).desc(), col(Ticket.id).desc())
            .limit(size)
        ).all()
    )
    if len(gathered) < size:
        return None
    gathered.sort(key=lambda t: (t.created_at, t.id or 0))
    key = f"{BUILDING}/{ticket.building_id}/{ticket.category}/{gathered[0].id}"
    existing = by_key(session, key)
    if existing is not None:
        return Found(ticket, BUILDING, hot_spot=existing)
    return Found(ticket, BUILDING, key=key, tickets=tuple(gathered))


def _repeat(session: Session, seen: Seen, ticket: Ticket, repeat: timedelta) -> Found | None:
    if ticket.home_id is None:
        return None
    latest, _, still_open = _latest(session, seen, REPEAT, ticket.home_id, ticket.category)
    if latest is not None and still_open:
        return Found(ticket, REPEAT, hot_spot=latest)
    earlier = session.exec(
        select(Ticket)
        .where(
            Ticket.home_id == ticket.home_id,
            Ticket.category == ticket.category,
            col(Ticket.resolved_at) >= ticket.created_at - repeat,
            col(Ticket.resolved_at) <= ticket.created_at,
            Ticket.id != ticket.id,
        )
        .order_by(col(Ticket.resolved_at).desc())
        .limit(1)
    ).first()
    if earlier is None:
        return None
    key = f"{REPEAT}/{ticket.home_id}/{ticket.category}/{earlier.id}"
    existing = by_key(session, key)
    if existing is not None:
        return Found(ticket, REPEAT, hot_spot=existing)
    return Found(ticket, REPEAT, key=key, tickets=(earlier, ticket))


def link(session: Session, spot: HotSpot, tickets: list[Ticket], now: datetime) -> list[int]:
    """Gather tickets into a cluster (those already in one are left); returns the numbers added."""
    added = []
    assert spot.id is not None
    ids = [t.id for t in tickets if t.id is not None]
    taken = clustered(session, ids) if len(ids) > 1 else set()  # a single one was checked by the caller
    for ticket in tickets:
        assert ticket.id is not None
        if ticket.id in taken:
            continue
        session.add(HotSpotTicket(hot_spot_id=spot.id, ticket_id=ticket.id, joined_at=now))
        spot.size += 1
        spot.last_at = max(spot.last_at, ticket.created_at)
        added.append(ticket.id)
    session.flush()
    return added


def moved(watch: HotSpotWatch, ticket: Ticket) -> None:
    """The watermark passes a ticket looked at (it never moves back)."""
    if watch.seen_at is None or ticket.created_at > watch.seen_at:
        watch.seen_at = ticket.created_at
        watch.seen_id = ticket.id or 0


# --- reading ---------------------------------------------------------------------------------------


def tickets_of(session: Session, hot_spot_id: int) -> list[Ticket]:
    """The residents' tickets a cluster gathers, in filing order."""
    return list(
        session.exec(
            select(Ticket)
            .join(HotSpotTicket, col(HotSpotTicket.ticket_id) == Ticket.id)
            .where(HotSpotTicket.hot_spot_id == hot_spot_id)
            .order_by(col(Ticket.created_at), col(Ticket.id))
        ).all()
    )


def opened_between(session: Session, compound_ids: list[int], start: datetime, end: datetime) -> int:
    """How many clusters were opened in [start, end) in these compounds."""
    if not compound_ids:
        return 0
    found = session.exec(
        select(func.count())
        .select_from(HotSpot)
        .where(
            col(HotSpot.compound_id).in_(compound_ids),
            col(HotSpot.opened_at) >= start,
            col(HotSpot.opened_at) < end,
        )
    ).one()
    return int(found)


def members_of(session: Session, hot_spot_ids: list[int]) -> dict[int, list[Ticket]]:
    """The tickets each of these clusters gathers, in filing order (one query)."""
    found: dict[int, list[Ticket]] = {i: [] for i in hot_spot_ids}
    if not hot_spot_ids:
        return found
    rows = session.exec(
        select(HotSpotTicket.hot_spot_id, Ticket)
        .join(Ticket, col(Ticket.id) == HotSpotTicket.ticket_id)
        .where(col(HotSpotTicket.hot_spot_id).in_(hot_spot_ids))
        .order_by(col(Ticket.created_at), col(Ticket.id))
    ).all()
    for spot_id, ticket in rows:
        found[spot_id].append(ticket)
    return found
