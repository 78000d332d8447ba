"""Time `db.tally.tally` over 1 000, 10 000 and 100 000 ballots: it must be linear and fast.

Each size has an electorate of that many homes (areas 40–200 m² drawn with a fixed seed; about 5 % of
owners hold two or three homes; 2 % of homes are the developer's unsold stock, one owner). Every home
casts one ballot, in shuffled order: yes/no/abstain (60/25/15 %) on an ordinary matter, and, timed
separately, an election of 7 seats from 10 candidates approving 0–7 of them.

The headline is the tally over a prepared electorate (`prepare` runs once when a poll opens; the close
only counts). Also printed: the cost of `prepare` itself, the unprepared call (`tally` given the plain
list of homes, which prepares it anew), and a baseline measured in the same run: one dict lookup per
ballot (the hash join any tally needs), whose own 100k/10k ratio shows how much of the growth is the
machine's memory, not the algorithm. Each figure is the best of 5 runs. The verdicts: the prepared
100k/10k ratio (target <= 12) and whether 100k is under 0.2 s.

Section "compound": a whole poll over a real-size compound, through the database. A scratch database (a
SQLite file, and PostgreSQL when 127.0.0.1:5432 answers: a throwaway database dropped afterwards) gets a
compound of 20 000 homes (and one of 2 000), one verified owner per home and a co-owning spouse in one home
of ten. A non-secret decision poll is opened (the electorate frozen), every owner unit casts one ballot, half
on paper (one CSV batch through `core.paper.enter_file`, as `linli poll ballots` enters it) and half online
through `db.polls.ballots.vote` (one transaction per vote, as voters do), and the poll is closed (the box
reshuffled, counted, the result published). Each stage is the poll job's or the voters' work with its
events published to the outbox, timed once; also timed: the close of a secret poll over the same compound
whose 20 000 encrypted ballots were written in bulk. Printed: each stage against the 60 s budget and the
close's 20 000 / 2 000 ratio (target <= 12).

Run from the repository root: `.venv/bin/python bench/tally.py` (both sections), `--section pure` or
`--section compound`, `--no-postgres`.
"""

from __future__ import annotations

import argparse
import random
import secrets
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402
from sqlmodel import col, select  # noqa: E402

from bench.scratch import database, pg_reason  # noqa: E402
from core import notify, paper  # noqa: E402
from core import polls as use_cases  # noqa: E402
from core.permissions import VERIFIED  # noqa: E402
from core.work import Work  # noqa: E402
from db import org, people  # noqa: E402
from db.engine import make_engine, session_factory  # noqa: E402
from db.models import Home as HomeRow  # noqa: E402
from db.models import (  # noqa: E402
    OrgNode,
    Person,
    Poll,
    PollBallot,
    PollHome,
    PollTurnout,
    PollVoter,
    Residency,
    RoleGrant,
)
from db.polls import authoring, ballots  # noqa: E402
from db.sla import load_policy  # noqa: E402
from db.tally import CHOICES, DEVELOPER, Ballot, Home, prepare, tally  # noqa: E402

SIZES = (1_000, 10_000, 100_000)
CANDIDATES = tuple(f"c{i}" for i in range(10))
WEIGHTS = (60, 25, 15)
TARGET_S = 0.2
TARGET_RATIO = 12
RUNS = 5


def electorate(size: int, rng: random.Random) -> list[Home]:
    """`size` homes with random areas; some owners hold several homes; the developer holds 2 %."""
    homes = []
    owner = 0
    while len(homes) < size:
        owner += 1
        roll = rng.random()
        key = DEVELOPER if roll < 0.02 else f"o{owner}"
        held = 1 if roll < 0.95 else rng.choice((2, 3))
        for _ in range(min(held, size - len(homes))):
            homes.append(Home(f"h{len(homes)}", rng.randint(4_000, 20_000), key))
    return homes


def best_of(run: Callable[[], object]) -> float:
    """The fastest of RUNS timings of `run`, in seconds."""
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f} ms"


