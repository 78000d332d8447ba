"""Owners' polls in chat: `/polls` lists them; owners vote with buttons and get a receipt (prefix `v`).

Buttons (every id and choice is checked again against the database by the rules in db.polls):

- `v:v:<id>` view a poll (starts any ballot over)
- `v:c:<id>:<yes|no|abstain>` a decision's choice → the confirm page
- `v:t:<id>:<n>` an election: toggle candidate n (1..N), at most `seats`; `v:d:<id>` done → confirm page
- `v:ok:<id>` cast the ballot on the confirm page; `v:x:<id>` drop it (nothing is cast)
- `v:r:<id>` check a receipt code (the code is then typed)
- `v:cancel:<id>` staff withdraw a poll that has not opened yet

Conversation state (flow "polls"): step "pick" {poll, picked} while an election's candidates are chosen,
"confirm" {poll, choice} on the confirm page, "receipt" {poll} while a code is awaited. The choice leaves
the state when the ballot is cast or dropped. Every reply that shows what a secret ballot chose, or its
receipt code, is marked `secret`: the service then forgets the turn's update and the web chat keeps a
placeholder instead of the text.
"""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlmodel import col, select

from db import polls as rules
from db.models import Home, OrgNode, Poll, PollTurnout, PollVoter
from db.tally import CHOICES
from handlers.common import parse_id, stale
from handlers.context import Context
from handlers.types import Button, Inbound, Reply

FLOW = "polls"
VOTABLE = ("can_vote", "changeable")
MAX_LABEL = 40  # characters of a title on a list button
MAX_ID = 2**31 - 1  # poll ids are 32-bit integers on PostgreSQL; a larger forged id must not reach a query


# --- small pieces ------------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def _pct(part: int, whole: int) -> str:
    return rules.percent(Fraction(part, whole) if whole else None)


def _scope(ctx: Context, poll: Poll) -> list[str]:
    """The names of the buildings a poll is limited to ([] = the whole compound)."""
    if not poll.buildings:
        return []
    names = ctx.session.exec(select(OrgNode.name).where(col(OrgNode.id).in_(poll.buildings))).all()
    return sorted(names)


def _head(ctx: Context, poll: Poll) -> dict[str, Any]:
    """What every poll message shows about the poll (the consultative label above all)."""
    compound = ctx.session.get(OrgNode, poll.node_id)
    return {
        "id": poll.id,
        "title": poll.title,
        "consultative": poll.consultative,
        "kind": poll.kind,
        "matter": poll.matter,
        "special": poll.matter in rules.SPECIAL_MATTERS,
        "secret": poll.secret,
        "changeable": poll.changeable,
        "state": poll.state,
        "seats": poll.seats,
        "opens_at": _iso(poll.opens_at),
        "closes_at": _iso(poll.closes_at),
        "opened_at": _iso(poll.opened_at),
        "compound": compound.name if compound else "",
        "scope": _scope(ctx, poll),
    }


def _own_turnout(ctx: Context, poll: Poll) -> PollTurnout | None:
    """The turnout row of the person's owner unit (whoever of its co-owners voted), if any."""
    voter = ctx.session.get(PollVoter, (poll.id, ctx.person_id))
    return ctx.session.get(PollTurnout, (poll.id, voter.unit)) if voter is not None else None


def _standing(ctx: Context, poll: Poll, standing: str | None = None) -> dict[str, Any]:
    """The person's standing with what its message needs (when their home voted; never the choice)."""
    standing = standing or rules.standing(ctx.session, poll, ctx.person_id, ctx.now)
    voted_at = ""
    if standing in ("voted", "changeable", "home_voted"):
        turnout = _own_turnout(ctx, poll)
        voted_at = _iso(turnout.voted_at) if turnout else ""
    return {"standing": standing, "voted_at": voted_at}


def _refused(ctx: Context, poll: Poll | None, reason: str) -> Reply:
    context: dict[str, Any] = {"reason": reason, "title": "", "consultative": False, "voted_at": ""}
    if poll is not None:
        context.update(_head(ctx, poll))
        if reason in ("voted", "home_voted"):
            # A co-owner who lost a race to the one-vote row is told "voted" by the rule; say whose vote.
            if rules.standing(ctx.session, poll, ctx.person_id, ctx.now) == "home_voted":
                reason = "home_voted"
            context.update(_standing(ctx, poll, reason))
        context["reason"] = reason
    return Reply("polls.refused", context, _view_row(poll) if poll is not None else [])


