"""People, their channel identities, homes they live in, roles, and invites."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, bindparam, insert, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.events import ResidencyDecided
from core.permissions import (
    ROLE_VALUES,
    Action,
    Actor,
    Grant,
    Residence,
    ResidentKind,
    Role,
    path_ids,
    roles_for,
)
from db.committee.grants import committee_grants
from db.companies import CompanyStaff, company_grants
from db.companies import join as join_company
from db.models import Grid, GridBuilding, Home, Identity, Invite, OrgNode, Person, Residency, RoleGrant
from db.rows import id_of, table_of

RESIDENT_KINDS: tuple[str, ...] = tuple(k.value for k in ResidentKind)
ROLES: tuple[str, ...] = tuple(r.value for r in Role)  # every role an invite may grant
# An entrance's printed invite: it grants nothing, it opens the home chooser at that entrance, so a
# resident picks their home, gives name and phone, and staff approve as for any self-registration.
ENTRANCE = "entrance"
INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: codes are read aloud and typed


@dataclass(slots=True)
class Who:
    """The person behind one channel account, as a turn needs them: ids, name and language."""

    person_id: int
    identity_id: int
    channel: str
    name: str
    locale: str


_PERSON = table_of(Person)
_IDENT = table_of(Identity)
# Read on every turn: a prebuilt Core join, no ORM objects.
WHO_COLUMNS = (
    _IDENT.c.id,
    _IDENT.c.person_id,
    _IDENT.c.chat_id,
    _IDENT.c.unreachable,
    _PERSON.c.name,
    _PERSON.c.locale,
)
WHO_FROM = _IDENT.join(_PERSON, _PERSON.c.id == _IDENT.c.person_id)
WHO_WHERE = (_IDENT.c.channel == bindparam("b_channel"), _IDENT.c.external_id == bindparam("b_external_id"))
_WHO = sa_select(*WHO_COLUMNS).select_from(WHO_FROM).where(*WHO_WHERE)


def find_or_create_person(
    session: Session,
    channel: str,
    external_id: str,
    chat_id: str,
    display_name: str,
    locale: str,
    now: datetime,
) -> Who:
    """The person behind a channel account, created on first contact."""
    connection = session.connection()
    row = connection.execute(_WHO, {"b_channel": channel, "b_external_id": external_id}).first()
    if row is not None:
        return known(connection, row, channel, chat_id)
    return create_person(connection, channel, external_id, chat_id, display_name, locale, now)


def known(connection: Connection, row: Any, channel: str, chat_id: str) -> Who:
    """The person of a row read with the `_WHO` columns; the account's chat id is brought up to date."""
    changes: dict[str, object] = {}
    if chat_id and row.chat_id != chat_id:
        changes["chat_id"] = chat_id
    if row.unreachable:
        changes["unreachable"] = False  # they wrote to us, so they can be reached again
    if changes:
        connection.execute(update(_IDENT).where(_IDENT.c.id == row.id).values(**changes))
    return Who(row.person_id, row.id, channel, row.name, row.locale)


def create_person(
    connection: Connection,
    channel: str,
    external_id: str,
    chat_id: str,
    display_name: str,
    locale: str,
    now: datetime,
) -> Who:
    """A new person for a channel account seen for the first time (or the one another process just made)."""
    try:
        # A savepoint: a first message reaching two processes at once creates the account once, and the
        # slower turn reads the faster one's row instead of failing.
        with connection.begin_nested():
            person_id, identity_id = _create(
                connection, channel, external_id, chat_id, display_name, locale, now
            )
    except IntegrityError:
        row = connection.execute(_WHO, {"b_channel": channel, "b_external_id": external_id}).one()
        return Who(row.person_id, row.id, channel, row.name, row.locale)
    return Who(person_id, identity_id, channel, display_name[:100], locale)


def _create(
    connection: Connection,
    channel: str,
    external_id: str,
    chat_id: str,
    display_name: str,
    locale: str,
    now: datetime,
) -> tuple[int, int]:
    person_id = connection.execute(
        insert(_PERSON)
        .values(name=display_name[:100], phone="", locale=locale, created_at=now)
        .returning(_PERSON.c.id)
    ).scalar_one()
    identity_id = connection.execute(
        insert(_IDENT)
        .values(
            channel=channel,
            external_id=external_id,
            chat_id=chat_id or external_id,
            person_id=person_id,
            display_name=display_name[:100],
            unreachable=False,
        )
        .returning(_IDENT.c.id)
    ).scalar_one()
    return person_id, identity_id


