"""/proxy: 委托投票 (DESIGN §4.8). An owner names a proxy for one poll or for a term and forwards the claim
code; the proxy sends `/proxy CODE` (or presses 领取委托 and types it) and may then vote for that home;
staff who enter ballots record a written 委托书 with its photo. Everyone sees and revokes from the list.

Offering is a short draft, one question a step: the home (when the owner has several), this poll or a
term (本届, 一年, or a last day typed), the proxy's name, then a summary to confirm. A staff letter: the
poll, the building, entrance and home, the proxy's name, the letter's photo, then the summary. Typed
answers are checked as they come, so a slip re-asks the step without losing what was given; the use
cases in core/proxies.py check everything again when it is confirmed.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from core import proxies as use
from core.actions import Proxies, Vote
from core.people import home_label
from core.permissions import Action, may
from core.proxies import PollError, ProxyView
from db.conversations import State
from db.models import Poll
from db.polls import proxies as rules
from handlers.common import given, parse_date, stale
from handlers.context import Context
from handlers.flows import Command, Draft, Flow
from handlers.types import Button, Inbound, Reply

NAME = "proxy"
MAX_BUTTONS = 30  # polls, buildings, entrances or homes listed as buttons in one answer
MAX_TITLE = 30  # characters of a poll's title on a button
MAX_HOMES = 96  # an entrance's homes as buttons (a chat keyboard holds about a hundred); more are typed


class ProxyDraft(Draft):
    """A proxy being offered (by an owner) or entered from a letter (by staff): what was given so far."""

    mode: str = "owner"  # owner | letter
    home: int | None = None
    poll: int | None = None
    ends_on: str = ""  # a term's last day; the term starts today
    name: str = ""
    photo_channel: str = ""
    photo_ref: str = ""
    building: int | None = None
    entrance: int | None = None


def _btn(press: Proxies, label: str = "", text: str = "", primary: bool = False, **args: Any) -> Button:
    return Button.of(press, label, text, args, primary)


def _cancel_row() -> list[Button]:
    return [_btn(Proxies("x"), "cancel")]


def _rows(buttons: list[Button], width: int) -> list[list[Button]]:
    return [buttons[i : i + width] for i in range(0, len(buttons), width)]


def _view(v: ProxyView) -> dict[str, Any]:
    return {
        "id": v.id,
        "home": v.home_label,
        "poll": v.poll_title,
        "starts_on": v.starts_on.isoformat() if v.starts_on else "",
        "ends_on": v.ends_on.isoformat() if v.ends_on else "",
        "name": v.proxy_name,
        "granted_by": v.granted_by_name,
        "state": v.state,
    }


def _refused(reason: str) -> Reply:
    return Reply("proxies.refused", {"reason": reason})


# --- the list ---------------------------------------------------------------------------------------------


def page(ctx: Context, args: str = "") -> list[Reply]:
    """`/proxy`: one's proxies, granted and held, with 撤销 and the ways to offer, claim or enter one;
    `/proxy CODE` claims at once."""
    if args.strip():
        ctx.state.clear()
        return _claim(ctx, args)
    actor = ctx.actor()
    granted, held = use.of_person(ctx.work, actor)
    granted, held = use.live(granted), use.live(held)
    owner = bool(use.homes_to_offer(ctx.work, actor))
    staff = may(actor, Action.ENTER_BALLOT)
    rows: list[list[Button]] = [
        [_btn(Proxies("rv", proxy=v.id), "proxies.btn_revoke", home=v.home_label, name=v.proxy_name)]
        for v in granted
    ]
    if owner:
        rows.append([_btn(Proxies("o"), "proxies.btn_offer", primary=True)])
    rows.append([_btn(Proxies("c"), "proxies.btn_claim")])
    if staff:
        rows.append([_btn(Proxies("s"), "proxies.btn_letter")])
    context = {
        "granted": [_view(v) for v in granted],
        "held": [_view(v) for v in held],
        "owner": owner,
        "staff": staff,
    }
    return [Reply("proxies.page", context, rows)]


# --- an owner offers ---------------------------------------------------------------------------------------


def _start_offer(ctx: Context, poll_id: int | None = None) -> list[Reply]:
    """委托他人投票: the home first when the owner has several (only those the poll covers, from its page)."""
    homes = use.homes_to_offer(ctx.work, ctx.actor())
    if not homes:
        return [_refused("not_owner")]
    if poll_id is not None:
        poll = ctx.session.get(Poll, poll_id)
        if poll is None:
            return [stale()]
        covered = set(use.covered(ctx.work, poll, [h for h, _ in homes]))
        homes = [(h, label) for h, label in homes if h in covered]
        if not homes or poll.state not in ("announced", "open"):
            return [_refused("poll")]
    draft = ProxyDraft(mode="owner", poll=poll_id)
    if len(homes) == 1:
        draft.home = homes[0][0]
        return _after_home(ctx, draft)
    ctx.state.go(NAME, "home")
    draft.keep(ctx.state)
    return _ask(ctx, draft)


def _homes(ctx: Context, draft: ProxyDraft) -> list[tuple[int, str]]:
    """The owner's homes to choose from: those the draft's poll covers, when it came from a poll's page."""
    homes = use.homes_to_offer(ctx.work, ctx.actor())
    poll = ctx.session.get(Poll, draft.poll) if draft.poll is not None else None
    if poll is None:
        return homes
    covered = set(use.covered(ctx.work, poll, [h for h, _ in homes]))
    return [(h, label) for h, label in homes if h in covered]


