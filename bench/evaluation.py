"""Scoring property companies against the number of ticket records: it must be linear and fast.

Two measurements, each at 100 000 and 1 000 000 ticket records over 200 companies (one compound each):

1. The pure score (`db.evaluation.score`) over plain `TicketRecord`s: every company gets size / 200
   records drawn with a fixed seed from every combination of category (answered for or not), accepted /
   resolved in time (or not yet due), rating and the overdue, escalated, reopened and repeat flags, plus
   40 survey answers and a few good and bad records. Timed: scoring all 200 companies (best of --runs).
   Baseline in the same run: one pass over the same lists reading one attribute of each record, the least
   any per-ticket computation must do; its own 1M/100k ratio shows the machine's share of the growth.
   Verdicts: 1M under 2 s, and the 1M/100k ratio ≤ 12.
2. Gather + score over a scratch SQLite database (and PostgreSQL at 127.0.0.1:5432 when it answers, unless
   --no-postgres): the org of 200 compounds, 200 companies serving them, `size` tickets bulk-loaded
   through the driver (1 % escalated), then `db.evaluation.gather.rank` for 2026H2 (SQL counts per
   compound on the (compound_id, created_at) index, the records and the survey, and the score). Printed
   with its 1M/100k ratio; skipped with --no-db.

Run from the repository root: `.venv/bin/python bench/evaluation.py [--sizes 100000 1000000] [--no-db]`.
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine  # noqa: E402
from sqlmodel import select  # noqa: E402

from bench.scratch import database, load_tickets, pg_reason  # noqa: E402
from db import companies, org  # noqa: E402
from db.engine import make_engine, session_factory  # noqa: E402
from db.evaluation import RecordEntry, Records, SurveyResponse, TicketRecord, default_policy, score  # noqa: E402
from db.evaluation.gather import rank  # noqa: E402
from db.models import Home, Person, Ticket  # noqa: E402

COMPANIES = 200
NOW = datetime(2026, 12, 20, 2, 0, tzinfo=UTC)
HALF = "2026H2"
TARGET_S = 2.0
TARGET_RATIO = 12
CATEGORIES = ("water", "elevator", "facility", "sanitation", "parking", "fees", "service", "gas", "noise")
COLUMNS = [c.name for c in Ticket.__table__.columns if c.name != "id"]  # type: ignore[attr-defined]
ESCALATIONS = (  # one ticket in a hundred climbed the ladder
    "INSERT INTO ticket_event (ticket_id, at, actor_role, kind, note)"
    " SELECT id, created_at, 'system', 'escalated', 'grid>community' FROM ticket WHERE id % 100 = 0"
)


def best_of(runs: int, run: Callable[[], object]) -> float:
    """The fastest of `runs` timings of `run`, in seconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


# --- 1. the pure score -----------------------------------------------------------------------------------


def kinds() -> list[TicketRecord]:
    """Every distinct ticket record the score can meet (the records are drawn from these)."""
    return [
        TicketRecord(c, a, r, rating, overdue, escalated, reopened, repeat)
        for c, a, r, rating, overdue, escalated, reopened, repeat in itertools.product(
            CATEGORIES,
            (None, True, False),
            (None, True, False),
            ("", "satisfied", "basically", "dissatisfied"),
            (False, True),
            (False, True),
            (False, True),
            (False, True),
        )
    ]


def companies_records(size: int, rng: random.Random) -> list[Records]:
    """200 companies' records: size / 200 tickets each, 40 survey answers, a few good and bad records."""
    pool = kinds()
    per = size // COMPANIES
    made = []
    for _ in range(COMPANIES):
        tickets = rng.choices(pool, k=per)
        survey = tuple(SurveyResponse(tuple(rng.randint(1, 5) for _ in range(6))) for _ in range(40))
        entries = tuple(
            RecordEntry(
                rng.choice(("good", "bad")), rng.randint(1, 10), rng.choice(("", "pending", "upheld"))
            )
            for _ in range(rng.randint(0, 4))
        )
        made.append(Records(tickets=tickets, survey=survey, entries=entries))
    return made


