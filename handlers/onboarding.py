"""Joining: /start with an invite, or asking for a home and waiting for staff (the `join` flow).

The home chooser walks compound → building → entrance → home → owner or tenant; each press carries the
place it stands for. Then the person gives their name (typed, or the platform's name in one tap), their
phone (Telegram's contact button, or typed and checked) and, for an owner in a compound that wants it, a
photo of the ownership certificate; only then is the request made and staff told. These answers are kept
in the conversation state (`home`, `kind`, `name`, `phone`), so a detour loses none of them. Text typed
before a home is chosen is taken as an invite code.
"""

from __future__ import annotations

from sqlmodel import select

from core import actions, people
from core.actions import Join
from core.people import PeopleError
from core.permissions import ResidentKind
from db import org
from db.models import OrgNode
from db.people import ENTRANCE, home_view
from db.rows import id_of
from handlers.common import given, menu_buttons, stale
from handlers.context import Context
from handlers.flows import Command, Flow
from handlers.types import Attachment, Button, Inbound, Reply

FLOW_NAME = "join"
MAX_CHOICES = 30
# The chooser's places in order: a press on one lists the kinds of node below it.
PLACES = {"p": "compound", "b": "building", "e": "entrance"}
NEXT = {"p": "b", "b": "e"}
# The steps after owner or tenant was chosen, in order; `code` is the step before (an invite may be typed).
ASKING = ("name", "phone", "document")
CONTACT_CHANNELS = frozenset({"telegram"})  # channels with a button that shares the person's own number


def looks_like_invite(text: str) -> bool:
    """Whether a typed text could be an invite code."""
    return people.looks_like_invite(text)


def is_member(ctx: Context) -> bool:
    """Whether the person lives somewhere (verified) or holds a staff role (granted, or through their
    property company or committee)."""
    return bool(ctx.residencies("verified") or ctx.roles() or ctx.actor().grants)


def _choose_home_row() -> list[Button]:
    return [Button.of(Join("c"), "choose_home")]


def start(ctx: Context, args: str) -> list[Reply]:
    """`/start [invite]`: redeem an invite, or greet and show how to join; a registration left half-way
    is taken up where it stopped."""
    if args:
        ctx.state.clear()
        return redeem(ctx, args)
    if ctx.state.flow == FLOW_NAME and ctx.state.step in ASKING and not is_member(ctx):
        return [_ask(ctx, resume=True)]
    ctx.state.clear()
    if is_member(ctx):
        return [Reply("onboarding.welcome_back", {"name": ctx.person.name}, menu_buttons(ctx))]
    ctx.state.go(FLOW_NAME, "code")
    pending = ctx.residencies("pending")
    return [Reply("onboarding.greeting", {"pending": bool(pending)}, [_choose_home_row()])]


def redeem(ctx: Context, code: str) -> list[Reply]:
    """Bind the person with an invite code."""
    try:
        joined = people.redeem_invite(ctx.work, ctx.person_id, code)
    except PeopleError:
        ctx.forget_membership()
        return [Reply("onboarding.invite_invalid", {}, [_choose_home_row()])]
    if joined.kind == ENTRANCE and joined.node_id is not None:
        # The code printed in the stairwell: straight to this entrance's homes, then name, phone and
        # staff approval as for anyone registering without a code.
        ctx.state.go(FLOW_NAME, "code")
        homes = org.homes_in(ctx.session, joined.node_id)
        rows = _grid([Button.of(Join("h", home=h.id), text=h.number) for h in homes], 4)
        return [Reply("onboarding.choose_home", {"place": joined.where}, rows)]
    ctx.forget_membership()
    ctx.state.clear()
    rows = menu_buttons(ctx)
    if (
        joined.kind not in (ResidentKind.OWNER, ResidentKind.TENANT)
        and people.person_name(ctx.person.name) is None
    ):
        # Cards and assignments name the person who handles a case: staff without one are asked.
        rows = [[Button.of(Join("m"), "give_name", primary=True)], *rows]
    return [Reply("onboarding.joined", {"kind": joined.kind, "where": joined.where}, rows)]


def on_message(ctx: Context, inbound: Inbound) -> list[Reply]:
    """In the join flow: the answer to the step asked (name, phone, certificate photo), or before a home
    is chosen, an invite code."""
    step = ctx.state.step
    if step == "name":
        return _on_name(ctx, inbound)
    if step == "staff_name":
        return _on_staff_name(ctx, inbound)
    if step == "phone":
        return _on_phone(ctx, inbound)
    if step == "document":
        return _on_document(ctx, inbound)
    text = inbound.text.strip()
    if text:
        return redeem(ctx, text)
    return [Reply("onboarding.send_code", {}, [_choose_home_row()])]


