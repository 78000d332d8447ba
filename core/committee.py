"""Owners' committees (DESIGN §4.6): who serves a compound and until when, setting a committee (community
staff) or a 物管会 (the street), the committee an election installs, the handover the outgoing one owes,
and the scheduler's reminders.

Each use case runs in a `Work`, asks the permission policy once over the compound (`SEE_COMMITTEE`,
`MANAGE_COMMITTEE`, `SET_UP_MANAGEMENT`), calls the rules in db.committee.rules, records their events and
notes staff actions in the audit log. A refusal is a `CommitteeError` whose `reason` names the message.
The chat (/committee), the console (/console/committees), the poll job and a CLI or import (`set_committee`
with the system actor) all come in here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from core import audit
from core.events import ElectionUnmatched
from core.permissions import SYSTEM, Action, Actor, Role, acting_role, grants_for, may, outermost, place
from core.work import Work
from db.committee import rules
from db.committee.rules import CommitteeError, Owner, Seat
from db.committee.tables import Committee, CommitteeMember, Handover
from db.models import Home, OrgNode, Person, Poll
from db.org import in_subtrees
from db.polls.authoring import buildings_of
from db.rows import id_of

__all__ = ["CommitteeError", "Owner", "Seat"]


# --- where -----------------------------------------------------------------------------------------------


def compound(session: Session, compound_id: int) -> OrgNode:
    """The compound of an id; CommitteeError("not_found") for anything else."""
    node = session.get(OrgNode, compound_id)
    if node is None or node.kind != "compound":
        raise CommitteeError("not_found")
    return node


def compounds_for(work: Work, actor: Actor, action: Action) -> list[OrgNode]:
    """The compounds under the actor's grants for an action, and for reading also those they live in."""
    paths = outermost(g.path for g in grants_for(actor, action))
    found: list[OrgNode] = []
    if paths:
        found = list(
            work.session.exec(
                select(OrgNode).where(OrgNode.kind == "compound", in_subtrees(col(OrgNode.path), paths))
            ).all()
        )
    if action is Action.SEE_COMMITTEE:
        homes = [r.home_id for r in actor.residences if r.status == "verified"]
        known = {n.id for n in found}
        if homes:
            ids = set(work.session.exec(select(Home.compound_id).where(col(Home.id).in_(homes))).all())
            found += _nodes(work.session, ids - {i for i in known if i is not None})
    return sorted(found, key=lambda n: (n.name, n.path))


def _nodes(session: Session, ids: set[int]) -> list[OrgNode]:
    if not ids:
        return []
    rows = session.exec(select(OrgNode).where(col(OrgNode.id).in_(ids), OrgNode.kind == "compound")).all()
    return list(rows)


def _role(actor: Actor, action: Action, node: OrgNode) -> str:
    role = acting_role(actor, action, place(node.path))
    return role.value if role else ""


# --- what a person sees --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Member:
    """A member as shown: name and post."""

    person_id: int
    name: str
    post: str


@dataclass(frozen=True, slots=True)
class CommitteeView:
    """A compound's committee as shown: the committee holding the office (None: none), its members, whether
    its term has run out, the handover still owed, and what the viewer may do."""

    compound: OrgNode
    committee: Committee | None
    members: list[Member] = field(default_factory=list)
    expired: bool = False
    ending_soon: bool = False  # the term ends within six months
    handover: Handover | None = None
    may_manage: bool = False
    may_set_up: bool = False
    may_finish_handover: bool = False

    @property
    def status(self) -> str:
        """in_office | ending | expired | none | management (the console's words)."""
        if self.committee is None:
            return "none"
        if self.expired:
            return "expired"
        if self.committee.kind == "management":
            return "management"
        return "ending" if self.ending_soon else "in_office"


def view(work: Work, actor: Actor, compound_id: int) -> CommitteeView:
    """The compound's committee as the actor may see it; CommitteeError("not_found") when not theirs."""
    node = compound(work.session, compound_id)
    if not may(actor, Action.SEE_COMMITTEE, place(node.path)):
        raise CommitteeError("not_found")
    today = work.now.astimezone(work.policy.zone).date()
    committee = rules.current(work.session, compound_id)
    rows = rules.members(work.session, id_of(committee)) if committee is not None else []
    shown = [Member(m.person_id, name, m.post) for m, name in rows]
    expired = committee is not None and committee.ends_on < today
    ending = committee is not None and not expired and committee.ends_on < rules.add_months(today, 6)
    handover = rules.open_handover(work.session, compound_id)
    manage = may(actor, Action.MANAGE_COMMITTEE, place(node.path))
    return CommitteeView(
        node,
        committee,
        shown,
        expired,
        ending,
        handover,
        manage,
        may(actor, Action.SET_UP_MANAGEMENT, place(node.path)) and (committee is None or expired),
        handover is not None and (manage or _old_chair(work.session, handover) == actor.person_id),
    )