def lock_person(session: Session, person_id: int) -> None:
    """Hold the person's row until the transaction ends, so their turns run one at a time in every
    process (FOR UPDATE on PostgreSQL; SQLite's immediate transactions already take one write lock)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_LOCK, {"b_person_id": person_id})


# FOR NO KEY UPDATE: it still runs a person's turns one at a time, but does not block (or deadlock with)
# another turn that only inserts a row pointing at them, such as a push to them in the outbox.
_LOCK = select(_PERSON.c.id).where(_PERSON.c.id == bindparam("b_person_id")).with_for_update(key_share=True)


def set_locale(session: Session, person_id: int, locale: str) -> None:
    """Change a person's language."""
    session.connection().execute(update(_PERSON).where(_PERSON.c.id == person_id).values(locale=locale))


@dataclass(frozen=True, slots=True)
class HomeView:
    """A home with the names of its compound, building and entrance."""

    home_id: int
    compound: str
    building: str
    entrance: str
    number: str
    building_id: int
    compound_id: int

    @property
    def label(self) -> str:
        """`阳光花园 1栋 1单元 101` style address."""
        return f"{self.compound} {self.building} {self.entrance} {self.number}"


def home_view(session: Session, home_id: int) -> HomeView | None:
    """A home with its names, or None."""
    row = session.connection().execute(_HOME_VIEW, {"b_home_id": home_id}).first()
    if row is None:
        return None
    home, compound, building, entrance, number, building_id, compound_id = row
    return HomeView(home, compound or "", building or "", entrance or "", number, building_id, compound_id)


# Built once: these run in the report flow and on every menu, and building a query costs more than
# running it on SQLite.
_HOME = table_of(Home)
_NODE = table_of(OrgNode)
_COMPOUND, _BUILDING, _ENTRANCE = _NODE.alias(), _NODE.alias(), _NODE.alias()
_HOME_VIEW = (  # homes and org nodes are written by imports, never in a turn: no flush needed first
    sa_select(
        _HOME.c.id,
        _COMPOUND.c.name,
        _BUILDING.c.name,
        _ENTRANCE.c.name,
        _HOME.c.number,
        _HOME.c.building_id,
        _HOME.c.compound_id,
    )
    .select_from(
        _HOME.outerjoin(_COMPOUND, _COMPOUND.c.id == _HOME.c.compound_id)
        .outerjoin(_BUILDING, _BUILDING.c.id == _HOME.c.building_id)
        .outerjoin(_ENTRANCE, _ENTRANCE.c.id == _HOME.c.entrance_id)
    )
    .where(_HOME.c.id == bindparam("b_home_id"))
)
# ORM columns, so that a grant or residency added in the turn is flushed and seen, as before.
_RESIDENCIES = (
    select(Residency).where(Residency.person_id == bindparam("b_person_id")).order_by(col(Residency.id))
)
_ROLES = select(RoleGrant).where(RoleGrant.person_id == bindparam("b_person_id"))
_GRANTS = (
    select(RoleGrant.role, RoleGrant.node_id, OrgNode.path, OrgNode.kind)
    .join(OrgNode, col(OrgNode.id) == RoleGrant.node_id)
    .where(RoleGrant.person_id == bindparam("b_person_id"))
    .order_by(col(RoleGrant.id))
)
_RESIDENCES = (
    select(Residency.kind, Residency.status, Residency.home_id, OrgNode.path)
    .join(Home, col(Home.id) == Residency.home_id)
    .join(OrgNode, col(OrgNode.id) == Home.entrance_id)
    .where(Residency.person_id == bindparam("b_person_id"))
    .order_by(col(Residency.id))
)


def residencies(session: Session, person_id: int, status: str | None = None) -> list[Residency]:
    """A person's residencies, optionally only those with a given status."""
    rows = session.exec(_RESIDENCIES, params={"b_person_id": person_id}).all()
    return [r for r in rows if not status or r.status == status]


def roles(session: Session, person_id: int) -> list[RoleGrant]:
    """The staff roles a person holds."""
    return list(session.exec(_ROLES, params={"b_person_id": person_id}).all())


def grants_of(session: Session, person_id: int) -> tuple[Grant, ...]:
    """A person's roles with the path and kind of the node each was granted on, oldest first."""
    rows = session.exec(_GRANTS, params={"b_person_id": person_id}).all()
    return tuple(Grant(Role(r), n, p, k) for r, n, p, k in rows if r in ROLE_VALUES)