def _cancel_row() -> list[Button]:
    return [Button.of(Join("x"), "cancel")]


def _ask(ctx: Context, resume: bool = False, again: bool = False) -> Reply:
    """The question of the step the person is at, with what they answered so far."""
    data, step = ctx.state.data, ctx.state.step
    context = {
        "home": home_label(ctx, data.get("home")),
        "kind": data.get("kind", ""),
        "name": data.get("name", ""),
        "resume": resume,
        "again": again,
    }
    if step == "name":
        rows: list[list[Button]] = []
        suggested = people.person_name(ctx.person.name)
        if suggested:
            rows.append([Button.of(Join("n"), "use_name", args={"name": suggested}, primary=True)])
        return Reply("onboarding.ask_name", context, [*rows, _cancel_row()])
    if step == "phone":
        button = ctx.person.channel in CONTACT_CHANNELS
        return Reply(
            "onboarding.ask_phone", {**context, "button": button}, [_cancel_row()], ask_contact=button
        )
    return Reply("onboarding.ask_document", context, [_cancel_row()])


def home_label(ctx: Context, home_id: object) -> str:
    """The address of a home id kept in the state ("" when there is none)."""
    return people.home_label(ctx.work, home_id) if isinstance(home_id, int) else ""


def _on_name(ctx: Context, inbound: Inbound) -> list[Reply]:
    if not inbound.text.strip():  # a photo, a location, a contact card: the question again
        return [_ask(ctx, again=True)]
    name = people.person_name(inbound.text)
    if name is None:
        return [Reply("onboarding.bad_name", {"limit": people.MAX_NAME}, [_cancel_row()], keeps_input=True)]
    return _named(ctx, name)


def _named(ctx: Context, name: str) -> list[Reply]:
    ctx.state.step = "phone"
    ctx.state.data = {**ctx.state.data, "name": name}
    return [_ask(ctx)]


def _on_phone(ctx: Context, inbound: Inbound) -> list[Reply]:
    if inbound.contact_phone:
        phone = people.shared_number(inbound.contact_phone)
    elif any(a.kind == "contact" for a in inbound.attachments):
        # A contact card of someone else (forwarded, or picked from the address book): not theirs.
        return [Reply("onboarding.contact_not_yours"), _ask(ctx)]
    else:
        phone = people.mobile_number(inbound.text) or ""
    if not phone:
        if not inbound.text.strip():
            return [_ask(ctx, again=True)]
        return [Reply("onboarding.bad_phone", {}, [_cancel_row()], keeps_input=True)]
    data = ctx.state.data
    ctx.state.data = {**data, "phone": phone}
    home, kind = data.get("home"), data.get("kind")
    if isinstance(home, int) and isinstance(kind, str) and people.needs_document(ctx.work, home, kind):
        ctx.state.step = "document"
        return [_ask(ctx)]
    return _finish(ctx, None)


def _on_document(ctx: Context, inbound: Inbound) -> list[Reply]:
    photo = next((a for a in inbound.attachments if a.kind == "photo"), None)
    if photo is None:
        return [_ask(ctx, again=True)]
    return _finish(ctx, photo)


def _finish(ctx: Context, document: Attachment | None) -> list[Reply]:
    """Every answer given: the request is made and staff are told."""
    data = ctx.state.data
    home, kind = data.get("home"), data.get("kind")
    if not isinstance(home, int) or not isinstance(kind, str):
        ctx.state.clear()
        return [stale()]
    try:
        chosen = people.choose_home(
            ctx.work,
            ctx.person_id,
            home,
            kind,
            str(data.get("name", "")),
            str(data.get("phone", "")),
            None if document is None else (ctx.person.channel, document.ref),
        )
    except PeopleError as refused:
        if refused.reason == "document":
            ctx.state.step = "document"
            return [_ask(ctx)]
        ctx.state.clear()
        return [stale()]
    ctx.forget_membership()
    ctx.state.clear()
    if chosen.status == "verified":
        return [Reply("onboarding.already_verified", {"home": chosen.home}, menu_buttons(ctx))]
    return [Reply("onboarding.pending", {"home": chosen.home, "kind": kind})]


def _grid(buttons: list[Button], per_row: int) -> list[list[Button]]:
    return [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]


