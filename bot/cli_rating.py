"""`linli rating`: the half-year's evaluation of property companies as a table or CSV (DESIGN §4.5).

Every company that served a compound under the node (the whole tree by default) during the half-year is
scored over those compounds and ranked best first; each row carries every indicator's inputs
(numerator, denominator) and points, the records' part, the total and the grade, so a number can be
checked by hand. The CSV goes through the console's spreadsheet module (formula-safe cells).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

Cell = str | int | None  # a CSV cell (bot.console.sheets, imported only when a file is written)
INDICATOR_HEADS = ("numerator", "denominator", "points")


def header(keys: Sequence[str]) -> list[str]:
    """The CSV header: the company's place and totals, then three columns per indicator."""
    head = ["place", "company", "compounds", "grade", "total", "base", "tickets", "no_cases"]
    head += ["good_records", "good_points", "good_counted", "bad_records", "bad_points", "removed_by_appeal"]
    head += ["survey_homes"]
    head += [f"{key}_{part}" for key in keys for part in INDICATOR_HEADS]
    return head


def rows_of(ranked: Sequence[Any]) -> list[list[Cell]]:
    """One CSV row per ranked company (db.evaluation.gather.CompanyEvaluation), in rank order."""
    from db.evaluation.scoring import round_total

    rows: list[list[Cell]] = []
    for place, company in enumerate(ranked, start=1):
        e = company.evaluation
        row: list[Cell] = [
            place,
            company.name,
            len(company.compounds),
            e.grade,
            str(e.total),
            str(round_total(e.base)),
            e.cases.tickets,
            "yes" if e.no_cases else "no",
            e.good.count,
            e.good.points,
            str(round_total(e.good.counted)),
            e.bad.count,
            e.bad.points,
            e.good.removed + e.bad.removed,
            e.survey_homes,
        ]
        for line in e.lines:
            row += [line.numerator, line.denominator, str(round_total(line.points))]
        rows.append(row)
    return rows


def table(ranked: Sequence[Any], half: str) -> str:
    """The ranking as lines of text for the terminal, each indicator with its inputs."""
    from db.evaluation.scoring import round_total

    if not ranked:
        return f"no company served a compound here in {half}\n"
    lines = [f"{half}: {len(ranked)} compan{'y' if len(ranked) == 1 else 'ies'}, best first"]
    for place, company in enumerate(ranked, start=1):
        e = company.evaluation
        cases = "no cases" if e.no_cases else f"{e.cases.tickets} tickets"
        parts_sum = f"base {round_total(e.base)} + good {round_total(e.good.counted)} − bad {e.bad.counted}"
        lines.append(f"{place:>3}. {company.name}  {e.grade}  {e.total}  ({parts_sum}; {cases})")
        parts = [
            f"{line.key} {line.numerator}/{line.denominator}={round_total(line.points)}"
            + (" (empty)" if line.empty else "")
            for line in e.lines
        ]
        lines.append("       " + ", ".join(parts))
    return "\n".join(lines) + "\n"


def cmd_rating(args: argparse.Namespace) -> int:
    """Rank the companies of a half-year under a node; print the table, write CSV with --out."""
    from bot.cli_common import settings_or_exit
    from bot.clock import SystemClock
    from bot.console import sheets
    from db import org
    from db.engine import make_engine, session_factory
    from db.evaluation import gather
    from db.evaluation.policy import default_policy, half_of, load_policy, parse_half
    from db.migrate import upgrade

    settings = settings_or_exit()
    try:
        policy = load_policy(Path(args.policy)) if args.policy else default_policy()
    except (OSError, ValueError) as exc:
        print(f"linli: {exc}", file=sys.stderr)
        return 2
    now: datetime = SystemClock().now()
    half = args.half or half_of(now, policy.zone)
    try:
        year, part = parse_half(half)
    except ValueError as exc:
        print(f"linli: --half {exc}", file=sys.stderr)
        return 2
    half = f"{year}H{part}"
    upgrade(settings.db_url)
    sessions = session_factory(make_engine(settings.db_url))
    with sessions() as session:
        path = ""
        if args.node:
            node = org.find_node(session, args.node)
            if node is None:
                print(f"linli: no org node {args.node!r} (use names joined with '/')", file=sys.stderr)
                return 1
            path = node.path
        ranked = gather.rank(session, half, path, policy, now)
    sys.stdout.write(table(ranked, half))
    if args.out:
        keys = [i.key for i in policy.indicators]
        Path(args.out).write_bytes(sheets.csv_bytes(header(keys), rows_of(ranked)))
        print(f"wrote {len(ranked)} rows for {half} to {args.out}")
    return 0


def add_rating(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `linli rating` on the `linli` parser's subparsers."""
    rating = sub.add_parser(
        "rating",
        help="rank property companies for a half-year, with every indicator's inputs",
        description="Score every property company that served a compound under NODE during the half-year "
        "(data/evaluation_policy.yaml: the three rates, overdue, escalated, reopened and repeat tickets, "
        "the owners' survey, good and bad records) and print the ranking, best first. With --out, also "
        "write it as CSV (UTF-8 with a BOM, formula-safe) with each indicator's numerator, denominator "
        "and points.",
    )
    rating.add_argument("--half", help="the half-year, e.g. 2026H2 (Jul–Dec); default: the current one")
    rating.add_argument("--node", help="an org node, names joined with '/' (default: everything)")
    rating.add_argument("--out", help="write the ranking as CSV to this file")
    rating.add_argument("--policy", help="an evaluation policy file (default: data/evaluation_policy.yaml)")
    rating.set_defaults(func=cmd_rating)
