"""Staff verifying residents who joined without an invite: /pending and its approve and reject buttons."""

from __future__ import annotations

from core import actions, people
from core.actions import Verify
from core.people import PeopleError
from handlers.common import given, stale
from handlers.context import Context
from handlers.flows import Command, Flow
from handlers.types import Button, Reply


def _decision_row(residency_id: int) -> list[Button]:
    return [
        Button.of(Verify("y", residency=residency_id), "approve"),
        Button.of(Verify("n", residency=residency_id), "reject"),
    ]


def pending(ctx: Context, _: str = "") -> list[Reply]:
    """`/pending`: residents waiting for verification inside the staff member's jurisdiction."""
    try:
        waiting = people.pending_for(ctx.work, ctx.actor())
    except PeopleError:
        return [Reply("staff.not_staff")]
    if not waiting:
        return [Reply("staff.no_pending")]
    replies = [
        Reply(
            "staff.pending_request",
            {"name": w.name, "home": w.home, "kind": w.kind},
            [_decision_row(w.residency_id)],
        )
        for w in waiting
    ]
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
        return [Reply("staff.not_staff")]
    return [Reply("staff.decided", {"approved": decided.approved, "home": decided.home})]


FLOW = Flow("", {"/pending": Command(pending, members_only=True)}, actions.Verify, decide)
