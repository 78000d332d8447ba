"""One sweep's cost against the size of the ticket table: it must follow the due tickets and the tickets
filed since the last sweep, not all tickets.

For each backend (SQLite in a temporary directory; PostgreSQL at 127.0.0.1:5432 when it answers, in a
temporary database created and dropped here) and each size, the script migrates a fresh database, loads
the demo organisation, bulk-fills the ticket table (SQLite: the driver's executemany; PostgreSQL: COPY)
with `size` tickets of which `--due` are past the 50 % point of their accept clock and scattered through
the table, and the rest closed or due later. It then times one `bot.sweep_job.sweep` (median of `--repeat`
runs, the due tickets reset between runs), checks it touched exactly the due tickets, measures its peak
Python memory with tracemalloc, and prints the claim query's plan line that shows ix_ticket_next_due.

Run from the repository root:
`.venv/bin/python bench/sweep.py [--sizes 10000 1000000] [--due 1000] [--new 200]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, event, insert, text  # noqa: E402
from sqlmodel import select  # noqa: E402

from bench.scratch import database, load_tickets, pg_reason  # noqa: E402
from bot.demo import load_demo  # noqa: E402
from bot.sweep_job import sweep  # noqa: E402
from db import org  # noqa: E402
from db.cases import places  # noqa: E402
from db.engine import make_engine, session_factory  # noqa: E402
from db.models import Grid, Person, Ticket  # noqa: E402
from db.sla import load_policy  # noqa: E402

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: no quiet hours
HOME = "铁西区/北沟街道/英雄社区/阳光花园/1栋/1单元/101"
COMPOUND = "铁西区/北沟街道/英雄社区/阳光花园"
# Where and what the tickets filed since the last sweep are about: every building × category is a hot spot.
NEW_HOMES = [
    f"{COMPOUND}/{b}栋/{e}单元/{n}" for b in (1, 2, 3) for e in (1, 2) for n in ("101", "201", "301")
]
NEW_CATEGORIES = ("elevator", "water", "sanitation", "noise")
WATERMARK = NOW - timedelta(minutes=2)  # where the previous sweep's detection stopped
COLUMNS = [c.name for c in Ticket.__table__.columns if c.name != "id"]  # type: ignore[attr-defined]


@dataclass
class Result:
    """What one backend × size measured."""

    backend: str
    size: int
    fill_seconds: float
    sweep_seconds: float
    runs: list[float]
    peak_bytes: int
    plan: str
    detect_plans: list[str]
    hot_spots: tuple[int, int]


def prepare_org(engine: Engine) -> dict[str, Any]:
    """Demo org, a resident and the first grid's worker; returns the ids every ticket row shares."""
    sessions = session_factory(engine)
    with sessions() as session:
        load_demo(session, NOW)
        home = org.find_home(session, HOME)
        assert home is not None
        reporter = Person(name="住户", phone="13800001234", created_at=NOW)
        worker = Person(name="网格员", phone="13900005678", created_at=NOW)
        session.add_all([reporter, worker])
        session.flush()
        grid_id, _ = places.grid_worker_for(session, home.building_id)
        grid = session.get(Grid, grid_id)
        assert grid is not None
        grid.worker_id = worker.id
        ticket = Ticket(
            category="sanitation", sla_class="general", reporter_id=0, compound_id=home.compound_id
        )
        community = places.level_node(session, ticket, "community")
        homes = [org.find_home(session, path) for path in NEW_HOMES]
        session.commit()
        return {
            "reporter_id": reporter.id,
            "holder_id": worker.id,
            "home_id": home.id,
            "building_id": home.building_id,
            "compound_id": home.compound_id,
            "grid_id": grid_id,
            "holder_node_id": community,
            "_homes": [(h.id, h.building_id) for h in homes if h is not None],
        }


