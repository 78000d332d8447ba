"""Paper ballots in chat (DESIGN §4.8): committee members and community staff enter the ballots collected
door to door, at a meeting or from the ballot box, one after another (`Paper` presses).

`/ballots` lists the polls whose paper ballots the person may enter (the runner's poll page in /polls
has a button too). The home is found by buttons (building → entrance → number, ✅ where a ballot already
stands); then the choice (none in a secret poll: its sealed ballot is only registered), how and by whom
it was collected, when, the photo, and a page to confirm. After a ballot is taken, 录入下一张 goes back to
the same entrance's homes, the collector's name kept for one tap.

Presses: `s` start with a poll (the buildings), `b` a building, `e` an entrance (also 录入下一张), `h` a
home; `c` a decision's choice, `t` toggle a candidate, `d` done; `m` the method, `n` the collector named
last time, `w` when (now | typed), `k` skip the photo, `ok` confirm, `x` cancel. Typed text is the
collector's name, the time, or a reminder to use the buttons; a photo is the ballot's photo.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pydantic import ValidationError

from core import paper
from core.actions import Paper
from core.permissions import Action, may
from core.polls import PollError
from db.conversations import State
from db.models import Home, OrgNode, Poll
from db.tally import CHOICES
from handlers.common import stale
from handlers.context import Context
from handlers.flows import Command, Flow
from handlers.paper import entry
from handlers.paper.entry import NAME, PAGES, PaperDraft, button, keep
from handlers.types import Button, Inbound, Reply

__all__ = ["FLOW", "entry_button"]

MAX_POLLS = 20  # polls listed by /ballots
MAX_LABEL = 40  # characters of a title on a list button
# Reasons after which the ballot cannot be entered at all: the draft is left.
FINAL = ("not_allowed", "not_found", "not_open", "closed", "not_in_poll")


def entry_button(poll: Poll) -> list[Button]:
    """录入纸质票: the row the runner's poll page shows on an open poll they may enter."""
    return [button(Paper("s", poll=poll.id), "paper.btn_enter")]


def _poll(ctx: Context, poll_id: int | None) -> Poll | None:
    """The poll, when the person may enter its paper ballots."""
    poll = ctx.session.get(Poll, poll_id) if poll_id else None
    if poll is None or not paper.may_enter(ctx.work, ctx.actor(), poll):
        return None
    return poll


def refused(reason: str, poll: Poll | None = None) -> Reply:
    """Why a ballot cannot be entered, in plain words."""
    context = {"reason": reason, "title": poll.title if poll is not None else ""}
    rows = [[button(Paper("s", poll=poll.id), "paper.btn_buildings")]] if poll is not None else []
    return Reply("paper.refused", context, rows)


# --- /ballots and the first steps ---------------------------------------------------------------------------


def list_polls(ctx: Context, _: str = "") -> list[Reply]:
    """`/ballots`: the polls whose paper ballots the person may enter now."""
    actor = ctx.actor()
    if not may(actor, Action.ENTER_BALLOT):
        return [Reply("paper.not_allowed")]
    found = paper.entry_polls(ctx.work, actor)
    if not found:
        return [Reply("paper.none")]
    if len(found) == 1:
        return start(ctx, found[0])
    shown = found[:MAX_POLLS]
    rows = [[button(Paper("s", poll=p.id), text=f"🗳️ {p.title[:MAX_LABEL]}")] for p in shown]
    return [Reply("paper.polls", {"count": len(found), "shown": len(shown)}, rows)]


def _last_collector(ctx: Context) -> str:
    """The collector's name typed last in this entry, or in the entry parked on the way here."""
    if ctx.state.flow == NAME:
        return PaperDraft.of(ctx.state).last_collector
    if ctx.state.parked.get("flow") == NAME:
        try:
            return PaperDraft.model_validate(dict(ctx.state.parked.get("data") or {})).last_collector
        except ValidationError:
            return ""
    return ""


def start(ctx: Context, poll: Poll) -> list[Reply]:
    """The buildings of a poll; the collector's name typed earlier in this entry is kept."""
    if poll.state != "open" and poll.id not in {p.id for p in paper.entry_polls(ctx.work, ctx.actor())}:
        return [refused("not_open" if poll.state == "announced" else "closed", None)]
    keep(ctx, "building", PaperDraft(poll=poll.id, last_collector=_last_collector(ctx)))
    return [entry.buildings_page(ctx, poll)]


def _building(ctx: Context, poll: Poll, node_id: int | None) -> OrgNode | None:
    """The building, when it is one of the poll's."""
    return next((b for b in paper.buildings(ctx.work, poll) if b.id == node_id), None)


