"""What each step of the `/notice` flow asks: the question and its buttons, from the draft so far."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, select

from core import notices as use
from core.actions import Notices
from core.permissions import under
from db import notices as rules
from db.models import OrgNode
from handlers.context import Context
from handlers.notices.draft import Composing
from handlers.types import Button, Reply

BROWSE_KINDS = ("district", "street", "community")  # nodes whose children the flow offers to go down to
PUBLICITY_DAYS = (0, 7, 15, 30)
MAX_CHILDREN = 30
PRESETS = ("now", "tonight", "tomorrow")


def cancel_row() -> list[Button]:
    """The button that leaves the flow."""
    return [Button.of(Notices("x"), "cancel")]


def ask_kind(ctx: Context, draft: Composing) -> Reply:
    """Which kind of notice: policy, fees, meeting, outage, safety."""
    buttons = [Button.of(Notices("k", kind=k), "notices.btn_kind", args={"kind": k}) for k in rules.KINDS]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return Reply("notices.ask_kind", {}, [*rows, cancel_row()])


def ask_title(ctx: Context, draft: Composing) -> Reply:
    """Its title, within the limit."""
    return Reply("notices.ask_title", {"limit": rules.MAX_TITLE}, [cancel_row()])


def ask_body(ctx: Context, draft: Composing) -> Reply:
    """Its text, within the limit (a photo may come with it)."""
    return Reply("notices.ask_body", {"limit": rules.MAX_BODY}, [cancel_row()])


def jurisdiction(ctx: Context, draft: Composing) -> list[OrgNode]:
    """The staff member's jurisdiction, read again (a grant may have gone since the flow began)."""
    allowed = {n.id: n for n in use.jurisdiction(ctx.work, ctx.actor())}
    return [allowed[i] for i in draft.roots if i in allowed] or list(allowed.values())


def within(node: OrgNode, roots: list[OrgNode]) -> bool:
    """Whether a node lies inside any of these nodes."""
    return any(under(node.path, r.path) for r in roots)


def place(ctx: Context, node: OrgNode) -> str:
    """A node's names from the top of the tree, e.g. `铁西区 / 北沟街道 / 英雄社区`."""
    ids = rules.ancestor_ids(node)
    names = {n.id: n.name for n in ctx.session.exec(select(OrgNode).where(col(OrgNode.id).in_(ids))).all()}
    return " / ".join(names.get(i, "") for i in ids)


def current(ctx: Context, draft: Composing) -> OrgNode | None:
    """The node the draft is at, if any."""
    return ctx.session.get(OrgNode, draft.node_id) if draft.node_id else None


