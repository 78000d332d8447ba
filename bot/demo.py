"""The demo organisation and its fixed public invite codes: only on SQLite, only until a real org arrives.

Anyone who knows a demo code (they are in the README) gets what it grants, staff powers included. So the
demo runs only on the embedded SQLite database and only while the organisation in it is the demo's alone;
otherwise its codes are removed and the homes and roles they gave are taken back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime
from functools import cache
from pathlib import Path

from sqlalchemy import and_, delete, false, func, or_, update
from sqlmodel import Session, col, select

from bot.settings import Settings
from core.permissions import ResidentKind, Role
from db import companies, org, people
from db.companies import CompanyStaff
from db.models import Grid, Home, Invite, OrgNode, Residency, RoleGrant

log = logging.getLogger(__name__)
Names = frozenset[tuple[str, ...]]

DEMO_ORG = Path(__file__).resolve().parent.parent / "data" / "demo_org.yaml"
COMMUNITY = "铁西区/北沟街道/英雄社区"
# code → (kind, home path or node path, grid name)
DEMO_INVITES: dict[str, tuple[str, str, str]] = {
    "DEMO-OWNER": (ResidentKind.OWNER.value, f"{COMMUNITY}/阳光花园/1栋/1单元/101", ""),
    "DEMO-OWNER2": (ResidentKind.OWNER.value, f"{COMMUNITY}/阳光花园/1栋/2单元/201", ""),
    "DEMO-TENANT": (ResidentKind.TENANT.value, f"{COMMUNITY}/阳光花园/1栋/1单元/102", ""),
    "DEMO-GRID": (Role.GRID_WORKER.value, COMMUNITY, "英雄社区第一网格"),
    "DEMO-STAFF": (Role.COMMUNITY_STAFF.value, COMMUNITY, ""),
    "DEMO-STREET": (Role.STREET_STAFF.value, "铁西区/北沟街道", ""),
    "DEMO-DISTRICT": (Role.DEPARTMENT_STAFF.value, "铁西区", ""),
    "DEMO-COMMITTEE": (Role.OWNERS_COMMITTEE.value, f"{COMMUNITY}/阳光花园", ""),
    # Staff of the demo's property company, which serves 阳光花园 (DEMO_COMPANY): they see that compound only.
    "DEMO-PROPERTY": (Role.PROPERTY_STAFF.value, f"{COMMUNITY}/阳光花园", ""),
}
# The demo's property company: its name, the compounds it serves and since when.
DEMO_COMPANY = ("阳光物业服务有限公司", (f"{COMMUNITY}/阳光花园",), date(2026, 1, 1))
WARNING = (
    "DEMO MODE: public demo codes (DEMO-DISTRICT, DEMO-STAFF, ...) give anyone staff powers; "
    "set LINLI_DEMO=0 or run `linli import-org` before real use"
)


def start(session: Session, settings: Settings, now: datetime) -> bool:
    """At the start: load the demo when it may run (True), else retire its codes (False)."""
    if settings.load_demo is not False and settings.embedded and only_demo_org(session):
        if load_demo(session, now):
            log.info("demo organisation loaded")
        return True
    retire(session)
    return False


def load_demo(session: Session, now: datetime) -> bool:
    """Load the demo org and invites into an empty database; False when an org already exists."""
    if session.exec(select(OrgNode).limit(1)).first() is not None:
        _ensure_invites(session, now)
        return False
    homes, grids = org.parse_yaml(DEMO_ORG.read_text(encoding="utf-8"))
    org.load_rows(session, homes, grids)
    _ensure_invites(session, now)
    return True


def only_demo_org(session: Session) -> bool:
    """Whether every node, home and grid in the database is one of the demo organisation's (or none is)."""
    nodes, homes, grids = _demo_names()
    for model, limit in ((OrgNode, nodes), (Home, homes), (Grid, grids)):
        if session.exec(select(func.count()).select_from(model)).one() > len(limit):
            return False  # more than the demo has: a real organisation, no need to read it
    names: dict[int, tuple[str, ...]] = {}
    # A parent is always created before its children, so in id order each parent's names are known.
    for node_id, parent_id, name in session.exec(
        select(OrgNode.id, OrgNode.parent_id, OrgNode.name).order_by(col(OrgNode.id))
    ).all():
        parent = names.get(parent_id) if parent_id else ()
        if parent is None or node_id is None:  # a stored node always has an id
            return False
        names[node_id] = (*parent, name)
    if not set(names.values()) <= nodes:
        return False
    stored_homes = session.exec(select(Home.entrance_id, Home.number)).all()
    if not {(*names[entrance], number) for entrance, number in stored_homes} <= homes:
        return False
    stored_grids = session.exec(select(Grid.community_id, Grid.name)).all()
    return {(*names[community], name) for community, name in stored_grids} <= grids


