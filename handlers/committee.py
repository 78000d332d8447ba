"""/committee: 业委会: who serves the compound, since and until when; community staff set the committee, the
street a 物管会 where none serves, and the outgoing committee's handover is marked done.

Setting a committee is a short draft, one question a step: the first day (today, or typed), the term
(five or three years, or the last day typed), the filing day (today, not yet, or typed), then the members,
chosen from the compound's verified owners building by building or by a typed name, each with a post, and
a summary to confirm. Everything is checked again by core.committee when it is confirmed.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field

from core import committee as use
from core.actions import Committees
from core.committee import CommitteeError, Seat
from core.permissions import Action, may
from db.committee.rules import MANAGEMENT_POSTS, OWNER_POSTS, check_term, default_end
from handlers.common import given, parse_date, stale
from handlers.context import Context
from handlers.flows import Command, Draft, Flow
from handlers.types import Button, Inbound, Reply

NAME = "committee"
MAX_COMPOUNDS = 40  # compounds listed as buttons; a street has a few dozen
MAX_PEOPLE = 20  # people listed as buttons in one answer
CHOOSING = ("members", "choosing", "post")  # the steps where members are being chosen
TERMS = {"owners": (5, 3), "management": (1, 2)}  # the term buttons, in years


class CommitteeDraft(Draft):
    """A committee being set: where, which kind, the term, the filing day and the members so far."""

    compound: int | None = None
    kind: str = "owners"
    starts_on: str = ""
    ends_on: str = ""
    filed_on: str = ""
    seats: list[tuple[int, str]] = Field(default_factory=list)
    names: dict[int, str] = Field(default_factory=dict)
    person: int | None = None  # chosen, waiting for a post


def _today(ctx: Context) -> date:
    return ctx.now.astimezone(ctx.policy.zone).date()


def _cancel_row() -> list[Button]:
    return [Button.of(Committees("x"), "cancel")]


# --- looking -------------------------------------------------------------------------------------------


def show(ctx: Context, _: str) -> list[Reply]:
    """`/committee`: the committee of the person's compound, or the compounds staff may choose from."""
    actor = ctx.actor()
    if not (may(actor, Action.SEE_COMMITTEE) or may(actor, Action.MANAGE_COMMITTEE)):
        return [Reply("committee.not_allowed")]
    compounds = use.compounds_for(ctx.work, actor, Action.SEE_COMMITTEE)
    if not compounds:
        return [Reply("committee.no_compounds")]
    if len(compounds) == 1:
        return _view(ctx, given(compounds[0].id))
    rows: list[list[Button]] = []
    shown = compounds[:MAX_COMPOUNDS]
    for start in range(0, len(shown), 2):
        rows.append(
            [Button.of(Committees("v", compound=c.id), text=c.name) for c in shown[start : start + 2]]
        )
    return [Reply("committee.choose_compound", {"count": len(compounds), "shown": len(shown)}, rows)]


def _view(ctx: Context, compound_id: int) -> list[Reply]:
    try:
        found = use.view(ctx.work, ctx.actor(), compound_id)
    except CommitteeError:
        return [stale()]
    committee = found.committee
    context: dict[str, Any] = {
        "compound": found.compound.name,
        "status": found.status,
        "kind": committee.kind if committee else "",
        "starts_on": committee.starts_on.isoformat() if committee else "",
        "ends_on": committee.ends_on.isoformat() if committee else "",
        "filed_on": committee.filed_on.isoformat() if committee and committee.filed_on else "",
        "elected": bool(committee and committee.installed_by_poll_id),
        "members": [{"name": m.name, "post": m.post} for m in found.members],
        "handover": bool(found.handover),
        "handover_due": found.handover.due_at.isoformat() if found.handover else "",
        "staff": found.may_manage or found.may_set_up,
    }
    rows: list[list[Button]] = []
    if found.may_manage:
        rows.append([Button.of(Committees("s", compound=compound_id), "committee.btn_set")])
    if found.may_set_up:
        rows.append([Button.of(Committees("g", compound=compound_id), "committee.btn_management")])
    if found.may_finish_handover and found.handover is not None:
        rows.append([Button.of(Committees("h", handover=found.handover.id), "committee.btn_handover_done")])
    return [Reply("committee.show", context, rows)]