def _after_home(ctx: Context, draft: ProxyDraft) -> list[Reply]:
    ctx.state.go(NAME, "name" if draft.poll is not None else "what")
    draft.keep(ctx.state)
    return _ask(ctx, draft)


def _summary(ctx: Context, draft: ProxyDraft) -> dict[str, Any]:
    """What the draft says so far, as its messages show it."""
    poll = ctx.session.get(Poll, draft.poll) if draft.poll is not None else None
    home = home_label(ctx.work, draft.home) if draft.home is not None else ""
    return {
        "mode": draft.mode,
        "home": home,
        "poll": poll.title if poll else "",
        "starts_on": use.today(ctx.work).isoformat() if draft.ends_on else "",
        "ends_on": draft.ends_on,
        "name": draft.name,
        "photo": bool(draft.photo_ref),
    }


def _ask(ctx: Context, draft: ProxyDraft, note: str = "") -> list[Reply]:
    """Ask the draft's current step again (after a note on what was wrong, if any)."""
    step = ctx.state.step
    context = {**_summary(ctx, draft), "note": note}
    if step == "home":
        homes = _homes(ctx, draft)
        rows = [[_btn(Proxies("h", home=h), text=label)] for h, label in homes[:MAX_BUTTONS]]
        return [Reply("proxies.ask_home", context, [*rows, _cancel_row()])]
    if step == "what":
        polls = use.polls_of_home(ctx.work, given(draft.home))
        rows = [
            [_btn(Proxies("pp", poll=p.id), "proxies.btn_this_poll", title=p.title[:MAX_TITLE])]
            for p in polls[:MAX_BUTTONS]
        ]
        rows.append([_btn(Proxies("t"), "proxies.btn_term")])
        return [Reply("proxies.ask_what", {**context, "polls": len(polls)}, [*rows, _cancel_row()])]
    if step == "term":
        ends = use.committee_ends(ctx.work, given(draft.home))
        rows = []
        if ends is not None:
            rows.append([_btn(Proxies("tc"), "proxies.btn_committee", ends_on=ends.isoformat())])
        rows.append([_btn(Proxies("ty"), "proxies.btn_year")])
        limit = _term_limit(ctx)
        return [
            Reply(
                "proxies.ask_term",
                {**context, "latest": limit.isoformat()},
                [*rows, _cancel_row()],
                keeps_input=bool(note),
            )
        ]
    if step == "name":
        return [Reply("proxies.ask_name", context, [_cancel_row()], keeps_input=bool(note))]
    if step == "photo":
        return [Reply("proxies.ask_photo", context, [_cancel_row()])]
    if step == "confirm":
        ok = [_btn(Proxies("ok"), "proxies.btn_confirm", primary=True)]
        return [Reply("proxies.confirm", context, [ok, _cancel_row()])]
    if step == "claim":
        return [Reply("proxies.ask_code", {"note": note}, [_cancel_row()], keeps_input=bool(note))]
    if step in ("poll", "building", "entrance", "staff_home"):
        return _ask_place(ctx, draft, context, note)
    ctx.state.clear()
    return page(ctx)


def _term_limit(ctx: Context) -> date:
    today = use.today(ctx.work)
    try:
        return today.replace(year=today.year + rules.MAX_TERM_YEARS) - timedelta(days=1)
    except ValueError:
        return today.replace(year=today.year + rules.MAX_TERM_YEARS, day=28) - timedelta(days=1)


