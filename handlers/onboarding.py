"""Joining: /start with an invite, or choosing a home and waiting for staff; /help and /lang."""

from __future__ import annotations

import re

from sqlmodel import col, select

from core.permissions import Action, Role, path_ids, roles_for
from db import org, people
from db.models import Home, OrgNode, RoleGrant
from handlers.common import allowed_actions, menu_buttons, parse_id, stale
from handlers.context import Context
from handlers.types import Button, Inbound, Reply

INVITE_SHAPE = re.compile(r"^[A-Za-z0-9_-]{4,32}$")


def looks_like_invite(text: str) -> bool:
    """Whether a typed text could be an invite code."""
    return bool(INVITE_SHAPE.match(text.strip()))


def is_member(ctx: Context) -> bool:
    """Whether the person lives somewhere (verified) or holds a staff role."""
    return bool(ctx.residencies("verified") or ctx.roles())  # type: ignore[arg-type]


def start(ctx: Context, args: str) -> list[Reply]:
    """`/start [invite]`: redeem an invite, or greet and show how to join."""
    ctx.state.clear()
    if args:
        return redeem(ctx, args)
    if is_member(ctx):
        return [Reply("onboarding.welcome_back", {"name": ctx.person.name}, menu_buttons(ctx))]  # type: ignore[arg-type]
    ctx.state.go("join", "code")
    pending = ctx.residencies("pending")  # type: ignore[arg-type]
    return [
        Reply(
            "onboarding.greeting",
            {"pending": bool(pending)},
            [[Button("j:c", "choose_home")]],
        )
    ]


def redeem(ctx: Context, code: str) -> list[Reply]:
    """Bind the person with an invite code."""
    if not looks_like_invite(code):
        return [Reply("onboarding.invite_invalid", {}, [[Button("j:c", "choose_home")]])]
    invite = people.redeem_invite(ctx.session, code, ctx.person_id, ctx.now)
    ctx.forget_membership()
    if invite is None:
        return [Reply("onboarding.invite_invalid", {}, [[Button("j:c", "choose_home")]])]
    ctx.state.clear()
    where = ""
    if invite.home_id is not None:
        view = people.home_view(ctx.session, invite.home_id)
        where = view.label if view else ""
    elif invite.node_id is not None:
        node = ctx.session.get(OrgNode, invite.node_id)
        where = node.name if node else ""
    if invite.kind == Role.GRID_WORKER and invite.grid_id is not None:
        from db.models import Grid

        grid = ctx.session.get(Grid, invite.grid_id)
        if grid is not None:
            if grid.worker_id is None or grid.worker_id == ctx.person_id:
                grid.worker_id = ctx.person_id
            elif grid.backup_id is None:
                grid.backup_id = ctx.person_id
            where = grid.name
    return [
        Reply(
            "onboarding.joined",
            {"kind": invite.kind, "where": where},
            menu_buttons(ctx),  # type: ignore[arg-type]
        )
    ]


def on_message(ctx: Context, inbound: Inbound) -> list[Reply]:
    """In the join flow, typed text is taken as an invite code."""
    text = inbound.text.strip()
    if text:
        return redeem(ctx, text)
    return [Reply("onboarding.send_code", {}, [[Button("j:c", "choose_home")]])]


