"""The `linli` command: run the bot, migrate, import an organisation, issue invites, write reports."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli_common import settings_or_exit
from bot.cli_console import add_console_link
from bot.cli_invite import add_invite
from bot.cli_ledger import add_ledger
from bot.cli_paper import add_poll_paper
from bot.cli_rating import add_rating
from bot.settings import Settings, SettingsError

if TYPE_CHECKING:
    from sqlalchemy.orm import sessionmaker
    from sqlmodel import Session

    from db.sla import Policy


def cmd_migrate(_: argparse.Namespace) -> int:
    """Bring the database schema up to date."""
    from db.migrate import upgrade

    settings = settings_or_exit()
    upgrade(settings.db_url)
    print(f"database is up to date ({settings.db_url.split('@')[-1]})")
    return 0


def cmd_run(_: argparse.Namespace) -> int:
    """Start the bot: web chat, Telegram when a token is set, and the scheduler."""
    from bot.bootstrap import build
    from bot.runner import ballot_key_problem, prepare, serve
    from db.migrate import exclusive, upgrade

    settings = settings_or_exit()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "apscheduler", "telegram"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    upgrade(settings.db_url)
    app = build(settings)
    with exclusive(settings.db_url):  # two processes starting on an empty database seed it once
        prepare(app)
    problem = ballot_key_problem(app)
    if problem:  # secret polls would fail at their close: better to stop now, with the remedy
        print(f"linli: {problem}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(app))
    except OSError as exc:
        print(f"linli: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_import_org(args: argparse.Namespace) -> int:
    """Load an organisation (district → homes, grids, companies, committees) from a YAML or CSV file, all
    or nothing."""
    from bot import demo
    from core import notify
    from core.org_import import import_org
    from core.permissions import SYSTEM
    from core.work import Work
    from db.org import ImportError_

    run = _file_run(args)
    if run is None:
        return 2
    path = run.path
    with run.sessions() as session:
        try:
            work = Work(session, run.now, run.policy, via="cli")
            done = import_org(work, SYSTEM, path.name, path.read_bytes())
            notify.publish(work)  # a committee put in office tells its members
        except ImportError_ as exc:
            session.rollback()
            print(f"linli: {path}:{exc.line}: {exc.reason} (nothing was imported)", file=sys.stderr)
            return 1
        # A real organisation ends the demo: its public codes must never reach real homes and nodes.
        retired = 0 if demo.only_demo_org(session) else demo.retire(session)
        session.commit()
    seated = f" and put {done.committees} committee(s) in office" if done.committees else ""
    print(f"imported {done.homes} homes and {done.grids} grids from {path}{seated}")
    if retired:
        print(f"demo off: the {retired} public demo codes no longer work")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write the three rates and counts for a month as CSV: the total, per grid, category and compound."""
    from sqlmodel import col, select

    from bot.clock import SystemClock
    from db import org, reports
    from db.categories import load_catalog
    from db.engine import make_engine, session_factory
    from db.migrate import upgrade
    from db.models import OrgNode

    settings = settings_or_exit()
    found = reports.MONTH.match(args.month)
    period = reports.parse_period(args.month, SystemClock().now(), settings.zone) if found else None
    if period is None:
        print(f"linli: --month {args.month!r} must look like 2026-11", file=sys.stderr)
        return 2
    upgrade(settings.db_url)
    catalog = load_catalog(settings.categories_file)
    sessions = session_factory(make_engine(settings.db_url))
    with sessions() as session:
        if args.node:
            node = org.find_node(session, args.node)
            if node is None:
                print(f"linli: no org node {args.node!r} (use names joined with '/')", file=sys.stderr)
                return 1
            nodes = [node]
        else:
            nodes = list(session.exec(select(OrgNode).where(col(OrgNode.parent_id).is_(None))).all())
        records = reports.load_records(session, nodes, period)

    def name(key: str) -> str:
        category = catalog.get(key)
        return category.name(settings.default_locale) if category else key

    rows = reports.report_rows(records, SystemClock().now(), category_name=name)
    text = reports.to_csv(rows)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8-sig")  # with a BOM, so Excel reads the Chinese
        print(f"wrote {len(rows)} rows for {period.label} to {args.out}")
    else:
        sys.stdout.write(text)
    return 0