def _view_row(poll: Poll) -> list[list[Button]]:
    return [[Button(f"v:v:{poll.id}", "polls.btn_view")]]


def _poll(ctx: Context, arg: str) -> Poll | None:
    """The poll a button's id names, or None."""
    poll_id = parse_id(arg)
    return ctx.session.get(Poll, poll_id) if poll_id and poll_id <= MAX_ID else None


def _visible(ctx: Context, arg: str) -> Poll | None:
    """The poll a button names, when the person may see it (else None: forged, old or not theirs)."""
    poll = _poll(ctx, arg)
    if poll is None or not rules.may_see(ctx.session, poll, ctx.person_id, ctx.now):
        return None
    return poll


def _outside(ctx: Context, arg: str) -> Reply | None:
    """For an owner in the poll's compound whose home lies outside its buildings: why they cannot vote
    (without showing the poll, which is not theirs); None for anyone else."""
    poll = _poll(ctx, arg)
    if poll is None:
        return None
    homes = [ctx.session.get(Home, r.home_id) for r in ctx.residencies()]
    if not any(h is not None and h.compound_id == poll.node_id for h in homes):
        return None
    if rules.standing(ctx.session, poll, ctx.person_id, ctx.now) != "outside":
        return None
    return Reply("polls.refused", {"reason": "outside", "title": "", "consultative": poll.consultative})


def _is_resident(ctx: Context, poll: Poll) -> bool:
    homes = [ctx.session.get(Home, r.home_id) for r in ctx.residencies(status=None) if r.status != "rejected"]
    return any(h is not None and rules.in_scope(poll, h) for h in homes)


def _is_author(ctx: Context, poll: Poll) -> bool:
    node = ctx.session.get(OrgNode, poll.node_id)
    return node is not None and rules.may_author(ctx.session, ctx.person_id, node)


def _in_flow(ctx: Context, step: str, poll_id: int | None) -> bool:
    state = ctx.state
    return state.flow == FLOW and state.step == step and state.data.get("poll") == poll_id


def _drop_ballot(ctx: Context) -> None:
    """Leave the flow when it holds a half-made ballot, so no choice stays in the stored state."""
    if ctx.state.flow == FLOW:
        ctx.state.clear()


# --- numbers -----------------------------------------------------------------------------------------


def _turnout_row(t: rules.Turnout) -> dict[str, Any]:
    return {
        "name": t.name,
        "area": t.area,
        "total_area": t.total_area,
        "area_pct": _pct(t.area, t.total_area),
        "owners": t.owners,
        "total_owners": t.total_owners,
        "owner_pct": _pct(t.owners, t.total_owners),
    }


# --- /polls ------------------------------------------------------------------------------------------


def list_polls(ctx: Context, _: str = "") -> list[Reply]:
    """`/polls`: the polls over the person's homes, and those in a staff member's compounds."""
    mine = rules.for_resident(ctx.session, ctx.person_id, ctx.now)
    run = rules.for_staff(ctx.session, ctx.person_id)
    if not mine and not run:
        return [Reply("polls.none")]
    replies: list[Reply] = []
    if mine:
        items = [
            {
                **_head(ctx, p),
                **_standing(ctx, p),
                "outcome": (p.result or {}).get("outcome", ""),
            }
            for p in mine
        ]
        replies.append(Reply("polls.list", {"items": items}, _list_buttons(mine)))
    if run:
        items = []
        for p in run:
            item = {**_head(ctx, p), "outcome": (p.result or {}).get("outcome", ""), "turnout": None}
            if p.state == "open":
                item["turnout"] = _turnout_row(rules.turnout(ctx.session, p)[0])
            items.append(item)
        replies.append(Reply("polls.staff_list", {"items": items}, _list_buttons(run)))
    return replies


def _list_buttons(polls: list[Poll]) -> list[list[Button]]:
    marks = {"announced": "📅", "open": "🗳️", "closed": "📊", "cancelled": "✖️"}
    return [
        [Button(f"v:v:{p.id}", text=f"{marks.get(p.state, '')} {p.title[:MAX_LABEL]}".strip())] for p in polls
    ]


# --- a poll's page -----------------------------------------------------------------------------------


