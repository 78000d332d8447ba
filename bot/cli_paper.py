"""`linli poll sheets | stubs | ballots`: a poll's paper side (DESIGN §4.8) from the command line.

`sheets` writes the printable ballot and notice, one A4 page per home; `stubs` issues a secret poll's
receipt codes (only their hashes are kept) and writes the ballots with their stubs; `ballots` enters a CSV
of paper ballots whole or not at all, every bad line printed as "line N: reason".
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli_common import positive, settings_or_exit

if TYPE_CHECKING:
    from sqlmodel import Session

    from bot.settings import Settings
    from core.permissions import Actor
    from db.models import Poll

WORDS = "console/words/paper.html"  # the reasons, worded once for the console and the command line


def _poll_id(value: str) -> int:
    """An argparse type: a poll's number ("12" or "#12")."""
    from db.types import parse_id

    number = parse_id(value.strip().removeprefix("#"))
    if number is None:
        raise argparse.ArgumentTypeError(f"{value!r} is not a poll number")
    return number


def _open() -> tuple[Settings, Any]:
    """The settings and a session factory on the migrated database."""
    from db.engine import make_engine, session_factory
    from db.migrate import upgrade

    settings = settings_or_exit()
    upgrade(settings.db_url)
    return settings, session_factory(make_engine(settings.db_url))


def _poll(session: Session, poll_id: int) -> Poll | None:
    from db.models import Poll

    poll = session.get(Poll, poll_id)
    if poll is None:
        print(f"linli: no poll #{poll_id}", file=sys.stderr)
    return poll


def words(locale: str) -> dict[str, Any]:
    """The paper words (reasons of refused lines and refusals) in a language (zh_CN when unknown)."""
    from jinja2 import Environment, FileSystemLoader

    from bot.print_pages import TEMPLATES

    module: Any = Environment(loader=FileSystemLoader(TEMPLATES)).get_template(WORDS).module
    return dict(getattr(module, locale, None) or module.zh_CN)


def reason_text(said: dict[str, Any], reason: str, detail: str = "") -> str:
    """A refused line's or action's reason in plain words, with the detail the rule gave."""
    text = str(said["reasons"].get(reason, reason))
    detail = str(said["channels"].get(detail, detail))  # a ballot that stands: how it was cast
    return f"{text} ({detail})" if detail else text


def _write(out: str, html: str) -> Path:
    path = Path(out)
    path.write_text(html, encoding="utf-8")
    return path


def _no_folder(out: str) -> bool:
    """Whether --out names a file in a folder that does not exist (said before anything is done)."""
    folder = Path(out).resolve().parent
    if folder.is_dir():
        return False
    print(f"linli: --out {out}: no such folder {folder}", file=sys.stderr)
    return True


def cmd_sheets(args: argparse.Namespace) -> int:
    """Write the printable ballot and notice of a poll, one A4 page per home in its scope."""
    from bot.print_pages import Printer, natural, scope_buildings, scope_homes

    if _no_folder(args.out):
        return 2
    settings, sessions = _open()
    with sessions() as session:
        poll = _poll(session, args.poll)
        if poll is None:
            return 1
        building_id: int | None = None
        if args.building:
            found = [b for b in scope_buildings(session, poll) if b.name == args.building.strip()]
            if not found:
                names = "、".join(b.name for b in scope_buildings(session, poll))
                print(
                    f"linli: poll #{poll.id} has no building {args.building!r} (its buildings: {names})",
                    file=sys.stderr,
                )
                return 1
            building_id = found[0].id
        homes = scope_homes(session, poll, building_id)
        printer = Printer(settings.zone, args.locale or settings.default_locale)
        path = _write(args.out, printer.sheets(session, poll, homes, inline=True))
    buildings = ", ".join(sorted({h.building for h in homes}, key=natural)) or "no homes"
    print(f"wrote {len(homes)} ballot pages of poll #{args.poll} ({buildings}) to {path}")
    return 0


def cmd_stubs(args: argparse.Namespace) -> int:
    """Issue receipt codes for a secret poll's paper ballots and write them as ballots with stubs."""
    from bot.print_pages import Printer, scope_count
    from core import notify, paper
    from core.permissions import SYSTEM
    from core.work import Work
    from db.polls.terms import PollError
    from db.sla import load_policy

    if _no_folder(args.out):
        return 2  # before any code is issued: codes nobody can print are no use
    settings, sessions = _open()
    said = words(settings.default_locale)
    policy = load_policy(settings.sla_policy_file, settings.zone)
    with sessions() as session:
        poll = _poll(session, args.poll)
        if poll is None:
            return 1
        if not poll.secret:
            print(f"linli: poll #{poll.id}: {said['reasons']['not_secret']}", file=sys.stderr)
            return 1
        count = args.count or scope_count(session, poll)
        try:
            work = Work(session, _now(), policy, via="cli")
            codes = paper.issue_stubs(work, SYSTEM, poll.id or 0, count)
            notify.publish(work)
        except PollError as exc:
            session.rollback()
            print(
                f"linli: poll #{poll.id}: {reason_text(said, exc.reason)} (no codes issued)", file=sys.stderr
            )
            return 1
        html = Printer(settings.zone, args.locale or settings.default_locale).stubs(
            session, poll, codes, inline=True
        )
        session.commit()
    # Written once the codes are kept: a printed code the database does not know would be worthless.
    path = _write(args.out, html)
    print(f"issued {len(codes)} receipt codes for poll #{args.poll}; the ballots and stubs are in {path}")
    return 0


