"""Staff verifying residents who joined without an invite: /pending and its approve and reject buttons.

Each request shows what staff check before deciding (name, masked phone, the home and its area, who else
is registered there, the certificate photo); approving an owner whose compound wants a certificate and who
sent none is refused, and its button says so.
"""

from __future__ import annotations

from core import actions, people
from core.actions import Verify
from core.people import PeopleError, Waiting
from handlers.common import given, stale
from handlers.context import Context
from handlers.flows import Command, Flow
from handlers.types import Attachment, Button, Reply, shows_photo


def decision_row(waiting: Waiting) -> list[Button]:
    """通过 / 驳回; the approve button says why it cannot approve when the certificate is missing."""
    approve = "approve_needs_document" if waiting.document_missing else "approve"
    return [
        Button.of(Verify("y", residency=waiting.residency_id), approve),
        Button.of(Verify("n", residency=waiting.residency_id), "reject"),
    ]


def request_reply(waiting: Waiting, channel: str) -> Reply:
    """One request as a staff member on `channel` sees it, with the certificate photo where it can show."""
    photos = []
    if waiting.document is not None and shows_photo(waiting.document[0], channel):
        photos.append(Attachment("photo", waiting.document[1]))
    context = {**waiting.context(), "photo_elsewhere": waiting.document is not None and not photos}
    return Reply("staff.pending_request", context, [decision_row(waiting)], photos=photos)


def pending(ctx: Context, _: str = "") -> list[Reply]:
    """`/pending`: residents waiting for verification inside the staff member's jurisdiction."""
    try:
        waiting = people.pending_for(ctx.work, ctx.actor())
    except PeopleError:
        return [Reply("staff.not_staff")]
    if not waiting:
        return [Reply("staff.no_pending")]
    replies = [request_reply(w, ctx.person.channel) for w in waiting]
    return [Reply("staff.pending_header", {"count": len(replies)}), *replies]


def decide(ctx: Context, press: Verify) -> list[Reply]:
    """Approve (`y`) or reject (`n`) a pending residency, checked against the database."""
    try:
        decided = people.decide_residency(ctx.work, ctx.actor(), given(press.residency), press.verb == "y")
    except PeopleError as refused:
        if refused.reason == "stale":
            return [stale()]
        if refused.reason == "already_decided":
            return [Reply("staff.already_decided", {"status": refused.detail})]
        if refused.reason == "not_allowed":
            return [Reply("staff.not_allowed")]
        if refused.reason == "document_missing":
            return [Reply("staff.document_missing")]
        return [Reply("staff.not_staff")]
    return [Reply("staff.decided", {"approved": decided.approved, "home": decided.home})]


FLOW = Flow("", {"/pending": Command(pending, members_only=True)}, actions.Verify, decide)
