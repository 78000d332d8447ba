"""Making a ballot in chat: choose (or pick candidates), confirm, cast once, drop it; check a receipt.

The ballot being made is a typed draft in the conversation state: step "home" {poll, home} once the home
to vote for is chosen (a person who votes for several homes, their own or by proxy, picks one first),
"pick" {poll, picked} while an election's candidates are chosen, "confirm" {poll, choice} on the confirm
page, "receipt" {poll} while a code is awaited; the chosen home rides along in each. The choice leaves
the state when the ballot is cast or dropped. Every reply that shows what a secret ballot chose, or its
receipt code, is marked `secret`: the service then forgets the turn's update and the web chat keeps a
placeholder instead of the text.
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
from handlers.polls.pages import (
    NAME,
    button,
    choice_buttons,
    drop_ballot,
    head,
    open_targets,
    refused,
    standing,
    target_rows,
    view_row,
)
from handlers.types import Reply


class BallotDraft(Draft):
    """A ballot being made: its poll, the candidates picked so far, or the choice awaiting confirmation."""

    poll: int | None = None
    picked: list[int] = Field(default_factory=list)
    choice: str = ""
    home: int | None = None  # the home voted for, when the person votes for more than their own
    home_label: str = ""
    proxy: bool = False  # the home is one they hold a proxy for


def _for_home(ballot: BallotDraft) -> dict[str, Any]:
    """Which home the ballot is for, as the pages say it ("" for one's own single home)."""
    return {"home_label": ballot.home_label, "proxy": ballot.proxy}


def held(ctx: Context, step: str, poll_id: int | None) -> BallotDraft | None:
    """The ballot the person is making at this step for this poll, or None."""
    if ctx.state.flow != NAME or ctx.state.step != step:
        return None
    ballot = BallotDraft.of(ctx.state)
    return ballot if ballot.poll == poll_id else None


def _keep(ctx: Context, step: str, ballot: BallotDraft) -> None:
    ctx.state.go(NAME, step)
    ballot.keep(ctx.state)


def _may_vote(ctx: Context, poll: Poll, ballot: BallotDraft | None = None) -> Reply | None:
    """None when the person may vote (or change their vote) now; else the refusal with its reason."""
    if ballot is not None and ballot.home is not None:
        if poll.state != "open":
            return refused(ctx, poll, "closed" if poll.state == "closed" else "not_open")
        if any(t.home_id == ballot.home for t in open_targets(ctx, poll)):
            return None
        return Reply("polls.target_voted", {**head(ctx, poll), **_for_home(ballot)}, view_row(poll))
    found = use_cases.standing_in(ctx.work, ctx.actor(), poll).reason
    if found in ("can_vote", "changeable"):
        return None
    if found == "voted" and poll.state != "open":
        found = "closed"  # after the close, the news is that voting ended, not that they voted
    return refused(ctx, poll, found)


def _whose(ctx: Context, poll: Poll) -> BallotDraft | list[Reply]:
    """The ballot being made with the home it is for: the one chosen, the only home left (a proxy's is
    named), or, when several are left and none was chosen, the page that asks which."""
    current = BallotDraft.of(ctx.state) if ctx.state.flow == NAME else BallotDraft()
    if current.poll == poll.id and current.home is not None:
        return BallotDraft(
            poll=poll.id, home=current.home, home_label=current.home_label, proxy=current.proxy
        )
    left = open_targets(ctx, poll)
    if len(left) > 1:
        drop_ballot(ctx)
        return [which_home(ctx, poll, left)]
    if len(left) == 1 and left[0].how == "proxy":
        return BallotDraft(poll=poll.id, home=left[0].home_id, home_label=left[0].label, proxy=True)
    return BallotDraft(poll=poll.id)


def which_home(ctx: Context, poll: Poll, left: list[use_cases.Target]) -> Reply:
    """为哪一户投票: the homes the person may still vote for, one big button each."""
    context = {**head(ctx, poll), "targets": [{"label": t.label, "how": t.how} for t in left]}
    rows = [*target_rows(poll, left), [button(Vote("x", poll=poll.id), "polls.btn_drop")]]
    return Reply("polls.which_home", context, rows)


def pick_home(ctx: Context, poll: Poll, press: Vote) -> list[Reply]:
    """`v:h`: vote for this home (one's own, or one held by proxy): its choices come next."""
    left = open_targets(ctx, poll)
    target = next((t for t in left if t.home_id == press.home), None)
    if target is None:
        drop_ballot(ctx)
        if poll.state != "open":
            return [refused(ctx, poll, "closed" if poll.state == "closed" else "not_open")]
        return [Reply("polls.target_voted", head(ctx, poll), view_row(poll))]
    ballot = BallotDraft(
        poll=poll.id, home=target.home_id, home_label=target.label, proxy=target.how == "proxy"
    )
    _keep(ctx, "home", ballot)
    if poll.kind == "election":
        return [pick_page(ctx, poll, [], ballot)]
    rows = [*choice_buttons(poll), [button(Vote("x", poll=poll.id), "polls.btn_drop")]]
    return [Reply("polls.for_home", {**head(ctx, poll), **_for_home(ballot)}, rows)]


def pick_page(ctx: Context, poll: Poll, picked: list[int], ballot: BallotDraft | None = None) -> Reply:
    """An election's candidates with those picked ticked, `done` and `drop`."""
    context = {
        **head(ctx, poll),
        "candidates": [{"n": n, "name": c, "picked": n in picked} for n, c in enumerate(poll.candidates, 1)],
        "count": len(picked),
        **_for_home(ballot or BallotDraft()),
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


def confirm_page(ctx: Context, poll: Poll, choice: str, ballot: BallotDraft | None = None) -> Reply:
    """The choice shown back before it is cast (and for which home, when not simply one's own)."""
    ballot = ballot or BallotDraft()
    own = ballot.home is None  # the standing below is that of the person's own home
    changing = own and use_cases.standing_in(ctx.work, ctx.actor(), poll).reason == "changeable"
    context = {**head(ctx, poll), **_choice_context(poll, choice), "changing": changing, **_for_home(ballot)}
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
    whose = _whose(ctx, poll)
    if isinstance(whose, list):
        return whose
    refusal = _may_vote(ctx, poll, whose)
    if refusal is not None:
        drop_ballot(ctx)
        return [refusal]
    ballot = whose.model_copy(update={"choice": press.choice})
    _keep(ctx, "confirm", ballot)
    return [confirm_page(ctx, poll, press.choice, ballot)]


def toggle(ctx: Context, poll: Poll, press: Vote) -> list[Reply]:
    """`v:t`: add or remove one candidate; at most `seats` of them."""
    if poll.kind != "election":
        return [stale()]
    number = press.candidate
    if number is None or not 1 <= number <= len(poll.candidates):
        drop_ballot(ctx)
        return [refused(ctx, poll, "choice")]
    whose = _whose(ctx, poll)
    if isinstance(whose, list):
        return whose
    refusal = _may_vote(ctx, poll, whose)
    if refusal is not None:
        drop_ballot(ctx)
        return [refusal]
    ballot = held(ctx, "pick", poll.id) or whose
    picked = list(ballot.picked)
    if number in picked:
        picked.remove(number)
    elif len(picked) >= poll.seats:
        _keep(ctx, "pick", ballot)
        return [refused(ctx, poll, "too_many"), pick_page(ctx, poll, picked, ballot)]
    else:
        picked.append(number)
    ballot = ballot.model_copy(update={"picked": sorted(picked)})
    _keep(ctx, "pick", ballot)
    return [pick_page(ctx, poll, ballot.picked, ballot)]


def done(ctx: Context, poll: Poll) -> list[Reply]:
    """`v:d`: the candidates chosen so far, shown back for confirmation."""
    if poll.kind != "election":
        return [stale()]
    whose = _whose(ctx, poll)
    if isinstance(whose, list):
        return whose
    ballot = held(ctx, "pick", poll.id) or whose
    refusal = _may_vote(ctx, poll, ballot)
    if refusal is not None:
        drop_ballot(ctx)
        return [refusal]
    try:
        choice = use_cases.choice_of(poll, ballot.picked)
    except use_cases.PollError as exc:
        drop_ballot(ctx)
        return [refused(ctx, poll, exc.reason)]
    ballot = ballot.model_copy(update={"choice": choice, "picked": []})
    _keep(ctx, "confirm", ballot)
    return [confirm_page(ctx, poll, choice, ballot)]


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
            ctx.work, ctx.actor(), use_cases.id_of(poll), ballot.choice, ctx.seal_key, home_id=ballot.home
        )
    except use_cases.PollError as exc:
        if exc.reason == "which_home":
            return [which_home(ctx, poll, open_targets(ctx, poll))]
        return [refused(ctx, poll, exc.reason)]
    context = {
        **head(ctx, poll),
        **_choice_context(poll, made.choice),
        **_for_home(ballot),
        "code": made.code,
        "changed": made.changed,
    }
    rows = [[button(Vote("r", poll=poll.id), "polls.btn_check")]]
    if ballot.home is not None and open_targets(ctx, poll):
        rows.append([button(Vote("v", poll=poll.id), "polls.btn_next_home")])  # more homes to vote for
    return [
        Reply(
            "polls.receipt",
            context,
            rows,
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
