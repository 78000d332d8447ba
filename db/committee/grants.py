"""The owners'-committee role as membership gives it: a member of the committee in office holds the role over
its compound, so the role follows the committee without grants to keep in step."""

from __future__ import annotations

from datetime import date

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from core.permissions import Grant, Role
from db.committee.tables import Committee, CommitteeMember
from db.models import OrgNode

# One indexed query per turn: the person's memberships (committee_member.person_id), each joined to its
# committee and compound by primary key. A term that has run out grants nothing even before the job marks
# the committee ended; a replaced or ended committee has no `current` marker.
_SERVING = (
    select(Committee.compound_id, OrgNode.path)
    .join(CommitteeMember, col(CommitteeMember.committee_id) == Committee.id)
    .join(OrgNode, col(OrgNode.id) == Committee.compound_id)
    .where(
        CommitteeMember.person_id == bindparam("b_person_id"),
        col(Committee.current).is_(True),
        col(Committee.starts_on) <= bindparam("b_on"),
        col(Committee.ends_on) >= bindparam("b_on"),
    )
    .order_by(col(Committee.compound_id))
)


def committee_grants(session: Session, person_id: int, on: date) -> tuple[Grant, ...]:
    """Owners'-committee grants over the compound of each committee the person serves on, on a day."""
    rows = session.exec(_SERVING, params={"b_person_id": person_id, "b_on": on}).all()
    seen = dict.fromkeys((compound_id, path) for compound_id, path in rows)
    return tuple(Grant(Role.OWNERS_COMMITTEE, compound_id, path, "compound") for compound_id, path in seen)