# --- setting -------------------------------------------------------------------------------------------


def _start(ctx: Context, compound_id: int, kind: str) -> list[Reply]:
    try:
        found = use.view(ctx.work, ctx.actor(), compound_id)
    except CommitteeError:
        return [stale()]
    if not (found.may_set_up if kind == "management" else found.may_manage):
        reason = "in_office" if kind == "management" and found.may_manage else "not_allowed"
        return [Reply("committee.refused", {"reason": reason})]
    ctx.state.go(NAME, "start")
    draft = CommitteeDraft(compound=compound_id, kind=kind)
    draft.keep(ctx.state)
    return _ask(ctx, draft)


def _ask(ctx: Context, draft: CommitteeDraft, note: str = "") -> list[Reply]:
    """Ask the draft's current step again (after a note on what was wrong, if any)."""
    step = ctx.state.step
    context: dict[str, Any] = {"kind": draft.kind, "note": note, **_terms(draft)}
    if step == "start":
        rows = [[Button.of(Committees("sd"), "committee.btn_today", primary=True)], _cancel_row()]
        return [Reply("committee.ask_start", context, rows, keeps_input=bool(note))]
    if step == "end":
        rows = [
            [Button.of(Committees("ty", years=y), "committee.btn_years", args={"years": y})]
            for y in TERMS[draft.kind]
        ]
        return [Reply("committee.ask_end", context, [*rows, _cancel_row()], keeps_input=bool(note))]
    if step == "filed":
        rows = [
            [Button.of(Committees("fd", yes=True), "committee.btn_filed_today")],
            [Button.of(Committees("fd", yes=False), "committee.btn_not_filed")],
            _cancel_row(),
        ]
        return [Reply("committee.ask_filed", context, rows, keeps_input=bool(note))]
    if step == "post":
        posts = MANAGEMENT_POSTS if draft.kind == "management" else OWNER_POSTS
        rows = [
            [
                Button.of(
                    Committees("o", person=draft.person, post=p),
                    "committee.btn_post",
                    args={"post": p, "kind": draft.kind},
                )
            ]
            for p in posts
        ]
        name = draft.names.get(given(draft.person), "")
        return [Reply("committee.ask_post", {**context, "name": name}, [*rows, _cancel_row()])]
    if step == "confirm":
        rows = [[Button.of(Committees("ok"), "committee.btn_confirm", primary=True)], _cancel_row()]
        return [Reply("committee.confirm", context, rows)]
    return _members(ctx, draft, note)


def _terms(draft: CommitteeDraft) -> dict[str, Any]:
    return {
        "starts_on": draft.starts_on,
        "ends_on": draft.ends_on,
        "filed_on": draft.filed_on,
        "members": [{"name": draft.names.get(p, ""), "post": post} for p, post in draft.seats],
    }


def _members(ctx: Context, draft: CommitteeDraft, note: str = "") -> list[Reply]:
    """The members chosen so far, with the buildings to choose owners from and the way on."""
    ctx.state.go(NAME, "members")
    draft.keep(ctx.state)
    compound_id = given(draft.compound)
    buildings = use.buildings(ctx.work, compound_id)
    rows: list[list[Button]] = []
    for start in range(0, len(buildings), 3):
        rows.append(
            [Button.of(Committees("b", building=b.id), text=b.name) for b in buildings[start : start + 3]]
        )
    if draft.kind == "management":
        rows.append([Button.of(Committees("f"), "committee.btn_staff")])
    for person_id, _ in draft.seats:
        name = draft.names.get(person_id, "")
        remove = Committees("r", person=person_id)
        rows.append([Button.of(remove, "committee.btn_remove", args={"name": name or "？"})])
    if draft.seats:
        rows.append([Button.of(Committees("d"), "committee.btn_done", primary=True)])
    rows.append(_cancel_row())
    context = {"kind": draft.kind, "note": note, **_terms(draft)}
    return [Reply("committee.members", context, rows)]