def _entrance(ctx: Context, poll: Poll, node_id: int | None) -> tuple[OrgNode, OrgNode] | None:
    """The entrance and its building, when they are the poll's."""
    node = ctx.session.get(OrgNode, node_id) if node_id else None
    building = _building(ctx, poll, node.parent_id) if node is not None else None
    if node is None or building is None:
        return None
    found = next((e for e in paper.entrances(ctx.work, poll, building.id or 0) if e.id == node.id), None)
    return (building, found) if found is not None else None


def _draft_for(ctx: Context, poll: Poll) -> PaperDraft:
    """The draft of this poll the person is in, or a new one (the collector's name carried over)."""
    draft = PaperDraft.of(ctx.state) if ctx.state.flow == NAME else PaperDraft()
    if draft.poll != poll.id:
        draft = PaperDraft(poll=poll.id, last_collector=_last_collector(ctx))
    return draft


def pick_building(ctx: Context, poll: Poll, node_id: int | None) -> list[Reply]:
    """`b`: the building's entrances."""
    building = _building(ctx, poll, node_id)
    if building is None:
        return [stale()]
    draft = _draft_for(ctx, poll)
    keep(ctx, "entrance", PaperDraft(poll=poll.id, building=building.id, last_collector=draft.last_collector))
    return [entry.entrances_page(ctx, poll, building)]


def pick_entrance(ctx: Context, poll: Poll, node_id: int | None) -> list[Reply]:
    """`e`: the entrance's homes (also 录入下一张 after a ballot went in)."""
    found = _entrance(ctx, poll, node_id)
    if found is None:
        return [stale()]
    building, entrance_node = found
    draft = _draft_for(ctx, poll)
    fresh = PaperDraft(
        poll=poll.id, building=building.id, entrance=entrance_node.id, last_collector=draft.last_collector
    )
    keep(ctx, "home", fresh)
    return [entry.homes_page(ctx, poll, building, entrance_node)]


def pick_home(ctx: Context, poll: Poll, home_id: int | None) -> list[Reply]:
    """`h`: a home that has voted shows its ballot and the homes again; else the ballot's first question."""
    home = ctx.session.get(Home, home_id) if home_id else None
    found = _entrance(ctx, poll, home.entrance_id) if home is not None else None
    if home is None or found is None:
        return [stale()]
    building, entrance_node = found
    draft = _draft_for(ctx, poll)
    draft = PaperDraft(
        poll=poll.id, building=building.id, entrance=entrance_node.id, last_collector=draft.last_collector
    )
    label = f"{building.name} {entrance_node.name} {home.number}"
    try:
        standing = paper.existing(ctx.work, ctx.actor(), poll.id or 0, home.id or 0)
    except PollError as exc:
        return [refused(exc.reason, poll)]
    if standing is not None:
        keep(ctx, "home", draft)
        context = {**entry.head(poll), "home": label, **entry.existing_context(standing)}
        return [Reply("paper.existing", context), entry.homes_page(ctx, poll, building, entrance_node)]
    draft.home, draft.home_label = home.id, label
    step = entry.after_home(poll)
    keep(ctx, step, draft)
    return [PAGES[step](poll, draft, "")]


# --- the ballot's questions ---------------------------------------------------------------------------------


def _held(ctx: Context, *steps: str) -> tuple[Poll, PaperDraft] | None:
    """The poll and draft when the person is at one of these steps with a home chosen."""
    if ctx.state.flow != NAME or ctx.state.step not in steps:
        return None
    draft = PaperDraft.of(ctx.state)
    poll = _poll(ctx, draft.poll)
    if poll is None or draft.home is None:
        return None
    return poll, draft


def _ask(ctx: Context, poll: Poll, draft: PaperDraft, step: str, note: str = "") -> list[Reply]:
    keep(ctx, step, draft)
    return [PAGES[step](poll, draft, note)]


def choose(ctx: Context, press: Paper) -> list[Reply]:
    """`c`: a decision's choice as written on the paper."""
    held = _held(ctx, "choice", "confirm")
    if held is None or press.choice not in CHOICES or held[0].kind != "decision" or held[0].secret:
        return [stale()]
    poll, draft = held
    draft.choice = press.choice or ""
    return _ask(ctx, poll, draft, "method" if not draft.method else "confirm")


def toggle(ctx: Context, press: Paper) -> list[Reply]:
    """`t`: tick or untick a candidate; at most `seats`."""
    held = _held(ctx, "pick")
    if held is None or held[0].kind != "election" or held[0].secret:
        return [stale()]
    poll, draft = held
    number = press.candidate or 0
    if not 1 <= number <= len(poll.candidates):
        return [stale()]
    if number in draft.picked:
        draft.picked.remove(number)
    elif len(draft.picked) >= poll.seats:
        return _ask(ctx, poll, draft, "pick", "too_many")
    else:
        draft.picked = sorted([*draft.picked, number])
    return _ask(ctx, poll, draft, "pick")