def ask_node(ctx: Context, draft: Composing) -> Reply:
    """Where to: send here, go down to a child, or back up (within the jurisdiction)."""
    roots = jurisdiction(ctx, draft)
    node = current(ctx, draft)
    if node is None and len(roots) == 1:
        node = roots[0]
        draft.node_id = node.id
    if node is None:
        rows = [[Button.of(Notices("d", node=r.id), text=place(ctx, r))] for r in roots[:MAX_CHILDREN]]
        return Reply("notices.ask_node", {"place": ""}, [*rows, cancel_row()])
    rows = [[Button.of(Notices("o"), "notices.btn_this_node", args={"name": node.name})]]
    if node.kind in BROWSE_KINDS:
        children = ctx.session.exec(
            select(OrgNode).where(OrgNode.parent_id == node.id).order_by(col(OrgNode.name))
        ).all()
        buttons = [Button.of(Notices("d", node=c.id), text=f"⬇️ {c.name}") for c in children[:MAX_CHILDREN]]
        rows += [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    if len(roots) > 1 or node.id not in {r.id for r in roots}:
        rows.append([Button.of(Notices("u"), "notices.btn_up")])
    return Reply("notices.ask_node", {"place": place(ctx, node)}, [*rows, cancel_row()])


def buildings_of(ctx: Context, compound_id: int | None) -> list[OrgNode]:
    """The buildings of a compound, by name."""
    return list(
        ctx.session.exec(
            select(OrgNode)
            .where(OrgNode.parent_id == compound_id, OrgNode.kind == "building")
            .order_by(col(OrgNode.name))
        ).all()
    )


def ask_buildings(ctx: Context, draft: Composing) -> Reply:
    """Which buildings of the compound (none: all of it)."""
    chosen = set(draft.buildings)
    buttons = [
        Button.of(Notices("b", building=b.id), text=("✅ " if b.id in chosen else "") + b.name)
        for b in buildings_of(ctx, draft.node_id)[:MAX_CHILDREN]
    ]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    rows.append([Button.of(Notices("bd"), "notices.btn_buildings_done", args={"count": len(chosen)})])
    return Reply("notices.ask_buildings", {"count": len(chosen)}, [*rows, cancel_row()])


def ask_roles(ctx: Context, draft: Composing) -> Reply:
    """To whom: owners, tenants, grid workers, staff (owners and tenants at first)."""
    if draft.roles is None:
        draft.roles = list(rules.DEFAULT_ROLES)
    chosen = set(draft.roles)
    buttons = [
        Button.of(Notices("g", role=r), "notices.btn_role", args={"role": r, "on": r in chosen})
        for r in rules.ROLES
    ]
    done = [Button.of(Notices("gd"), "notices.btn_done")]
    return Reply("notices.ask_roles", {}, [buttons[:2], buttons[2:], done, cancel_row()])


def preset(ctx: Context, name: str) -> datetime | None:
    """`now`, `tonight` (20:00 today, while it is still ahead) or `tomorrow` (09:00) as UTC-aware times."""
    local = ctx.now.astimezone(ctx.policy.zone)
    if name == "now":
        return ctx.now
    if name == "tonight":
        moment = local.replace(hour=20, minute=0, second=0, microsecond=0)
        return moment if moment > local else None
    if name == "tomorrow":
        return (local + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    return None


def ask_time(ctx: Context, draft: Composing) -> Reply:
    """When: now, tonight while it is still ahead, tomorrow morning, or a typed time."""
    buttons = [
        Button.of(Notices("t", when=n), "notices.btn_time", args={"when": n})
        for n in PRESETS
        if preset(ctx, n) is not None
    ]
    return Reply("notices.ask_time", {}, [buttons, cancel_row()])


def ask_publicity(ctx: Context, draft: Composing) -> Reply:
    """How many days it stays on display."""
    buttons = [Button.of(Notices("p", days=d), "notices.btn_days", args={"days": d}) for d in PUBLICITY_DAYS]
    return Reply("notices.ask_publicity", {}, [buttons[:2], buttons[2:], cancel_row()])


def ask_ack(ctx: Context, draft: Composing) -> Reply:
    """Whether readers must acknowledge it."""
    buttons = [
        Button.of(Notices("y", yes=True), "notices.btn_ack_yes"),
        Button.of(Notices("y", yes=False), "notices.btn_ack_no"),
    ]
    return Reply("notices.ask_ack", {}, [buttons, cancel_row()])


def summary(ctx: Context, draft: Composing) -> Reply:
    """The whole notice with whom it reaches and when, to confirm."""
    node = current(ctx, draft)
    names = (
        [n.name for n in ctx.session.exec(select(OrgNode).where(col(OrgNode.id).in_(draft.buildings))).all()]
        if draft.buildings
        else []
    )
    notice = draft.notice(ctx.now)
    preview = use.preview_notice(ctx.work, notice)
    return Reply(
        "notices.summary",
        {
            "kind": draft.kind,
            "urgent": draft.kind in rules.URGENT_KINDS,
            "title": draft.title,
            "body": draft.body,
            "photo": draft.photo is not None,
            "place": place(ctx, node) if node else "",
            "buildings": sorted(names),
            "roles": draft.roles,
            "send_at": preview.goes_at.isoformat() if preview.goes_at else "",
            "held": preview.held,
            "publicity_until": notice.publicity_until.isoformat() if notice.publicity_until else "",
            "ack": draft.ack,
            "audience": preview.audience,
            "muted": preview.muted,
        },
        [
            [Button.of(Notices("ok"), "notices.btn_send", args={"count": preview.audience}, primary=True)],
            *edit_rows(),
            cancel_row(),
        ],
    )


EDITABLE = ("title", "body", "audience", "time", "publicity", "ack", "kind")  # as the summary offers them


def edit_rows() -> list[list[Button]]:
    """A button per field of the summary that asks that field again (the `k` verb at the summary)."""
    buttons = [Button.of(Notices("k", kind=f), "notices.btn_edit", args={"field": f}) for f in EDITABLE]
    return [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
