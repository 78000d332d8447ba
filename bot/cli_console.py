"""`linli console-link`: a one-time sign-in link to the staff console, for the first admin (who has no
console yet to be sent one from) or anyone the operator vouches for."""

from __future__ import annotations

import argparse
import sys


def cmd_console_link(args: argparse.Namespace) -> int:
    """Print a sign-in link for a person named by id or exact name; refused for someone who may not use
    the console."""
    from sqlmodel import select

    from bot.cli_common import settings_or_exit
    from bot.clock import SystemClock
    from core.permissions import Action, may
    from db import console, people
    from db.engine import make_engine, session_factory
    from db.migrate import upgrade
    from db.models import Person
    from db.types import parse_id

    settings = settings_or_exit()
    upgrade(settings.db_url)
    sessions = session_factory(make_engine(settings.db_url))
    given = str(args.person).strip()
    with sessions() as session:
        number = parse_id(given)
        if number is not None:
            found = [p for p in [session.get(Person, number)] if p is not None]
        else:
            found = list(session.exec(select(Person).where(Person.name == given).limit(2)).all())
        if len(found) != 1:
            why = "no person" if not found else "more than one person"
            print(f"linli: {why} named {given!r}; give the person's id", file=sys.stderr)
            return 1
        person = found[0]
        assert person.id is not None
        if not may(people.actor(session, person.id), Action.USE_CONSOLE):
            print(
                f"linli: {person.name or person.id} holds no staff or committee role; "
                "give them one with `linli invite` first",
                file=sys.stderr,
            )
            return 1
        token = console.issue_link(session, person.id, SystemClock().now())
        session.commit()
    minutes = int(console.LINK_LIFETIME.total_seconds() // 60)
    print(f"{settings.public_url.rstrip('/')}/console/signin?t={token}")
    print(f"(works once, within {minutes} minutes)", file=sys.stderr)
    return 0


def add_console_link(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `linli console-link`."""
    link = sub.add_parser(
        "console-link",
        help="print a one-time sign-in link to the staff console",
        description="Print a link that signs PERSON in to the staff console (/console). It works once, "
        "within ten minutes. PERSON is the person's id or their exact name; they must hold a staff or "
        "owners' committee role.",
    )
    link.add_argument("person", help="the person's id or exact name")
    link.set_defaults(func=cmd_console_link)
