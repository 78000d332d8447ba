"""Joining: /start with an invite, or choosing a home and waiting for staff (the `join` flow).

The home chooser walks compound → building → entrance → home → owner or tenant; each press carries the
place it stands for, so the flow keeps no draft. Anything typed inside it is taken as an invite code.
"""

from __future__ import annotations

from sqlmodel import select

from core import actions, people
from core.actions import Join
from core.people import PeopleError
from db import org
from db.models import OrgNode
from db.people import home_view
from db.rows import id_of
from handlers.common import given, menu_buttons, stale
from handlers.context import Context
from handlers.flows import Command, Flow
from handlers.types import Button, Inbound, Reply

FLOW_NAME = "join"
MAX_CHOICES = 30
# The chooser's places in order: a press on one lists the kinds of node below it.
PLACES = {"p": "compound", "b": "building", "e": "entrance"}
NEXT = {"p": "b", "b": "e"}


def looks_like_invite(text: str) -> bool:
    """Whether a typed text could be an invite code."""
    return people.looks_like_invite(text)


def is_member(ctx: Context) -> bool:
    """Whether the person lives somewhere (verified) or holds a staff role."""
    return bool(ctx.residencies("verified") or ctx.roles())


def _choose_home_row() -> list[Button]:
    return [Button.of(Join("c"), "choose_home")]


def start(ctx: Context, args: str) -> list[Reply]:
    """`/start [invite]`: redeem an invite, or greet and show how to join."""
    ctx.state.clear()
    if args:
        return redeem(ctx, args)
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
    ctx.forget_membership()
    ctx.state.clear()
    return [
        Reply(
            "onboarding.joined",
            {"kind": joined.kind, "where": joined.where},
            menu_buttons(ctx),
        )
    ]


def on_message(ctx: Context, inbound: Inbound) -> list[Reply]:
    """In the join flow, typed text is taken as an invite code."""
    text = inbound.text.strip()
    if text:
        return redeem(ctx, text)
    return [Reply("onboarding.send_code", {}, [_choose_home_row()])]


def _grid(buttons: list[Button], per_row: int) -> list[list[Button]]:
    return [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]


def _compounds(ctx: Context, _: Join) -> list[Reply]:
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
    """Owner or tenant chosen: the request waits for staff, who are told."""
    try:
        chosen = people.choose_home(ctx.work, ctx.person_id, given(press.home), given(press.kind))
    except PeopleError:
        return [stale()]
    ctx.forget_membership()
    if chosen.status == "verified":
        return [Reply("onboarding.already_verified", {"home": chosen.home}, menu_buttons(ctx))]
    ctx.state.clear()
    return [Reply("onboarding.pending", {"home": chosen.home, "kind": press.kind})]


_PRESSES = {"c": _compounds, "p": _place, "b": _place, "e": _place, "h": _home, "k": _kind}


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
