"""Follow-up (回访): the reporter rates a resolved ticket 满意 / 基本满意 / 不满意, with an optional comment
when dissatisfied; 不满意 reopens it one level up (DESIGN §4.1)."""

from __future__ import annotations

from db import cases
from db.models import Ticket
from handlers.common import parse_id, stale
from handlers.context import Context
from handlers.types import Button, Inbound, Reply

FLOW = "followup"
RATINGS = {"s": "satisfied", "b": "basically", "d": "dissatisfied"}
MAX_COMMENT = 500


def _refusal(ctx: Context, ticket: Ticket | None, ticket_id: int) -> Reply | None:
    """Why this person may not rate this ticket now, or None when they may."""
    if ticket is None or ticket.reporter_id != ctx.person_id:
        return Reply("followup.not_yours", {"code": ticket_id})
    if ticket.state != "resolved":
        return Reply(
            "followup.not_resolved", {"code": ticket.id, "state": ticket.state, "rating": ticket.rating}
        )
    return None


def on_button(ctx: Context, data: str) -> list[Reply]:
    """`f:s|b|d:<id>` rates (不满意 first asks for a comment); `f:k:<id>` skips the comment."""
    parts = data.split(":")
    if len(parts) != 3:
        return [stale()]
    _, action, raw = parts
    ticket_id = parse_id(raw)
    if ticket_id is None:
        return [stale()]
    if action == "k":
        if ctx.state.flow != FLOW or ctx.state.data.get("ticket_id") != ticket_id:
            return [stale()]
        return _rate(ctx, ticket_id, str(ctx.state.data.get("rating", "")), "")
    rating = RATINGS.get(action)
    if rating is None:
        return [stale()]
    ticket = ctx.session.get(Ticket, ticket_id)
    refusal = _refusal(ctx, ticket, ticket_id)
    if refusal is not None:
        return [refusal]
    if rating == "dissatisfied":
        ctx.state.go(FLOW, "comment", ticket_id=ticket_id, rating=rating)
        return [_ask_comment(ticket_id)]
    return _rate(ctx, ticket_id, rating, "")


def _ask_comment(ticket_id: int) -> Reply:
    return Reply("followup.ask_comment", {"code": ticket_id}, [[Button(f"f:k:{ticket_id}", "skip")]])


def on_message(ctx: Context, inbound: Inbound) -> list[Reply]:
    """The comment that goes with a 不满意 rating."""
    ticket_id = ctx.state.data.get("ticket_id")
    if not isinstance(ticket_id, int):
        ctx.state.clear()
        return [stale()]
    text = inbound.text.strip()
    if len(text) > MAX_COMMENT:
        return [Reply("report.too_long", {"limit": MAX_COMMENT, "length": len(text)})]
    if not text:
        return [_ask_comment(ticket_id)]
    return _rate(ctx, ticket_id, str(ctx.state.data.get("rating", "")), text)


def _rate(ctx: Context, ticket_id: int, rating: str, comment: str) -> list[Reply]:
    ctx.state.clear()
    ticket = ctx.session.get(Ticket, ticket_id)
    refusal = _refusal(ctx, ticket, ticket_id)
    if refusal is not None or ticket is None:
        return [refusal or stale()]
    try:
        cases.rate(ctx.session, ticket, ctx.person_id, rating, comment, ctx.now, ctx.policy)
    except cases.CaseError:
        return [stale()]
    return [
        Reply(
            "followup.thanks",
            {
                "code": ticket.id,
                "rating": rating,
                "reopened": ticket.state == "reopened",
                "level": ticket.level,
            },
        )
    ]