def actor(session: Session, person_id: int, on: date | None = None) -> Actor:
    """A person as the permission policy sees them: their grants (with those their property company's
    contracts give on day `on`, today when None) and their residences."""
    rows = session.exec(_RESIDENCES, params={"b_person_id": person_id}).all()
    residences = tuple(Residence(ResidentKind(k), s, h, p) for k, s, h, p in rows if k in RESIDENT_KINDS)
    # A contract's end is a date, not an instant: the calendar day is close enough where no clock is given.
    today = on if on is not None else datetime.now(ZoneInfo("Asia/Shanghai")).date()
    grants = (
        grants_of(session, person_id)
        + company_grants(session, person_id, today)
        + committee_grants(session, person_id, today)
    )
    return Actor(person_id, grants, residences)


def new_invite_code() -> str:
    """A fresh random invite code, easy to read aloud."""
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(10))


def create_invite(
    session: Session,
    kind: str,
    now: datetime,
    home_id: int | None = None,
    node_id: int | None = None,
    code: str | None = None,
    uses: int | None = 1,
    expires_at: datetime | None = None,
    wecom_userid: str | None = None,
    company_id: int | None = None,
) -> Invite:
    """Create an invite for a home (owner/tenant) or a staff role over a node; one bound to a WeCom member
    (`wecom_userid`) is redeemed by their first message in the WeCom app; a property-staff invite for a
    company (`company_id`) makes its user one of the company's staff, over the compounds it serves."""
    if kind in RESIDENT_KINDS and home_id is None:
        raise ValueError("a resident invite needs a home")
    if company_id is not None and kind != Role.PROPERTY_STAFF:
        raise ValueError("only a property-staff invite names a company")
    if kind in (*ROLES, ENTRANCE) and node_id is None and company_id is None:
        raise ValueError("a staff or entrance invite needs a node of the org tree")
    if kind not in (*RESIDENT_KINDS, *ROLES, ENTRANCE):
        raise ValueError(f"unknown invite kind {kind!r}")
    if wecom_userid is not None and uses != 1:
        raise ValueError("an invite bound to a WeCom member is used once, by that member")
    invite = Invite(
        code=(code or new_invite_code()).upper(),
        kind=kind,
        home_id=home_id,
        node_id=node_id,
        uses_left=uses,
        created_at=now,
        expires_at=expires_at,
        wecom_userid=wecom_userid,
        company_id=company_id,
    )
    session.add(invite)
    session.flush()
    return invite


def bind_wecom_worker(session: Session, grid: Grid, wecom_userid: str, now: datetime) -> None:
    """An invite making this WeCom member the grid's worker on their first message, unless the
    organisation file bound them to it before (importing the file again changes nothing). An unused
    invite of this grid bound to someone else is withdrawn: the file now names another worker."""
    stale = session.exec(
        select(Invite).where(
            Invite.grid_id == grid.id,
            col(Invite.wecom_userid).is_not(None),
            Invite.wecom_userid != wecom_userid,
            col(Invite.uses_left) > 0,
        )
    ).all()
    for invite in stale:
        invite.uses_left = 0
    bound = session.exec(
        select(Invite.id).where(Invite.wecom_userid == wecom_userid, Invite.grid_id == grid.id)
    ).first()
    if bound is None:
        invite = create_invite(
            session, Role.GRID_WORKER.value, now, node_id=grid.community_id, wecom_userid=wecom_userid
        )
        invite.grid_id = grid.id


def wecom_invite(session: Session, wecom_userid: str, now: datetime) -> str | None:
    """The code of an unused, unexpired invite bound to this WeCom member, oldest first; None when there is
    none (the member's first message redeems it: the WeCom channel turns it into `/start CODE`)."""
    return session.exec(
        select(Invite.code)
        .where(
            Invite.wecom_userid == wecom_userid,
            col(Invite.uses_left) > 0,
            or_(col(Invite.expires_at).is_(None), col(Invite.expires_at) > now),
        )
        .order_by(col(Invite.id))
    ).first()