def pure(sizes: Sequence[int], runs: int) -> None:
    """Time the pure score of 200 companies at each size against the one-attribute baseline."""
    policy = default_policy()
    rng = random.Random(85)
    timed: dict[int, tuple[float, float]] = {}
    for size in sizes:
        inputs = companies_records(size, rng)
        results: list[Any] = []

        def scored(inputs: list[Records] = inputs, results: list[Any] = results) -> None:
            results[:] = [score(r, policy) for r in inputs]

        def baseline(inputs: list[Records] = inputs) -> None:
            for r in inputs:
                sum(1 for t in r.tickets if t.rating)  # type: ignore[attr-defined]

        took = best_of(runs, scored)
        base = best_of(runs, baseline)
        timed[size] = (took, base)
        counted = sum(r.cases.tickets for r in results)
        grades = sorted({r.grade for r in results})
        print(
            f"pure     {size:>9,} ticket records, {COMPANIES} companies: score {took * 1000:8.1f} ms"
            f" · baseline {base * 1000:7.1f} ms · {counted:,} in answered categories · grades {grades}",
            flush=True,
        )
    ratios(timed, "pure score", absolute=True)


def ratios(timed: dict[int, tuple[float, float]], label: str, absolute: bool) -> None:
    """Print the largest/smallest ratio of the timings and of the baseline, with the verdicts."""
    if len(timed) < 2:
        return
    small, large = min(timed), max(timed)
    ratio = timed[large][0] / timed[small][0]
    base = timed[large][1] / timed[small][1] if timed[small][1] else float("nan")
    verdict = "ok" if ratio <= TARGET_RATIO else "OVER TARGET"
    print(
        f"{label}: {large:,} / {small:,} = {ratio:.2f} (target ≤ {TARGET_RATIO}: {verdict}); "
        f"baseline ratio {base:.2f}"
    )
    if absolute:
        fast = "ok" if timed[large][0] < TARGET_S else "OVER TARGET"
        print(f"{label}: {large:,} records in {timed[large][0]:.3f} s (target < {TARGET_S} s: {fast})")


# --- 2. gather + score over a database -------------------------------------------------------------------


def prepare_org(engine: Engine) -> list[tuple[int, int, int]]:
    """200 compounds of 5 homes under one street, a company serving each; (compound, home, reporter)."""
    rows = "district,street,community,compound,building,entrance,home,area\n"
    for n in range(COMPANIES):
        for h in range(5):
            rows += f"铁西区,北沟街道,社区{n // 20},小区{n:03d},1栋,1单元,{101 + h},80\n"
    sessions = session_factory(engine)
    made = []
    with sessions() as session:
        homes, grids = org.parse_csv(rows)
        org.load_rows(session, homes, grids, NOW)
        reporter = Person(name="住户", created_at=NOW)
        session.add(reporter)
        session.flush()
        assert reporter.id is not None
        for n in range(COMPANIES):
            compound = org.find_node(session, f"铁西区/北沟街道/社区{n // 20}/小区{n:03d}")
            assert compound is not None and compound.id is not None
            company = companies.ensure(session, f"物业{n:03d}", NOW)
            assert company.id is not None
            companies.sign(session, company.id, compound.id, date(2026, 1, 1), None)
            home = session.exec(select(Home).where(Home.compound_id == compound.id)).first()
            assert home is not None and home.id is not None
            made.append((compound.id, home.id, reporter.id))
        session.commit()
    return made


SHAPES = 360  # rows come in this many shapes per compound (every pattern below repeats within it)