@dataclass(frozen=True, slots=True)
class _FileRun:
    """What a command that acts on a YAML file needs: settings, the file, the SLA policy, sessions, now."""

    settings: Settings
    path: Path
    policy: Policy
    sessions: sessionmaker[Session]
    now: datetime


def _file_run(args: argparse.Namespace) -> _FileRun | None:
    """Migrate and open the database for a file command; None (after saying so) when the file is missing."""
    from bot.clock import SystemClock
    from db.engine import make_engine, session_factory
    from db.migrate import upgrade
    from db.sla import load_policy

    settings = settings_or_exit()
    path = Path(args.file)
    if not path.is_file():
        print(f"linli: {path}: no such file", file=sys.stderr)
        return None
    upgrade(settings.db_url)
    policy = load_policy(settings.sla_policy_file, settings.zone)
    return _FileRun(
        settings, path, policy, session_factory(make_engine(settings.db_url)), SystemClock().now()
    )


def cmd_notice_send(args: argparse.Namespace) -> int:
    """Send a notice described by a YAML file; a bad file changes nothing and names the field at fault."""
    from bot.notice_file import NoticeFileError, load
    from core import notices, notify
    from core.permissions import SYSTEM
    from core.work import Work
    from db import people
    from db.rows import id_of

    run = _file_run(args)
    if run is None:
        return 2
    settings, path, policy, now = run.settings, run.path, run.policy, run.now
    with run.sessions() as session:
        try:
            spec = load(session, path, settings.zone, now)
            work = Work(session, now, policy, via="cli")
            author = people.actor(session, spec.author_id) if spec.author_id is not None else SYSTEM
            draft = notices.NoticeDraft(
                kind=spec.kind,
                title=spec.title,
                body=spec.body,
                node_id=id_of(spec.node),
                buildings=tuple(spec.buildings),
                roles=tuple(spec.roles),
                send_at=spec.send_at,
                publicity_until=spec.publicity_until,
                ack_required=spec.ack,
            )
            published = notices.publish_notice(work, author, draft)
            notify.publish(work)
        except NoticeFileError as exc:
            session.rollback()
            print(f"linli: {path}: {exc.field}: {exc.reason} (nothing was sent)", file=sys.stderr)
            return 1
        except notices.NoticeError as exc:
            session.rollback()
            field = "author" if exc.reason == "not_allowed" else exc.reason
            print(f"linli: {path}: {field}: refused ({exc.reason}) (nothing was sent)", file=sys.stderr)
            return 1
        session.commit()
        goes = published.goes_at
        when = goes.astimezone(settings.zone).strftime("%Y-%m-%d %H:%M") if goes else "now"
        print(f"notice #{published.notice_id}: audience {published.audience}, sends {when}")
    return 0