def done(ctx: Context) -> list[Reply]:
    """`d`: the ticked candidates are the ballot's choice."""
    held = _held(ctx, "pick")
    if held is None:
        return [stale()]
    poll, draft = held
    try:
        draft.choice = entry.choice_of(poll, draft.picked)
    except PollError as exc:
        return _ask(ctx, poll, draft, "pick", exc.reason)
    return _ask(ctx, poll, draft, "method")


def method(ctx: Context, press: Paper) -> list[Reply]:
    """`m`: 扫楼, 现场 or 投票箱."""
    held = _held(ctx, "method")
    if held is None or press.method not in paper.METHODS:
        return [stale()]
    poll, draft = held
    draft.method = press.method or ""
    return _ask(ctx, poll, draft, "collector")


def _set_collector(ctx: Context, poll: Poll, draft: PaperDraft, name: str) -> list[Reply]:
    if not name or len(name) > entry.MAX_COLLECTOR:
        return _ask(ctx, poll, draft, "collector", "bad_name")
    draft.collector = draft.last_collector = name
    return _ask(ctx, poll, draft, "when")


def same_collector(ctx: Context) -> list[Reply]:
    """`n`: the collector named for the ballot before."""
    held = _held(ctx, "collector")
    if held is None or not held[1].last_collector:
        return [stale()]
    poll, draft = held
    return _set_collector(ctx, poll, draft, draft.last_collector)


def _set_time(ctx: Context, poll: Poll, draft: PaperDraft, at: datetime, step: str) -> list[Reply]:
    problem = entry.time_problem(poll, at, ctx.now)
    if problem:
        return _ask(ctx, poll, draft, step, problem)
    draft.collected_at = at.isoformat()
    return _ask(ctx, poll, draft, "photo")


def when(ctx: Context, press: Paper) -> list[Reply]:
    """`w`: collected just now, or earlier (the time is then typed)."""
    held = _held(ctx, "when", "time")
    if held is None or press.when not in ("now", "typed"):
        return [stale()]
    poll, draft = held
    if press.when == "typed":
        return _ask(ctx, poll, draft, "time")
    return _set_time(ctx, poll, draft, ctx.now, "when")


def skip_photo(ctx: Context) -> list[Reply]:
    """`k`: no photo of a sealed envelope."""
    held = _held(ctx, "photo")
    if held is None or not held[0].secret:
        return [stale()]
    poll, draft = held
    draft.photo_channel = draft.photo_ref = ""
    return _ask(ctx, poll, draft, "confirm")


def confirm(ctx: Context) -> list[Reply]:
    """`ok`: enter the ballot; 录入下一张 goes back to the same entrance."""
    held = _held(ctx, "confirm")
    if held is None:
        return [stale()]
    poll, draft = held
    ballot = paper.PaperBallot(
        home_id=draft.home or 0,
        choice="" if poll.secret else draft.choice,
        method=draft.method,
        collector=draft.collector,
        collected_at=datetime.fromisoformat(draft.collected_at) if draft.collected_at else ctx.now,
        photo_channel=draft.photo_channel,
        photo_ref=draft.photo_ref,
    )
    after = PaperDraft(
        poll=poll.id, building=draft.building, entrance=draft.entrance, last_collector=draft.last_collector
    )
    try:
        paper.enter_paper(ctx.work, ctx.actor(), poll.id or 0, ballot)
    except paper.BallotTaken as exc:
        keep(ctx, "home", after)
        context = {**entry.head(poll), "home": draft.home_label, **entry.existing_context(exc.existing)}
        return [Reply("paper.existing", context), *_homes_again(ctx, poll, after)]
    except PollError as exc:
        if exc.reason in entry.BACK_TO:
            step = entry.BACK_TO[exc.reason]
            step = "pick" if step == "choice" and poll.kind == "election" else step
            return _ask(ctx, poll, draft, step, exc.reason)
        ctx.state.clear()
        return [refused(exc.reason, poll if exc.reason not in FINAL else None)]
    keep(ctx, "taken", after)
    rows = [[button(Paper("e", poll=poll.id, node=draft.entrance), "paper.btn_next", primary=True)]]
    rows.append([button(Paper("x"), "paper.btn_finish")])
    return [Reply("paper.taken", entry.summary(poll, draft), rows)]


