"""The pages of a poll in chat: what every poll message shows about it, `/polls`, a poll's own page, and
refusals with their reasons. Numbers go to the templates as numbers; they word and format them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core import paper
from core import polls as use_cases
from core.actions import Proxies, Vote
from db.models import Poll
from db.tally import CHOICES
from handlers.common import stale
from handlers.context import Context
from handlers.paper import entry_button
from handlers.types import Button, Reply

NAME = "polls"  # the flow's name in the conversation state
VOTABLE = ("can_vote", "changeable")
MAX_LABEL = 40  # characters of a title on a list button
MARKS = {"announced": "📅", "open": "🗳️", "closed": "📊", "cancelled": "✖️"}


def iso(moment: datetime | None) -> str:
    """A moment as the templates take it ("" for none)."""
    return moment.isoformat() if moment else ""


def button(press: Vote, label: str = "", text: str = "", **args: Any) -> Button:
    """A button of the polls flow, its data built by the codec."""
    return Button(press.encode(), label, text, args)


def head(ctx: Context, poll: Poll) -> dict[str, Any]:
    """What every poll message shows about the poll (the consultative label above all)."""
    compound, scope = use_cases.place_of(ctx.work, poll)
    return {
        "id": poll.id,
        "title": poll.title,
        "consultative": poll.consultative,
        "kind": poll.kind,
        "matter": poll.matter,
        "special": poll.matter in use_cases.SPECIAL_MATTERS,
        "secret": poll.secret,
        "changeable": poll.changeable,
        "state": poll.state,
        "seats": poll.seats,
        "opens_at": iso(poll.opens_at),
        "closes_at": iso(poll.closes_at),
        "opened_at": iso(poll.opened_at),
        "compound": compound,
        "scope": scope,
    }


def standing(ctx: Context, poll: Poll, reason: str | None = None) -> dict[str, Any]:
    """The person's standing with what its message needs (when their home voted; never the choice)."""
    actor = ctx.actor()
    found = (
        use_cases.standing_in(ctx.work, actor, poll)
        if reason is None
        else use_cases.standing_as(ctx.work, actor, poll, reason)
    )
    return {"standing": found.reason, "voted_at": iso(found.voted_at), "channel": found.channel}


def view_row(poll: Poll) -> list[list[Button]]:
    """The button back to the poll's page."""
    return [[button(Vote("v", poll=poll.id), "polls.btn_view")]]


def refused(ctx: Context, poll: Poll | None, reason: str) -> Reply:
    """Why the person cannot do what they asked, in the poll's words."""
    context: dict[str, Any] = {
        "reason": reason,
        "title": "",
        "consultative": False,
        "voted_at": "",
        "channel": "",
    }
    if poll is not None:
        context.update(head(ctx, poll))
        if reason in ("voted", "home_voted"):
            # A co-owner who lost a race to the one-vote row is told "voted" by the rule; say whose vote.
            if use_cases.standing_in(ctx.work, ctx.actor(), poll).reason == "home_voted":
                reason = "home_voted"
            context.update(standing(ctx, poll, reason))
        context["reason"] = reason
    return Reply("polls.refused", context, view_row(poll) if poll is not None else [])


def outside(ctx: Context, poll_id: int) -> Reply | None:
    """For an owner in the poll's compound whose home lies outside its buildings: why they cannot vote
    (without showing the poll, which is not theirs); None for anyone else."""
    if not use_cases.outside(ctx.work, ctx.actor(), poll_id):
        return None
    poll = ctx.session.get(Poll, poll_id)
    consultative = poll.consultative if poll is not None else False
    return Reply("polls.refused", {"reason": "outside", "title": "", "consultative": consultative})


def open_targets(ctx: Context, poll: Poll) -> list[use_cases.Target]:
    """The homes the person may still vote for in an open poll (their own, those they hold a proxy for)."""
    if poll.state != "open" or ctx.person.person_id is None:
        return []
    return [t for t in use_cases.targets(ctx.work, ctx.actor(), poll) if not t.voted]


def target_rows(poll: Poll, targets: list[use_cases.Target]) -> list[list[Button]]:
    """为哪一户投票: one big button per home, with whose it is (本人 / 受托)."""
    return [
        [button(Vote("h", poll=poll.id, home=t.home_id), "polls.btn_target", place=t.label, how=t.how)]
        for t in targets
    ]


def drop_ballot(ctx: Context) -> None:
    """Leave the flow when it holds a half-made ballot, so no choice stays in the stored state."""
    if ctx.state.flow == NAME:
        ctx.state.clear()


def _turnout_row(t: use_cases.Turnout) -> dict[str, Any]:
    return {
        "name": t.name,
        "area": t.area,
        "total_area": t.total_area,
        "owners": t.owners,
        "total_owners": t.total_owners,
        "channels": {c: {"area": part.area, "owners": part.owners} for c, part in t.channels.items()},
        "area_needed": t.area_needed,
        "owners_needed": t.owners_needed,
    }


# --- /polls ------------------------------------------------------------------------------------------