def _people(ctx: Context, draft: CommitteeDraft, found: list[tuple[int, str, str]], text: str) -> list[Reply]:
    """People to choose from as buttons (name and home, or role), or why there are none."""
    if not found:
        return [Reply("committee.no_people", {"text": text}), *_members(ctx, draft)]
    chosen = {p for p, _ in draft.seats}
    rows = [
        [Button.of(Committees("p", person=p), text=f"{name or '？'} · {where}" if where else name or "？")]
        for p, name, where in found[:MAX_PEOPLE]
        if p not in chosen
    ]
    draft.names.update({p: name for p, name, _ in found[:MAX_PEOPLE]})
    ctx.state.go(NAME, "choosing")  # "back" from here returns to the members list
    draft.keep(ctx.state)
    context = {"count": len(found), "shown": min(len(found), MAX_PEOPLE), "text": text}
    back = [Button.of(Committees("d"), "committee.btn_back")]
    return [Reply("committee.choose_person", context, [*rows, back])]


def _owners(ctx: Context, draft: CommitteeDraft, building: int | None, text: str = "") -> list[Reply]:
    try:
        owners = use.owners(ctx.work, ctx.actor(), given(draft.compound), building, text)
    except CommitteeError as error:
        ctx.state.clear()
        return [Reply("committee.refused", {"reason": error.reason})]
    found = [(o.person_id, o.name, f"{o.building}{o.entrance}{o.number}") for o in owners]
    return _people(ctx, draft, found, text)


def _staff(ctx: Context, draft: CommitteeDraft) -> list[Reply]:
    try:
        people = use.staff(ctx.work, ctx.actor(), given(draft.compound))
    except CommitteeError as error:
        ctx.state.clear()
        return [Reply("committee.refused", {"reason": error.reason})]
    return _people(ctx, draft, [(p, name, "") for p, name, _ in people], "")


def _seats(draft: CommitteeDraft) -> list[Seat]:
    return [Seat(p, post) for p, post in draft.seats]


def _check(ctx: Context, draft: CommitteeDraft) -> list[Reply]:
    try:
        use.check(
            ctx.work,
            ctx.actor(),
            given(draft.compound),
            draft.kind,
            date.fromisoformat(draft.starts_on),
            date.fromisoformat(draft.ends_on),
            _seats(draft),
        )
    except CommitteeError as error:
        if error.reason in ("not_allowed", "not_found", "in_office"):
            ctx.state.clear()
            return [Reply("committee.refused", {"reason": error.reason})]
        return _members(ctx, draft, error.reason)
    ctx.state.go(NAME, "confirm")
    draft.keep(ctx.state)
    return _ask(ctx, draft)


def _confirm(ctx: Context, draft: CommitteeDraft) -> list[Reply]:
    compound_id = given(draft.compound)
    try:
        use.set_committee(
            ctx.work,
            ctx.actor(),
            compound_id,
            draft.kind,
            date.fromisoformat(draft.starts_on),
            date.fromisoformat(draft.ends_on),
            date.fromisoformat(draft.filed_on) if draft.filed_on else None,
            _seats(draft),
        )
    except CommitteeError as error:
        if error.reason in ("not_allowed", "not_found", "in_office"):
            ctx.state.clear()
            return [Reply("committee.refused", {"reason": error.reason})]
        return _members(ctx, draft, error.reason)
    ctx.state.clear()
    return [Reply("committee.done", {"kind": draft.kind, **_terms(draft)}), *_view(ctx, compound_id)]


# --- buttons and typed text ------------------------------------------------------------------------------