def retire(session: Session) -> int:
    """Remove the demo codes and take back the homes and roles given through them (and nothing else);
    how many codes went."""
    invites = session.exec(select(Invite).where(col(Invite.code).in_(DEMO_INVITES))).all()
    ids = [invite.id for invite in invites]
    if not ids:
        return 0
    given = session.exec(select(RoleGrant).where(col(RoleGrant.invite_id).in_(ids))).all()
    for invite in invites:
        holders = [g.person_id for g in given if g.invite_id == invite.id]
        if invite.grid_id is not None and holders:
            for column in (Grid.worker_id, Grid.backup_id):
                session.exec(
                    update(Grid)
                    .where(col(Grid.id) == invite.grid_id, col(column).in_(holders))
                    .values({column: None})
                )
    session.exec(delete(RoleGrant).where(col(RoleGrant.invite_id).in_(ids)))
    demo_company = companies.by_name(session, DEMO_COMPANY[0])
    if demo_company is not None and any(invite.company_id == demo_company.id for invite in invites):
        # Staff joined the demo company through its public code: the company's access goes with the code.
        session.exec(delete(CompanyStaff).where(col(CompanyStaff.company_id) == demo_company.id))
    session.exec(delete(Residency).where(col(Residency.invite_id).in_(ids)))
    _warn_unrecorded(session, invites)
    for invite in invites:
        session.delete(invite)
    session.flush()
    log.warning("demo off: %d public demo codes removed and what they granted taken back", len(invites))
    return len(invites)


def _warn_unrecorded(session: Session, invites: Sequence[Invite]) -> None:
    """Roles and homes on the demo codes' targets whose origin was not recorded (given before Linli kept
    it): they may be real, so they stay, but the operator is told to check them."""
    roles = [
        and_(col(RoleGrant.role) == i.kind, col(RoleGrant.node_id) == i.node_id)
        for i in invites
        if i.node_id is not None
    ]
    homes = [
        and_(col(Residency.kind) == i.kind, col(Residency.home_id) == i.home_id)
        for i in invites
        if i.home_id is not None
    ]
    unrecorded = len(
        session.exec(
            select(RoleGrant.id).where(col(RoleGrant.invite_id).is_(None), or_(false(), *roles))
        ).all()
    ) + len(
        session.exec(
            select(Residency.id).where(col(Residency.invite_id).is_(None), or_(false(), *homes))
        ).all()
    )
    if unrecorded:
        log.warning(
            "demo off: %d roles or homes on the demo's targets were given before Linli recorded which code "
            "gave them; they stay: check them (a public demo code may have given them)",
            unrecorded,
        )


@cache
def _demo_names() -> tuple[Names, Names, Names]:
    """The demo org's node name paths, its homes (entrance path + number) and grids (community + name)."""
    homes, grids = org.parse_yaml(DEMO_ORG.read_text(encoding="utf-8"))
    nodes = {row.names[:depth] for row in homes for depth in range(1, len(row.names) + 1)}
    nodes |= {grid.community[:depth] for grid in grids for depth in range(1, 4)}
    return (
        frozenset(nodes),
        frozenset((*row.names, row.number) for row in homes),
        frozenset((*grid.community, grid.name) for grid in grids),
    )


def _ensure_company(session: Session, now: datetime) -> int:
    name, compounds, since = DEMO_COMPANY
    company = companies.ensure(session, name, now)
    assert company.id is not None
    for path in compounds:
        node = org.find_node(session, path)
        if node is not None and node.id is not None:
            companies.sign(session, company.id, node.id, since, None)
    return company.id


def _ensure_invites(session: Session, now: datetime) -> None:
    company_id = _ensure_company(session, now)
    for code, (kind, path, grid_name) in DEMO_INVITES.items():
        if session.exec(select(Invite).where(Invite.code == code)).first() is not None:
            continue
        if kind in people.RESIDENT_KINDS:
            home = org.find_home(session, path)
            if home is None:
                continue
            people.create_invite(session, kind, now, home_id=home.id, code=code, uses=None)
        else:
            node = org.find_node(session, path)
            if node is None:
                continue
            company = company_id if kind == Role.PROPERTY_STAFF else None
            invite = people.create_invite(
                session, kind, now, node_id=node.id, code=code, uses=None, company_id=company
            )
            if grid_name:
                grid = session.exec(select(Grid).where(Grid.name == grid_name)).first()
                invite.grid_id = grid.id if grid else None
    session.flush()
