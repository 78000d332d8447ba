"""The end of /newpoll: the summary with the electorate as it stands (the draft checked against every
rule), and creating the poll. A broken rule raises `PollError`; the flow sends the author back to the
step that fixes it."""

from __future__ import annotations

from typing import Any

from core import polls as use_cases
from core.actions import NewPoll
from db.polls import electorate
from handlers.context import Context
from handlers.newpoll.asks import button, cancel_row
from handlers.newpoll.draft import PollDraft, for_rules
from handlers.types import Button, Reply


def _area(centi_m2: int) -> str:
    """An area in m² with two decimals (exact, from 0.01 m² integers)."""
    return f"{centi_m2 // 100}.{centi_m2 % 100:02d}"


# The summary's edit buttons, in the order it shows the fields (the flow's EDITS says what each asks).
EDITABLE = ("scope", "title", "body", "matter", "kind", "dates", "closes", "method")


def _reach(ctx: Context, compound_id: int, buildings: tuple[int, ...]) -> dict[str, Any] | None:
    """The warning's numbers when even every verified owner voting would miss the quorum, else None."""
    best = electorate.reach(ctx.session, compound_id, buildings)
    if best is None or best.quorum:
        return None
    return {
        "owners": best.owners,
        "total_owners": best.total_owners,
        "area": _area(best.area_centi_m2),
        "total_area": _area(best.total_area_centi_m2),
        "area_met": best.area_met,
        "owners_met": best.owners_met,
    }


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
        "reach": _reach(ctx, checked.node_id, checked.buildings),
    }
    edits = [button(NewPoll("k", kind=field), "newpoll.btn_edit", field=field) for field in EDITABLE]
    buttons = [
        [Button.of(NewPoll("ok"), "newpoll.btn_create", args={"count": found.audience}, primary=True)],
        *(edits[i : i + 3] for i in range(0, len(edits), 3)),
        cancel_row(),
    ]
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
