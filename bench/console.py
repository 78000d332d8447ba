"""The console's 工单 list and 工作台 counts against the size of the ticket table: one community's staff
must pay for their community's tickets, not for everyone's.

For each backend (SQLite in a temporary directory; PostgreSQL at 127.0.0.1:5432 when it answers, in a
temporary database created and dropped here) and each size, the script migrates a fresh database, loads
the demo organisation and adds 99 other communities (one compound each), then bulk-fills the ticket table
(SQLite: the driver's executemany; PostgreSQL: COPY): `--community` tickets (default 10 000) in 英雄社区,
spread over a year, most closed, some open with clocks running out around now; at the larger size the
rest (990 000 by default) are spread evenly over the other communities. It then times, for the community
staff of 英雄社区 (p50 and p95 of `--repeat` runs each; the sizes' runs take turns, so that whatever else
the machine is doing weighs on every size alike):

- the 工单 list's first page with three filters (state open, a category, a compound), its capped count and
  the filter form's choices (the page's queries; rendering the HTML is not timed);
- the 工作台: the five queue counts and today's deadlines.

It prints the times per size and the ratio of the largest size to the smallest (target ≤ 2), and whether
the list's p95 stays under 150 ms. Times are this machine's, printed, never asserted.

Run from the repository root: `.venv/bin/python bench/console.py [--sizes 10000 1000000] [--repeat 30]`
(`--sizes 10000 100000` tries it quickly).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from bench.scratch import database, load_tickets, pg_reason  # noqa: E402
from bot.demo import load_demo  # noqa: E402
from core.permissions import Actor, Grant, Role  # noqa: E402
from db import org  # noqa: E402
from db import ticket_choices as choices  # noqa: E402
from db import ticket_search as search  # noqa: E402
from db.engine import make_engine, session_factory  # noqa: E402
from db.models import OrgNode, Person, Ticket  # noqa: E402

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
ZONE = ZoneInfo("Asia/Shanghai")
COMMUNITY = "铁西区/北沟街道/英雄社区"
COMPOUND = f"{COMMUNITY}/阳光花园"
COLUMNS = [c.name for c in Ticket.__table__.columns if c.name != "id"]  # type: ignore[attr-defined]
CATEGORIES = (
    "water", "power", "heating", "elevator", "facility", "sanitation", "parking", "noise",
    "fees", "service", "other", "gas", "fire", "electric", "falling",
)  # fmt: skip
OPEN = ("new", "assigned", "accepted", "waiting_for_resident", "reopened")
OTHERS = 99
SHAPES = 5000  # distinct row shapes, reused with each place's ids


@dataclass
class Place:
    """Where tickets are filed: a compound and one of its buildings, in a community."""

    community_id: int
    compound_id: int
    building_id: int


@dataclass
class Result:
    """What one backend × size measured, in seconds."""

    backend: str
    size: int
    fill_seconds: float
    list_runs: list[float]
    home_runs: list[float]
    shown: int
    counts: dict[str, int]


def p(runs: list[float], q: float) -> float:
    """The q-quantile of the runs (nearest rank)."""
    ordered = sorted(runs)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _node(session: Session, kind: str, name: str, parent: OrgNode) -> OrgNode:
    node = OrgNode(kind=kind, name=name, parent_id=parent.id)
    session.add(node)
    session.flush()
    node.path = f"{parent.path}{node.id}/"
    return node


def prepare_org(engine: Engine) -> tuple[list[Place], list[Place], int, Actor]:
    """The demo org plus 99 communities of one compound and building; returns the places of 英雄社区, those
    of the others, a reporter's id, and the community staff of 英雄社区 as an actor."""
    with session_factory(engine)() as session:
        load_demo(session, NOW)
        community = org.find_node(session, COMMUNITY)
        street = org.find_node(session, "铁西区/北沟街道")
        assert community is not None and street is not None and community.id is not None
        mine = []
        for compound_path in (COMPOUND, f"{COMMUNITY}/和平里小区"):
            compound = org.find_node(session, compound_path)
            assert compound is not None and compound.id is not None
            for building in session.exec(select(OrgNode).where(OrgNode.parent_id == compound.id)).all():
                mine.append(Place(community.id, compound.id, building.id or 0))
        others = []
        for n in range(OTHERS):
            other = _node(session, "community", f"社区{n:02d}", street)
            compound = _node(session, "compound", f"小区{n:02d}", other)
            building = _node(session, "building", "1栋", compound)
            others.append(Place(other.id or 0, compound.id or 0, building.id or 0))
        reporter = Person(name="住户", phone="13800001234", created_at=NOW)
        staff = Person(name="张主任", phone="13900005678", created_at=NOW)
        session.add_all([reporter, staff])
        session.commit()
        actor = Actor(staff.id, (Grant(Role.COMMUNITY_STAFF, community.id, community.path, "community"),))
        return mine, others, reporter.id or 0, actor