def ticket_row(n: int, compound: tuple[int, int, int]) -> dict[str, Any]:
    """One valid ticket of 2026H2, its outcome varied by n (mod SHAPES)."""
    compound_id, home_id, reporter = compound
    created = datetime(2026, 7, 1, tzinfo=UTC) + timedelta(hours=n * 11 % 4000)
    row: dict[str, Any] = {name: None for name in COLUMNS}
    kind = n % 10
    waiting = n % SHAPES == SHAPES - 1  # one ticket in 360 waits for the resident now (its clock paused)
    row.update(
        category=CATEGORIES[n % len(CATEGORIES)],
        sla_class="general",
        urgent=False,
        state="closed" if kind < 7 else ("waiting_for_resident" if waiting else "accepted"),
        reporter_id=reporter,
        home_id=home_id + n % 5,
        compound_id=compound_id,
        description="",
        location_text="",
        weight=1,
        share_contact=False,
        created_at=created,
        updated_at=created,
        level="grid",
        accept_due_at=created + timedelta(hours=1),
        resolve_due_at=created + timedelta(days=7),
        accepted_at=created + timedelta(minutes=30 if kind % 3 else 90),
        resolved_at=created + timedelta(days=2 if kind % 4 else 9) if kind < 7 else None,
        closed_at=created + timedelta(days=10) if kind < 7 else None,
        clock_stage="",
        reminders_sent=0,
        paused_at=created + timedelta(days=1) if waiting else None,
        paused_state="accepted" if waiting else "",
        rating=("satisfied", "basically", "dissatisfied", "")[n % 4] if kind < 7 else "",
        rating_comment="",
        closure_kind="fixed" if kind < 7 else "",
        transfer_reason="",
        reopen_count=1 if n % 24 == 0 else 0,
    )
    return row


def fill(engine: Engine, size: int, compounds: list[tuple[int, int, int]]) -> None:
    """Bulk-insert `size` tickets spread over the compounds, 1 % with an escalation on their timeline."""
    per = size // len(compounds)
    keys = ((n // per, n % SHAPES) for n in range(per * len(compounds)))
    load_tickets(
        engine, COLUMNS, keys, lambda key: ticket_row(key[1], compounds[key[0]]), after=[ESCALATIONS]
    )


def gathered(backend: str, sizes: Sequence[int], runs: int) -> None:
    """Time rank() over a scratch database of each size."""
    policy = default_policy()
    timed: dict[int, tuple[float, float]] = {}
    for size in sizes:
        with database(backend) as url:
            engine = make_engine(url)
            try:
                compounds = prepare_org(engine)
                started = time.perf_counter()
                fill(engine, size, compounds)
                filled = time.perf_counter() - started
                sessions = session_factory(engine)
                found: list[Any] = []

                def once(sessions: Any = sessions, found: list[Any] = found) -> None:
                    with sessions() as session:
                        found[:] = rank(session, HALF, "", policy, NOW)

                took = best_of(runs, once)
            finally:
                engine.dispose()
        timed[size] = (took, 0.0)
        tickets = sum(e.evaluation.cases.tickets for e in found)
        print(
            f"{backend:8} {size:>9,} tickets, {len(found)} companies: fill {filled:6.1f} s · "
            f"gather + score {took * 1000:8.1f} ms · {tickets:,} counted",
            flush=True,
        )
    if len(timed) >= 2:
        small, large = min(timed), max(timed)
        ratio = timed[large][0] / timed[small][0]
        verdict = "ok" if ratio <= TARGET_RATIO else "OVER TARGET"
        print(
            f"{backend} gather + score: {large:,} / {small:,} = {ratio:.2f}"
            f" (target ≤ {TARGET_RATIO}: {verdict})"
        )


def main() -> None:
    """Parse arguments, run the pure score and the database measurements, print figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-db", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    pure(args.sizes, args.runs)
    if args.no_db:
        return
    gathered("sqlite", args.sizes, args.runs)
    if not args.no_postgres:
        reason = pg_reason()
        if reason is None:
            gathered("postgres", args.sizes, args.runs)
        else:
            print(f"PostgreSQL skipped: {reason}")


if __name__ == "__main__":
    main()