def _compounds(ctx: Context, _: Join) -> list[Reply]:
    if ctx.state.flow == FLOW_NAME and ctx.state.step in ASKING and not is_member(ctx):
        return [_ask(ctx, resume=True)]  # half-way through: taken up where it stopped, not restarted
    compounds = ctx.session.exec(
        select(OrgNode).where(OrgNode.kind == "compound").order_by(OrgNode.name)
    ).all()
    rows = [[Button.of(Join("p", node=c.id), text=c.name)] for c in compounds[:MAX_CHOICES]]
    ctx.state.go(FLOW_NAME, "code")
    return [Reply("onboarding.choose_compound", {}, rows)]


def _place(ctx: Context, press: Join) -> list[Reply]:
    """A compound, building or entrance chosen: what lies below it."""
    node = ctx.session.get(OrgNode, press.node)
    if node is None or node.kind != PLACES[press.verb]:
        return [stale()]
    if press.verb == "e":
        homes = org.homes_in(ctx.session, id_of(node))
        rows = _grid([Button.of(Join("h", home=h.id), text=h.number) for h in homes], 4)
        return [Reply("onboarding.choose_home", {"place": node.name}, rows)]
    below = NEXT[press.verb]
    kids = org.children(ctx.session, node.id)
    rows = _grid([Button.of(Join(below, node=k.id), text=k.name) for k in kids], 3)
    return [Reply(f"onboarding.choose_{PLACES[below]}", {"place": node.name}, rows)]


def _home(ctx: Context, press: Join) -> list[Reply]:
    """A home chosen: owner or tenant?"""
    view = home_view(ctx.session, given(press.home))
    if view is None:
        return [stale()]
    rows = [[Button.of(Join("k", home=view.home_id, kind=kind), kind) for kind in ("owner", "tenant")]]
    return [Reply("onboarding.choose_kind", {"home": view.label}, rows)]


def _kind(ctx: Context, press: Join) -> list[Reply]:
    """Owner or tenant chosen: next, the person's name (nothing is asked of staff yet)."""
    view = home_view(ctx.session, given(press.home))
    if view is None or press.kind not in ("owner", "tenant"):
        return [stale()]
    if any(r.home_id == view.home_id for r in ctx.residencies("verified")):
        return [Reply("onboarding.already_verified", {"home": view.label}, menu_buttons(ctx))]
    ctx.state.go(FLOW_NAME, "name", home=view.home_id, kind=press.kind)
    return [_ask(ctx)]


def _use_name(ctx: Context, _: Join) -> list[Reply]:
    """The name the platform shows, taken in one tap."""
    name = people.person_name(ctx.person.name)
    if ctx.state.flow != FLOW_NAME or ctx.state.step != "name" or name is None:
        return [stale()]
    return _named(ctx, name)


def _ask_staff_name(ctx: Context, _: Join) -> list[Reply]:
    """Staff who joined without a name: what colleagues and residents will call them."""
    if not ctx.roles():
        return [stale()]
    ctx.state.go(FLOW_NAME, "staff_name")
    return [Reply("onboarding.ask_staff_name", {}, [[Button.of(Join("x"), "cancel")]])]


def _on_staff_name(ctx: Context, inbound: Inbound) -> list[Reply]:
    try:
        name = people.name_staff(ctx.work, ctx.actor(), inbound.text)
    except PeopleError:
        return [Reply("onboarding.bad_name", {"limit": people.MAX_NAME}, [_cancel_row()], keeps_input=True)]
    ctx.person.name = name
    ctx.state.clear()
    return [Reply("onboarding.staff_named", {"name": name}, menu_buttons(ctx))]


def _exit(ctx: Context, _: Join) -> list[Reply]:
    """Leave the registration: nothing was sent to staff."""
    if ctx.state.flow != FLOW_NAME:
        return [stale()]  # an old 取消 of a registration that is over: nothing to leave
    if ctx.state.step == "staff_name" or is_member(ctx):
        ctx.state.clear()
        return [Reply("common.cancelled", {}, menu_buttons(ctx))]
    ctx.state.go(FLOW_NAME, "code")
    return [Reply("onboarding.cancelled", {}, [_choose_home_row()])]


_PRESSES = {
    "c": _compounds,
    "p": _place,
    "b": _place,
    "e": _place,
    "h": _home,
    "k": _kind,
    "n": _use_name,
    "x": _exit,
    "m": _ask_staff_name,
}


def on_press(ctx: Context, press: Join) -> list[Reply]:
    """The home chooser's buttons, each checked against the database."""
    return _PRESSES[press.verb](ctx, press)


FLOW = Flow(
    FLOW_NAME,
    {"/start": Command(start)},
    actions.Join,
    on_press,
    on_message,
)
