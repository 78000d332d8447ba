"""Importing an organisation file by someone who answers for part of the tree (the console's 组织): the
same parsing and all-or-nothing merge as `linli import-org`, limited to the uploader's jurisdiction, and
audited."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import select

from core import audit
from core.permissions import Action, Actor, acting_role, grants_for, place
from core.work import Work
from db import org
from db.models import Grid, Home, OrgNode
from db.org import ImportError_


@dataclass(frozen=True, slots=True)
class Imported:
    """What an import did: homes and grids in the file, and the nodes, homes and grids it added."""

    homes: int
    grids: int
    nodes_added: int
    homes_added: int
    grids_added: int


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
    after = _counts(work)
    done = Imported(
        counts["homes"], counts["grids"], after[0] - before[0], after[1] - before[1], after[2] - before[2]
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


__all__ = ["ImportError_", "Imported", "import_org"]
