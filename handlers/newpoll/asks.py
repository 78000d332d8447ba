"""What each /newpoll step asks: its message and its buttons (built by the codec). Asking a step puts the
author at it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from core.actions import NewPoll
from db import polls
from db.models import OrgNode
from handlers.context import Context
from handlers.newpoll.draft import PollDraft, compounds, opens_at, short_opening, std_opening
from handlers.types import Button, Reply

SHORT_DAYS = (0, 1, 3, 7)  # a shortened notice: voting opens now, or in so many days
DURATIONS = (7, 14, 30)  # how long voting lasts, in days
MAX_COMPOUND_BUTTONS = 20
MAX_BUILDING_BUTTONS = 30
YES_NO = {"secret": "s", "changeable": "g", "consultative": "e"}  # a yes/no step and its verb


def button(press: NewPoll, label: str = "", text: str = "", **args: Any) -> Button:
    """A button of the /newpoll flow, its data built by the codec."""
    return Button(press.encode(), label, text, args)


def cancel_row() -> list[Button]:
    """The row that leaves the flow, under every step."""
    return [button(NewPoll("x"), "cancel")]


def limits() -> dict[str, Any]:
    """The limits a rule's message may quote."""
    return {
        "title_limit": polls.MAX_TITLE,
        "body_limit": polls.MAX_BODY,
        "reason_limit": polls.MAX_REASON,
        "candidates_limit": polls.MAX_CANDIDATES,
        "name_limit": polls.MAX_CANDIDATE_NAME,
        "days": polls.NOTICE_PERIOD.days,
        "min_hours": int(polls.MIN_WINDOW.total_seconds() // 3600),
        "max_days": polls.MAX_WINDOW.days,
    }


def _compound_label(ctx: Context, node: OrgNode) -> str:
    parent = ctx.session.get(OrgNode, node.parent_id) if node.parent_id else None
    return f"{parent.name} · {node.name}" if parent else node.name


def ask_compound(ctx: Context, choices: list[OrgNode], query: str = "") -> Reply:
    """Which compound (of those found for a typed query)."""
    ctx.state.step = "compound"
    shown = choices[:MAX_COMPOUND_BUTTONS]
    rows = [[button(NewPoll("c", compound=c.id), text=_compound_label(ctx, c))] for c in shown]
    return Reply(
        "newpoll.ask_compound",
        {"count": len(choices), "more": len(choices) - len(shown), "query": query},
        [*rows, cancel_row()],
    )


def ask_buildings(ctx: Context, draft: PollDraft) -> Reply:
    """The whole compound, or which buildings (toggled)."""
    ctx.state.step = "buildings"
    chosen = set(draft.buildings)
    assert draft.node_id is not None
    buttons = [
        button(NewPoll("b", building=b.id), text=("✅ " if b.id in chosen else "") + b.name)
        for b in polls.buildings_of(ctx.session, draft.node_id)[:MAX_BUILDING_BUTTONS]
    ]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    rows.append([button(NewPoll("bd"), "newpoll.btn_scope_done", count=len(chosen))])
    return Reply(
        "newpoll.ask_buildings", {"compound": draft.compound, "count": len(chosen)}, [*rows, cancel_row()]
    )


def ask_title(ctx: Context, _: PollDraft) -> Reply:
    """The title, typed."""
    ctx.state.step = "title"
    return Reply("newpoll.ask_title", {"limit": polls.MAX_TITLE}, [cancel_row()])


def ask_body(ctx: Context, _: PollDraft) -> Reply:
    """The explanation, typed (a photo may come with it)."""
    ctx.state.step = "body"
    return Reply("newpoll.ask_body", {"limit": polls.MAX_BODY}, [cancel_row()])


def ask_matter(ctx: Context, _: PollDraft) -> Reply:
    """Which item of Civil Code Art. 278."""
    ctx.state.step = "matter"
    rows = [[button(NewPoll("m", matter=m), "newpoll.btn_matter", matter=m)] for m in polls.MATTERS]
    return Reply("newpoll.ask_matter", {}, [*rows, cancel_row()])


def ask_kind(ctx: Context, draft: PollDraft) -> Reply:
    """A decision, or an election."""
    ctx.state.step = "kind"
    return Reply(
        "newpoll.ask_kind",
        {"matter": draft.matter, "special": draft.matter in polls.SPECIAL_MATTERS},
        [
            [
                button(NewPoll("k", kind="decision"), "newpoll.btn_decision"),
                button(NewPoll("k", kind="election"), "newpoll.btn_election"),
            ],
            cancel_row(),
        ],
    )


def ask_candidates(ctx: Context, _: PollDraft) -> Reply:
    """An election's candidates, typed one a line."""
    ctx.state.step = "candidates"
    return Reply(
        "newpoll.ask_candidates",
        {"limit": polls.MAX_CANDIDATES, "name_limit": polls.MAX_CANDIDATE_NAME},
        [cancel_row()],
    )


def ask_seats(ctx: Context, draft: PollDraft) -> Reply:
    """How many of the candidates are elected."""
    ctx.state.step = "seats"
    candidates = draft.candidates or []
    buttons = [button(NewPoll("n", seats=n), "newpoll.btn_seats", n=n) for n in range(1, len(candidates) + 1)]
    rows = [buttons[i : i + 5] for i in range(0, len(buttons), 5)]
    return Reply("newpoll.ask_seats", {"candidates": candidates}, [*rows, cancel_row()])


def _std_button(ctx: Context) -> Button:
    at = std_opening(ctx).isoformat()
    return button(NewPoll("o", opening="std"), "newpoll.btn_std", at=at, days=polls.NOTICE_PERIOD.days)


def ask_opens(ctx: Context, _: PollDraft) -> Reply:
    """When voting opens: after the full notice, or earlier (a reason first), or a typed time."""
    ctx.state.step = "opens"
    return Reply(
        "newpoll.ask_opens",
        {"std": std_opening(ctx).isoformat(), "days": polls.NOTICE_PERIOD.days},
        [[_std_button(ctx)], [button(NewPoll("o", opening="short"), "newpoll.btn_short")], cancel_row()],
    )


def ask_reason(ctx: Context, _: PollDraft) -> Reply:
    """Why the notice is shorter than 15 days, typed."""
    ctx.state.step = "reason"
    return Reply(
        "newpoll.ask_reason", {"days": polls.NOTICE_PERIOD.days, "limit": polls.MAX_REASON}, [cancel_row()]
    )


def ask_short(ctx: Context, draft: PollDraft) -> Reply:
    """How soon voting opens, the reason given: now, or in a few days (or the full notice after all)."""
    ctx.state.step = "short"
    buttons = [
        button(
            NewPoll("o", opening=str(d)),
            "newpoll.btn_short_days",
            days=d,
            at=short_opening(ctx, d).isoformat(),
        )
        for d in SHORT_DAYS
    ]
    return Reply(
        "newpoll.ask_short",
        {"reason": draft.reason},
        [buttons[:2], buttons[2:], [_std_button(ctx)], cancel_row()],
    )


def ask_closes(ctx: Context, draft: PollDraft) -> Reply:
    """How long voting lasts, or a typed closing time."""
    ctx.state.step = "closes"
    opening = opens_at(ctx, draft) or ctx.now
    buttons = [
        button(
            NewPoll("d", days=d), "newpoll.btn_duration", days=d, at=(opening + timedelta(days=d)).isoformat()
        )
        for d in DURATIONS
    ]
    return Reply(
        "newpoll.ask_closes",
        {
            "opens_at": max(opening, ctx.now).isoformat(),
            "min_hours": int(polls.MIN_WINDOW.total_seconds() // 3600),
            "max_days": polls.MAX_WINDOW.days,
        },
        [buttons, cancel_row()],
    )


def ask_yes_no(step: str) -> Callable[[Context, PollDraft], Reply]:
    """A question answered yes or no: secret ballot, changeable votes, consultative."""
    verb = YES_NO[step]

    def ask(ctx: Context, _: PollDraft) -> Reply:
        ctx.state.step = step
        return Reply(
            f"newpoll.ask_{step}",
            {},
            [
                [
                    button(NewPoll(verb, yes=True), f"newpoll.btn_{step}_yes"),
                    button(NewPoll(verb, yes=False), f"newpoll.btn_{step}_no"),
                ],
                cancel_row(),
            ],
        )

    return ask


def ask_compound_again(ctx: Context, _: PollDraft) -> Reply:
    """Which compound, of all the author's."""
    return ask_compound(ctx, compounds(ctx))