def _homes_again(ctx: Context, poll: Poll, draft: PaperDraft) -> list[Reply]:
    building = ctx.session.get(OrgNode, draft.building) if draft.building else None
    entrance_node = ctx.session.get(OrgNode, draft.entrance) if draft.entrance else None
    if building is None or entrance_node is None:
        return [entry.buildings_page(ctx, poll)]
    return [entry.homes_page(ctx, poll, building, entrance_node)]


def cancel(ctx: Context) -> list[Reply]:
    """`x`: leave the entry; a ballot not yet confirmed is not entered."""
    if ctx.state.flow != NAME:
        return [stale()]
    draft = PaperDraft.of(ctx.state)
    ctx.state.clear()
    return [Reply("paper.cancelled", {"open": draft.home is not None})]


# --- what arrives -------------------------------------------------------------------------------------------

ON_POLL: dict[str, Callable[[Context, Poll, Paper], list[Reply]]] = {
    "s": lambda ctx, poll, _: start(ctx, poll),
    "b": lambda ctx, poll, press: pick_building(ctx, poll, press.node),
    "e": lambda ctx, poll, press: pick_entrance(ctx, poll, press.node),
    "h": lambda ctx, poll, press: pick_home(ctx, poll, press.home),
}
IN_DRAFT: dict[str, Callable[[Context, Paper], list[Reply]]] = {
    "c": choose,
    "t": toggle,
    "d": lambda ctx, _: done(ctx),
    "m": method,
    "n": lambda ctx, _: same_collector(ctx),
    "w": when,
    "k": lambda ctx, _: skip_photo(ctx),
    "ok": lambda ctx, _: confirm(ctx),
    "x": lambda ctx, _: cancel(ctx),
}


def on_press(ctx: Context, press: Paper) -> list[Reply]:
    """A `Paper` press; the poll, the place and the step are all checked again."""
    if press.verb in ON_POLL:
        poll = _poll(ctx, press.poll)
        if poll is None:
            return [refused("not_allowed")]
        return ON_POLL[press.verb](ctx, poll, press)
    action = IN_DRAFT.get(press.verb)
    return action(ctx, press) if action is not None else [stale()]


def resume(ctx: Context) -> list[Reply]:
    """The current step asked again (after a detour, or typed text at a step of buttons)."""
    return _again(ctx, "")


def _again(ctx: Context, note: str) -> list[Reply]:
    draft = PaperDraft.of(ctx.state)
    poll = _poll(ctx, draft.poll)
    if poll is None:
        ctx.state.clear()
        return [refused("not_allowed")]
    step = ctx.state.step
    if step in PAGES and draft.home is not None:
        return [PAGES[step](poll, draft, note)]
    if step in ("home", "taken") and draft.entrance is not None:
        keep(ctx, "home", draft)
        replies = _homes_again(ctx, poll, draft)
        return [Reply("paper.use_buttons"), *replies] if note else replies
    building = ctx.session.get(OrgNode, draft.building) if draft.building else None
    if step == "entrance" and building is not None:
        page = entry.entrances_page(ctx, poll, building)
    else:
        keep(ctx, "building", PaperDraft(poll=poll.id, last_collector=draft.last_collector))
        page = entry.buildings_page(ctx, poll)
    return [Reply("paper.use_buttons"), page] if note else [page]


def on_text(ctx: Context, inbound: Inbound) -> list[Reply]:
    """The collector's name, a typed time, the ballot's photo; anything else is a reminder to use the
    buttons, with the same page again."""
    step, text = ctx.state.step, inbound.text.strip()
    photo = next((a for a in inbound.attachments if a.kind == "photo"), None)
    held = _held(ctx, step)
    if held is not None:
        poll, draft = held
        if step == "photo" and photo is not None:
            draft.photo_channel, draft.photo_ref = inbound.channel, photo.ref
            return _ask(ctx, poll, draft, "confirm")
        if step == "collector" and text and photo is None:
            return _set_collector(ctx, poll, draft, text)
        if step in ("when", "time") and text and photo is None:
            at = entry.parse_time(ctx, text)
            if at is None:
                return _ask(ctx, poll, draft, "time", "bad_time")
            return _set_time(ctx, poll, draft, at, "time")
    return _again(ctx, "use_buttons")


def _keeps(state: State) -> bool:
    """A ballot half entered (its home chosen) is worth keeping across a detour."""
    return PaperDraft.of(state).home is not None


FLOW = Flow(
    NAME,
    {"/ballots": Command(list_polls, leaves_flow=True, members_only=True)},
    Paper,
    on_press,
    on_text,
    resume=resume,
    keeps=_keeps,
    text_limit=200,
)
