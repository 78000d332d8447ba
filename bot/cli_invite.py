"""`linli invite`: a new invite for a home or a staff role, or an existing one, with its QR code."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.cli_common import positive, settings_or_exit
from bot.settings import Settings
from core.permissions import Role
from db.people import RESIDENT_KINDS, ROLES

if TYPE_CHECKING:
    from sqlmodel import Session

    from db.models import Invite


def cmd_invite(args: argparse.Namespace) -> int:
    """Print a fresh invite for a home (owner/tenant) or for a staff role over a node, or an existing one
    (--code); with --qr, write its QR code to print."""
    from sqlmodel import select

    from bot.clock import SystemClock
    from db import org, people
    from db.engine import make_engine, session_factory
    from db.migrate import upgrade
    from db.models import Grid, Invite

    settings = settings_or_exit()
    problem = _invite_args_problem(args)
    bound = args.wecom_userid  # a WeCom member's first message in the app redeems it
    if not problem and bound and (args.code or args.qr or args.uses != 1):
        problem = "an invite bound to a WeCom member is new and used once, by them (no --code, --uses, --qr)"
    if problem:
        print(f"linli: {problem}", file=sys.stderr)
        return 2
    upgrade(settings.db_url)
    sessions = session_factory(make_engine(settings.db_url))
    now = SystemClock().now()
    with sessions() as session:
        if args.code:
            invite = session.exec(select(Invite).where(Invite.code == args.code.strip().upper())).first()
            problem = _unusable(invite, args.code, now)
            if problem:
                print(f"linli: {problem}", file=sys.stderr)
                return 1
            assert invite is not None  # _unusable says so
        elif args.company:
            invite_or_problem = _company_invite(session, args, now, settings.zone)
            if isinstance(invite_or_problem, str):
                print(f"linli: {invite_or_problem}", file=sys.stderr)
                return 1
            invite = invite_or_problem
        elif args.role in people.RESIDENT_KINDS:
            home = org.find_home(session, args.target)
            if home is None:
                print(
                    f"linli: no home {args.target!r} (use district/street/community/compound/building/"
                    "entrance/number, or the home's id)",
                    file=sys.stderr,
                )
                return 1
            invite = people.create_invite(
                session, args.role, now, home_id=home.id, uses=args.uses, wecom_userid=bound
            )
        else:
            node = org.find_node(session, args.target)
            if node is None:
                print(f"linli: no org node {args.target!r} (use names joined with '/')", file=sys.stderr)
                return 1
            if args.role == Role.OWNERS_COMMITTEE and node.kind != "compound":
                # The policy gives a committee its own compound only: elsewhere the role would do nothing.
                print(
                    f"linli: an owners' committee is granted on a compound, not on {args.target!r}",
                    file=sys.stderr,
                )
                return 1
            invite = people.create_invite(
                session, args.role, now, node_id=node.id, uses=args.uses, wecom_userid=bound
            )
            if args.grid:
                grid = session.exec(
                    select(Grid).where(Grid.name == args.grid, Grid.community_id == node.id)
                ).first()
                if grid is None:
                    session.rollback()
                    print(f"linli: no grid {args.grid!r} in {args.target}", file=sys.stderr)
                    return 1
                invite.grid_id = grid.id
        session.commit()
        print(invite.code)
        if bound:
            print(f"WeCom: bound to member {bound}; their first message in the app joins them")
            return 0
        print(f"web chat: {settings.public_url}/chat?invite={invite.code}")
        print(f"Telegram: /start {invite.code}")
        code = invite.code
    return _write_qr(settings, code, Path(args.qr)) if args.qr else 0


def _company_invite(
    session: Session, args: argparse.Namespace, now: datetime, zone: ZoneInfo
) -> Invite | str:
    """A property-staff invite for the named company, over the compounds it serves (or, with a compound
    as the target, only when the company serves it); a sentence saying why not otherwise."""
    from db import companies, org, people

    company = companies.by_name(session, args.company)
    if company is None or company.id is None:
        return f"no property company {args.company!r}: name it under its compounds in the organisation file"
    today = now.astimezone(zone).date()  # contracts run by the local calendar day
    served = companies.compounds_of(session, company.id, today)
    node_id = None
    if args.target:
        node = org.find_node(session, args.target)
        if node is None or node.id not in served:
            return f"{company.name} does not serve {args.target!r} today"
        node_id = node.id
    elif not served:
        return f"{company.name} serves no compound today: its staff would see nothing"
    return people.create_invite(
        session, args.role, now, node_id=node_id, uses=args.uses, company_id=company.id
    )


def _invite_args_problem(args: argparse.Namespace) -> str:
    """What is wrong with the invite command's arguments, or ""; fills in a new invite's defaults."""
    if args.code:
        if args.target or args.role or args.grid or args.uses or args.company:
            return "--code prints an existing invite: give no HOME, --role, --grid, --uses or --company"
    elif args.company:
        if (args.role or Role.PROPERTY_STAFF) != Role.PROPERTY_STAFF or args.grid or args.wecom_userid:
            return "--company makes a property-staff invite: give no other --role, --grid or --wecom-userid"
        args.role, args.uses = Role.PROPERTY_STAFF.value, args.uses or 1
    elif not args.target:
        return "give the HOME (or a staff role's org node) of a new invite, or --code of an existing one"
    else:
        args.role, args.uses = args.role or "owner", args.uses or 1
    if args.qr and (not args.qr.lower().endswith(".png") or not Path(args.qr).parent.is_dir()):
        return f"--qr {args.qr}: give a .png file in an existing folder"
    return ""


def _unusable(invite: Invite | None, code: str, now: datetime) -> str:
    """Why an existing invite cannot be handed out (unknown, used up, expired), or ""."""
    if invite is None:
        return f"no invite {code!r} (the demo's codes exist while the demo runs: start `linli run` once)"
    if invite.uses_left is not None and invite.uses_left <= 0:
        return f"invite {invite.code} is used up: create a new one"
    if invite.expires_at is not None and invite.expires_at <= now:
        return f"invite {invite.code} has expired: create a new one"
    return ""


def _write_qr(settings: Settings, code: str, path: Path) -> int:
    """Write the invite's QR code: the Official Account's when WeChat is set up, else the web chat link."""
    from bot import invite_qr

    try:
        if settings.wechat_on:
            content = invite_qr.wechat_scene_url(
                str(settings.wechat_api_base_url), settings.wechat_app_id, settings.wechat_app_secret, code
            )
        else:
            content = invite_qr.web_link(settings.public_url, code)
        width = invite_qr.write_png(content, path)
    except invite_qr.QrError as exc:
        print(f"linli: no QR code written: {exc}", file=sys.stderr)
        print(
            f"linli: the invite is kept; try again with: linli invite --code {code} --qr {path}",
            file=sys.stderr,
        )
        return 1
    except OSError as exc:
        print(f"linli: cannot write {path}: {exc.strerror}", file=sys.stderr)
        return 1
    print(f"QR code: {path} ({width}x{width} px, 300 dpi) opens {content}")
    if settings.wechat_on:
        print(f"  that is the Official Account: following it by this code joins with {code}")
    elif not settings.web_public_url:
        print(f"linli: WEB_PUBLIC_URL is not set: phones cannot reach {content}", file=sys.stderr)
    return 0


def wecom_userid(value: str) -> str:
    """An argparse type: a WeCom userid (letters, digits and _ . @ -, at most 64)."""
    if not re.fullmatch(r"[A-Za-z0-9_.@-]{1,64}", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a WeCom userid (letters, digits, _ . @ -)")
    return value


def add_invite(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `invite` command's arguments."""
    inv = sub.add_parser(
        "invite",
        help="print a fresh invite for a home or a staff role",
        description="Create an invite code. For residents HOME is a home "
        "(district/street/community/compound/building/entrance/number or its id); for "
        "staff roles it is the node of their jurisdiction (names joined with '/'). "
        "With --code, print an existing invite instead (e.g. a demo code: --code DEMO-OWNER). "
        "With --qr FILE.png, also write a QR code to print and put up, e.g. one per building entrance: "
        "when WeChat is set up (WECHAT_APP_ID) it is the Official Account's QR code, and following the "
        "account by it joins with the invite; otherwise it opens the web chat with the invite filled in "
        "(set WEB_PUBLIC_URL to the address phones reach).",
    )
    inv.add_argument(
        "target", metavar="HOME", nargs="?", default="", help="the home, or the org node for a staff role"
    )
    inv.add_argument("--code", default="", help="an existing invite's code, instead of a new invite")
    inv.add_argument("--qr", default="", metavar="FILE.png", help="also write the invite's QR code as a PNG")
    inv.add_argument(
        "--role",
        default=None,
        choices=[*RESIDENT_KINDS, *ROLES],
        help="what the invite grants (default: owner)",
    )
    inv.add_argument("--grid", default="", help="for grid_worker: the grid's name in that community")
    inv.add_argument(
        "--company",
        default="",
        help="for property_staff: the company's name (from the organisation file); its staff see the "
        "compounds it serves, whatever HOME says (HOME, if given, must be one of them)",
    )
    inv.add_argument("--uses", type=positive, default=None, help="how many people may use it (default 1)")
    inv.add_argument(
        "--wecom-userid",
        type=wecom_userid,
        default=None,
        help="bind it to this WeCom member (their userid): their first message in the WeCom app joins them",
    )
    inv.set_defaults(func=cmd_invite)