def _set_term(ctx: Context, draft: ProxyDraft, ends_on: date) -> list[Reply]:
    try:
        rules.check_term(use.today(ctx.work), ends_on, use.today(ctx.work))
    except PollError:
        return _ask(ctx, draft, "term")
    draft.ends_on, draft.poll = ends_on.isoformat(), None
    ctx.state.go(NAME, "name")
    draft.keep(ctx.state)
    return _ask(ctx, draft)


def _set_name(ctx: Context, draft: ProxyDraft, text: str) -> list[Reply]:
    try:
        draft.name = rules.clean_name(text)
    except PollError:
        return _ask(ctx, draft, "name")
    ctx.state.go(NAME, "photo" if draft.mode == "letter" else "confirm")
    draft.keep(ctx.state)
    return _ask(ctx, draft)


def _offer(ctx: Context, draft: ProxyDraft) -> list[Reply]:
    """确认: the offer is made and its code shown once, with the message to forward."""
    today = use.today(ctx.work)
    term = (today, date.fromisoformat(draft.ends_on)) if draft.ends_on else None
    summary = _summary(ctx, draft)
    try:
        made = use.offer(
            ctx.work,
            ctx.actor(),
            given(draft.home),
            draft.name,
            draft.poll,
            term,
            (draft.photo_channel, draft.photo_ref),
        )
    except PollError as error:
        ctx.state.clear()
        return [_refused(error.reason)]
    ctx.state.clear()
    context = {**summary, "code": made.code, "expires_at": made.expires_at.isoformat()}
    done = Reply("proxies.offered", context)
    forward = Reply("proxies.forward", context)
    if draft.mode == "letter":
        again = [[_btn(Proxies("sp", poll=given(draft.poll)), "proxies.btn_another_letter")]]
        return [done, forward, Reply("proxies.letter_next", summary, again)]
    return [done, forward, *page(ctx)]


# --- the proxy claims ----------------------------------------------------------------------------------


def _claim(ctx: Context, code: str) -> list[Reply]:
    """The code sent: the proxy is told for which home and poll (or term) they may now vote."""
    try:
        proxy = use.claim(ctx.work, ctx.actor(), code)
    except PollError as error:
        if ctx.state.flow == NAME and ctx.state.step == "claim" and error.reason == "not_found":
            return _ask(ctx, ProxyDraft(), "code")  # a slip of the finger: type it again
        ctx.state.clear()
        return [_refused(error.reason)]
    ctx.state.clear()
    shown = _view(use.view_of(ctx.work, proxy))
    rows = []
    if proxy.poll_id is not None:
        rows.append([Button.of(Vote("v", poll=proxy.poll_id), "proxies.btn_open_poll")])
    return [Reply("proxies.claimed", shown, rows)]


# --- revoking -----------------------------------------------------------------------------------------------


def _ask_revoke(ctx: Context, proxy_id: int) -> list[Reply]:
    shown = use.revocable(ctx.work, ctx.actor(), proxy_id)
    if shown is None:
        return [stale()]
    if shown.state == "revoked":
        return [_refused("revoked")]
    rows = [
        [_btn(Proxies("rk", proxy=proxy_id), "proxies.btn_revoke_yes", primary=True)],
        [_btn(Proxies("l"), "proxies.btn_revoke_no")],
    ]
    return [Reply("proxies.ask_revoke", _view(shown), rows)]


def _revoke(ctx: Context, proxy_id: int) -> list[Reply]:
    try:
        proxy = use.revoke(ctx.work, ctx.actor(), proxy_id)
    except PollError as error:
        return [_refused(error.reason)]
    shown = _view(use.view_of(ctx.work, proxy))
    return [Reply("proxies.revoked", shown), *page(ctx)]


# --- staff enter a letter ----------------------------------------------------------------------------------


def _start_letter(ctx: Context) -> list[Reply]:
    polls = use.letter_polls(ctx.work, ctx.actor())
    if not polls:
        return [_refused("no_polls" if may(ctx.actor(), Action.ENTER_BALLOT) else "not_allowed")]
    ctx.state.go(NAME, "poll")
    ProxyDraft(mode="letter").keep(ctx.state)
    return _ask(ctx, ProxyDraft(mode="letter"))


