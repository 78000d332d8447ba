"""Staff approving residents who joined without an invite: /pending and its buttons."""

from __future__ import annotations

from sqlmodel import col, select

from core.permissions import Action, may, place
from db import people
from db.models import Home, OrgNode, Residency
from handlers.common import parse_id, stale
from handlers.context import Context
from handlers.types import Button, Reply


def _may_approve(ctx: Context, compound: OrgNode | None) -> bool:
    """Whether the person may decide on residents of this compound (anywhere, when None)."""
    return may(ctx.actor(), Action.APPROVE_RESIDENT, None if compound is None else place(compound.path))


def _covers(ctx: Context, home: Home) -> bool:
    compound = ctx.session.get(OrgNode, home.compound_id)
    return compound is not None and _may_approve(ctx, compound)


def pending(ctx: Context) -> list[Reply]:
    """`/pending`: residents waiting for verification inside the staff member's jurisdiction."""
    if not _may_approve(ctx, None):
        return [Reply("staff.not_staff")]
    rows = ctx.session.exec(
        select(Residency, Home, OrgNode)
        .join(Home, col(Home.id) == Residency.home_id)
        .join(OrgNode, col(OrgNode.id) == Home.compound_id)
        .where(Residency.status == "pending")
        .order_by(col(Residency.created_at))
    ).all()
    replies: list[Reply] = []
    for residency, home, compound in rows:
        if not _may_approve(ctx, compound):
            continue
        person = ctx.session.get(people.Person, residency.person_id)
        view = people.home_view(ctx.session, home.id)  # type: ignore[arg-type]
        replies.append(
            Reply(
                "staff.pending_request",
                {
                    "name": person.name if person else "",
                    "home": view.label if view else "",
                    "kind": residency.kind,
                },
                [[Button(f"a:y:{residency.id}", "approve"), Button(f"a:n:{residency.id}", "reject")]],
            )
        )
        if len(replies) >= 10:
            break
    if not replies:
        return [Reply("staff.no_pending")]
    return [Reply("staff.pending_header", {"count": len(replies)}), *replies]


def decide(ctx: Context, data: str) -> list[Reply]:
    """Approve (`a:y:<id>`) or reject (`a:n:<id>`) a pending residency, checked against the database."""
    _, verdict, raw = ([*data.split(":"), "", ""])[:3]
    if not _may_approve(ctx, None):
        return [Reply("staff.not_staff")]
    residency_id = parse_id(raw)
    residency = ctx.session.get(Residency, residency_id) if residency_id else None
    if residency is None or verdict not in ("y", "n"):
        return [stale()]
    home = ctx.session.get(Home, residency.home_id)
    if home is None or not _covers(ctx, home):
        return [Reply("staff.not_allowed")]
    if residency.status != "pending":
        return [Reply("staff.already_decided", {"status": residency.status})]
    residency.status = "verified" if verdict == "y" else "rejected"
    residency.decided_at, residency.decided_by = ctx.now, ctx.person_id
    view = people.home_view(ctx.session, home.id)  # type: ignore[arg-type]
    label = view.label if view else ""
    ctx.notify(residency.person_id, Reply("onboarding.decided", {"approved": verdict == "y", "home": label}))
    return [Reply("staff.decided", {"approved": verdict == "y", "home": label})]