def redeem_invite(session: Session, code: str, person_id: int, now: datetime) -> Invite | None:
    """Bind the person to what the invite grants; None when the code is unknown, used up or expired."""
    code = code.strip().upper()
    invite = session.exec(_INVITE, params={"b_code": code}).one_or_none()  # stored upper-case
    if invite is None or (invite.expires_at is not None and invite.expires_at <= now):
        return None
    if invite.wecom_userid is not None and not _holds_wecom(session, person_id, invite.wecom_userid):
        return None  # bound to one WeCom member: nobody else may use its code
    if invite.kind == ENTRANCE:
        return invite  # binds nothing: the chat goes on to the home chooser of its entrance
    lived: Residency | None = None
    if invite.kind in RESIDENT_KINDS:
        assert invite.home_id is not None
        lived = session.exec(
            _LIVES, params={"b_person_id": person_id, "b_home_id": invite.home_id}
        ).one_or_none()
        if lived is not None and lived.kind == invite.kind and lived.status == "verified":
            return invite  # sending the same code again must not use up another place
    elif invite.company_id is not None:
        if session.get(CompanyStaff, (person_id, invite.company_id)) is not None:
            return invite
    else:
        assert invite.node_id is not None
        params = {"b_person_id": person_id, "b_role": invite.kind, "b_node_id": invite.node_id}
        if session.exec(_HOLDS, params=params).first() is not None:
            return invite
    if invite.uses_left is not None:
        # A conditional decrement, so two people racing for the last use cannot both win.
        taken = session.exec(_TAKE_USE, params={"b_invite_id": invite.id})
        if taken.rowcount != 1:
            return None
    if invite.home_id is not None and invite.kind in RESIDENT_KINDS:
        if lived is None:
            session.add(
                Residency(
                    person_id=person_id,
                    home_id=invite.home_id,
                    kind=invite.kind,
                    status="verified",
                    created_at=now,
                    decided_at=now,
                    invite_id=invite.id,
                )
            )
        else:
            lived.kind, lived.status, lived.decided_at = invite.kind, "verified", now
            lived.invite_id = invite.id
    elif invite.company_id is not None:
        join_company(session, person_id, invite.company_id)
    elif invite.node_id is not None:
        session.add(
            RoleGrant(person_id=person_id, role=invite.kind, node_id=invite.node_id, invite_id=invite.id)
        )
    session.flush()
    return invite


def _holds_wecom(session: Session, person_id: int, wecom_userid: str) -> bool:
    """Whether the person writes from this WeCom account."""
    found = session.exec(
        select(Identity.id).where(
            Identity.person_id == person_id, Identity.channel == "wecom", Identity.external_id == wecom_userid
        )
    ).first()
    return found is not None


_INVITE = select(Invite).where(Invite.code == bindparam("b_code"))
_LIVES = select(Residency).where(
    Residency.person_id == bindparam("b_person_id"), Residency.home_id == bindparam("b_home_id")
)
_HOLDS = select(RoleGrant.id).where(
    RoleGrant.person_id == bindparam("b_person_id"),
    RoleGrant.role == bindparam("b_role"),
    RoleGrant.node_id == bindparam("b_node_id"),
)
_TAKE_USE = (
    update(Invite)
    .where(col(Invite.id) == bindparam("b_invite_id"), col(Invite.uses_left) > 0)
    .values(uses_left=col(Invite.uses_left) - 1)
)


def request_residency(
    session: Session,
    person_id: int,
    home_id: int,
    kind: str,
    now: datetime,
    document: tuple[str, str] | None = None,
) -> Residency:
    """Ask to be registered in a home, with the ownership certificate's photo (channel, file ref) when
    one was sent; staff verify it later. A verified residency stays as it is."""
    existing = session.exec(
        select(Residency).where(Residency.person_id == person_id, Residency.home_id == home_id)
    ).one_or_none()
    if existing is not None and existing.status == "verified":
        return existing
    residency = existing or Residency(person_id=person_id, home_id=home_id, kind=kind, created_at=now)
    residency.status, residency.kind, residency.created_at = "pending", kind, now
    if document is not None:
        residency.document_channel, residency.document_ref = document
    session.add(residency)
    session.flush()
    return residency


def set_contact(session: Session, person_id: int, name: str, phone: str) -> None:
    """Keep the name and phone a person gave when they asked to be registered."""
    person = session.get(Person, person_id)
    if person is not None:
        person.name, person.phone = name[:100], phone[:32]
        session.add(person)
        session.flush()


def set_name(session: Session, person_id: int, name: str) -> None:
    """Keep the name a person gave (staff name themselves after joining by invite)."""
    person = session.get(Person, person_id)
    if person is not None:
        person.name = name[:100]
        session.add(person)
        session.flush()