def _view(ctx: Context, poll: Poll) -> list[Reply]:
    _drop_ballot(ctx)
    resident = _is_resident(ctx, poll)
    author = _is_author(ctx, poll)
    context: dict[str, Any] = {
        **_head(ctx, poll),
        "body": poll.body,
        "shortened_reason": poll.shortened_reason,
        "candidates": list(poll.candidates),
        "resident": resident,
        "author": author,
        "standing": "",
        "voted_at": "",
        "turnout": None,
        "buildings": [],
        "result": {**poll.result, "receipts_url": f"{ctx.public_url}/polls/{poll.id}/receipts.txt"}
        if poll.state == "closed" and poll.result
        else {},
    }
    buttons: list[list[Button]] = []
    if resident:
        context.update(_standing(ctx, poll))
        if poll.state == "open" and context["standing"] in VOTABLE:
            buttons.extend(_choice_buttons(poll))
    if author and poll.state == "open":
        overall, per_building = rules.turnout(ctx.session, poll)
        context["turnout"] = _turnout_row(overall)
        context["buildings"] = [_turnout_row(t) for t in per_building]
    if author and poll.state == "announced":
        buttons.append([Button(f"v:cancel:{poll.id}", "polls.btn_cancel_poll")])
    if poll.state == "closed" or context["standing"] in ("voted", "changeable"):
        buttons.append([Button(f"v:r:{poll.id}", "polls.btn_check")])
    return [Reply("polls.view", context, buttons)]


def _choice_buttons(poll: Poll) -> list[list[Button]]:
    if poll.kind == "decision":
        return [[Button(f"v:c:{poll.id}:{c}", f"polls.btn_{c}") for c in CHOICES]]
    rows = [[Button(f"v:t:{poll.id}:{n}", text=name)] for n, name in enumerate(poll.candidates, 1)]
    return [*rows, [Button(f"v:d:{poll.id}", "polls.btn_done", args={"count": 0, "seats": poll.seats})]]


# --- choosing and casting ----------------------------------------------------------------------------


def _may_vote(ctx: Context, poll: Poll) -> Reply | None:
    """None when the person may vote (or change their vote) now; else the refusal with its reason."""
    standing = rules.standing(ctx.session, poll, ctx.person_id, ctx.now)
    if standing in VOTABLE:
        return None
    if standing == "voted" and poll.state != "open":
        standing = "closed"  # after the close, the news is that voting ended, not that they voted
    return _refused(ctx, poll, standing)


def _pick_page(ctx: Context, poll: Poll, picked: list[int]) -> Reply:
    context = {
        **_head(ctx, poll),
        "candidates": [{"n": n, "name": c, "picked": n in picked} for n, c in enumerate(poll.candidates, 1)],
        "count": len(picked),
    }
    rows = [
        [Button(f"v:t:{poll.id}:{n}", text=("✅ " if n in picked else "") + name)]
        for n, name in enumerate(poll.candidates, 1)
    ]
    rows.append(
        [
            Button(f"v:d:{poll.id}", "polls.btn_done", args={"count": len(picked), "seats": poll.seats}),
            Button(f"v:x:{poll.id}", "polls.btn_drop"),
        ]
    )
    return Reply("polls.pick", context, rows, secret=poll.secret, kept="polls.kept_choice")


def _choice_context(poll: Poll, choice: str) -> dict[str, Any]:
    names = [poll.candidates[int(n) - 1] for n in choice.split(",") if n] if poll.kind == "election" else []
    return {"choice": choice, "names": names}


def _confirm_page(ctx: Context, poll: Poll, choice: str) -> Reply:
    changing = rules.standing(ctx.session, poll, ctx.person_id, ctx.now) == "changeable"
    context = {**_head(ctx, poll), **_choice_context(poll, choice), "changing": changing}
    buttons = [
        [Button(f"v:ok:{poll.id}", "polls.btn_ok")],
        [Button(f"v:v:{poll.id}", "polls.btn_again"), Button(f"v:x:{poll.id}", "polls.btn_drop")],
    ]
    return Reply("polls.confirm", context, buttons, secret=poll.secret, kept="polls.kept_choice")


def _choose(ctx: Context, poll: Poll, choice: str) -> list[Reply]:
    """`v:c`: a decision's choice, shown back for confirmation."""
    if poll.kind != "decision":
        return [stale()]
    if choice not in CHOICES:
        _drop_ballot(ctx)
        return [_refused(ctx, poll, "choice")]
    refusal = _may_vote(ctx, poll)
    if refusal is not None:
        _drop_ballot(ctx)
        return [refusal]
    ctx.state.go(FLOW, "confirm", poll=poll.id, choice=choice)
    return [_confirm_page(ctx, poll, choice)]


