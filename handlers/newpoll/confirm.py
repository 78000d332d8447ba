"""The end of /newpoll: the summary with the electorate as it stands (the draft checked against every
rule), and creating the poll. A broken rule raises `PollError`; the flow sends the author back to the
step that fixes it."""

from __future__ import annotations

from core import polls as use_cases
from core.actions import NewPoll
from handlers.context import Context
from handlers.newpoll.asks import button, cancel_row
from handlers.newpoll.draft import PollDraft, for_rules
from handlers.types import Reply


def _area(centi_m2: int) -> str:
    """An area in m² with two decimals (exact, from 0.01 m² integers)."""
    return f"{centi_m2 // 100}.{centi_m2 % 100:02d}"


def summary(ctx: Context, draft: PollDraft) -> list[Reply]:
    """Everything the poll will be, with whom it reaches now, to confirm; PollError if a rule is broken."""
    found = use_cases.summarise(ctx.work, ctx.actor(), for_rules(ctx, draft))
    checked = found.draft
    ctx.state.step = "confirm"
    context = {
        "place": " / ".join(found.place),
        "buildings": found.buildings,
        "title": checked.title,
        "body": checked.body,
        "photo": checked.attachment is not None,
        "matter": checked.matter,
        "special": checked.matter in use_cases.SPECIAL_MATTERS,
        "kind": checked.kind,
        "candidates": list(checked.candidates),
        "seats": checked.seats,
        "opens_at": checked.opens_at.isoformat(),
        "closes_at": checked.closes_at.isoformat(),
        "opens_now": checked.opens_at <= ctx.now,
        "notice_days": (checked.opens_at - ctx.now).days,  # whole days of notice, as the 15-day rule counts
        "reason": checked.shortened_reason,
        "secret": checked.secret,
        "changeable": checked.changeable,
        "consultative": checked.consultative,
        "homes": found.electorate.homes,
        "area": _area(found.electorate.area_centi_m2),
        "owned": found.electorate.owned_homes,
        "audience": found.audience,
    }
    buttons = [[button(NewPoll("ok"), "newpoll.btn_create", count=found.audience)], cancel_row()]
    return [Reply("newpoll.summary", context, buttons)]


def create(ctx: Context, draft: PollDraft) -> list[Reply]:
    """Create and announce the poll, and leave the flow; PollError if a rule is broken by now."""
    created = use_cases.create_poll(ctx.work, ctx.actor(), for_rules(ctx, draft))
    ctx.state.clear()
    poll = created.poll
    return [
        Reply(
            "newpoll.created",
            {
                "id": poll.id,
                "title": poll.title,
                "opens_at": poll.opens_at.isoformat(),
                "closes_at": poll.closes_at.isoformat(),
                "audience": created.audience,
                "notice_id": created.notice_id,
            },
        )
    ]