def _now() -> datetime:
    from bot.clock import SystemClock

    return SystemClock().now()


def _actor(session: Session, by: str, settings: Settings) -> Actor | None:
    """Who enters the ballots: the system, or a person by id (with that person's rights)."""
    from core.permissions import SYSTEM
    from db import people
    from db.models import Person

    if not by:
        return SYSTEM
    person_id = _poll_id(by) if by.strip().lstrip("#").isdigit() else None
    if person_id is None or session.get(Person, person_id) is None:
        print(f"linli: --by {by!r}: no person with that id", file=sys.stderr)
        return None
    return people.actor(session, person_id, _now().astimezone(settings.zone).date())


def cmd_ballots(args: argparse.Namespace) -> int:
    """Enter a CSV of paper ballots, whole or not at all; every bad line is printed with its number."""
    from bot.cli import _file_run
    from core import notify, paper
    from core.work import Work
    from db.polls.terms import PollError

    run = _file_run(args)
    if run is None:
        return 2
    said = words(run.settings.default_locale)
    try:
        text = run.path.read_bytes().decode("utf-8-sig")  # a spreadsheet's BOM is no part of the header
    except UnicodeDecodeError:
        print(f"line 1: {said['reasons']['encoding']}", file=sys.stderr)
        print(f"linli: {run.path}: nothing was entered", file=sys.stderr)
        return 1
    with run.sessions() as session:
        actor = _actor(session, args.by, run.settings)
        if actor is None:
            return 2
        try:
            work = Work(session, run.now, run.policy, via="cli")
            entered = paper.enter_file(work, actor, args.poll, text)
            notify.publish(work)
        except paper.PaperFileError as exc:
            session.rollback()
            for problem in exc.problems:
                print(
                    f"line {problem.line}: {reason_text(said, problem.reason, problem.detail)}",
                    file=sys.stderr,
                )
            print(f"linli: {run.path}: nothing was entered", file=sys.stderr)
            return 1
        except PollError as exc:
            session.rollback()
            print(f"refused: {reason_text(said, exc.reason)}", file=sys.stderr)
            print(f"linli: {run.path}: nothing was entered", file=sys.stderr)
            return 1
        session.commit()
    sealed = sum(1 for e in entered if e.sealed)
    kept = f" ({sealed} sealed, in the register)" if sealed else ""
    print(f"entered {len(entered)} paper ballots for poll #{args.poll}{kept}")
    return 0


def add_poll_paper(poll_sub: Any) -> None:
    """Register `sheets`, `stubs` and `ballots` on the `linli poll` subparsers."""
    sheets = poll_sub.add_parser(
        "sheets",
        help="write the printable ballot and notice, one A4 page per home",
        description="Write an HTML page to print: for each home in the poll's scope one A4 page with the "
        "compound and home (building, entrance, number, area), the matter, title and text, the options "
        "with tick boxes, the deadline and a signature line; for a secret poll the page is the envelope's "
        "cover and notice. Open it in a browser and print it (the CJK fonts of the system are used).",
    )
    sheets.add_argument("poll", type=_poll_id, help="the poll's number")
    sheets.add_argument("--out", required=True, help="the HTML file to write, e.g. sheets.html")
    sheets.add_argument("--building", default="", help="only this building's homes (its name, e.g. 1栋)")
    sheets.add_argument(
        "--locale", default="", choices=("", "zh_CN", "en"), help="language (default: the setting)"
    )
    sheets.set_defaults(func=cmd_sheets)
    stubs = poll_sub.add_parser(
        "stubs",
        help="issue a secret poll's receipt codes and write the ballots with their stubs",
        description="Issue COUNT receipt codes for a secret poll's paper ballots (only their hashes are "
        "kept) and write an HTML page to print: each ballot has a stub the owner keeps (the poll and the "
        "code, checked at /polls after the close) and a ballot part with the options, the same code and "
        "a blank for the home's private area, cut apart along a dashed line. Refused for an open poll.",
    )
    stubs.add_argument("poll", type=_poll_id, help="the secret poll's number")
    stubs.add_argument("--out", required=True, help="the HTML file to write, e.g. stubs.html")
    stubs.add_argument("--count", type=positive, default=0, help="how many (default: the homes in scope)")
    stubs.add_argument(
        "--locale", default="", choices=("", "zh_CN", "en"), help="language (default: the setting)"
    )
    stubs.set_defaults(func=cmd_stubs)
    ballots = poll_sub.add_parser(
        "ballots",
        help="enter a CSV of paper ballots, all or nothing",
        description="FILE is a UTF-8 CSV with a header: building, entrance, number, choice, method, "
        "collector, collected_at (YYYY-MM-DD HH:MM local time), and optionally photo. choice is "
        '同意/反对/弃权 (yes/no/abstain) for a decision, candidate numbers such as "1 3" for an '
        "election, empty for a "
        "secret poll's sealed ballot; method is 扫楼/现场/投票箱 (door/meeting/box). The file is taken "
        'whole or not at all: each bad line is printed as "line N: reason" (the header is line 1) and '
        "nothing is entered.",
    )
    ballots.add_argument("poll", type=_poll_id, help="the poll's number")
    ballots.add_argument("file", help="the ballots' .csv file")
    ballots.add_argument("--by", default="", help="enter them as this person (an id; default: the system)")
    ballots.set_defaults(func=cmd_ballots)
