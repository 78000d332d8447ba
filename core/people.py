"""People joining: redeem an invite, choose a home and wait for staff, staff deciding on such residents,
the list of those waiting, and a person's language.

The use cases run in the turn's `Work`, ask the permission policy who may approve residents where, call
the rules in db.people and record the events (`ResidentAwaitsApproval`, `ResidencyDecided`) the notify
layer turns into pushes. A refusal is a `PeopleError` with a short `reason`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import col, select

from core.events import ResidentAwaitsApproval
from core.permissions import Action, Actor, Role, may, place
from core.work import Work
from db import people
from db.models import Home, OrgNode, Person, Residency
from db.rows import id_of

INVITE_SHAPE = re.compile(r"^[A-Za-z0-9_-]{4,32}$")
LOCALES = ("zh_CN", "en")


class PeopleError(ValueError):
    """A joining rule was broken; `reason` is a short key, `detail` what the chat may add (a status)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Joined:
    """An invite redeemed: what it made the person (owner, tenant, a role) and where."""

    kind: str
    where: str


@dataclass(frozen=True, slots=True)
class HomeChosen:
    """A home asked for: the residency's status (pending, or verified already) and the home's address."""

    status: str
    home: str


@dataclass(frozen=True, slots=True)
class Decided:
    """A residency verified or rejected, and the home's address."""

    approved: bool
    home: str


@dataclass(frozen=True, slots=True)
class Waiting:
    """A resident waiting for verification: the residency, the person's name, the home, owner or tenant."""

    residency_id: int
    name: str
    home: str
    kind: str


def looks_like_invite(text: str) -> bool:
    """Whether a typed text could be an invite code."""
    return bool(INVITE_SHAPE.match(text.strip()))


def home_label(work: Work, home_id: int) -> str:
    """A home's address (`阳光花园 1栋 1单元 101`), empty when there is no such home."""
    view = people.home_view(work.session, home_id)
    return view.label if view else ""


# --- joining -----------------------------------------------------------------------------------------


def redeem_invite(work: Work, person_id: int, code: str) -> Joined:
    """Bind the person with an invite code: a verified home, or a role over a node (a grid worker also
    takes their grid); `invite_invalid` when the code is malformed, unknown, used up or expired."""
    if not looks_like_invite(code):
        raise PeopleError("invite_invalid")
    invite = people.redeem_invite(work.session, code, person_id, work.now)
    if invite is None:
        raise PeopleError("invite_invalid")
    where = ""
    if invite.home_id is not None:
        where = home_label(work, invite.home_id)
    elif invite.node_id is not None:
        node = work.session.get(OrgNode, invite.node_id)
        where = node.name if node else ""
    if invite.kind == Role.GRID_WORKER and invite.grid_id is not None:
        grid = people.take_grid(work.session, invite.grid_id, person_id)
        if grid is not None:
            where = grid.name
    return Joined(invite.kind, where)


def choose_home(work: Work, person_id: int, home_id: int, kind: str) -> HomeChosen:
    """Ask to live in a home as owner or tenant; staff over it are told unless it is verified already.
    `stale` when there is no such home or kind."""
    home = work.session.get(Home, home_id)
    if home is None or kind not in people.RESIDENT_KINDS:
        raise PeopleError("stale")
    residency = people.request_residency(work.session, person_id, home_id, kind, work.now)
    if residency.status != "verified":
        work.record(ResidentAwaitsApproval(id_of(residency), person_id, home_id, kind))
    return HomeChosen(residency.status, home_label(work, home_id))


def set_language(work: Work, person_id: int, locale: str) -> None:
    """Switch the person's language (`locale` when it is not one Linli speaks)."""
    if locale not in LOCALES:
        raise PeopleError("locale")
    people.set_locale(work.session, person_id, locale)


# --- staff deciding ----------------------------------------------------------------------------------


def may_approve(actor: Actor, compound: OrgNode | None = None) -> bool:
    """Whether the actor may decide on residents of this compound (anywhere, when None)."""
    return may(actor, Action.APPROVE_RESIDENT, None if compound is None else place(compound.path))


def pending_for(work: Work, actor: Actor, limit: int = 10) -> list[Waiting]:
    """Residents waiting for verification inside the actor's jurisdiction, oldest first; `not_staff`
    when they may approve nobody."""
    if not may_approve(actor):
        raise PeopleError("not_staff")
    rows = work.session.exec(
        select(Residency, Home, OrgNode)
        .join(Home, col(Home.id) == Residency.home_id)
        .join(OrgNode, col(OrgNode.id) == Home.compound_id)
        .where(Residency.status == "pending")
        .order_by(col(Residency.created_at))
    ).all()
    found: list[Waiting] = []
    for residency, home, compound in rows:
        if not may_approve(actor, compound):
            continue
        person = work.session.get(Person, residency.person_id)
        found.append(
            Waiting(
                id_of(residency), person.name if person else "", home_label(work, id_of(home)), residency.kind
            )
        )
        if len(found) >= limit:
            break
    return found


def decide_residency(work: Work, actor: Actor, residency_id: int, approve: bool) -> Decided:
    """Verify or reject a pending residency; the resident is told. Refusals: `not_staff`, `stale` (no
    such residency), `not_allowed` (outside the actor's jurisdiction), `already_decided` (detail: the
    status it has)."""
    if not may_approve(actor):
        raise PeopleError("not_staff")
    residency = work.session.get(Residency, residency_id)
    if residency is None:
        raise PeopleError("stale")
    home = work.session.get(Home, residency.home_id)
    compound = work.session.get(OrgNode, home.compound_id) if home is not None else None
    if compound is None or not may_approve(actor, compound):
        raise PeopleError("not_allowed")
    if residency.status != "pending":
        raise PeopleError("already_decided", residency.status)
    work.record(people.decide_residency(work.session, residency, approve, actor.person_id, work.now))
    return Decided(approve, home_label(work, residency.home_id))
