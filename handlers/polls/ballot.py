"""Making a ballot in chat: choose (or pick candidates), confirm, cast once, drop it; check a receipt.

The ballot being made is a typed draft in the conversation state: step "pick" {poll, picked} while an
election's candidates are chosen, "confirm" {poll, choice} on the confirm page, "receipt" {poll} while a
code is awaited. The choice leaves the state when the ballot is cast or dropped. Every reply that shows
what a secret ballot chose, or its receipt code, is marked `secret`: the service then forgets the turn's
update and the web chat keeps a placeholder instead of the text.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from core import polls as use_cases
from core.actions import Vote
from db.models import Poll
from db.tally import CHOICES
from handlers.common import stale
from handlers.context import Context
from handlers.flows import Draft
from handlers.polls.pages import NAME, button, drop_ballot, head, refused, standing, view_row
from handlers.types import Reply


class BallotDraft(Draft):
    """A ballot being made: its poll, the candidates picked so far, or the choice awaiting confirmation."""

    poll: int | None = None
    picked: list[int] = Field(default_factory=list)
    choice: str = ""


def held(ctx: Context, step: str, poll_id: int | None) -> BallotDraft | None:
    """The ballot the person is making at this step for this poll, or None."""
    if ctx.state.flow != NAME or ctx.state.step != step:
        return None
    ballot = BallotDraft.of(ctx.state)
    return ballot if ballot.poll == poll_id else None


def _keep(ctx: Context, step: str, ballot: BallotDraft) -> None:
    ctx.state.go(NAME, step)
    ballot.keep(ctx.state)


def _may_vote(ctx: Context, poll: Poll) -> Reply | None:
    """None when the person may vote (or change their vote) now; else the refusal with its reason."""
    found = use_cases.standing_in(ctx.work, ctx.actor(), poll).reason
    if found in ("can_vote", "changeable"):
        return None
    if found == "voted" and poll.state != "open":
        found = "closed"  # after the close, the news is that voting ended, not that they voted
    return refused(ctx, poll, found)


def pick_page(ctx: Context, poll: Poll, picked: list[int]) -> Reply:
    """An election's candidates with those picked ticked, `done` and `drop`."""
    context = {
        **head(ctx, poll),
        "candidates": [{"n": n, "name": c, "picked": n in picked} for n, c in enumerate(poll.candidates, 1)],
        "count": len(picked),
    }
    rows = [
        [button(Vote("t", poll=poll.id, candidate=n), text=("✅ " if n in picked else "") + name)]
        for n, name in enumerate(poll.candidates, 1)
    ]
    rows.append(
        [
            button(Vote("d", poll=poll.id), "polls.btn_done", count=len(picked), seats=poll.seats),
            button(Vote("x", poll=poll.id), "polls.btn_drop"),
        ]
    )
    return Reply("polls.pick", context, rows, secret=poll.secret, kept="polls.kept_choice")


def _choice_context(poll: Poll, choice: str) -> dict[str, Any]:
    names = [poll.candidates[int(n) - 1] for n in choice.split(",") if n] if poll.kind == "election" else []
    return {"choice": choice, "names": names}


def confirm_page(ctx: Context, poll: Poll, choice: str) -> Reply:
    """The choice shown back before it is cast."""
    changing = use_cases.standing_in(ctx.work, ctx.actor(), poll).reason == "changeable"
    context = {**head(ctx, poll), **_choice_context(poll, choice), "changing": changing}
    buttons = [
        [button(Vote("ok", poll=poll.id), "polls.btn_ok")],
        [
            button(Vote("v", poll=poll.id), "polls.btn_again"),
            button(Vote("x", poll=poll.id), "polls.btn_drop"),
        ],
    ]
    return Reply("polls.confirm", context, buttons, secret=poll.secret, kept="polls.kept_choice")


def choose(ctx: Context, poll: Poll, press: Vote) -> list[Reply]:
    """`v:c`: a decision's choice, shown back for confirmation."""
    if poll.kind != "decision":
        return [stale()]
    if press.choice not in CHOICES:
        drop_ballot(ctx)
        return [refused(ctx, poll, "choice")]
    refusal = _may_vote(ctx, poll)
    if refusal is not None:
        drop_ballot(ctx)
        return [refusal]
    _keep(ctx, "confirm", BallotDraft(poll=poll.id, choice=press.choice))
    return [confirm_page(ctx, poll, press.choice)]


def toggle(ctx: Context, poll: Poll, press: Vote) -> list[Reply]:
    """`v:t`: add or remove one candidate; at most `seats` of them."""
    if poll.kind != "election":
        return [stale()]
    number = press.candidate
    if number is None or not 1 <= number <= len(poll.candidates):
        drop_ballot(ctx)
        return [refused(ctx, poll, "choice")]
    refusal = _may_vote(ctx, poll)
    if refusal is not None:
        drop_ballot(ctx)
        return [refusal]
    ballot = held(ctx, "pick", poll.id) or BallotDraft(poll=poll.id)
    picked = list(ballot.picked)
    if number in picked:
        picked.remove(number)
    elif len(picked) >= poll.seats:
        _keep(ctx, "pick", ballot)
        return [refused(ctx, poll, "too_many"), pick_page(ctx, poll, picked)]
    else:
        picked.append(number)
    _keep(ctx, "pick", BallotDraft(poll=poll.id, picked=sorted(picked)))
    return [pick_page(ctx, poll, sorted(picked))]