def _ask_place(ctx: Context, draft: ProxyDraft, context: dict[str, Any], note: str = "") -> list[Reply]:
    """The letter's poll, then its home by building, entrance and number, as buttons."""
    step = ctx.state.step
    if step == "poll":
        polls = use.letter_polls(ctx.work, ctx.actor())
        rows = [[_btn(Proxies("sp", poll=p.id), text=p.title[:MAX_TITLE])] for p in polls[:MAX_BUTTONS]]
        return [Reply("proxies.ask_poll", context, [*rows, _cancel_row()])]
    poll = ctx.session.get(Poll, given(draft.poll))
    if poll is None:
        ctx.state.clear()
        return [stale()]
    if step == "building":
        found = use.buildings(ctx.work, poll)
        buttons = [_btn(Proxies("sb", building=b.id), text=b.name) for b in found[:MAX_BUTTONS]]
        listing = [_btn(Proxies("sl", compound=poll.node_id), "proxies.btn_compound_list")]
        return [Reply("proxies.ask_building", context, [*_rows(buttons, 3), listing, _cancel_row()])]
    if step == "entrance":
        found = use.entrances(ctx.work, poll, given(draft.building))
        buttons = [_btn(Proxies("se", entrance=e.id), text=e.name) for e in found[:MAX_BUTTONS]]
        return [Reply("proxies.ask_entrance", context, [*_rows(buttons, 3), _cancel_row()])]
    homes = use.homes(ctx.work, poll, given(draft.entrance))
    buttons = [_btn(Proxies("sh", home=h.id), text=h.number) for h in homes[:MAX_HOMES]]
    context = {**context, "count": len(homes), "shown": len(buttons)}
    return [
        Reply("proxies.ask_staff_home", context, [*_rows(buttons, 4), _cancel_row()], keeps_input=bool(note))
    ]


def _typed_home(ctx: Context, draft: ProxyDraft, text: str) -> list[Reply]:
    """A home number typed at the entrance's homes (a high-rise has more than its buttons show)."""
    poll = ctx.session.get(Poll, given(draft.poll))
    typed = text.strip().upper()
    found = (
        [h for h in use.homes(ctx.work, poll, given(draft.entrance)) if h.number.upper() == typed]
        if poll
        else []
    )
    if not found:
        return _ask(ctx, draft, "number")
    draft.home = found[0].id
    ctx.state.go(NAME, "name")
    draft.keep(ctx.state)
    return _ask(ctx, draft)


def _letter_step(ctx: Context, draft: ProxyDraft, press: Proxies) -> list[Reply]:
    """A press on the way to a letter's home: each choice is checked against the poll's scope."""
    verb = press.verb
    if verb == "sp":
        poll = ctx.session.get(Poll, given(press.poll))
        if poll is None or poll.id not in {p.id for p in use.letter_polls(ctx.work, ctx.actor())}:
            return [_refused("not_allowed")]
        draft = ProxyDraft(mode="letter", poll=poll.id)
        ctx.state.go(NAME, "building")
    elif verb == "sb" and draft.poll is not None:
        draft.building, draft.entrance, draft.home = press.building, None, None
        ctx.state.go(NAME, "entrance")
    elif verb == "se" and draft.building is not None:
        draft.entrance, draft.home = press.entrance, None
        ctx.state.go(NAME, "staff_home")
    elif verb == "sh" and draft.entrance is not None:
        poll = ctx.session.get(Poll, given(draft.poll))
        if poll is None or given(press.home) not in {h.id for h in use.homes(ctx.work, poll, draft.entrance)}:
            return [stale()]
        draft.home = press.home
        ctx.state.go(NAME, "name")
    else:
        return [stale()]
    draft.keep(ctx.state)
    return _ask(ctx, draft)


def _compound_list(ctx: Context, compound_id: int) -> list[Reply]:
    try:
        found = use.live(use.of_compound(ctx.work, ctx.actor(), compound_id))
    except PollError as error:
        return [_refused(error.reason)]
    rows = [
        [_btn(Proxies("rv", proxy=v.id), "proxies.btn_revoke", home=v.home_label, name=v.proxy_name)]
        for v in found
    ]
    return [Reply("proxies.compound_list", {"items": [_view(v) for v in found]}, rows)]


def _flagged(ctx: Context, compound_id: int) -> list[Reply]:
    try:
        found = use.flagged(ctx.work, ctx.actor(), compound_id)
    except PollError as error:
        return [_refused(error.reason)]
    items = [{"name": name, "homes": homes} for _, name, homes in found]
    return [Reply("proxies.flagged_list", {"items": items, "limit": ctx.policy.proxy_flag_homes})]


# --- buttons and typed text ------------------------------------------------------------------------------