def pure() -> None:
    """Build the inputs with a fixed seed, time each size, print the figures."""
    rng = random.Random(278)
    figures: dict[str, dict[int, float]] = {
        name: {} for name in ("decision", "election", "prepare", "unprepared decision", "unprepared election")
    }
    baseline: dict[int, float] = {}
    for size in SIZES:
        homes = electorate(size, rng)
        voters = rng.sample(homes, len(homes))
        votes = [Ballot(h.home_id, rng.choices(CHOICES, WEIGHTS)[0]) for h in voters]
        picks = [Ballot(h.home_id, frozenset(rng.sample(CANDIDATES, rng.randint(0, 7)))) for h in voters]
        prepared = prepare(homes)
        runs: dict[str, Callable[[], object]] = {
            "decision": lambda e=prepared, v=votes: tally(e, v, matter=4),
            "election": lambda e=prepared, p=picks: tally(e, p, matter=3, candidates=CANDIDATES, seats=7),
            "prepare": lambda h=homes: prepare(h),
            "unprepared decision": lambda h=homes, v=votes: tally(h, v, matter=4),
            "unprepared election": lambda h=homes, p=picks: tally(
                h, p, matter=3, candidates=CANDIDATES, seats=7
            ),
        }
        for name, run in runs.items():
            figures[name][size] = best_of(run)
        areas = {h.home_id: h.area_centi_m2 for h in homes}
        baseline[size] = best_of(lambda a=areas, v=votes: [a[b.home_id] for b in v])
        result = tally(prepared, votes, matter=4)
        assert result == tally(homes, votes, matter=4)
        print(
            f"{size:>7} homes ({result.total_owners} owners), {len(votes):>6} ballots, "
            f"outcome {result.outcome}\n"
            f"  prepared electorate: decision {ms(figures['decision'][size])}, "
            f"election (10 candidates, 7 seats) {ms(figures['election'][size])}\n"
            f"  prepare(homes) once: {ms(figures['prepare'][size])}; "
            f"unprepared: decision {ms(figures['unprepared decision'][size])}, "
            f"election {ms(figures['unprepared election'][size])}\n"
            f"  baseline (one dict lookup per ballot): {ms(baseline[size])}"
        )
    big, mid = SIZES[-1], SIZES[-2]
    base_ratio = baseline[big] / baseline[mid]
    print(f"baseline: 100k/10k ratio {base_ratio:.2f}")
    for name, times in figures.items():
        ratio = times[big] / times[mid]
        line = f"{name}: 100k/10k ratio {ratio:.2f} ({ratio / base_ratio:.2f} x the baseline's)"
        if name in ("decision", "election"):  # the verdicts are on the prepared tally, what a close runs
            met = "ok" if ratio <= TARGET_RATIO else "NOT MET"
            verdict = "under" if times[big] < TARGET_S else "OVER"
            line += f" (target <= {TARGET_RATIO}, {met}); "
            line += f"100k {verdict} {TARGET_S} s ({times[big] * 1000:.1f} ms)"
        print(line)


# --- compound: open, ballots and close through the database ---------------------------------------------

COMPOUND_SIZES = (2_000, 20_000)
STAGE_BUDGET_S = 60.0  # the poll job runs each minute; a voter's ballots are spread over days, but still
CLOSE_RATIO = 12
HOMES_PER_ENTRANCE = 100  # 25 floors of 4
ENTRANCES = 5
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
OPENS = NOW + timedelta(days=16)
CLOSES = OPENS + timedelta(days=7)
PAPER_AT = "2026-12-18 09:30"  # Beijing time: after the opening, before the entry (10:00)
KEY = b"bench-ballot-key-0123456789abcdef"
NAMES = ("building", "entrance", "number", "choice", "method", "collector", "collected_at")


def home_rows(size: int) -> str:
    """The compound as the flat org CSV: buildings of 5 entrances of 100 homes, areas 40–200 m²."""
    rng = random.Random(size)
    lines = ["district,street,community,compound,building,entrance,home,area"]
    for n in range(size):
        entrance, number = divmod(n, HOMES_PER_ENTRANCE)
        building, entrance = divmod(entrance, ENTRANCES)
        floor, door = divmod(number, 4)
        area = f"{rng.randint(4_000, 20_000) / 100:.2f}"
        place = f"{building + 1}栋,{entrance + 1}单元,{floor + 1}{door + 1:02d}"
        lines.append(f"铁西区,北沟街道,英雄社区,大型小区,{place},{area}")
    return "\n".join(lines) + "\n"