def _old_chair(session: Session, handover: Handover) -> int | None:
    old = session.get(Committee, handover.old_committee_id)
    return old.chair_id if old is not None else None


def owners(
    work: Work, actor: Actor, compound_id: int, building_id: int | None = None, text: str = ""
) -> list[Owner]:
    """Verified owners of the compound to choose members from (in a building, or by name)."""
    node = compound(work.session, compound_id)
    where = place(node.path)
    if not (may(actor, Action.MANAGE_COMMITTEE, where) or may(actor, Action.SET_UP_MANAGEMENT, where)):
        raise CommitteeError("not_allowed")
    return rules.owners_of(work.session, compound_id, building_id, text)


def staff(work: Work, actor: Actor, compound_id: int) -> list[tuple[int, str, str]]:
    """Street and community staff over the compound, for a 物管会: (person, name, role)."""
    node = compound(work.session, compound_id)
    if not may(actor, Action.SET_UP_MANAGEMENT, place(node.path)):
        raise CommitteeError("not_allowed")
    found: list[tuple[int, str, str]] = []
    for role in (Role.STREET_STAFF, Role.COMMUNITY_STAFF):
        for person_id in rules.staff_over(work.session, node, role):
            person = work.session.get(Person, person_id)
            if person is not None and all(f[0] != person_id for f in found):
                found.append((person_id, person.name, role.value))
    return found


# --- setting a committee ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Installed:
    """A committee put in office, and the one it replaced (which owes a handover)."""

    committee: Committee
    replaced: Committee | None


def check(
    work: Work,
    actor: Actor,
    compound_id: int,
    kind: str,
    starts_on: date,
    ends_on: date,
    seats: Sequence[Seat],
) -> OrgNode:
    """Every rule a committee must meet before it is set, and the actor's right; returns the compound."""
    node = compound(work.session, compound_id)
    action = Action.SET_UP_MANAGEMENT if kind == "management" else Action.MANAGE_COMMITTEE
    if kind not in ("owners", "management"):
        raise CommitteeError("bad_kind")
    if not may(actor, action, place(node.path)):
        raise CommitteeError("not_allowed")
    rules.check_term(starts_on, ends_on)
    if kind == "management":
        held = rules.current(work.session, compound_id)
        if held is not None and held.ends_on >= work.now.astimezone(work.policy.zone).date():
            raise CommitteeError("in_office")  # a 物管会 only where no committee serves
    street = set(rules.staff_over(work.session, node, Role.STREET_STAFF)) if kind == "management" else set()
    rules.check_seats(kind, seats, rules.verified_owners(work.session, compound_id), street)
    return node


def set_committee(
    work: Work,
    actor: Actor,
    compound_id: int,
    kind: str,
    starts_on: date,
    ends_on: date,
    filed_on: date | None,
    seats: Sequence[Seat],
) -> Installed:
    """Put a committee (owners) or 物管会 (management) in office in a compound, replacing the one there.

    Community staff set owners' committees, the street sets up 物管会; the CLI or an org import calls it
    with the system actor."""
    node = check(work, actor, compound_id, kind, starts_on, ends_on, seats)
    committee, old, events = rules.install(
        work.session,
        compound_id,
        kind,
        starts_on,
        ends_on,
        filed_on,
        seats,
        work.now,
        work.policy.zone,
        by=actor.person_id,
    )
    work.record(*events)
    action = Action.SET_UP_MANAGEMENT if kind == "management" else Action.MANAGE_COMMITTEE
    code = "committee.management" if kind == "management" else "committee.set"
    audit.record(
        work, actor, _role(actor, action, node), code, "committee", committee.id, node.path,
        _terms(old) if old is not None else None, _terms(committee, seats),
    )  # fmt: skip
    return Installed(committee, old)


def _terms(committee: Committee, seats: Sequence[Seat] | None = None) -> dict[str, Any]:
    terms: dict[str, Any] = {
        "id": committee.id,
        "kind": committee.kind,
        "starts_on": committee.starts_on.isoformat(),
        "ends_on": committee.ends_on.isoformat(),
        "filed_on": committee.filed_on.isoformat() if committee.filed_on else None,
        "state": committee.state,
    }
    if seats is not None:
        terms["members"] = [[s.person_id, s.post] for s in seats]
    return terms


