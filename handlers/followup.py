"""Follow-up (回访): the reporter rates a resolved ticket 满意 / 基本满意 / 不满意, with an optional comment
when dissatisfied; 不满意 reopens it one level up (DESIGN §4.1)."""

from __future__ import annotations

from core import actions, tickets
from core.tickets import TicketError
from db.cases import states
from handlers.common import stale
from handlers.context import Context
from handlers.flows import Draft, Flow
from handlers.types import Button, Inbound, Reply

NAME = "followup"
RATINGS = {"s": "satisfied", "b": "basically", "d": "dissatisfied"}
MAX_COMMENT = 500


class RatingDraft(Draft):
    """The 不满意 rating waiting for its comment."""

    ticket_id: int | None = None
    rating: str = ""


def _refusal(ticket_id: int, error: TicketError) -> Reply:
    """Why this person may not rate this ticket now."""
    if error.reason == "not_resolved":
        return Reply(
            "followup.not_resolved", {"code": ticket_id, "state": error.state, "rating": error.rating}
        )
    return Reply("followup.not_yours", {"code": ticket_id})


def on_press(ctx: Context, press: actions.Rate) -> list[Reply]:
    """Rate (不满意 first asks for a comment), or skip the comment."""
    ticket_id = press.ticket
    assert ticket_id is not None  # every verb carries a ticket: decode checked the shape
    if press.verb == "k":
        draft = RatingDraft.of(ctx.state)
        if ctx.state.flow != NAME or draft.ticket_id != ticket_id:
            return [stale()]
        return _rate(ctx, ticket_id, draft.rating, "")
    rating = RATINGS[press.verb]
    try:
        tickets.check_rating(ctx.work, ctx.actor(), ticket_id)
    except TicketError as error:
        return [_refusal(ticket_id, error)]
    if rating == "dissatisfied":
        ctx.state.go(NAME, "comment")
        RatingDraft(ticket_id=ticket_id, rating=rating).keep(ctx.state)
        return [_ask_comment(ticket_id)]
    return _rate(ctx, ticket_id, rating, "")


def _ask_comment(ticket_id: int) -> Reply:
    skip = actions.Rate("k", ticket=ticket_id).encode()
    return Reply("followup.ask_comment", {"code": ticket_id}, [[Button(skip, "skip")]])


def on_message(ctx: Context, inbound: Inbound) -> list[Reply]:
    """The comment that goes with a 不满意 rating."""
    draft = RatingDraft.of(ctx.state)
    if draft.ticket_id is None:
        ctx.state.clear()
        return [stale()]
    text = inbound.text.strip()
    if len(text) > MAX_COMMENT:
        return [Reply("report.too_long", {"limit": MAX_COMMENT, "length": len(text)})]
    if not text:
        return [_ask_comment(draft.ticket_id)]
    return _rate(ctx, draft.ticket_id, draft.rating, text)


def _rate(ctx: Context, ticket_id: int, rating: str, comment: str) -> list[Reply]:
    ctx.state.clear()
    try:
        done = tickets.rate(ctx.work, ctx.actor(), ticket_id, rating, comment)
    except TicketError as error:
        if error.reason in ("not_reporter", "not_resolved"):
            return [_refusal(ticket_id, error)]
        return [stale()]
    reopened = done.state == states.REOPENED
    return [
        Reply(
            "followup.thanks",
            {"code": ticket_id, "rating": rating, "reopened": reopened, "level": done.level},
        )
    ]


FLOW = Flow(NAME, press=actions.Rate, on_press=on_press, on_text=on_message)