def on_press(ctx: Context, press: Proxies) -> list[Reply]:
    """Every /proxy button, checked again by the use cases."""
    verb = press.verb
    if verb == "l":
        if ctx.state.flow == NAME:
            ctx.state.clear()
        return page(ctx)
    if verb in ("o", "op"):
        return _start_offer(ctx, press.poll)
    if verb == "c":
        ctx.state.go(NAME, "claim")
        return _ask(ctx, ProxyDraft())
    if verb == "rv":
        return _ask_revoke(ctx, given(press.proxy))
    if verb == "rk":
        return _revoke(ctx, given(press.proxy))
    if verb == "s":
        return _start_letter(ctx)
    if verb == "sp":  # a poll chosen, or 再录一份 after a letter: a new letter starts at its buildings
        return _letter_step(ctx, ProxyDraft(mode="letter"), press)
    if verb == "sl":
        return _compound_list(ctx, given(press.compound))
    if verb == "f":
        return _flagged(ctx, given(press.compound))
    if ctx.state.flow != NAME:
        return [stale()]
    if verb == "x":
        ctx.state.clear()
        return [Reply("common.cancelled")]
    draft = ProxyDraft.of(ctx.state)
    if verb in ("sb", "se", "sh"):
        return _letter_step(ctx, draft, press)
    return _owner_step(ctx, draft, press)


def _owner_step(ctx: Context, draft: ProxyDraft, press: Proxies) -> list[Reply]:
    verb, step = press.verb, ctx.state.step
    if verb == "h" and step == "home":
        if given(press.home) not in {h for h, _ in _homes(ctx, draft)}:
            return [stale()]
        draft.home = press.home
        return _after_home(ctx, draft)
    if draft.home is None:
        return [stale()]
    if verb == "pp" and step == "what":
        if given(press.poll) not in {p.id for p in use.polls_of_home(ctx.work, draft.home)}:
            return [stale()]
        draft.poll, draft.ends_on = press.poll, ""
        ctx.state.go(NAME, "name")
    elif verb == "t" and step == "what":
        ctx.state.go(NAME, "term")
    elif verb == "tc" and step == "term":
        ends = use.committee_ends(ctx.work, draft.home)
        return _set_term(ctx, draft, ends) if ends is not None else [stale()]
    elif verb == "ty" and step == "term":
        today = use.today(ctx.work)
        return _set_term(ctx, draft, _a_year_from(today))
    elif verb == "ok" and step == "confirm":
        return _offer(ctx, draft)
    else:
        return [stale()]
    draft.keep(ctx.state)
    return _ask(ctx, draft)


def _a_year_from(today: date) -> date:
    """The last day of a one-year term starting today."""
    try:
        return today.replace(year=today.year + 1) - timedelta(days=1)
    except ValueError:
        return today.replace(year=today.year + 1, day=28)


def on_text(ctx: Context, inbound: Inbound) -> list[Reply]:
    """Typed text (or a photo) inside the flow: the code, a term's last day, the proxy's name, the letter's
    photo; anything else re-asks the step."""
    step = ctx.state.step
    draft = ProxyDraft.of(ctx.state)
    text = inbound.text.strip()
    if step == "claim" and text:
        return _claim(ctx, text)
    if step == "term" and text:
        typed = parse_date(text)
        return _set_term(ctx, draft, typed) if typed is not None else _ask(ctx, draft, "date")
    if step == "name" and text:
        return _set_name(ctx, draft, text)
    if step == "staff_home" and text and draft.entrance is not None:
        return _typed_home(ctx, draft, text)
    if step == "photo":
        photo = next((a for a in inbound.attachments if a.kind == "photo"), None)
        if photo is None:
            return _ask(ctx, draft, "photo")
        draft.photo_channel, draft.photo_ref = inbound.channel, photo.ref
        ctx.state.go(NAME, "confirm")
        draft.keep(ctx.state)
        return _ask(ctx, draft)
    return [Reply("proxies.use_buttons"), *_ask(ctx, draft)]


def resume(ctx: Context) -> list[Reply]:
    """Ask the step of a draft brought back from a detour."""
    return _ask(ctx, ProxyDraft.of(ctx.state))


def keeps(state: State) -> bool:
    """Worth keeping once something was given: a name, a photo, a term or a chosen home."""
    data = state.data
    return bool(data.get("name") or data.get("photo_ref") or data.get("ends_on") or data.get("home"))


FLOW = Flow(
    NAME,
    {"/proxy": Command(page, leaves_flow=True)},
    Proxies,
    on_press,
    on_text,
    resume=resume,
    keeps=keeps,
)
