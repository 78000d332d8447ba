"""The answers /newpoll takes: a press or typed text at a step. An answer either stays at the step (the
replies to show) or is accepted (`Go`, with any replies to show first) and the flow asks what comes next.
Any press that does not fit the step, or names a foreign id, is stale."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core import polls as use_cases
from core.actions import NewPoll
from db import polls
from db.models import OrgNode
from handlers.common import stale
from handlers.context import Context
from handlers.newpoll.asks import (
    DURATIONS,
    SHORT_DAYS,
    ask_body,
    ask_buildings,
    ask_candidates,
    ask_closes,
    ask_compound,
    ask_opens,
    ask_reason,
    ask_short,
    ask_title,
    limits,
)
from handlers.newpoll.draft import GRACE, PollDraft, compounds, opens_at, shortened, typed_time
from handlers.types import Inbound, Reply


@dataclass(frozen=True, slots=True)
class Go:
    """The answer is taken: show `before`, then ask for what the draft still lacks."""

    before: tuple[Reply, ...] = ()


Answer = list[Reply] | Go
PressAnswer = Callable[[Context, PollDraft, NewPoll], Answer]
TextAnswer = Callable[[Context, PollDraft, Inbound, str], Answer]


def choose_compound(ctx: Context, draft: PollDraft, node: OrgNode) -> Go:
    """The compound is chosen; one without buildings is polled whole."""
    draft.node_id, draft.compound, draft.buildings = node.id, node.name, []
    draft.scoped = not polls.buildings_of(ctx.session, use_cases.id_of(node))
    return Go()


# --- presses ---------------------------------------------------------------------------------------------


def pressed_compound(ctx: Context, draft: PollDraft, press: NewPoll) -> Answer:
    """`c`: one of the author's compounds."""
    found = [c for c in compounds(ctx) if c.id == press.compound]
    return choose_compound(ctx, draft, found[0]) if found else [stale()]


def pressed_building(ctx: Context, draft: PollDraft, press: NewPoll) -> Answer:
    """`b`: a building of the compound, toggled in or out of the scope."""
    assert draft.node_id is not None
    building = press.building
    if building is None or building not in {b.id for b in polls.buildings_of(ctx.session, draft.node_id)}:
        return [stale()]
    if building in draft.buildings:
        draft.buildings.remove(building)
    else:
        draft.buildings.append(building)
    return [ask_buildings(ctx, draft)]


def pressed_scope_done(_: Context, draft: PollDraft, __: NewPoll) -> Answer:
    """`bd`: the scope is decided (no building chosen: the whole compound)."""
    draft.scoped = True
    return Go()


def pressed_matter(_: Context, draft: PollDraft, press: NewPoll) -> Answer:
    """`m`: an item of Civil Code Art. 278."""
    if press.matter not in polls.MATTERS:
        return [stale()]
    draft.matter = press.matter
    return Go()


def pressed_kind(_: Context, draft: PollDraft, press: NewPoll) -> Answer:
    """`k`: a decision (no candidates) or an election."""
    if press.kind not in polls.KINDS:
        return [stale()]
    draft.kind = press.kind
    if press.kind == "decision":
        draft.forget("candidates", "seats")
    return Go()


def pressed_seats(_: Context, draft: PollDraft, press: NewPoll) -> Answer:
    """`n`: how many of the candidates are elected."""
    if press.seats is None or not 1 <= press.seats <= len(draft.candidates or []):
        return [stale()]
    draft.seats = press.seats
    return Go()


def pressed_opening(ctx: Context, draft: PollDraft, press: NewPoll) -> Answer:
    """`o`: the full notice (`std`), earlier (`short`, the reason first), then in so many days."""
    if press.opening == "std":
        draft.opens, draft.short, draft.reason = ("std", 0), False, ""
        return Go()
    if press.opening == "short" and ctx.state.step == "opens":
        draft.short, draft.opens = True, None
        return Go()
    days = press.opening or ""
    if ctx.state.step == "short" and days.isdigit() and int(days) in SHORT_DAYS and draft.reason:
        draft.opens = ("days", int(days))
        return Go()
    return [stale()]


def pressed_duration(_: Context, draft: PollDraft, press: NewPoll) -> Answer:
    """`d`: voting lasts so many days."""
    days = press.days
    if days is None or days not in DURATIONS:
        return [stale()]
    draft.closes = ("days", days)
    return Go()