def ticket_kinds(size: int, due: int) -> Iterator[tuple[str, int]]:
    """The kind of each of `size` rows: every (size // due)-th one is due, the rest closed or due later."""
    every = max(1, size // due)
    for n in range(size):
        if n % every == 0 and n // every < due:
            yield ("due", 0)
        elif n % 5:
            yield ("closed", n % 300)
        else:
            yield ("open", n % 600)


def ticket_row(kind: str, k: int, ids: dict[str, Any]) -> dict[str, Any]:
    """One minimal valid ticket of a kind (k varies its times), every column given."""
    row: dict[str, Any] = {name: None for name in COLUMNS}
    row.update(
        {k: v for k, v in ids.items() if not k.startswith("_")},
        category="sanitation",
        sla_class="general",
        urgent=False,
        description="楼道垃圾",
        location_text="",
        weight=1,
        share_contact=False,
        level="grid",
        clock_stage="",
        reminders_sent=0,
        paused_state="",
        rating="",
        rating_comment="",
        closure_kind="",
        transfer_reason="",
        reopen_count=0,
    )
    if kind == "due":  # the 50 % point of a 24 h accept clock passed an hour ago
        started = NOW - timedelta(hours=13)
        row.update(
            state="assigned",
            created_at=started,
            updated_at=started,
            accept_due_at=started + timedelta(days=1),
            resolve_due_at=started + timedelta(days=7),
            clock_stage="accept",
            clock_started_at=started,
            clock_due_at=started + timedelta(days=1),
            next_due_at=NOW - timedelta(hours=1),
        )
    elif kind == "closed":  # closed long ago: no step will ever be due
        created = NOW - timedelta(days=30 + k)
        row.update(
            state="closed",
            created_at=created,
            updated_at=created + timedelta(days=2),
            accepted_at=created + timedelta(hours=2),
            resolved_at=created + timedelta(days=1),
            closed_at=created + timedelta(days=2),
            closure_kind="fixed",
            rating="satisfied",
        )
    else:  # open, its next reminder still ahead, filed before the last sweep's watermark
        started = WATERMARK - timedelta(minutes=60 + k)
        row.update(
            state="accepted",
            created_at=started,
            updated_at=started,
            accepted_at=started,
            accept_due_at=started + timedelta(days=1),
            resolve_due_at=started + timedelta(days=7),
            clock_stage="resolve",
            clock_started_at=started,
            clock_due_at=started + timedelta(days=7),
            next_due_at=started + timedelta(days=3, hours=12),
        )
    return row


def fill(engine: Engine, size: int, due: int, ids: dict[str, Any]) -> None:
    """Bulk-insert the tickets (a few hundred shapes, each converted once) through the driver."""
    load_tickets(engine, COLUMNS, ticket_kinds(size, due), lambda key: ticket_row(*key, ids))


def reset_due(engine: Engine, due_ids: list[int]) -> None:
    """Put the due tickets back as they were before a sweep and empty the outbox."""
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE ticket SET next_due_at = :due, reminders_sent = 0 WHERE id = :id"),
            [{"due": NOW - timedelta(hours=1), "id": i} for i in due_ids],
        )
        conn.execute(text("DELETE FROM outbox"))


