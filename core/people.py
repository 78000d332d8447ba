"""People joining: redeem an invite, ask for a home (name, phone and, where the compound wants it, the
ownership certificate's photo) and wait for staff, staff deciding on such residents with what they gave in
view, the list of those waiting, and a person's language.

The use cases run in the turn's `Work`, ask the permission policy who may approve residents where, call
the rules in db.people and record the events (`ResidentAwaitsApproval`, `ResidencyDecided`) the notify
layer turns into pushes. A refusal is a `PeopleError` with a short `reason`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from core import audit
from core.events import ResidentAwaitsApproval
from core.permissions import (
    Action,
    Actor,
    ResidentKind,
    Role,
    acting_role,
    grants_for,
    may,
    path_ids,
    place,
)
from core.ticket_cards import mask_phone
from core.work import Work
from db import people
from db.models import Home, OrgNode, Person, Residency
from db.org import in_subtrees
from db.rows import id_of

INVITE_SHAPE = re.compile(r"^[A-Za-z0-9_-]{4,32}$")
LOCALES = ("zh_CN", "en")
# A mainland mobile number once spaces, dashes, brackets and a +86 / 0086 prefix are taken away.
MOBILE = re.compile(r"^1[3-9]\d{9}$")
_PHONE_NOISE = re.compile(r"[\s\-()（）—－]")
MAX_NAME = 20  # what staff read in a list: a person's name, not a sentence


class PeopleError(ValueError):
    """A joining rule was broken; `reason` is a short key, `detail` what the chat may add (a status)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Joined:
    """An invite redeemed: what it made the person (owner, tenant, a role) and where; an entrance's
    printed invite makes them nothing yet (`kind` "entrance", `node_id` the entrance to choose a home in)."""

    kind: str
    where: str
    node_id: int | None = None


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
class Neighbour:
    """Someone else registered at the same home: name, owner or tenant, verified or pending."""

    name: str
    kind: str
    status: str


@dataclass(frozen=True, slots=True)
class Waiting:
    """A resident waiting for verification, with what staff check before deciding: the name and phone
    they gave (the phone masked, DESIGN §3), the home with its registered area, owner or tenant, who else
    is registered there, the ownership certificate's photo (channel, file ref) if one was sent, and
    whether one is required and missing (then approval is refused)."""

    residency_id: int
    name: str
    home: str
    kind: str
    phone: str = ""
    area: str = ""  # m², as "89.5"
    others: tuple[Neighbour, ...] = ()
    document: tuple[str, str] | None = None
    document_missing: bool = False
    since: datetime | None = None  # when they asked

    def context(self) -> dict[str, object]:
        """What the staff templates show of the request."""
        return {
            "name": self.name,
            "home": self.home,
            "kind": self.kind,
            "phone": self.phone,
            "area": self.area,
            "others": [{"name": o.name, "kind": o.kind, "status": o.status} for o in self.others],
            "document": self.document is not None,
            "document_missing": self.document_missing,
            "photo_elsewhere": False,  # a chat that cannot show the photo says so
        }


def looks_like_invite(text: str) -> bool:
    """Whether a typed text could be an invite code."""
    return bool(INVITE_SHAPE.match(text.strip()))


def mobile_number(text: str) -> str | None:
    """A typed mainland mobile number as its 11 digits (`138 1234-5678`, `+86 13812345678` …), or None."""
    digits = _PHONE_NOISE.sub("", text.strip())
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix) :]
            break
    return digits if MOBILE.match(digits) else None


def shared_number(raw: str) -> str:
    """A number the platform's contact button shared (its owner's, checked by the platform): a mainland
    mobile as its 11 digits, any other as `+` and its digits."""
    mobile = mobile_number(raw)
    if mobile is not None:
        return mobile
    digits = "".join(ch for ch in raw if ch.isdigit())
    return f"+{digits}"[:32] if digits else ""


def person_name(text: str) -> str | None:
    """A typed name as kept (spaces tidied), or None when it cannot be one: empty, too long, a command,
    or no letter in it."""
    name = " ".join(text.split())
    if not name or len(name) > MAX_NAME or name.startswith(("/", "#", "＃")):
        return None
    return name if any(ch.isalpha() for ch in name) else None


def area_text(area_centi_m2: int) -> str:
    """A registered area in m² as people write it: `89.5`, `120.35`, `76`."""
    return f"{area_centi_m2 / 100:.2f}".rstrip("0").rstrip(".")


def home_label(work: Work, home_id: int) -> str:
    """A home's address (`阳光花园 1栋 1单元 101`), empty when there is no such home."""
    view = people.home_view(work.session, home_id)
    return view.label if view else ""