def cmd_poll_create(args: argparse.Namespace) -> int:
    """Create and announce an owners' poll described by a YAML file; a bad file changes nothing."""
    from bot.poll_file import PollFileError, load, rule_error
    from core import notify, polls
    from core.permissions import SYSTEM
    from core.work import Work

    run = _file_run(args)
    if run is None:
        return 2
    settings, path, policy, now = run.settings, run.path, run.policy, run.now
    with run.sessions() as session:
        try:
            spec = load(session, path, settings.zone, now)
            work = Work(session, now, policy, via="cli")
            created = polls.create_poll(work, SYSTEM, spec.draft)
            notify.publish(work)
        except PollFileError as exc:
            session.rollback()
            print(f"linli: {path}: {exc.field}: {exc.reason} (nothing was created)", file=sys.stderr)
            return 1
        except polls.PollError as exc:
            session.rollback()
            error = rule_error(exc)
            print(f"linli: {path}: {error.field}: {error.reason} (nothing was created)", file=sys.stderr)
            return 1
        session.commit()
        poll = created.poll

        def local(moment: datetime) -> str:
            return moment.astimezone(settings.zone).strftime("%Y-%m-%d %H:%M")

        scope = ", ".join(spec.building_names) if spec.building_names else "all buildings"
        area = spec.electorate.area_centi_m2
        print(f"poll #{poll.id}: voting opens {local(poll.opens_at)}, closes {local(poll.closes_at)}")
        print(
            f"scope: {spec.compound.name} ({scope}): {spec.electorate.homes} homes, "
            f"{area // 100}.{area % 100:02d} m2, {spec.electorate.owned_homes} with a verified owner now"
        )
        print(f"announced to {created.audience} owners and tenants (notice #{created.notice_id or '-'})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="linli", description="Linli (邻里): residents, grid workers and staff in one chat."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="start the bot (web chat, Telegram when configured, scheduler)",
        description="Migrate the database, load the demo organisation into an empty SQLite database "
        "(unless LINLI_DEMO=0), and serve the web chat, Telegram (when TELEGRAM_BOT_TOKEN is set) and "
        "the scheduler.",
    )
    run.set_defaults(func=cmd_run)
    migrate = sub.add_parser(
        "migrate", help="apply database migrations", description="Apply Alembic migrations."
    )
    migrate.set_defaults(func=cmd_migrate)
    imp = sub.add_parser(
        "import-org",
        help="load an organisation from YAML or CSV",
        description="Merge an organisation file (YAML tree or CSV with columns district, street, "
        "community, compound, building, entrance, home, area[, grid]) into the database. "
        "A bad file is rejected with its line and reason and nothing is changed. A real organisation "
        "ends the demo: its public codes are removed, with the homes and roles they gave.",
    )
    imp.add_argument("file", help="path to a .yaml/.yml or .csv file")
    imp.set_defaults(func=cmd_import_org)
    add_invite(sub)
    add_console_link(sub)
    add_ledger(sub)
    add_rating(sub)
    rep = sub.add_parser(
        "report",
        help="write a month's three rates and counts as CSV",
        description="Write 响应率, 解决率 and 满意率 (as percentages) with ticket counts for the tickets "
        "filed in a month: the total, then a row per grid, category and compound.",
    )
    rep.add_argument("--month", required=True, help="the month, e.g. 2026-11 (local time)")
    rep.add_argument("--node", default="", help="only under this org node (names joined with '/')")
    rep.add_argument("--out", default="", help="write to this file (default: standard output)")
    rep.set_defaults(func=cmd_report)
    notice = sub.add_parser(
        "notice", help="send notices", description="Send a notice to residents and staff from a file."
    )
    notice_sub = notice.add_subparsers(dest="notice_command", required=True)
    send = notice_sub.add_parser(
        "send",
        help="send the notice a YAML file describes",
        description="FILE is YAML with kind (policy, fees, meeting, outage, safety, rating), title, body, "
        "node "
        "(names joined with '/'), and optionally buildings (names under the node), roles (owners, "
        "tenants, grid_workers, staff; default owners and tenants), send_at (YYYY-MM-DD HH:MM local "
        "time; default now), publicity_days, ack (true/false) and author (a staff invite code or a "
        "person id; without one the notice comes from the system). Prints the audience size and the "
        "notice id; a bad file is rejected with the field at fault and nothing is sent.",
    )
    send.add_argument("file", help="path to the notice's .yaml file")
    send.set_defaults(func=cmd_notice_send)
    poll = sub.add_parser(
        "poll",
        help="run owners' polls",
        description="Create owners' polls (DESIGN §4.2) from a file; print their ballots and stubs and "
        "enter paper ballots (DESIGN §4.8).",
    )
    poll_sub = poll.add_subparsers(dest="poll_command", required=True)
    create = poll_sub.add_parser(
        "create",
        help="create and announce the poll a YAML file describes",
        description="FILE is YAML with compound (names joined with '/', down to the compound), title, "
        "body, matter (Civil Code Art. 278 item 1-9), closes (YYYY-MM-DD HH:MM local time, or +14d after "
        "voting opens), and optionally buildings (names in the compound; default all), kind (decision or "
        "election), candidates and seats (an election), opens (local time or +15d, the default), secret "
        "(default true), changeable, consultative and shortened_reason (required when voting opens less "
        "than 15 days from now). The announcement goes to owners and tenants in scope at once. Prints "
        "the poll id, the voting window and the audience; a bad file is rejected with the field at fault "
        "and nothing is created.",
    )
    create.add_argument("file", help="path to the poll's .yaml file")
    create.set_defaults(func=cmd_poll_create)
    add_poll_paper(poll_sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `linli` command."""
    from sqlalchemy.exc import OperationalError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except SettingsError as exc:  # a setting checked after the start (a kept key file) is one line too
        print(f"linli: {exc}", file=sys.stderr)
        return 2
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "unknown error"
        print(f"linli: cannot use the database: {reason}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