@dataclass(frozen=True, slots=True)
class Resident:
    """Someone registered at a home (verified or waiting): their residency, name, owner or tenant, status."""

    residency_id: int
    person_id: int
    name: str
    kind: str
    status: str


def residents_of(session: Session, home_id: int) -> list[Resident]:
    """Who is registered at a home, verified or waiting, oldest first (the rejected are left out)."""
    rows = session.exec(
        select(Residency, Person.name)
        .join(Person, col(Person.id) == Residency.person_id)
        .where(Residency.home_id == home_id, col(Residency.status).in_(("pending", "verified")))
        .order_by(col(Residency.id))
    ).all()
    return [Resident(id_of(r), r.person_id, name, r.kind, r.status) for r, name in rows]


def take_grid(session: Session, grid_id: int, person_id: int) -> Grid | None:
    """A grid worker's invite names their grid: they become its worker, or its backup when it has one."""
    grid = session.get(Grid, grid_id)
    if grid is not None:
        if grid.worker_id is None or grid.worker_id == person_id:
            grid.worker_id = person_id
        elif grid.backup_id is None:
            grid.backup_id = person_id
    return grid


def approvers(session: Session, home_id: int) -> list[int]:
    """The staff who may verify residents of a home: a grant to approve on its compound or above it."""
    home = session.get(Home, home_id)
    compound = session.get(OrgNode, home.compound_id) if home is not None else None
    if compound is None:
        return []
    grants = session.exec(
        select(RoleGrant).where(
            col(RoleGrant.node_id).in_(path_ids(compound.path)),
            col(RoleGrant.role).in_(roles_for(Action.APPROVE_RESIDENT)),
        )
    ).all()
    return sorted({g.person_id for g in grants})


def decide_residency(
    session: Session, residency: Residency, approve: bool, by: int | None, now: datetime
) -> ResidencyDecided:
    """Verify or reject a pending residency; the event tells the resident."""
    residency.status = "verified" if approve else "rejected"
    residency.decided_at, residency.decided_by = now, by
    return ResidencyDecided(id_of(residency), residency.person_id, residency.home_id, approve)


def entrance_invites(session: Session, entrance_ids: list[int], now: datetime) -> dict[int, str]:
    """The printed invite code of each entrance, made the first time it is asked for (unlimited uses, no
    expiry: it hangs in the stairwell for years and grants nothing by itself)."""
    if not entrance_ids:
        return {}
    found: dict[int, str] = {}
    for node_id, code in session.exec(
        select(Invite.node_id, Invite.code)
        .where(Invite.kind == ENTRANCE, col(Invite.node_id).in_(entrance_ids))
        .order_by(col(Invite.id))
    ).all():
        if node_id is not None:
            found.setdefault(node_id, code)
    for entrance_id in entrance_ids:
        if entrance_id not in found:
            found[entrance_id] = create_invite(session, ENTRANCE, now, node_id=entrance_id, uses=None).code
    return found


@dataclass(frozen=True, slots=True)
class Found:
    """A person found by staff: name, phone (to be masked by the caller), homes and roles."""

    person_id: int
    name: str
    phone: str
    off_duty: bool
    homes: tuple[tuple[str, str, str], ...]  # (address, owner | tenant, status)
    roles: tuple[tuple[str, str], ...]  # (role, node name)