def _toggle(ctx: Context, poll: Poll, arg: str) -> list[Reply]:
    """`v:t`: add or remove one candidate; at most `seats` of them."""
    if poll.kind != "election":
        return [stale()]
    number = parse_id(arg)
    if number is None or number > len(poll.candidates):
        _drop_ballot(ctx)
        return [_refused(ctx, poll, "choice")]
    refusal = _may_vote(ctx, poll)
    if refusal is not None:
        _drop_ballot(ctx)
        return [refusal]
    if not _in_flow(ctx, "pick", poll.id):
        ctx.state.go(FLOW, "pick", poll=poll.id, picked=[])
    picked = [n for n in ctx.state.data.get("picked", []) if isinstance(n, int)]
    if number in picked:
        picked.remove(number)
    elif len(picked) >= poll.seats:
        return [_refused(ctx, poll, "too_many"), _pick_page(ctx, poll, picked)]
    else:
        picked.append(number)
    ctx.state.data["picked"] = sorted(picked)
    return [_pick_page(ctx, poll, sorted(picked))]


def _done(ctx: Context, poll: Poll) -> list[Reply]:
    """`v:d`: the candidates chosen so far, shown back for confirmation."""
    if poll.kind != "election":
        return [stale()]
    picked = ctx.state.data.get("picked", []) if _in_flow(ctx, "pick", poll.id) else []
    refusal = _may_vote(ctx, poll)
    if refusal is not None:
        _drop_ballot(ctx)
        return [refusal]
    try:
        choice = rules.canonical_choice(poll, ",".join(str(n) for n in picked))
    except rules.PollError as exc:
        _drop_ballot(ctx)
        return [_refused(ctx, poll, exc.reason)]
    ctx.state.go(FLOW, "confirm", poll=poll.id, choice=choice)
    return [_confirm_page(ctx, poll, choice)]


def _cast(ctx: Context, poll: Poll) -> list[Reply]:
    """`v:ok`: cast the ballot on the confirm page, once."""
    if not _in_flow(ctx, "confirm", poll.id):
        # Pressed twice, or from an old confirm page: nothing is waiting to be cast.
        standing = rules.standing(ctx.session, poll, ctx.person_id, ctx.now)
        if standing in ("voted", "changeable"):
            return [Reply("polls.already_voted", {**_head(ctx, poll), **_standing(ctx, poll, standing)})]
        if standing == "home_voted":
            return [_refused(ctx, poll, standing)]
        return [stale()]
    choice = str(ctx.state.data.get("choice", ""))
    ctx.state.clear()  # the choice leaves the stored state whatever happens next
    try:
        cast = rules.vote(ctx.session, poll.id, ctx.person_id, choice, ctx.now, ctx.seal_key)  # type: ignore[arg-type]
    except rules.PollError as exc:
        return [_refused(ctx, poll, exc.reason)]
    context = {
        **_head(ctx, poll),
        **_choice_context(poll, cast.choice),
        "code": cast.code,
        "fingerprint": cast.fingerprint,
        "changed": cast.changed,
    }
    return [
        Reply(
            "polls.receipt",
            context,
            [[Button(f"v:r:{poll.id}", "polls.btn_check")]],
            secret=poll.secret,
            kept="polls.kept_receipt",
        )
    ]


def _drop(ctx: Context, poll_id: int | None) -> list[Reply]:
    """`v:x`: leave the ballot (or the receipt check) without casting anything."""
    if ctx.state.flow != FLOW or poll_id is None or ctx.state.data.get("poll") != poll_id:
        return [stale()]
    ctx.state.clear()
    poll = ctx.session.get(Poll, poll_id)
    context = _head(ctx, poll) if poll is not None else {"title": "", "consultative": False}
    return [Reply("polls.dropped", context, _view_row(poll) if poll is not None else [])]


# --- receipts ----------------------------------------------------------------------------------------


def _ask_receipt(ctx: Context, poll: Poll) -> list[Reply]:
    ctx.state.go(FLOW, "receipt", poll=poll.id)
    return [Reply("polls.ask_receipt", _head(ctx, poll), [[Button(f"v:x:{poll.id}", "polls.btn_drop")]])]


