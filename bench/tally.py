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

Run from the repository root: `.venv/bin/python bench/tally.py`.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

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


def main() -> None:
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


if __name__ == "__main__":
    main()