def finish_handover(work: Work, actor: Actor, handover_id: int) -> Handover:
    """Community staff or the outgoing chair mark a handover done."""
    handover = work.session.get(Handover, handover_id)
    if handover is None:
        raise CommitteeError("not_found")
    node = compound(work.session, handover.compound_id)
    manage = may(actor, Action.MANAGE_COMMITTEE, place(node.path))
    if not manage and (actor.person_id is None or _old_chair(work.session, handover) != actor.person_id):
        raise CommitteeError("not_allowed")
    rules.finish_handover(handover, work.now, actor.person_id)
    role = _role(actor, Action.MANAGE_COMMITTEE, node) if manage else Role.OWNERS_COMMITTEE.value
    audit.record(
        work, actor, role, "committee.handover_done", "committee_handover", handover.id, node.path,
        {"done_at": None}, {"done_at": work.now.isoformat()},
    )  # fmt: skip
    return handover


# --- elections -------------------------------------------------------------------------------------------


def after_poll(work: Work, poll: Poll) -> Committee | None:
    """When a binding election of the committee (matter 3) closes and passes, its elected candidates take
    office for five years from the close and the committee in office is replaced (it owes a handover).

    Candidates are names: each is matched to the one verified owner of the compound of that name;
    names matching nobody or several people are reported to community staff, and so are the names matched,
    with their homes, since a namesake owner may stand where an unregistered candidate was elected."""
    if poll.kind != "election" or poll.matter != 3 or poll.consultative:
        return None
    result = poll.result or {}
    if result.get("outcome") != "passed" or not result.get("elected"):
        return None
    names = [poll.candidates[int(n) - 1] for n in result["elected"] if 0 < int(n) <= len(poll.candidates)]
    owners = rules.verified_owners(work.session, poll.node_id)
    seats: list[Seat] = []
    unmatched: list[str] = []
    matched: list[tuple[str, str, str, str]] = []
    for name in names:
        people = work.session.exec(select(Person.id).where(Person.name == name.strip())).all()
        found = [p for p in people if p in owners]
        if len(found) == 1 and all(s.person_id != found[0] for s in seats):
            seats.append(Seat(found[0], "member"))
            matched.append(_home_of(work, poll.node_id, found[0], name.strip()))
        else:
            unmatched.append(name)
    committee: Committee | None = None
    if seats:
        node = compound(work.session, poll.node_id)
        starts_on = (poll.closed_at or work.now).astimezone(work.policy.zone).date()
        committee, old, events = rules.install(
            work.session,
            poll.node_id,
            "owners",
            starts_on,
            rules.default_end(starts_on),
            None,
            seats,
            work.now,
            work.policy.zone,
            poll_id=poll.id,
        )
        work.record(*events)
        audit.record(
            work, SYSTEM, "", "committee.install", "committee", committee.id, node.path,
            _terms(old) if old is not None else None, {**_terms(committee, seats), "poll": poll.id},
        )  # fmt: skip
    if unmatched or matched:
        work.record(
            ElectionUnmatched(
                id_of(poll), poll.node_id, tuple(unmatched), committee is not None, tuple(matched)
            )
        )
    return committee


def _home_of(work: Work, compound_id: int, person_id: int, name: str) -> tuple[str, str, str, str]:
    """The owner matched to an elected name, as staff check them: name, building, entrance, home."""
    for found in rules.owners_of(work.session, compound_id, text=name, limit=1000):
        if found.person_id == person_id:
            return (found.name, found.building, found.entrance, found.number)
    return (name, "", "", "")


# --- the scheduler ---------------------------------------------------------------------------------------


def advance(work: Work, committee: Committee) -> str:
    """Apply a committee's due reminder (or the end of its term) and record what it raised."""
    was_current = bool(committee.current)
    done, events = rules.step(work.session, committee, work.now, work.policy.zone)
    work.record(*events)
    if was_current and not committee.current:
        node = work.session.get(OrgNode, committee.compound_id)
        audit.record(
            work, SYSTEM, "", "committee.end", "committee", committee.id, node.path if node else "",
            {"state": "in_office"}, {"state": committee.state},
        )  # fmt: skip
    return done


def advance_handover(work: Work, handover: Handover) -> str:
    """Remind community staff of an overdue handover; returns what was done."""
    done, events = rules.handover_step(handover, work.now)
    work.record(*events)
    return done


def member_ids(session: Session, committee_id: int) -> list[int]:
    """The people on a committee."""
    return list(
        session.exec(
            select(CommitteeMember.person_id).where(CommitteeMember.committee_id == committee_id)
        ).all()
    )


def buildings(work: Work, compound_id: int) -> list[OrgNode]:
    """A compound's buildings, by name (to list its owners building by building)."""
    return buildings_of(work.session, compound_id)
