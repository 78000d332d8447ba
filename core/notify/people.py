"""What people events tell whom (registered with `tells`)."""

from __future__ import annotations

from collections.abc import Iterable

from core import people as applicant
from core.actions import Verify
from core.events import ResidencyDecided, ResidentAwaitsApproval
from core.notify import Choice, Message, tells
from core.work import Work
from db import people


def _home(work: Work, home_id: int) -> str:
    view = people.home_view(work.session, home_id)
    return view.label if view else ""


@tells(ResidentAwaitsApproval)
def awaits_approval(work: Work, event: ResidentAwaitsApproval) -> Iterable[Message]:
    """Every staff member who may verify residents of the home is asked to, with approve and reject and
    what they check first: the name and masked phone given, the home and its area, who else lives there,
    the certificate photo (shown by each channel that can)."""
    waiting = applicant.waiting_of(work, event.residency_id)
    if waiting is None:
        return
    context = {**waiting.context(), "_photos": [list(waiting.document)] if waiting.document else []}
    approve = "approve_needs_document" if waiting.document_missing else "approve"
    buttons = (
        (
            Choice(Verify("y", residency=event.residency_id), approve),
            Choice(Verify("n", residency=event.residency_id), "reject"),
        ),
    )
    for staff_id in people.approvers(work.session, event.home_id):
        yield Message(staff_id, "staff.pending_request", context, buttons)


@tells(ResidencyDecided)
def decided(work: Work, event: ResidencyDecided) -> Iterable[Message]:
    """The resident hears whether their home was verified."""
    context = {"approved": event.approved, "home": _home(work, event.home_id)}
    yield Message(event.person_id, "onboarding.decided", context)
