"""Importing an organisation file by someone who answers for part of the tree (the console's 组织): the
same parsing and all-or-nothing merge as `linli import-org`, limited to the uploader's jurisdiction, and
audited."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select

from core import audit, committee
from core.permissions import Action, Actor, acting_role, grants_for, place
from core.work import Work
from db import org
from db.committee import rules
from db.committee.rules import CommitteeError, Seat
from db.committee.tables import Committee, CommitteeMember
from db.models import Grid, Home, OrgNode, Person, Residency
from db.org import ImportError_


@dataclass(frozen=True, slots=True)
class Imported:
    """What an import did: homes and grids in the file, and the nodes, homes and grids it added."""

    homes: int
    grids: int
    nodes_added: int
    homes_added: int
    grids_added: int
    committees: int = 0  # committees the file put in office


def _counts(work: Work) -> tuple[int, int, int]:
    session = work.session
    return (
        session.exec(select(func.count()).select_from(OrgNode)).one(),
        session.exec(select(func.count()).select_from(Home)).one(),
        session.exec(select(func.count()).select_from(Grid)).one(),
    )


def import_org(work: Work, actor: Actor, file_name: str, data: bytes) -> Imported:
    """Merge an uploaded org file (YAML tree, or CSV when its name ends in .csv) whose every row lies
    under one of the actor's IMPORT_ORG grants; a bad or foreign row is an ImportError_ with its line and
    nothing changes. PermissionError when the actor may import nowhere."""
    grants = grants_for(actor, Action.IMPORT_ORG)
    if not grants and actor.person_id is not None:
        raise PermissionError("import_org")
    homes, grids = org.parse_org(org.org_text(data), file_name)
    chains = [(grant.path, org.names_of(work.session, grant.path)) for grant in grants]
    if actor.person_id is not None:
        refused = org.outside(homes, grids, [names for _, names in chains])
        if refused is not None:
            raise refused
    before = _counts(work)
    counts = org.load_all(work.session, homes, grids, work.now)
    seated = install_committees(work, actor, homes)
    after = _counts(work)
    done = Imported(
        counts["homes"],
        counts["grids"],
        after[0] - before[0],
        after[1] - before[1],
        after[2] - before[2],
        seated,
    )
    # Where it happened: the uploader's grant that holds the file's first row (their own node).
    first = homes[0].names
    path = next((p for p, names in chains if first[: len(names)] == names), "")
    role = acting_role(actor, Action.IMPORT_ORG, place(path)) if path else None
    audit.record(
        work,
        actor,
        role.value if role is not None else "",
        "org.import",
        "org",
        None,
        path,
        None,
        {
            "file": file_name[:100],
            "homes": done.homes,
            "grids": done.grids,
            "nodes_added": done.nodes_added,
            "homes_added": done.homes_added,
            "grids_added": done.grids_added,
        },
    )
    return done


# Why a committee the file names cannot be set, in the file's words (the rules' reasons are keys).
COMMITTEE_REASONS = {
    "term_order": "the committee's term ends before it starts",
    "term_too_long": "a committee's term is at most five years",
    "too_many": "too many committee members",
    "duplicate_member": "a person is listed twice on the committee",
    "two_chairs": "the committee has more than one 主任",
    "not_allowed": "you may not set this compound's committee",
}


def install_committees(work: Work, actor: Actor, homes: list[org.HomeRow]) -> int:
    """Put in office each committee the file names (members found among the verified owners of their
    homes, by their registered name); one already in office with the same term and members is left as it
    is. Returns how many were set; a member not found is an ImportError_ on their line."""
    terms: dict[tuple[str, ...], org.CommitteeTerm] = {}
    for row in homes:
        if row.committee is not None:
            terms.setdefault(row.names[:4], row.committee)
    seated = 0
    for names, term in terms.items():
        node = org.find_node(work.session, "/".join(names))
        assert node is not None and node.id is not None  # the rows were just merged
        seats = [Seat(_member(work, names, seat), seat.post) for seat in term.seats]
        held = rules.current(work.session, node.id)
        if held is not None and _same(work, held, term, seats):
            continue
        try:
            committee.set_committee(
                work, actor, node.id, "owners", term.starts_on, term.ends_on, term.filed_on, seats
            )
        except CommitteeError as exc:
            raise ImportError_(term.line, COMMITTEE_REASONS.get(exc.reason, exc.reason)) from None
        seated += 1
    return seated


def _member(work: Work, compound: tuple[str, ...], seat: org.SeatRow) -> int:
    """The verified owner of the seat's home registered under its name."""
    home = org.find_home(work.session, "/".join((*compound, seat.home)))
    if home is None:
        raise ImportError_(seat.line, f"no home {seat.home!r} in {compound[-1]}")
    found = work.session.exec(
        select(Residency.person_id)
        .join(Person, col(Person.id) == Residency.person_id)
        .where(
            Residency.home_id == home.id,
            Residency.kind == "owner",
            Residency.status == "verified",
            Person.name == seat.name,
        )
    ).all()
    if len(found) != 1:
        raise ImportError_(
            seat.line,
            f"{seat.name} is not a verified owner of {seat.home} in Linli yet: they join, then import again",
        )
    return found[0]


def _same(work: Work, held: Committee, term: org.CommitteeTerm, seats: list[Seat]) -> bool:
    """Whether the committee in office already has the file's term and members."""
    if (held.kind, held.starts_on, held.ends_on) != ("owners", term.starts_on, term.ends_on):
        return False
    members = work.session.exec(
        select(CommitteeMember.person_id, CommitteeMember.post).where(CommitteeMember.committee_id == held.id)
    ).all()
    return sorted(members) == sorted((s.person_id, s.post) for s in seats)


__all__ = ["ImportError_", "Imported", "import_org", "install_committees"]