def shape(k: int, reporter_id: int) -> dict[str, Any]:
    """Ticket k of a community's year: created over the last 365 days; one in twelve still open, with its
    clock running out between three days ago and four days ahead; the rest closed and mostly rated."""
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    created = NOW - timedelta(minutes=(k * 7919) % (365 * 24 * 60))
    row.update(
        category=CATEGORIES[k % len(CATEGORIES)],
        sla_class="general",
        urgent=k % 50 == 0,
        reporter_id=reporter_id,
        description=f"楼道问题 {k}",
        location_text="",
        weight=1,
        share_contact=False,
        created_at=created,
        updated_at=created + timedelta(hours=3),
        level="grid",
        clock_stage="",
        reminders_sent=0,
        paused_state="",
        rating="",
        rating_comment="",
        closure_kind="",
        transfer_reason="",
        reopen_count=0,
        accept_due_at=created + timedelta(days=1),
        resolve_due_at=created + timedelta(days=7),
    )
    if k % 12 == 0:
        state = OPEN[(k // 12) % len(OPEN)]
        due = NOW + timedelta(minutes=(k * 37) % (7 * 24 * 60)) - timedelta(days=3)
        row.update(
            state=state,
            clock_stage="accept" if state in ("new", "assigned") else "resolve",
            clock_started_at=due - timedelta(days=1),
            clock_due_at=due,
            next_due_at=due,
            paused_at=NOW if state == "waiting_for_resident" else None,
            level="community" if k % 5 == 0 else "grid",
        )
        if state != "new":
            row["accepted_at"] = None if state == "assigned" else created + timedelta(hours=2)
    else:
        row.update(
            state="closed",
            accepted_at=created + timedelta(hours=2),
            resolved_at=created + timedelta(days=1),
            closed_at=created + timedelta(days=2),
            closure_kind="fixed",
            rating=("satisfied", "basically", "dissatisfied", "")[k % 4],
        )
    return row


def rows(
    places: list[Place], count: int, reporter_id: int, holder_ids: tuple[int | None, ...]
) -> Iterator[dict[str, Any]]:
    """`count` tickets spread over the places, each a shape with the place's ids."""
    shapes = [shape(k, reporter_id) for k in range(SHAPES)]
    for n in range(count):
        row = dict(shapes[n % SHAPES])
        place = places[n % len(places)]
        row.update(
            compound_id=place.compound_id,
            building_id=place.building_id,
            holder_node_id=place.community_id,
            holder_id=None if row["state"] in ("new", "closed") else holder_ids[n % len(holder_ids)],
        )
        yield row


def fill(engine: Engine, source: Iterator[dict[str, Any]]) -> None:
    """Bulk-insert the tickets, each row its own, through the driver."""
    load_tickets(engine, COLUMNS, source, lambda row: row, cache=False)


@dataclass
class Prepared:
    """One filled database and the two things timed on it."""

    size: int
    fill_seconds: float
    page: Callable[[], int]
    home: Callable[[], dict[str, int]]


def prepare(url: str, size: int, community: int) -> tuple[Prepared, Engine]:
    """Fill a database (`community` tickets in 英雄社区, the rest of `size` elsewhere) and make the two
    timed calls for its community staff: the list's first page with its count, and the home counts."""
    engine = make_engine(url)
    mine, others, reporter_id, actor = prepare_org(engine)
    holders = (actor.person_id,)

    def everything() -> Iterator[dict[str, Any]]:
        yield from rows(mine, min(size, community), reporter_id, holders)
        if size > community:
            yield from rows(others, size - community, reporter_id, holders)

    started = time.perf_counter()
    fill(engine, everything())
    fill_seconds = time.perf_counter() - started
    sessions = session_factory(engine)
    filters = search.parse(
        {"state": "open", "category": "water", "compound": str(mine[0].compound_id)}, CATEGORIES
    )

    def page() -> int:
        with sessions() as session:
            scope = search.scope_for(session, actor, NOW, ZONE)
            found = search.search(session, scope, filters, "newest", "", 50)
            search.count(session, scope, filters, 1000)
            ids = list(scope.compound_ids)  # and what the filter form and bulk actions offer
            for offer in (choices.nodes, choices.buildings, choices.grids, choices.holders, choices.workers):
                offer(session, ids)
            return len(found.lines)

    def home() -> dict[str, int]:
        with sessions() as session:
            scope = search.scope_for(session, actor, NOW, ZONE)
            counts = search.queue_counts(session, scope, 1000)
            counts["due_today"] = len(search.due_today(session, scope))
            return counts

    return Prepared(size, fill_seconds, page, home), engine


def measure(backend: str, sizes: list[int], community: int, repeat: int) -> list[Result]:
    """Fill one database per size, then time them in turns (one run of each per round), so that whatever
    else the machine does at the time weighs on every size alike."""
    with ExitStack() as stack:
        prepared: list[Prepared] = []
        for size in sizes:
            one, engine = prepare(stack.enter_context(database(backend)), size, community)
            stack.callback(engine.dispose)
            prepared.append(one)
            print(f"{backend:8} {size:>9,} tickets filled in {one.fill_seconds:.1f} s", flush=True)
        runs: dict[int, tuple[list[float], list[float]]] = {p.size: ([], []) for p in prepared}
        answers: dict[int, tuple[int, dict[str, int]]] = {p.size: (p.page(), p.home()) for p in prepared}
        for _ in range(repeat):
            for one in prepared:
                for spent, call in zip(runs[one.size], (one.page, one.home), strict=True):
                    begin = time.perf_counter()
                    call()
                    spent.append(time.perf_counter() - begin)
    return [Result(backend, p.size, p.fill_seconds, *runs[p.size], *answers[p.size]) for p in prepared]


def main() -> None:
    """Parse arguments, run every backend × size, print the figures and the ratios."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--community", type=int, default=10_000, help="tickets of the measured community")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    backends = ["sqlite"]
    reason = None if args.no_postgres else pg_reason()
    if not args.no_postgres and reason is None:
        backends.append("postgres")
    elif not args.no_postgres:
        print(f"PostgreSQL skipped: {reason}")
    results: list[Result] = []
    for backend in backends:
        for r in measure(backend, args.sizes, args.community, args.repeat):
            results.append(r)
            print(
                f"{backend:8} {r.size:>9,} tickets: "
                f"list p50 {statistics.median(r.list_runs) * 1000:6.1f} ms"
                f" p95 {p(r.list_runs, 0.95) * 1000:6.1f} ms"
                f" ({r.shown} rows) · home p50 {statistics.median(r.home_runs) * 1000:6.1f} ms"
                f" p95 {p(r.home_runs, 0.95) * 1000:6.1f} ms {r.counts}",
                flush=True,
            )
    for backend in backends:
        mine = sorted((r for r in results if r.backend == backend), key=lambda r: r.size)
        if len(mine) < 2:
            continue
        small, large = mine[0], mine[-1]
        for what, a, b in (
            ("list", small.list_runs, large.list_runs),
            ("home", small.home_runs, large.home_runs),
        ):
            ratio = statistics.median(b) / statistics.median(a)
            verdict = "ok" if ratio <= 2 else "OVER TARGET"
            print(
                f"{backend}: {what} p50 {large.size:,} / {small.size:,} tickets = {ratio:.2f}"
                f" (target ≤ 2: {verdict})"
            )
        worst = max(p(r.list_runs, 0.95) for r in mine)
        print(
            f"{backend}: list first page p95 at most {worst * 1000:.1f} ms (target < 150 ms: "
            f"{'ok' if worst < 0.150 else 'OVER TARGET'})"
        )


if __name__ == "__main__":
    main()