def place_label(work: Work, node_id: int) -> str:
    """A node's address from its compound down (`阳光花园 1栋 1单元`), its name when above a compound."""
    node = work.session.get(OrgNode, node_id)
    if node is None:
        return ""
    names = []
    for ancestor_id in path_ids(node.path):
        ancestor = work.session.get(OrgNode, ancestor_id)
        if ancestor is not None and ancestor.kind in ("compound", "building", "entrance"):
            names.append(ancestor.name)
    return " ".join(names) or node.name


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
    if invite.kind == people.ENTRANCE and invite.node_id is not None:
        return Joined(invite.kind, place_label(work, invite.node_id), invite.node_id)
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


def needs_document(work: Work, home_id: int, kind: str) -> bool:
    """Whether asking to be this home's `kind` needs a photo of the ownership certificate: an owner in a
    compound whose organisation file says `owner_document: true`."""
    if kind != ResidentKind.OWNER:
        return False
    home = work.session.get(Home, home_id)
    compound = work.session.get(OrgNode, home.compound_id) if home is not None else None
    return bool(compound is not None and compound.owner_document)


def choose_home(
    work: Work,
    person_id: int,
    home_id: int,
    kind: str,
    name: str = "",
    phone: str = "",
    document: tuple[str, str] | None = None,
) -> HomeChosen:
    """Ask to live in a home as owner or tenant, with the name and phone the person gave (kept on them)
    and the certificate's photo; staff over the home are told unless it is verified already. `stale`
    when there is no such home or kind, `document` when the compound wants a certificate and none came."""
    home = work.session.get(Home, home_id)
    if home is None or kind not in people.RESIDENT_KINDS:
        raise PeopleError("stale")
    if document is None and needs_document(work, home_id, kind):
        raise PeopleError("document")
    if name or phone:
        people.set_contact(work.session, person_id, name, phone)
    residency = people.request_residency(work.session, person_id, home_id, kind, work.now, document)
    if residency.status != "verified":
        work.record(ResidentAwaitsApproval(id_of(residency), person_id, home_id, kind))
    return HomeChosen(residency.status, home_label(work, home_id))


def set_language(work: Work, person_id: int, locale: str) -> None:
    """Switch the person's language (`locale` when it is not one Linli speaks)."""
    if locale not in LOCALES:
        raise PeopleError("locale")
    people.set_locale(work.session, person_id, locale)


def name_staff(work: Work, actor: Actor, name: str) -> str:
    """Staff who joined by invite without a name give one: cards and assignments show it."""
    if actor.person_id is None or not actor.grants:
        raise PeopleError("not_staff")
    given = person_name(name)
    if given is None:
        raise PeopleError("name")
    people.set_name(work.session, actor.person_id, given)
    return given


# --- staff deciding ----------------------------------------------------------------------------------


def may_approve(actor: Actor, compound: OrgNode | None = None) -> bool:
    """Whether the actor may decide on residents of this compound (anywhere, when None)."""
    return may(actor, Action.APPROVE_RESIDENT, None if compound is None else place(compound.path))


def document_missing(work: Work, residency: Residency) -> bool:
    """Whether a self-registered owner's request lacks the certificate photo their compound requires."""
    return (
        residency.invite_id is None
        and not residency.document_ref
        and needs_document(work, residency.home_id, residency.kind)
    )


def waiting(work: Work, residency: Residency) -> Waiting:
    """A pending request as staff see it before deciding."""
    person = work.session.get(Person, residency.person_id)
    home = work.session.get(Home, residency.home_id)
    others = tuple(
        Neighbour(r.name, r.kind, r.status)
        for r in people.residents_of(work.session, residency.home_id)
        if r.residency_id != residency.id
    )
    document = (residency.document_channel, residency.document_ref) if residency.document_ref else None
    return Waiting(
        id_of(residency),
        person.name if person else "",
        home_label(work, residency.home_id),
        residency.kind,
        mask_phone(person.phone) if person else "",
        area_text(home.area_centi_m2) if home else "",
        others,
        document,
        document_missing(work, residency),
        residency.created_at,
    )


def waiting_of(work: Work, residency_id: int) -> Waiting | None:
    """The request behind a residency, when it is still pending."""
    residency = work.session.get(Residency, residency_id)
    if residency is None or residency.status != "pending":
        return None
    return waiting(work, residency)