def on_press(ctx: Context, press: Committees) -> list[Reply]:
    """Every /committee button, checked again by the use cases."""
    verb = press.verb
    if verb == "v":
        return _view(ctx, given(press.compound))
    if verb in ("s", "g"):
        return _start(ctx, given(press.compound), "management" if verb == "g" else "owners")
    if verb == "h":
        try:
            use.finish_handover(ctx.work, ctx.actor(), given(press.handover))
        except CommitteeError as error:
            return (
                [stale()]
                if error.reason in ("not_found", "not_allowed")
                else [Reply("committee.handover_already")]
            )
        return [Reply("committee.handover_marked")]
    if ctx.state.flow != NAME:
        return [stale()]
    if verb == "x":
        ctx.state.clear()
        return [Reply("common.cancelled")]
    draft = CommitteeDraft.of(ctx.state)
    if draft.compound is None:
        ctx.state.clear()
        return [stale()]
    return _step(ctx, draft, press)


def _step(ctx: Context, draft: CommitteeDraft, press: Committees) -> list[Reply]:
    verb, step = press.verb, ctx.state.step
    if verb == "sd" and step == "start":
        return _set_start(ctx, draft, _today(ctx))
    if verb == "ty" and step == "end":
        return _set_end(ctx, draft, default_end(date.fromisoformat(draft.starts_on), given(press.years)))
    if verb == "fd" and step == "filed":
        draft.filed_on = _today(ctx).isoformat() if press.yes else ""
        return _members(ctx, draft)
    if verb == "b" and step in CHOOSING:
        return _owners(ctx, draft, given(press.building))
    if verb == "f" and step in CHOOSING and draft.kind == "management":
        return _staff(ctx, draft)
    if verb == "p" and step in CHOOSING:
        person = given(press.person)
        if person not in draft.names:
            return [stale()]
        draft.person = person
        ctx.state.go(NAME, "post")
        draft.keep(ctx.state)
        return _ask(ctx, draft)
    if verb == "o" and step == "post" and press.person == draft.person and press.person is not None:
        posts = MANAGEMENT_POSTS if draft.kind == "management" else OWNER_POSTS
        if press.post not in posts:
            return [stale()]
        draft.seats = [s for s in draft.seats if s[0] != press.person] + [(press.person, given(press.post))]
        draft.person = None
        return _members(ctx, draft)
    if verb == "r" and step in (*CHOOSING, "confirm"):
        draft.seats = [s for s in draft.seats if s[0] != press.person]
        return _members(ctx, draft)
    if verb == "d" and step in (*CHOOSING, "confirm"):
        # From the members list "done" checks and asks to confirm; from a list of people it goes back.
        return _check(ctx, draft) if draft.seats and step == "members" else _members(ctx, draft)
    if verb == "ok" and step == "confirm":
        return _confirm(ctx, draft)
    return [stale()]


def _set_start(ctx: Context, draft: CommitteeDraft, day: date) -> list[Reply]:
    draft.starts_on = day.isoformat()
    ctx.state.go(NAME, "end")
    draft.keep(ctx.state)
    return _ask(ctx, draft)


def _set_end(ctx: Context, draft: CommitteeDraft, day: date) -> list[Reply]:
    start = date.fromisoformat(draft.starts_on)
    try:
        check_term(start, day)
    except CommitteeError as error:
        return _ask(ctx, draft, error.reason)
    draft.ends_on = day.isoformat()
    ctx.state.go(NAME, "filed")
    draft.keep(ctx.state)
    return _ask(ctx, draft)


def on_text(ctx: Context, inbound: Inbound) -> list[Reply]:
    """A day typed at the date steps, a name typed while choosing members."""
    draft = CommitteeDraft.of(ctx.state)
    if draft.compound is None:
        ctx.state.clear()
        return [stale()]
    step, text = ctx.state.step, inbound.text.strip()
    if step in ("start", "end", "filed"):
        day = parse_date(text)
        if day is None:
            return _ask(ctx, draft, "bad_date")
        if step == "start":
            return _set_start(ctx, draft, day)
        if step == "end":
            return _set_end(ctx, draft, day)
        draft.filed_on = day.isoformat()
        return _members(ctx, draft)
    if step in CHOOSING and text:
        return _owners(ctx, draft, None, text[:30])
    return _ask(ctx, draft)


FLOW = Flow(
    NAME,
    {"/committee": Command(show, leaves_flow=True, members_only=True)},
    Committees,
    on_press,
    on_text,
    text_limit=100,
)