def _check_receipt(ctx: Context, text: str) -> list[Reply]:
    poll_id = ctx.state.data.get("poll")
    ctx.state.clear()
    poll = ctx.session.get(Poll, poll_id) if isinstance(poll_id, int) else None
    if poll is None or not rules.may_see(ctx.session, poll, ctx.person_id, ctx.now):
        return [Reply("common.stale_button", secret=True)]  # the typed text may be a receipt code
    retry = [[Button(f"v:r:{poll.id}", "polls.btn_retry"), Button(f"v:v:{poll.id}", "polls.btn_view")]]
    well_formed = bool(rules.normalise_code(text))
    found = rules.check_receipt(ctx.session, poll, text) if well_formed else None
    if found is None:
        context = {**_head(ctx, poll), "malformed": not well_formed, "length": rules.CODE_LENGTH}
        # A near-miss code can be corrected against the published list: never keep what was typed.
        return [Reply("polls.receipt_not_found", context, retry, secret=poll.secret, kept="polls.kept_check")]
    choice, fingerprint = found
    context = {
        **_head(ctx, poll),
        **_choice_context(poll, choice),
        "fingerprint": fingerprint,
        "digest": poll.digest,
    }
    return [
        Reply(
            "polls.receipt_found",
            context,
            [[Button(f"v:v:{poll.id}", "polls.btn_view")]],
            secret=poll.secret,
            kept="polls.kept_check",
        )
    ]


# --- staff -------------------------------------------------------------------------------------------


def _ask_cancel(ctx: Context, poll: Poll) -> list[Reply]:
    """`v:cancel`: ask before withdrawing, which cannot be undone."""
    if not rules.may_author(ctx.session, ctx.person_id, _node(ctx, poll)):
        return [_refused(ctx, poll, "not_allowed")]
    if poll.state != "announced":
        return [_refused(ctx, poll, "not_cancellable")]
    buttons = [
        [Button(f"v:cancelok:{poll.id}", "polls.btn_cancel_sure"), Button(f"v:v:{poll.id}", "polls.btn_view")]
    ]
    return [Reply("polls.cancel_confirm", _head(ctx, poll), buttons)]


def _node(ctx: Context, poll: Poll) -> OrgNode:
    node = ctx.session.get(OrgNode, poll.node_id)
    assert node is not None  # a poll's compound is never deleted
    return node


def _cancel(ctx: Context, poll: Poll) -> list[Reply]:
    """`v:cancelok`: withdraw a poll before it opens (db.polls.cancel checks the right and the state)."""
    try:
        rules.cancel(ctx.session, poll.id, ctx.person_id, ctx.now, ctx.policy)  # type: ignore[arg-type]
    except rules.PollError as exc:
        return [_refused(ctx, poll, exc.reason)]
    return [Reply("polls.cancelled", _head(ctx, poll))]


# --- entry points ------------------------------------------------------------------------------------


def on_button(ctx: Context, data: str) -> list[Reply]:
    """Every `v:` button; ids, choices and the current step are all checked again."""
    parts = data.split(":")
    if len(parts) < 3 or parts[0] != "v":
        return [stale()]
    action, arg, extra = parts[1], parts[2], parts[3:]
    if action == "x" and not extra:
        return _drop(ctx, parse_id(arg))
    if len(extra) > (1 if action in ("c", "t") else 0):
        return [stale()]
    poll = _visible(ctx, arg)
    if poll is None:
        return [_outside(ctx, arg) or stale()]
    if action == "v":
        return _view(ctx, poll)
    if action == "c" and extra:
        return _choose(ctx, poll, extra[0])
    if action == "t" and extra:
        return _toggle(ctx, poll, extra[0])
    if action == "d":
        return _done(ctx, poll)
    if action == "ok":
        return _cast(ctx, poll)
    if action == "r":
        return _ask_receipt(ctx, poll)
    if action == "cancel":
        return _ask_cancel(ctx, poll)
    if action == "cancelok":
        return _cancel(ctx, poll)
    return [stale()]


def on_message(ctx: Context, inbound: Inbound) -> list[Reply]:
    """Typed text while in the polls flow: a receipt code, or a reminder to use the buttons."""
    step, data = ctx.state.step, ctx.state.data
    if step == "receipt":
        return _check_receipt(ctx, inbound.text)
    poll = ctx.session.get(Poll, data.get("poll")) if isinstance(data.get("poll"), int) else None
    if poll is not None and rules.may_see(ctx.session, poll, ctx.person_id, ctx.now):
        if step == "pick":
            picked = [n for n in data.get("picked", []) if isinstance(n, int)]
            return [Reply("polls.use_buttons", _head(ctx, poll)), _pick_page(ctx, poll, picked)]
        if step == "confirm":
            return [
                Reply("polls.use_buttons", _head(ctx, poll)),
                _confirm_page(ctx, poll, str(data.get("choice", ""))),
            ]
    ctx.state.clear()
    return list_polls(ctx)