def pending_for(work: Work, actor: Actor, limit: int = 10) -> list[Waiting]:
    """Residents waiting for verification inside the actor's jurisdiction, oldest first; `not_staff`
    when they may approve nobody."""
    if not may_approve(actor):
        raise PeopleError("not_staff")
    rows = work.session.exec(
        select(Residency, OrgNode)
        .join(Home, col(Home.id) == Residency.home_id)
        .join(OrgNode, col(OrgNode.id) == Home.compound_id)
        .where(Residency.status == "pending")
        .order_by(col(Residency.created_at))
    ).all()
    found: list[Waiting] = []
    for residency, compound in rows:
        if not may_approve(actor, compound):
            continue
        found.append(waiting(work, residency))
        if len(found) >= limit:
            break
    return found


def decide_residency(work: Work, actor: Actor, residency_id: int, approve: bool) -> Decided:
    """Verify or reject a pending residency; the resident is told. Refusals: `not_staff`, `stale` (no
    such residency), `not_allowed` (outside the actor's jurisdiction), `already_decided` (detail: the
    status it has), `document_missing` (approving an owner whose compound wants a certificate photo and
    who sent none; rejecting stays possible)."""
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
    if approve and document_missing(work, residency):
        raise PeopleError("document_missing")
    before = residency.status
    work.record(people.decide_residency(work.session, residency, approve, actor.person_id, work.now))
    entrance = work.session.get(OrgNode, home.entrance_id) if home is not None else None
    role = acting_role(actor, Action.APPROVE_RESIDENT, place(compound.path))
    audit.record(
        work,
        actor,
        role.value if role is not None else "",
        "resident.approve" if approve else "resident.reject",
        "residency",
        residency_id,
        entrance.path if entrance is not None else compound.path,
        {"status": before},
        {"status": residency.status, "home": home_label(work, residency.home_id), "kind": residency.kind},
    )
    return Decided(approve, home_label(work, residency.home_id))


# --- staff looking after the people of their jurisdiction (the console) --------------------------------


def last_four(phone: str) -> str:
    """A phone as a search result shows it: its last four digits only (`****5678`)."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return f"****{digits[-4:]}" if len(digits) >= 4 else ""


def jurisdiction(actor: Actor) -> list[str]:
    """The node paths under which the actor looks after residents (their APPROVE_RESIDENT grants)."""
    return [grant.path for grant in grants_for(actor, Action.APPROVE_RESIDENT)]


def search(work: Work, actor: Actor, text: str, limit: int = 50) -> list[people.Found]:
    """People of the actor's jurisdiction whose name holds `text` or whose phone holds its digits, with
    the phone cut to its last four digits (`not_staff` when they look after no residents)."""
    paths = jurisdiction(actor)
    if not paths:
        raise PeopleError("not_staff")
    return [
        dataclasses.replace(found, phone=last_four(found.phone))
        for found in people.search_people(work.session, paths, text, limit)
    ]


@dataclass(frozen=True, slots=True)
class EntranceInvite:
    """The printed invite of one entrance: its address and code."""

    entrance_id: int
    place: str
    code: str


def entrance_invites(work: Work, actor: Actor, under_node: int | None = None) -> list[EntranceInvite]:
    """Every entrance of the actor's jurisdiction (or of one node in it) with its printed invite code,
    made on first use; `not_staff` when they look after no residents, `not_allowed` for a node outside."""
    paths = jurisdiction(actor)
    if not paths:
        raise PeopleError("not_staff")
    if under_node is not None:
        node = work.session.get(OrgNode, under_node)
        if node is None or not may(actor, Action.APPROVE_RESIDENT, place(node.path)):
            raise PeopleError("not_allowed")
        paths = [node.path]
    entrances = work.session.exec(
        select(OrgNode)
        .where(OrgNode.kind == "entrance", in_subtrees(col(OrgNode.path), paths))
        .order_by(col(OrgNode.path))
    ).all()
    labelled = sorted(((place_label(work, id_of(e)), id_of(e)) for e in entrances), key=_address_order)
    codes = people.entrance_invites(work.session, [i for _, i in labelled], work.now)
    return [EntranceInvite(i, label, codes[i]) for label, i in labelled]


def _address_order(item: tuple[str, int]) -> tuple[object, ...]:
    """`阳光花园 2栋 1单元` before `阳光花园 10栋 1单元`: numbers in names compare as numbers."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", item[0]))


def compounds_of(work: Work, actor: Actor) -> list[tuple[int, str]]:
    """The compounds of the actor's jurisdiction: (node id, name), by name."""
    paths = jurisdiction(actor)
    rows = work.session.exec(
        select(OrgNode)
        .where(OrgNode.kind == "compound", in_subtrees(col(OrgNode.path), paths))
        .order_by(col(OrgNode.name))
    ).all()
    return [(id_of(node), node.name) for node in rows]