def pressed_yes_no(field: str) -> PressAnswer:
    """`s`, `g`, `e`: secret ballot, changeable votes, consultative — yes or no."""

    def answer(_: Context, draft: PollDraft, press: NewPoll) -> Answer:
        setattr(draft, field, bool(press.yes))
        return Go()

    return answer


# --- typed text ------------------------------------------------------------------------------------------


def typed_compound(ctx: Context, draft: PollDraft, _: Inbound, text: str) -> Answer:
    """A compound's name, or part of it: one match is chosen, several are offered."""
    choices = compounds(ctx)
    matches = [c for c in choices if text in c.name]
    if len(matches) == 1:
        return choose_compound(ctx, draft, matches[0])
    if not matches:
        return [Reply("newpoll.no_compound", {"query": text}), ask_compound(ctx, choices)]
    return [ask_compound(ctx, matches, text)]


def _too_long(text: str, limit: int) -> Reply | None:
    return Reply("newpoll.too_long", {"limit": limit, "length": len(text)}) if len(text) > limit else None


def typed_title(ctx: Context, draft: PollDraft, _: Inbound, text: str) -> Answer:
    """The title."""
    too_long = _too_long(text, polls.MAX_TITLE)
    if too_long is not None:
        return [too_long, ask_title(ctx, draft)]
    draft.title = text
    return Go()


def typed_body(ctx: Context, draft: PollDraft, inbound: Inbound, text: str) -> Answer:
    """The explanation, and a photo with it (or first, the text following)."""
    too_long = _too_long(text, polls.MAX_BODY)
    if too_long is not None:
        return [too_long, ask_body(ctx, draft)]
    photos = [a for a in inbound.attachments if a.kind == "photo"]
    if photos:
        draft.photo = (inbound.channel, photos[-1].ref)
    if not text:
        return [Reply("newpoll.photo_kept") if photos else ask_body(ctx, draft)]
    draft.body = text
    return Go()


def typed_candidates(ctx: Context, draft: PollDraft, _: Inbound, text: str) -> Answer:
    """An election's candidates, one a line: at most ten, short names, no two alike."""
    names = [line.strip() for line in text.splitlines() if line.strip()]
    problem = ""
    if len(names) > polls.MAX_CANDIDATES:
        problem = "too_many"
    elif any(len(n) > polls.MAX_CANDIDATE_NAME for n in names):
        problem = "too_long"
    elif len(set(names)) != len(names):
        problem = "duplicate"
    if problem:
        context = {
            "problem": problem,
            "count": len(names),
            "limit": polls.MAX_CANDIDATES,
            "name_limit": polls.MAX_CANDIDATE_NAME,
        }
        return [Reply("newpoll.bad_candidates", context), ask_candidates(ctx, draft)]
    draft.candidates, draft.seats = names, None
    return Go()


def typed_reason(ctx: Context, draft: PollDraft, _: Inbound, text: str) -> Answer:
    """Why the notice is shortened."""
    too_long = _too_long(text, polls.MAX_REASON)
    if too_long is not None:
        return [too_long, ask_reason(ctx, draft)]
    draft.reason = text
    return Go()


def typed_opening(ctx: Context, draft: PollDraft, _: Inbound, text: str) -> Answer:
    """A typed opening time; one before the 15 days' notice needs a reason, asked for next."""
    moment = typed_time(ctx, text, end_of_day=False)
    if moment is None or moment < ctx.now - GRACE or moment > ctx.now + polls.MAX_AHEAD:
        ask = ask_short(ctx, draft) if ctx.state.step == "short" else ask_opens(ctx, draft)
        return [Reply("newpoll.bad_time", {"what": "opens"}), ask]
    draft.opens = ("at", max(moment, ctx.now).isoformat())
    if not shortened(ctx, moment):
        draft.short, draft.reason = False, ""
        return Go()
    draft.short = True
    if draft.reason:
        return Go()
    return Go((Reply("newpoll.rule", {"reason": "reason", **limits()}),))


def typed_closing(ctx: Context, draft: PollDraft, _: Inbound, text: str) -> Answer:
    """A typed closing time: after the opening, within the allowed window."""
    opening = max(opens_at(ctx, draft) or ctx.now, ctx.now)
    moment = typed_time(ctx, text, end_of_day=True)
    if moment is None or moment <= opening:
        return [Reply("newpoll.bad_time", {"what": "closes"}), ask_closes(ctx, draft)]
    if not polls.MIN_WINDOW <= moment - opening <= polls.MAX_WINDOW:
        return [Reply("newpoll.rule", {"reason": "window", **limits()}), ask_closes(ctx, draft)]
    draft.closes = ("at", moment.isoformat())
    return Go()
