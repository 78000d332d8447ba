"""What committee events tell whom (registered with `tells`): new members that they serve, the outgoing
committee and community staff of a handover, the committee and community and street staff of a term
ending, the street of a compound left without a committee (monthly), community staff of an overdue
handover and of elected names that match no owner. Pushes about terms wait for the end of quiet hours."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.actions import Committees
from core.events import (
    CommitteeInstalled,
    CommitteeLapsed,
    CommitteeTermReminder,
    ElectionUnmatched,
    HandoverOpened,
    HandoverOverdue,
)
from core.notify import Choice, Message, tells
from core.permissions import Role
from core.work import Work
from db import notices
from db.committee import rules
from db.committee.tables import Committee, Handover
from db.models import OrgNode
from db.rows import id_of


def _view(compound_id: int) -> tuple[tuple[Choice, ...], ...]:
    return ((Choice(Committees("v", compound=compound_id), "committee.btn_view"),),)


def _later(work: Work) -> Any:
    return notices.release_time(False, work.now, work.now, work.policy)


def _terms(work: Work, committee: Committee) -> dict[str, Any]:
    node = work.session.get(OrgNode, committee.compound_id)
    return {
        "compound": node.name if node else "",
        "kind": committee.kind,
        "starts_on": committee.starts_on.isoformat(),
        "ends_on": committee.ends_on.isoformat(),
    }


def _staff(work: Work, compound_id: int, *roles: Role) -> list[int]:
    node = work.session.get(OrgNode, compound_id)
    return rules.staff_over(work.session, node, *roles) if node is not None else []


@tells(CommitteeInstalled)
def installed(work: Work, event: CommitteeInstalled) -> Iterable[Message]:
    """Each member hears that they now serve, in which post and until when."""
    committee = work.session.get(Committee, event.committee_id)
    if committee is None:
        return
    context = {**_terms(work, committee), "elected": event.poll_id is not None}
    for member, _ in rules.members(work.session, event.committee_id):
        shown = {**context, "post": member.post}
        yield Message(member.person_id, "committee.push_installed", shown, _view(event.compound_id))


@tells(HandoverOpened)
def handover_opened(work: Work, event: HandoverOpened) -> Iterable[Message]:
    """The outgoing members and community staff hear what is to be handed over, and by when."""
    handover = work.session.get(Handover, event.handover_id)
    old = work.session.get(Committee, handover.old_committee_id) if handover is not None else None
    if handover is None or old is None:
        return
    context = {**_terms(work, old), "items": list(handover.items), "due_at": handover.due_at.isoformat()}
    old_members = [m.person_id for m, _ in rules.members(work.session, id_of(old))]
    done = (Choice(Committees("h", handover=event.handover_id), "committee.btn_handover_done"),)
    for person_id in old_members:
        buttons = (done,) if person_id == old.chair_id else _view(handover.compound_id)
        yield Message(person_id, "committee.push_handover", {**context, "outgoing": True}, buttons)
    for person_id in _staff(work, handover.compound_id, Role.COMMUNITY_STAFF):
        if person_id not in old_members:
            yield Message(person_id, "committee.push_handover", {**context, "outgoing": False}, (done,))


@tells(CommitteeTermReminder)
def term_ending(work: Work, event: CommitteeTermReminder) -> Iterable[Message]:
    """The committee, community staff and street staff over the compound hear the term ends in months."""
    committee = work.session.get(Committee, event.committee_id)
    if committee is None:
        return
    context = {**_terms(work, committee), "months": event.months}
    seen: set[int] = set()
    members = [m.person_id for m, _ in rules.members(work.session, event.committee_id)]
    for person_id, member in [(p, True) for p in members] + [
        (p, False) for p in _staff(work, event.compound_id, Role.COMMUNITY_STAFF, Role.STREET_STAFF)
    ]:
        if person_id in seen:
            continue
        seen.add(person_id)
        yield Message(
            person_id,
            "committee.push_term_ending",
            {**context, "member": member},
            _view(event.compound_id),
            not_before=_later(work),
        )


@tells(CommitteeLapsed)
def lapsed(work: Work, event: CommitteeLapsed) -> Iterable[Message]:
    """Street staff over the compound hear that it has had no committee since the term ended."""
    committee = work.session.get(Committee, event.committee_id)
    if committee is None:
        return
    context = {**_terms(work, committee), "months": event.months}
    for person_id in _staff(work, event.compound_id, Role.STREET_STAFF):
        yield Message(
            person_id, "committee.push_lapsed", context, _view(event.compound_id), not_before=_later(work)
        )


@tells(HandoverOverdue)
def handover_overdue(work: Work, event: HandoverOverdue) -> Iterable[Message]:
    """Community staff over the compound hear that a handover is late."""
    handover = work.session.get(Handover, event.handover_id)
    old = work.session.get(Committee, handover.old_committee_id) if handover is not None else None
    if handover is None or old is None:
        return
    context = {**_terms(work, old), "items": list(handover.items), "days_late": event.days_late}
    done = ((Choice(Committees("h", handover=event.handover_id), "committee.btn_handover_done"),),)
    for person_id in _staff(work, handover.compound_id, Role.COMMUNITY_STAFF):
        yield Message(person_id, "committee.push_handover_overdue", context, done, not_before=_later(work))


@tells(ElectionUnmatched)
def unmatched(work: Work, event: ElectionUnmatched) -> Iterable[Message]:
    """Community staff hear which elected names match no single verified owner, to set them by hand, and
    which were matched by name to an owner (who, which home), to confirm."""
    node = work.session.get(OrgNode, event.compound_id)
    context: dict[str, Any] = {"compound": node.name if node else "", "names": list(event.names)}
    context["installed"] = event.installed
    context["matched"] = [
        {"name": name, "building": building, "entrance": entrance, "number": number}
        for name, building, entrance, number in event.matched
    ]
    for person_id in _staff(work, event.compound_id, Role.COMMUNITY_STAFF):
        yield Message(person_id, "committee.push_unmatched", context, _view(event.compound_id))