def list_polls(ctx: Context, _: str = "") -> list[Reply]:
    """`/polls`: the polls over the person's homes, and those in a staff member's compounds."""
    actor = ctx.actor()
    listing = use_cases.polls_for(ctx.work, actor)
    if not listing.mine and not listing.run:
        return [Reply("polls.none")]
    replies: list[Reply] = []
    if listing.mine:
        items = [
            {**head(ctx, p), **standing(ctx, p), "outcome": (p.result or {}).get("outcome", "")}
            for p in listing.mine
        ]
        replies.append(Reply("polls.list", {"items": items}, _list_buttons(listing.mine)))
    if listing.run:
        items = []
        for p in listing.run:
            item = {**head(ctx, p), "outcome": (p.result or {}).get("outcome", ""), "turnout": None}
            if p.state == "open":
                live = use_cases.turnout(ctx.work, actor, p)
                item["turnout"] = _turnout_row(live[0]) if live else None
            items.append(item)
        replies.append(Reply("polls.staff_list", {"items": items}, _list_buttons(listing.run)))
    return replies


def _list_buttons(polls: list[Poll]) -> list[list[Button]]:
    return [
        [button(Vote("v", poll=p.id), text=f"{MARKS.get(p.state, '')} {p.title[:MAX_LABEL]}".strip())]
        for p in polls
    ]


# --- a poll's page -----------------------------------------------------------------------------------


def page(ctx: Context, poll: Poll) -> list[Reply]:
    """`v:v`: the poll's page: its terms, the person's standing and ballot, turnout or the result."""
    drop_ballot(ctx)
    seen = use_cases.view(ctx.work, ctx.actor(), use_cases.id_of(poll))
    voting = open_targets(ctx, poll)
    if seen is None:
        if not voting:
            return [stale()]
        seen = use_cases.PollView(poll, resident=False, author=False)  # a proxy living elsewhere
    proxy_only = len(voting) == 1 and voting[0].how == "proxy"
    result = {}
    if poll.state == "closed" and poll.result:
        receipts = f"{ctx.public_url}/polls/{poll.id}/receipts.txt"
        result = {**use_cases.shown_result(poll), "receipts_url": receipts}
    context: dict[str, Any] = {
        **head(ctx, poll),
        "body": poll.body,
        "shortened_reason": poll.shortened_reason,
        "candidates": list(poll.candidates),
        "resident": seen.resident,
        "author": seen.author,
        "standing": seen.standing.reason if seen.standing else "",
        "voted_at": iso(seen.standing.voted_at) if seen.standing else "",
        "channel": seen.standing.channel if seen.standing else "",
        "turnout": _turnout_row(seen.turnout) if seen.turnout else None,
        "buildings": [_turnout_row(t) for t in seen.buildings],
        "result": result,
        "targets": [{"label": t.label, "how": t.how} for t in voting] if len(voting) > 1 else [],
        "for_home": voting[0].label if proxy_only else "",
    }
    buttons: list[list[Button]] = []
    if len(voting) > 1:
        buttons.extend(target_rows(poll, voting))
    elif proxy_only or (seen.resident and poll.state == "open" and context["standing"] in VOTABLE):
        buttons.extend(choice_buttons(poll))
    if seen.author and poll.state == "announced":
        buttons.append([button(Vote("cancel", poll=poll.id), "polls.btn_cancel_poll")])
    if poll.state == "closed" or context["standing"] in ("voted", "changeable"):
        buttons.append([button(Vote("r", poll=poll.id), "polls.btn_check")])
    may_name = context["standing"] in ("can_vote", "not_open")
    if seen.resident and poll.state in ("announced", "open") and may_name:
        # An owner who cannot vote themself (away, unwell) names a proxy for this poll (DESIGN §4.8).
        buttons.append([Button.of(Proxies("op", poll=poll.id), "proxies.btn_offer")])
    if poll.state == "open" and paper.may_enter(ctx.work, ctx.actor(), poll):
        buttons.append(entry_button(poll))
    return [Reply("polls.view", context, buttons)]


def choice_buttons(poll: Poll) -> list[list[Button]]:
    """A decision's three choices, or an election's candidates and `done`."""
    if poll.kind == "decision":
        return [[button(Vote("c", poll=poll.id, choice=c), f"polls.btn_{c}") for c in CHOICES]]
    rows = [
        [button(Vote("t", poll=poll.id, candidate=n), text=name)] for n, name in enumerate(poll.candidates, 1)
    ]
    return [*rows, [button(Vote("d", poll=poll.id), "polls.btn_done", count=0, seats=poll.seats)]]


# --- staff -------------------------------------------------------------------------------------------


def ask_withdraw(ctx: Context, poll: Poll) -> list[Reply]:
    """`v:cancel`: ask before withdrawing, which cannot be undone."""
    if not use_cases.runs(ctx.work, ctx.actor(), poll):
        return [refused(ctx, poll, "not_allowed")]
    if poll.state != "announced":
        return [refused(ctx, poll, "not_cancellable")]
    buttons = [
        [
            button(Vote("cancelok", poll=poll.id), "polls.btn_cancel_sure"),
            button(Vote("v", poll=poll.id), "polls.btn_view"),
        ]
    ]
    return [Reply("polls.cancel_confirm", head(ctx, poll), buttons)]


def withdraw(ctx: Context, poll: Poll) -> list[Reply]:
    """`v:cancelok`: withdraw a poll before it opens (the use case checks the right and the state)."""
    try:
        use_cases.withdraw_poll(ctx.work, ctx.actor(), use_cases.id_of(poll))
    except use_cases.PollError as exc:
        return [refused(ctx, poll, exc.reason)]
    return [Reply("polls.cancelled", head(ctx, poll))]