def build(url: str, size: int) -> dict[str, Any]:
    """Load the compound, its owners (bulk), a community staff member who enters paper ballots, and an
    announced poll of each kind; returns the ids the stages need."""
    engine = make_engine(url)
    sessions = session_factory(engine)
    policy = load_policy(ROOT / "data" / "sla_policy.yaml", ZoneInfo("Asia/Shanghai"))
    with sessions() as session:
        homes, grids = org.parse_csv(home_rows(size))
        org.load_rows(session, homes, grids, NOW)
        compound = org.find_node(session, "铁西区/北沟街道/英雄社区/大型小区")
        community = org.find_node(session, "铁西区/北沟街道/英雄社区")
        assert compound is not None and compound.id is not None and community is not None
        found = session.exec(
            select(HomeRow.id, OrgNode.name, HomeRow.number)
            .join(OrgNode, col(OrgNode.id) == HomeRow.entrance_id)
            .where(HomeRow.compound_id == compound.id)
            .order_by(col(HomeRow.id))
        ).all()
        buildings = {n.id: n.name for n in session.exec(select(OrgNode).where(OrgNode.kind == "building"))}
        labels = dict(
            session.exec(
                select(HomeRow.id, HomeRow.building_id).where(HomeRow.compound_id == compound.id)
            ).all()
        )
        connection = session.connection()
        people = [{"name": f"业主{n}", "created_at": NOW} for n in range(len(found) + len(found) // 10 + 1)]
        connection.execute(insert(Person), people)
        first = session.exec(select(Person.id).order_by(Person.id)).first()  # type: ignore[arg-type]
        assert first is not None
        staff = first + len(people) - 1
        residencies = []
        owner_of: dict[int, int] = {}
        for n, (home_id, _, _) in enumerate(found):
            owner_of[home_id] = first + n
            residencies.append((first + n, home_id))
            if n % 10 == 0:  # a spouse co-owns one home in ten: one unit, two voters
                residencies.append((first + len(found) + n // 10, home_id))
        connection.execute(
            insert(Residency),
            [
                {"person_id": p, "home_id": h, "kind": "owner", "status": VERIFIED, "created_at": NOW}
                for p, h in residencies
            ],
        )
        connection.execute(
            insert(RoleGrant), [{"person_id": staff, "role": "community_staff", "node_id": community.id}]
        )
        polls = {}
        for secret in (False, True):
            draft = authoring.Draft(
                node_id=compound.id,
                title="更换电梯（秘密）" if secret else "更换电梯",
                body="拟使用专项维修资金更换全部电梯。",
                matter=5,
                kind="decision",
                opens_at=OPENS,
                closes_at=CLOSES,
                secret=secret,
            )
            poll, _ = authoring.create(session, None, draft, NOW, policy)
            polls[secret] = poll.id
        session.commit()
    homes_of = [
        (home_id, buildings[labels[home_id]], entrance, number, owner_of[home_id])
        for home_id, entrance, number in found
    ]
    return {
        "engine": engine,
        "sessions": sessions,
        "policy": policy,
        "homes": homes_of,
        "staff": staff,
        "polls": polls,
    }


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def advance(ctx: dict[str, Any], poll_id: int, now: datetime) -> str:
    """The poll job's step for one poll, its events published to the outbox, committed."""
    with ctx["sessions"]() as session:
        poll = session.get(Poll, poll_id)
        work = Work(session, now, ctx["policy"], via="scheduler")
        done = use_cases.advance(work, poll, KEY)
        notify.publish(work)
        session.commit()
    return done


def paper_csv(homes: list[tuple[int, str, str, str, int]]) -> str:
    """One CSV batch of paper ballots for these homes, collected door to door."""
    lines = [",".join(NAMES)]
    for n, (_, building, entrance, number, _) in enumerate(homes):
        choice = CHOICES[n % 3]
        lines.append(f"{building},{entrance},{number},{choice},door,李阿姨,{PAPER_AT}")
    return "\n".join(lines) + "\n"


def enter_paper(ctx: dict[str, Any], poll_id: int, homes: list[tuple[int, str, str, str, int]]) -> None:
    """Enter the paper half as staff do: one CSV batch through the use case, in one transaction."""
    at = OPENS + timedelta(days=1)
    with ctx["sessions"]() as session:
        work = Work(session, at, ctx["policy"], via="cli")
        actor = people.actor(session, ctx["staff"], at.date())
        paper.enter_file(work, actor, poll_id, paper_csv(homes))
        notify.publish(work)
        session.commit()


def vote_online(ctx: dict[str, Any], poll_id: int, homes: list[tuple[int, str, str, str, int]]) -> None:
    """Each home's first owner votes online, one transaction per vote."""
    at = OPENS + timedelta(days=2)
    for n, (_, _, _, _, owner) in enumerate(homes):
        with ctx["sessions"]() as session:
            ballots.vote(session, poll_id, owner, CHOICES[n % 3], at, KEY)
            session.commit()


def fill_secret_box(ctx: dict[str, Any], poll_id: int) -> None:
    """Every unit of the secret poll voted online: turnout and encrypted ballots written in bulk."""
    at = OPENS + timedelta(days=2)
    with ctx["sessions"]() as session:
        units = session.exec(
            select(PollVoter.unit, PollVoter.person_id).where(PollVoter.poll_id == poll_id)
        ).all()
        areas = dict(
            session.exec(
                select(PollHome.unit, PollHome.area_centi_m2).where(PollHome.poll_id == poll_id)
            ).all()
        )
        caster = {}
        for unit, person in units:
            caster.setdefault(unit, person)
        box = ballots._box(KEY)  # the box a secret vote stores its choice in
        connection = session.connection()
        connection.execute(
            PollTurnout.__table__.insert(),  # type: ignore[attr-defined]
            [
                {
                    "poll_id": poll_id,
                    "unit": u,
                    "person_id": p,
                    "voted_at": at,
                    "changes": 0,
                    "channel": "online",
                }
                for u, p in caster.items()
            ],
        )
        rows = []
        for n, unit in enumerate(caster):
            choice = CHOICES[n % 3]
            rows.append(
                {
                    "id": secrets.token_hex(16),
                    "poll_id": poll_id,
                    "seal": secrets.token_hex(32),
                    "area_centi_m2": areas[unit],
                    "choice": box.encrypt(choice.encode()).decode(),
                    "receipt": ballots.receipt_hash(poll_id, choice, ballots.new_code()),
                    "unit": None,
                }
            )
        connection.execute(PollBallot.__table__.insert(), rows)  # type: ignore[attr-defined]
        session.commit()


def compound_run(backend: str, size: int) -> dict[str, float]:
    """Build a scratch database with a compound of `size` homes and time the stages; returns them."""
    figures: dict[str, float] = {}
    with database(backend) as url:
        started = time.perf_counter()
        ctx = build(url, size)
        setup = time.perf_counter() - started
        try:
            plain, secret = ctx["polls"][False], ctx["polls"][True]
            figures["open"] = timed(lambda: advance(ctx, plain, OPENS))
            homes = ctx["homes"]
            paper_half, online_half = homes[0::2], homes[1::2]
            figures["paper"] = timed(lambda: enter_paper(ctx, plain, paper_half))
            figures["online"] = timed(lambda: vote_online(ctx, plain, online_half))
            figures["ballots"] = figures["paper"] + figures["online"]
            figures["close"] = timed(lambda: advance(ctx, plain, CLOSES))
            advance(ctx, secret, OPENS)
            fill_secret_box(ctx, secret)
            figures["close secret"] = timed(lambda: advance(ctx, secret, CLOSES))
            with ctx["sessions"]() as session:
                poll = session.get(Poll, plain)
                assert poll is not None and poll.state == "closed", "the poll did not close"
                result = dict(poll.result)
                done = session.get(Poll, secret)
                assert done is not None and done.result["ballots"] == len(homes)
        finally:
            ctx["engine"].dispose()
    print(
        f"{backend:8} {size:>6,} homes (set up in {setup:5.1f} s): {result['ballots']:,} ballots "
        f"{result['channels']}, outcome {result['outcome']}\n"
        f"  open {figures['open']:6.2f} s · paper half (one CSV) {figures['paper']:6.2f} s · "
        f"online half {figures['online']:6.2f} s · close {figures['close']:6.2f} s · "
        f"close (secret box) {figures['close secret']:6.2f} s",
        flush=True,
    )
    return figures


def compound(sizes: tuple[int, ...], postgres: bool) -> None:
    """Time open, ballots and close at each size, on SQLite and (when it answers) PostgreSQL."""
    backends = ["sqlite"]
    if postgres:
        reason = pg_reason()
        if reason is None:
            backends.append("postgres")
        else:
            print(f"PostgreSQL skipped: {reason}")
    for backend in backends:
        runs = {size: compound_run(backend, size) for size in sizes}
        big, small = max(sizes), min(sizes)
        for stage in ("open", "ballots", "close", "close secret"):
            took = runs[big][stage]
            verdict = "within" if took <= STAGE_BUDGET_S else "OVER"
            print(f"{backend} {stage} at {big:,} homes: {took:.2f} s ({verdict} {STAGE_BUDGET_S:.0f} s)")
        if big != small:
            for stage in ("close", "close secret"):
                ratio = runs[big][stage] / runs[small][stage]
                met = "ok" if ratio <= CLOSE_RATIO else "NOT MET"
                print(
                    f"{backend} {stage}: {big:,}/{small:,} ratio {ratio:.2f} (target <= {CLOSE_RATIO}, {met})"
                )


def main() -> None:
    """Run the sections asked for (both by default) and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--section", choices=("all", "pure", "compound"), default="all")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(COMPOUND_SIZES))
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    if args.section in ("all", "pure"):
        pure()
    if args.section in ("all", "compound"):
        compound(tuple(args.sizes), not args.no_postgres)


if __name__ == "__main__":
    main()