def on_button(ctx: Context, data: str) -> list[Reply]:
    """The home chooser: compound → building → entrance → home → owner or tenant."""
    parts = data.split(":")
    action = parts[1] if len(parts) > 1 else ""
    arg = parts[2] if len(parts) > 2 else ""
    if action == "c":
        compounds = ctx.session.exec(
            select(OrgNode).where(OrgNode.kind == "compound").order_by(OrgNode.name)
        ).all()
        rows = [[Button(f"j:p:{c.id}", text=c.name)] for c in compounds[:30]]
        ctx.state.go("join", "code")
        return [Reply("onboarding.choose_compound", {}, rows)]
    node_id = parse_id(arg)
    if action in ("p", "b", "e"):
        expected = {"p": "compound", "b": "building", "e": "entrance"}[action]
        node = ctx.session.get(OrgNode, node_id) if node_id else None
        if node is None or node.kind != expected:
            return [stale()]
        if action == "e":
            homes = org.homes_in(ctx.session, node.id)  # type: ignore[arg-type]
            rows = _grid([Button(f"j:h:{h.id}", text=h.number) for h in homes], 4)
            return [Reply("onboarding.choose_home", {"place": node.name}, rows)]
        kids = org.children(ctx.session, node.id)
        nxt = "b" if action == "p" else "e"
        rows = _grid([Button(f"j:{nxt}:{k.id}", text=k.name) for k in kids], 3)
        return [
            Reply(
                "onboarding.choose_" + ("building" if action == "p" else "entrance"),
                {"place": node.name},
                rows,
            )
        ]
    if action == "h":
        home = ctx.session.get(Home, node_id) if node_id else None
        if home is None:
            return [stale()]
        view = people.home_view(ctx.session, home.id)  # type: ignore[arg-type]
        rows = [[Button(f"j:k:{home.id}:owner", "owner"), Button(f"j:k:{home.id}:tenant", "tenant")]]
        return [Reply("onboarding.choose_kind", {"home": view.label if view else ""}, rows)]
    if action == "k" and len(parts) == 4 and parts[3] in people.RESIDENT_KINDS:
        home = ctx.session.get(Home, node_id) if node_id else None
        if home is None:
            return [stale()]
        residency = people.request_residency(ctx.session, ctx.person_id, home.id, parts[3], ctx.now)  # type: ignore[arg-type]
        ctx.forget_membership()
        view = people.home_view(ctx.session, home.id)  # type: ignore[arg-type]
        label = view.label if view else ""
        if residency.status == "verified":
            return [Reply("onboarding.already_verified", {"home": label}, menu_buttons(ctx))]  # type: ignore[arg-type]
        ctx.state.clear()
        for staff_id in _approvers(ctx, home):
            ctx.notify(
                staff_id,
                Reply(
                    "staff.pending_request",
                    {"name": ctx.person.name, "home": label, "kind": parts[3]},
                    [[Button(f"a:y:{residency.id}", "approve"), Button(f"a:n:{residency.id}", "reject")]],
                ),
            )
        return [Reply("onboarding.pending", {"home": label, "kind": parts[3]})]
    return [stale()]


def _approvers(ctx: Context, home: Home) -> list[int]:
    """The staff who may approve residents and whose jurisdiction covers the home."""
    compound = ctx.session.get(OrgNode, home.compound_id)
    if compound is None:
        return []
    grants = ctx.session.exec(
        select(RoleGrant).where(
            col(RoleGrant.node_id).in_(path_ids(compound.path)),
            col(RoleGrant.role).in_(roles_for(Action.APPROVE_RESIDENT)),
        )
    ).all()
    return sorted({g.person_id for g in grants})


def _grid(buttons: list[Button], per_row: int) -> list[list[Button]]:
    return [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]


def help_(ctx: Context) -> list[Reply]:
    """`/help`: the commands this person can use, as the permission policy allows them."""
    can = sorted(a.value for a in allowed_actions(ctx))
    return [Reply("onboarding.help", {"can": can}, menu_buttons(ctx))]


def lang(ctx: Context) -> list[Reply]:
    """`/lang`: offer 中文 and English."""
    return [
        Reply(
            "onboarding.choose_lang", {}, [[Button("l:zh_CN", text="中文"), Button("l:en", text="English")]]
        )
    ]


def set_lang(ctx: Context, data: str) -> list[Reply]:
    """Switch the person's language."""
    locale = data.partition(":")[2]
    if locale not in ("zh_CN", "en"):
        return [stale()]
    people.set_locale(ctx.session, ctx.person_id, locale)
    ctx.person.locale = locale
    return [Reply("onboarding.lang_set", {}, menu_buttons(ctx))]  # type: ignore[arg-type]