def search_people(session: Session, paths: list[str], text: str, limit: int = 50) -> list[Found]:
    """People of a jurisdiction (`paths`, node paths): residents of its homes and those granted a role
    under it, whose name holds `text` or whose phone ends in its four digits or holds all eleven; only
    what lies under `paths` is listed of each."""
    from db.org import in_subtrees  # db.org imports this module

    text = text.strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    if not paths or not text:
        return []
    match = col(Person.name).contains(text, autoescape=True)
    # The last four digits, or the whole number: never a prefix, which would let a number be rebuilt
    # digit by digit from a list that shows only the last four.
    if len(digits) == 4:
        match = or_(match, col(Person.phone).endswith(digits))
    elif len(digits) >= 11:
        match = or_(match, col(Person.phone).contains(digits))
    entrance = _NODE.alias()
    lived = (
        sa_select(col(Residency.person_id))
        .select_from(
            table_of(Residency)
            .join(_HOME, _HOME.c.id == table_of(Residency).c.home_id)
            .join(entrance, entrance.c.id == _HOME.c.entrance_id)
        )
        .where(in_subtrees(entrance.c.path, paths), col(Residency.status).in_(("pending", "verified")))
    )
    granted = (
        sa_select(col(RoleGrant.person_id))
        .join(OrgNode, col(OrgNode.id) == RoleGrant.node_id)
        .where(in_subtrees(col(OrgNode.path), paths))
    )
    persons = session.exec(
        select(Person)
        .where(match, or_(col(Person.id).in_(lived), col(Person.id).in_(granted)))
        .order_by(col(Person.name), col(Person.id))
        .limit(limit)
    ).all()
    found: list[Found] = []
    for person in persons:
        homes = []
        for residency in residencies(session, id_of(person)):
            home = session.get(Home, residency.home_id)
            entrance_node = session.get(OrgNode, home.entrance_id) if home is not None else None
            view = home_view(session, residency.home_id)
            if residency.status == "rejected" or entrance_node is None or view is None:
                continue
            if in_any(entrance_node.path, paths):
                homes.append((view.label, residency.kind, residency.status))
        grants = tuple(
            (role, node.name)
            for role, node in session.exec(
                select(RoleGrant.role, OrgNode)
                .join(OrgNode, col(OrgNode.id) == RoleGrant.node_id)
                .where(RoleGrant.person_id == person.id)
                .order_by(col(RoleGrant.id))
            ).all()
            if in_any(node.path, paths)
        )
        found.append(Found(id_of(person), person.name, person.phone, person.off_duty, tuple(homes), grants))
    return found


def in_any(path: str, paths: list[str]) -> bool:
    """Whether a node path lies under one of `paths`."""
    return any(p and path.startswith(p) for p in paths)


@dataclass(frozen=True, slots=True)
class GridView:
    """A grid as staff manage it: its community, worker and backup (id, name, off duty) and buildings."""

    grid_id: int
    name: str
    community: str
    community_path: str
    worker: tuple[int, str, bool] | None
    backup: tuple[int, str, bool] | None
    buildings: tuple[str, ...]


def grids_under(session: Session, paths: list[str]) -> list[GridView]:
    """The grids of the communities under `paths`, by community and name."""
    from db.org import in_subtrees  # db.org imports this module

    rows = session.exec(
        select(Grid, OrgNode)
        .join(OrgNode, col(OrgNode.id) == Grid.community_id)
        .where(in_subtrees(col(OrgNode.path), paths))
        .order_by(col(OrgNode.name), col(Grid.name), col(Grid.id))
    ).all()
    return [grid_view(session, grid, community) for grid, community in rows]


def grid_view(session: Session, grid: Grid, community: OrgNode) -> GridView:
    """One grid with the names of its people and buildings."""

    def who(person_id: int | None) -> tuple[int, str, bool] | None:
        person = session.get(Person, person_id) if person_id is not None else None
        return (id_of(person), person.name, person.off_duty) if person is not None else None

    compound = _NODE.alias()
    building = _NODE.alias()
    names = (
        session.connection()
        .execute(
            sa_select(compound.c.name, building.c.name)
            .select_from(
                table_of(GridBuilding)
                .join(building, building.c.id == table_of(GridBuilding).c.building_id)
                .join(compound, compound.c.id == building.c.parent_id)
            )
            .where(table_of(GridBuilding).c.grid_id == grid.id)
            .order_by(compound.c.name, building.c.name)
        )
        .all()
    )
    return GridView(
        id_of(grid),
        grid.name,
        community.name,
        community.path,
        who(grid.worker_id),
        who(grid.backup_id),
        tuple(f"{c} {b}" for c, b in names),
    )


def grid_workers_of(session: Session, community_path: str) -> list[tuple[int, str]]:
    """The grid workers granted on a community or under it: (person id, name), by name."""
    rows = session.exec(
        select(Person.id, Person.name)
        .join(RoleGrant, col(RoleGrant.person_id) == Person.id)
        .join(OrgNode, col(OrgNode.id) == RoleGrant.node_id)
        .where(RoleGrant.role == Role.GRID_WORKER.value, col(OrgNode.path).startswith(community_path))
        .order_by(col(Person.name), col(Person.id))
    ).all()
    seen: dict[int, str] = {}
    for person_id, name in rows:
        if person_id is not None:
            seen.setdefault(person_id, name)
    return list(seen.items())