def file_new(engine: Engine, new: int, ids: dict[str, Any]) -> tuple[list[int], tuple[int, int]]:
    """File `new` tickets since the watermark, over the demo's buildings and four categories, and set the
    watermark; returns their numbers and the hot spots (opened, joined) detection must find."""
    homes = ids["_homes"]
    rows = []
    seen: dict[tuple[int, str], int] = {}
    for n in range(new):
        home_id, building_id = homes[n % len(homes)]
        category = NEW_CATEGORIES[(n // len(homes)) % len(NEW_CATEGORIES)]
        row = ticket_row("open", 0, ids)
        filed = WATERMARK + timedelta(seconds=60 * (n + 1) / new)
        row.update(
            category=category,
            home_id=home_id,
            building_id=building_id,
            created_at=filed,
            updated_at=filed,
            accepted_at=filed,
            clock_started_at=filed,
            next_due_at=filed + timedelta(days=3, hours=12),
        )
        rows.append(row)
        seen[(building_id, category)] = seen.get((building_id, category), 0) + 1
    # The filler's building and category already hold tickets in the window: its first new one opens a
    # hot spot; elsewhere the third does. Every later one joins.
    opened = sum(
        1 for (b, c), n in seen.items() if n >= (1 if (b, c) == (ids["building_id"], "sanitation") else 3)
    )
    joined = sum(
        n - (1 if (b, c) == (ids["building_id"], "sanitation") else 3) for (b, c), n in seen.items() if n >= 3
    )
    table = Ticket.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(insert(table), rows)
        conn.execute(text("UPDATE hot_spot_watch SET seen_at = :at, seen_id = 0"), {"at": WATERMARK})
        found = conn.execute(
            text("SELECT id FROM ticket WHERE created_at > :at ORDER BY id"), {"at": WATERMARK}
        ).scalars()
        numbers = list(found)
    return numbers, (opened, joined)


def reset_hot_spots(engine: Engine, last_id: int) -> None:
    """Forget the hot spots and proactive tickets a sweep opened, and put the watermark back."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM hot_spot_ticket"))
        conn.execute(text("DELETE FROM hot_spot"))
        conn.execute(text("DELETE FROM ticket_event WHERE ticket_id > :id"), {"id": last_id})
        conn.execute(text("DELETE FROM ticket WHERE id > :id"), {"id": last_id})
        conn.execute(text("UPDATE hot_spot_watch SET seen_at = :at, seen_id = 0"), {"at": WATERMARK})


def detect_statements(engine: Engine, run: Any) -> list[tuple[str, Any]]:
    """Run `run()` and return detection's reads of the ticket table (one of each shape)."""
    seen: dict[str, tuple[str, Any]] = {}

    def capture(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        reads = statement.lstrip().upper().startswith("SELECT") and "FROM ticket" in statement
        if reads and "next_due_at <=" not in statement and "ticket.id = " not in statement:
            seen.setdefault(statement, (statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return list(seen.values())


def claim_statement(engine: Engine, run: Any) -> tuple[str, Any]:
    """Run `run()` and return the SQL and parameters of the sweep's claim query as sent to the driver."""
    seen: list[tuple[str, Any]] = []

    def capture(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        if "FROM ticket" in statement and "next_due_at <=" in statement and "ORDER BY" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    if not seen:
        raise SystemExit("the claim query was not seen")
    return seen[0]


def plan_line(engine: Engine, statement: str, parameters: Any, index: str = "ix_ticket_next_due") -> str:
    """The plan line of a query that names an index (the claim query's: the one on next_due_at)."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "sqlite":
            cur.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            lines = [str(r[-1]) for r in cur.fetchall()]
        else:
            cur.execute("EXPLAIN " + statement, parameters)
            lines = [str(r[0]) for r in cur.fetchall()]
        raw.rollback()
    finally:
        raw.close()
    hits = [line.strip() for line in lines if index in line]
    return hits[0] if hits else "INDEX NOT USED: " + " | ".join(lines)


def measure(backend: str, size: int, due: int, new: int, repeat: int) -> Result:
    """Fill one database of `size` tickets, file `new` since the last sweep, and time one sweep of its
    `due` due tickets with hot-spot detection over the new ones."""
    with database(backend) as url:
        engine = make_engine(url)
        try:
            policy = load_policy(ROOT / "data" / "sla_policy.yaml", ZoneInfo("Asia/Shanghai"))
            ids = prepare_org(engine)
            started = time.perf_counter()
            fill(engine, size, due, ids)
            fill_seconds = time.perf_counter() - started
            new_ids, expected = file_new(engine, new, ids)
            last_id = max(new_ids)
            sessions = session_factory(engine)
            with sessions() as session:
                due_ids = list(
                    session.exec(select(Ticket.id).where(Ticket.next_due_at <= NOW)).all()  # type: ignore[operator]
                )
            assert len(due_ids) == due, (len(due_ids), due)
            opened, joined = expected

            def one_sweep() -> float:
                begin = time.perf_counter()
                done = sweep(sessions, NOW, policy)
                seconds = time.perf_counter() - begin
                if done != Counter(reminder_50=due):
                    raise SystemExit(f"the sweep did {dict(done)}, expected {due} reminders")
                with engine.connect() as conn:
                    count, gathered = conn.execute(text("SELECT count(*), sum(size) FROM hot_spot")).one()
                if (count, gathered) != (opened, 3 * opened + joined):
                    raise SystemExit(f"hot spots {count} gathering {gathered}, expected {expected}")
                return seconds

            runs: list[float] = []
            statement, parameters = claim_statement(engine, lambda: runs.append(one_sweep()))
            reset_due(engine, due_ids)
            reset_hot_spots(engine, last_id)
            detecting = detect_statements(engine, lambda: runs.append(one_sweep()))
            for _ in range(repeat - 2):
                reset_due(engine, due_ids)
                reset_hot_spots(engine, last_id)
                runs.append(one_sweep())
            reset_due(engine, due_ids)
            reset_hot_spots(engine, last_id)
            tracemalloc.start()
            try:
                sweep(sessions, NOW, policy)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            plan = plan_line(engine, statement, parameters)
            detect_plans = []
            for index in ("ix_ticket_created", "ix_ticket_cluster", "ix_ticket_repeat"):
                lines = [plan_line(engine, st, params, index) for st, params in detecting]
                detect_plans.append(next((p for p in lines if index in p and "NOT USED" not in p), lines[0]))
        finally:
            engine.dispose()
    return Result(
        backend, size, fill_seconds, statistics.median(runs), runs, peak, plan, detect_plans, expected
    )


def main() -> None:
    """Parse arguments, run every backend × size, print the figures and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--new", type=int, default=200, help="tickets filed since the last sweep")
    parser.add_argument("--repeat", type=int, default=5, help="sweeps per size (at least 2)")
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
        for size in args.sizes:
            result = measure(backend, size, args.due, args.new, max(2, args.repeat))
            results.append(result)
            runs = ", ".join(f"{r * 1000:.0f}" for r in result.runs)
            print(
                f"{backend:8} {size:>9,} tickets ({args.due} due, {args.new} new → hot spots opened"
                f" {result.hot_spots[0]}, joined {result.hot_spots[1]}): fill {result.fill_seconds:6.1f} s · "
                f"sweep {result.sweep_seconds * 1000:7.1f} ms (runs {runs})"
                f" · peak {result.peak_bytes / 1e6:5.1f} MB",
                flush=True,
            )
            print(f"{'':8} plan: {result.plan}", flush=True)
            for line in result.detect_plans:
                print(f"{'':8} hot spots: {line}", flush=True)
    for backend in backends:
        mine = sorted((r for r in results if r.backend == backend), key=lambda r: r.size)
        if len(mine) >= 2:
            small, large = mine[0], mine[-1]
            ratio = large.sweep_seconds / small.sweep_seconds
            verdict = "ok" if ratio <= 2 else "OVER TARGET"
            print(
                f"{backend}: sweep {large.size:,} / {small.size:,} tickets = {ratio:.2f}"
                f" (target ≤ 2: {verdict})"
            )


if __name__ == "__main__":
    main()
