"""Owners' polls in chat: `/polls` lists them; owners vote with buttons and get a receipt (`Vote` presses).

Presses (every id and choice is checked again against the database by the use cases in core/polls.py):

- `v` view a poll (starts any ballot over)
- `h` vote for this home: one of several the person may vote for (their own, or held by proxy)
- `c` a decision's choice → the confirm page
- `t` an election: toggle candidate n (1..N), at most `seats`; `d` done → the confirm page
- `ok` cast the ballot on the confirm page; `x` drop it (nothing is cast)
- `r` check a receipt code (the code is then typed)
- `cancel` staff withdraw a poll that has not opened yet, `cancelok` when sure

Typed text inside the flow is a receipt code at step "receipt", else a reminder to use the buttons.
"""

from __future__ import annotations

from collections.abc import Callable

from core import polls as use_cases
from core.actions import Vote
from db.models import Poll
from handlers.common import stale
from handlers.context import Context
from handlers.flows import Command, Flow
from handlers.polls import ballot, pages
from handlers.polls.pages import list_polls
from handlers.types import Inbound, Reply

__all__ = ["FLOW", "list_polls"]

# What each press does with the poll it names, once the poll is known to be the person's to see.
ON_POLL: dict[str, Callable[[Context, Poll, Vote], list[Reply]]] = {
    "v": lambda ctx, poll, _: pages.page(ctx, poll),
    "h": ballot.pick_home,
    "c": ballot.choose,
    "t": ballot.toggle,
    "d": lambda ctx, poll, _: ballot.done(ctx, poll),
    "ok": lambda ctx, poll, _: ballot.cast(ctx, poll),
    "r": lambda ctx, poll, _: ballot.ask_receipt(ctx, poll),
    "cancel": lambda ctx, poll, _: pages.ask_withdraw(ctx, poll),
    "cancelok": lambda ctx, poll, _: pages.withdraw(ctx, poll),
}


def on_press(ctx: Context, press: Vote) -> list[Reply]:
    """A `Vote` press; the poll, the choice and the current step are all checked again."""
    if press.verb == "x":
        return ballot.drop(ctx, press.poll)
    action = ON_POLL.get(press.verb)
    if action is None or press.poll is None:
        return [stale()]
    # A proxy may live outside the compound: the poll is theirs to vote in all the same.
    poll = use_cases.visible_to_voter(ctx.work, ctx.actor(), press.poll)
    if poll is None:
        return [pages.outside(ctx, press.poll) or stale()]
    return action(ctx, poll, press)


def _pick_again(ctx: Context, poll: Poll, held: ballot.BallotDraft) -> list[Reply]:
    page = ballot.pick_page(ctx, poll, held.picked, held)
    return [Reply("polls.use_buttons", pages.head(ctx, poll)), page]


def _confirm_again(ctx: Context, poll: Poll, held: ballot.BallotDraft) -> list[Reply]:
    page = ballot.confirm_page(ctx, poll, held.choice, held)
    return [Reply("polls.use_buttons", pages.head(ctx, poll)), page]


def _home_again(ctx: Context, poll: Poll, held: ballot.BallotDraft) -> list[Reply]:
    again = ballot.pick_home(ctx, poll, Vote("h", poll=poll.id, home=held.home))
    return [Reply("polls.use_buttons", pages.head(ctx, poll)), *again]


# Typed text on a page of buttons: say so, and show the page again.
PAGES: dict[str, Callable[[Context, Poll, ballot.BallotDraft], list[Reply]]] = {
    "pick": _pick_again,
    "confirm": _confirm_again,
    "home": _home_again,
}


def on_text(ctx: Context, inbound: Inbound) -> list[Reply]:
    """Typed text while in the polls flow: a receipt code, or a reminder to use the buttons."""
    if ctx.state.step == "receipt":
        return ballot.check_receipt(ctx, inbound.text)
    held = ballot.BallotDraft.of(ctx.state)
    again = PAGES.get(ctx.state.step)
    poll = use_cases.visible_to_voter(ctx.work, ctx.actor(), held.poll) if held.poll else None
    if again is not None and poll is not None:
        return again(ctx, poll, held)
    ctx.state.clear()
    return list_polls(ctx)


FLOW = Flow(
    pages.NAME,
    {"/polls": Command(list_polls, leaves_flow=True)},
    Vote,
    on_press,
    on_text,
)