def done(ctx: Context, poll: Poll) -> list[Reply]:
    """`v:d`: the candidates chosen so far, shown back for confirmation."""
    if poll.kind != "election":
        return [stale()]
    ballot = held(ctx, "pick", poll.id)
    picked = ballot.picked if ballot is not None else []
    refusal = _may_vote(ctx, poll)
    if refusal is not None:
        drop_ballot(ctx)
        return [refusal]
    try:
        choice = use_cases.choice_of(poll, picked)
    except use_cases.PollError as exc:
        drop_ballot(ctx)
        return [refused(ctx, poll, exc.reason)]
    _keep(ctx, "confirm", BallotDraft(poll=poll.id, choice=choice))
    return [confirm_page(ctx, poll, choice)]


def cast(ctx: Context, poll: Poll) -> list[Reply]:
    """`v:ok`: cast the ballot on the confirm page, once."""
    ballot = held(ctx, "confirm", poll.id)
    if ballot is None:
        # Pressed twice, or from an old confirm page: nothing is waiting to be cast.
        found = use_cases.standing_in(ctx.work, ctx.actor(), poll).reason
        if found in ("voted", "changeable"):
            return [Reply("polls.already_voted", {**head(ctx, poll), **standing(ctx, poll, found)})]
        if found == "home_voted":
            return [refused(ctx, poll, found)]
        return [stale()]
    ctx.state.clear()  # the choice leaves the stored state whatever happens next
    try:
        made = use_cases.cast_ballot(
            ctx.work, ctx.actor(), use_cases.id_of(poll), ballot.choice, ctx.seal_key
        )
    except use_cases.PollError as exc:
        return [refused(ctx, poll, exc.reason)]
    context = {
        **head(ctx, poll),
        **_choice_context(poll, made.choice),
        "code": made.code,
        "changed": made.changed,
    }
    return [
        Reply(
            "polls.receipt",
            context,
            [[button(Vote("r", poll=poll.id), "polls.btn_check")]],
            secret=poll.secret,
            kept="polls.kept_receipt",
        )
    ]


def drop(ctx: Context, poll_id: int | None) -> list[Reply]:
    """`v:x`: leave the ballot (or the receipt check) without casting anything."""
    if ctx.state.flow != NAME or poll_id is None or BallotDraft.of(ctx.state).poll != poll_id:
        return [stale()]
    ctx.state.clear()
    poll = ctx.session.get(Poll, poll_id)
    context = head(ctx, poll) if poll is not None else {"title": "", "consultative": False}
    return [Reply("polls.dropped", context, view_row(poll) if poll is not None else [])]


# --- receipts ----------------------------------------------------------------------------------------


def ask_receipt(ctx: Context, poll: Poll) -> list[Reply]:
    """`v:r`: ask for the receipt code to check."""
    _keep(ctx, "receipt", BallotDraft(poll=poll.id))
    return [
        Reply("polls.ask_receipt", head(ctx, poll), [[button(Vote("x", poll=poll.id), "polls.btn_drop")]])
    ]


def check_receipt(ctx: Context, text: str) -> list[Reply]:
    """A typed receipt code, looked up among the poll's ballots; what was typed is never kept."""
    poll_id = BallotDraft.of(ctx.state).poll
    ctx.state.clear()
    checked = use_cases.check_receipt(ctx.work, ctx.actor(), poll_id, text) if poll_id else None
    if checked is None:
        return [Reply("common.stale_button", secret=True)]  # the typed text may be a receipt code
    poll, receipt = checked
    retry = [
        [
            button(Vote("r", poll=poll.id), "polls.btn_retry"),
            button(Vote("v", poll=poll.id), "polls.btn_view"),
        ]
    ]
    if not receipt.found:
        context = {**head(ctx, poll), "malformed": not receipt.well_formed, "length": use_cases.CODE_LENGTH}
        # A near-miss code can be corrected against the published list: never keep what was typed.
        return [Reply("polls.receipt_not_found", context, retry, secret=poll.secret, kept="polls.kept_check")]
    context = {
        **head(ctx, poll),
        **_choice_context(poll, receipt.choice),
        "fingerprint": receipt.fingerprint,
        "digest": poll.digest,
    }
    return [
        Reply(
            "polls.receipt_found",
            context,
            [[button(Vote("v", poll=poll.id), "polls.btn_view")]],
            secret=poll.secret,
            kept="polls.kept_check",
        )
    ]
