"""Notices in chat: staff write one with `/notice`; everyone lists theirs with `/notices`; `/mute`.

Buttons (prefix `n`): the `/notice` flow uses `n:k:<kind>`, `n:d:<node>` (go down), `n:u` (up), `n:o` (this
node), `n:b:<building>` / `n:bd` (buildings), `n:g:<role>` / `n:gd` (roles), `n:t:<now|tonight|tomorrow>`,
`n:p:<days>`, `n:y:<1|0>` (acknowledgement), `n:ok` and `n:x`. Outside it: `n:v:<id>` view, `n:a:<id>`
acknowledge, `n:c:<id>` cancel, `n:r:<id>` remind, `n:m:<kind>` mute or unmute. Every id is checked
again against the database by the rules in db.notices.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select

from core.permissions import under
from db import notices
from db.models import Notice, OrgNode
from handlers.common import parse_id, stale
from handlers.context import Context
from handlers.types import Attachment, Button, Inbound, Reply

FLOW = "notice"
BROWSE_KINDS = ("district", "street", "community")  # nodes whose children the flow offers to go down to
PUBLICITY_DAYS = (0, 7, 15, 30)
TIME_FORMAT = "%Y-%m-%d %H:%M"
TYPED_TIME = re.compile(r"^\s*\d{4}-\d{1,2}-\d{1,2}\s+\d{1,2}:\d{2}\s*$")
MAX_AHEAD = timedelta(days=365)
LIST_LIMIT = 10
POLL_MARKS = {"announced": "🗳 ", "result": "📊 ", "withdrawn": "⛔ "}  # a poll's notices told apart
MAX_CHILDREN = 30


def _cancel_row() -> list[Button]:
    return [Button("n:x", "cancel")]


def _refused(reason: str) -> Reply:
    return Reply("notices.refused", {"reason": reason})


# --- the /notice flow --------------------------------------------------------------------------------


def start(ctx: Context) -> list[Reply]:
    """`/notice`: staff begin a notice by choosing its kind."""
    roots = notices.author_nodes(ctx.session, ctx.person_id)
    if not roots:
        return [Reply("notices.not_staff")]
    ctx.state.go(FLOW, "kind", roots=[n.id for n in roots])
    return [_ask_kind()]


def _ask_kind() -> Reply:
    buttons = [Button(f"n:k:{k}", "notices.btn_kind", args={"kind": k}) for k in notices.KINDS]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return Reply("notices.ask_kind", {}, [*rows, _cancel_row()])


def _ask_title() -> Reply:
    return Reply("notices.ask_title", {"limit": notices.MAX_TITLE}, [_cancel_row()])


def _ask_body() -> Reply:
    return Reply("notices.ask_body", {"limit": notices.MAX_BODY}, [_cancel_row()])


def _roots(ctx: Context) -> list[OrgNode]:
    """The staff member's jurisdiction, read again (a grant may have gone since the flow began)."""
    allowed = {n.id: n for n in notices.author_nodes(ctx.session, ctx.person_id)}
    return [allowed[i] for i in ctx.state.data.get("roots", []) if i in allowed] or list(allowed.values())


def _within(node: OrgNode, roots: list[OrgNode]) -> bool:
    return any(under(node.path, r.path) for r in roots)


def _place(ctx: Context, node: OrgNode) -> str:
    """A node's names from the top of the tree, e.g. `铁西区 / 北沟街道 / 英雄社区`."""
    ids = notices.ancestor_ids(node)
    names = {n.id: n.name for n in ctx.session.exec(select(OrgNode).where(col(OrgNode.id).in_(ids))).all()}
    return " / ".join(names.get(i, "") for i in ids)


def _current(ctx: Context) -> OrgNode | None:
    node_id = ctx.state.data.get("node_id")
    return ctx.session.get(OrgNode, node_id) if node_id else None


def _ask_node(ctx: Context) -> Reply:
    ctx.state.step = "node"
    roots = _roots(ctx)
    node = _current(ctx)
    if node is None and len(roots) == 1:
        node = roots[0]
        ctx.state.data["node_id"] = node.id
    if node is None:
        rows = [[Button(f"n:d:{r.id}", text=_place(ctx, r))] for r in roots[:MAX_CHILDREN]]
        return Reply("notices.ask_node", {"place": ""}, [*rows, _cancel_row()])
    rows = [[Button("n:o", "notices.btn_this_node", args={"name": node.name})]]
    if node.kind in BROWSE_KINDS:
        children = ctx.session.exec(
            select(OrgNode).where(OrgNode.parent_id == node.id).order_by(col(OrgNode.name))
        ).all()
        buttons = [Button(f"n:d:{c.id}", text=f"⬇️ {c.name}") for c in children[:MAX_CHILDREN]]
        rows += [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    if len(roots) > 1 or node.id not in {r.id for r in roots}:
        rows.append([Button("n:u", "notices.btn_up")])
    return Reply("notices.ask_node", {"place": _place(ctx, node)}, [*rows, _cancel_row()])


def _buildings_of(ctx: Context, compound_id: int) -> list[OrgNode]:
    return list(
        ctx.session.exec(
            select(OrgNode)
            .where(OrgNode.parent_id == compound_id, OrgNode.kind == "building")
            .order_by(col(OrgNode.name))
        ).all()
    )


def _ask_buildings(ctx: Context) -> Reply:
    ctx.state.step = "buildings"
    chosen = set(ctx.state.data.get("buildings", []))
    buttons = [
        Button(f"n:b:{b.id}", text=("✅ " if b.id in chosen else "") + b.name)
        for b in _buildings_of(ctx, ctx.state.data["node_id"])[:MAX_CHILDREN]
    ]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    rows.append([Button("n:bd", "notices.btn_buildings_done", args={"count": len(chosen)})])
    return Reply("notices.ask_buildings", {"count": len(chosen)}, [*rows, _cancel_row()])


def _ask_roles(ctx: Context) -> Reply:
    ctx.state.step = "roles"
    chosen = set(ctx.state.data.setdefault("roles", list(notices.DEFAULT_ROLES)))
    buttons = [
        Button(f"n:g:{r}", "notices.btn_role", args={"role": r, "on": r in chosen}) for r in notices.ROLES
    ]
    return Reply(
        "notices.ask_roles",
        {},
        [buttons[:2], buttons[2:], [Button("n:gd", "notices.btn_done")], _cancel_row()],
    )


def _local(ctx: Context) -> datetime:
    return ctx.now.astimezone(ctx.policy.zone)


def _preset(ctx: Context, name: str) -> datetime | None:
    """`now`, `tonight` (20:00 today, while it is still ahead) or `tomorrow` (09:00) as UTC-aware times."""
    local = _local(ctx)
    if name == "now":
        return ctx.now
    if name == "tonight":
        moment = local.replace(hour=20, minute=0, second=0, microsecond=0)
        return moment if moment > local else None
    if name == "tomorrow":
        return (local + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    return None


def _ask_time(ctx: Context) -> Reply:
    ctx.state.step = "time"
    names = ["now", *(["tonight"] if _preset(ctx, "tonight") else []), "tomorrow"]
    buttons = [Button(f"n:t:{n}", "notices.btn_time", args={"when": n}) for n in names]
    return Reply("notices.ask_time", {}, [buttons, _cancel_row()])


def _ask_publicity(ctx: Context) -> Reply:
    ctx.state.step = "publicity"
    buttons = [Button(f"n:p:{d}", "notices.btn_days", args={"days": d}) for d in PUBLICITY_DAYS]
    return Reply("notices.ask_publicity", {}, [buttons[:2], buttons[2:], _cancel_row()])


def _ask_ack(ctx: Context) -> Reply:
    ctx.state.step = "ack"
    return Reply(
        "notices.ask_ack",
        {},
        [[Button("n:y:1", "notices.btn_ack_yes"), Button("n:y:0", "notices.btn_ack_no")], _cancel_row()],
    )


def _draft_times(ctx: Context) -> tuple[datetime, datetime | None]:
    data = ctx.state.data
    send_at = max(datetime.fromisoformat(data["send_at"]), ctx.now)
    days = int(data.get("days", 0))
    return send_at, (send_at + timedelta(days=days) if days else None)


def _summary(ctx: Context) -> Reply:
    ctx.state.step = "confirm"
    data = ctx.state.data
    node = _current(ctx)
    buildings = data.get("buildings", [])
    names = (
        [n.name for n in ctx.session.exec(select(OrgNode).where(col(OrgNode.id).in_(buildings))).all()]
        if buildings
        else []
    )
    everyone = notices.audience(ctx.session, data["node_id"], buildings, data["roles"])
    reached = notices.recipients(ctx.session, data["node_id"], buildings, data["roles"], data["kind"])
    send_at, until = _draft_times(ctx)
    urgent = data["kind"] in notices.URGENT_KINDS
    goes = notices.release_time(urgent, send_at, ctx.now, ctx.policy)
    return Reply(
        "notices.summary",
        {
            "kind": data["kind"],
            "urgent": urgent,
            "title": data["title"],
            "body": data["body"],
            "photo": bool(data.get("photo")),
            "place": _place(ctx, node) if node else "",
            "buildings": sorted(names),
            "roles": data["roles"],
            "send_at": goes.isoformat() if goes else "",
            "held": bool(goes and not urgent and goes > send_at),
            "publicity_until": until.isoformat() if until else "",
            "ack": bool(data.get("ack")),
            "audience": len(reached),
            "muted": len(everyone) - len(reached),
        },
        [[Button("n:ok", "notices.btn_send", args={"count": len(reached)})], _cancel_row()],
    )


def _submit(ctx: Context) -> list[Reply]:
    data = ctx.state.data
    send_at, until = _draft_times(ctx)
    photo = data.get("photo")
    try:
        notice = notices.create(
            ctx.session,
            ctx.person_id,
            data["kind"],
            data["title"],
            data["body"],
            data["node_id"],
            data.get("buildings", []),
            data["roles"],
            send_at,
            until,
            bool(data.get("ack")),
            ("photo", photo[0], photo[1]) if photo else None,
            ctx.now,
            ctx.policy,
        )
    except notices.NoticeError as exc:
        ctx.state.clear()
        return [_refused(exc.reason)]
    ctx.state.clear()
    goes = notices.release_time(notice.urgent, notice.send_at, ctx.now, ctx.policy)
    return [
        Reply(
            "notices.created",
            {"id": notice.id, "audience": notice.audience_size, "send_at": goes.isoformat() if goes else ""},
        )
    ]


def _flow_button(ctx: Context, action: str, arg: str) -> list[Reply]:
    """The buttons of the /notice flow; any that do not fit the current step are stale."""
    step = ctx.state.step
    data = ctx.state.data
    if action == "k" and step == "kind" and arg in notices.KINDS:
        data["kind"] = arg
        ctx.state.step = "title"
        return [_ask_title()]
    if action == "d" and step == "node":
        target = ctx.session.get(OrgNode, parse_id(arg) or 0)
        if (
            target is None
            or target.kind not in (*BROWSE_KINDS, "compound")
            or not _within(target, _roots(ctx))
        ):
            return [stale()]
        data["node_id"] = target.id
        return [_ask_node(ctx)]
    if action == "u" and step == "node":
        node = _current(ctx)
        parent = ctx.session.get(OrgNode, node.parent_id) if node and node.parent_id else None
        data["node_id"] = parent.id if parent is not None and _within(parent, _roots(ctx)) else None
        return [_ask_node(ctx)]
    if action == "o" and step == "node":
        node = _current(ctx)
        if node is None or not _within(node, _roots(ctx)):
            return [stale()]
        data["buildings"] = []
        return [_ask_buildings(ctx) if node.kind == "compound" else _ask_roles(ctx)]
    if action == "b" and step == "buildings":
        building_id = parse_id(arg)
        if building_id not in {b.id for b in _buildings_of(ctx, data["node_id"])}:
            return [stale()]
        chosen = data.setdefault("buildings", [])
        if building_id in chosen:
            chosen.remove(building_id)
        else:
            chosen.append(building_id)
        return [_ask_buildings(ctx)]
    if action == "bd" and step == "buildings":
        return [_ask_roles(ctx)]
    if action == "g" and step == "roles" and arg in notices.ROLES:
        chosen = data.setdefault("roles", list(notices.DEFAULT_ROLES))
        if arg in chosen:
            chosen.remove(arg)
        else:
            chosen.append(arg)
        return [_ask_roles(ctx)]
    if action == "gd" and step == "roles":
        if not data.get("roles"):
            return [Reply("notices.need_role"), _ask_roles(ctx)]
        return [_ask_time(ctx)]
    if action == "t" and step == "time":
        moment = _preset(ctx, arg)
        if moment is None:
            return [stale()]
        data["send_at"] = moment.isoformat()
        return [_ask_publicity(ctx)]
    if (
        action == "p"
        and step == "publicity"
        and arg.isascii()
        and arg.isdigit()
        and int(arg) in PUBLICITY_DAYS
    ):
        data["days"] = int(arg)
        return [_ask_ack(ctx)]
    if action == "y" and step == "ack" and arg in ("0", "1"):
        data["ack"] = arg == "1"
        return [_summary(ctx)]
    if action == "ok" and step == "confirm":
        return _submit(ctx)
    return [stale()]


def on_message(ctx: Context, inbound: Inbound) -> list[Reply]:
    """Typed text and photos inside the /notice flow."""
    step = ctx.state.step
    data = ctx.state.data
    text = inbound.text.strip()
    if step == "title":
        if not text:
            return [_ask_title()]
        if len(text) > notices.MAX_TITLE:
            return [
                Reply("notices.too_long", {"limit": notices.MAX_TITLE, "length": len(text)}),
                _ask_title(),
            ]
        data["title"] = text
        ctx.state.step = "body"
        return [_ask_body()]
    if step == "body":
        photos = [a for a in inbound.attachments if a.kind == "photo"]
        if len(text) > notices.MAX_BODY:
            return [Reply("notices.too_long", {"limit": notices.MAX_BODY, "length": len(text)}), _ask_body()]
        if photos:
            data["photo"] = [inbound.channel, photos[-1].ref]
        if not text:
            return [Reply("notices.photo_kept") if photos else _ask_body()]
        data["body"] = text
        return [_ask_node(ctx)]
    if step == "time" and text:
        moment = _typed_time(ctx, text)
        if moment is None:
            return [Reply("notices.bad_time"), _ask_time(ctx)]
        data["send_at"] = moment.isoformat()
        return [_ask_publicity(ctx)]
    asks = {
        "kind": lambda: _ask_kind(),
        "node": lambda: _ask_node(ctx),
        "buildings": lambda: _ask_buildings(ctx),
        "roles": lambda: _ask_roles(ctx),
        "time": lambda: _ask_time(ctx),
        "publicity": lambda: _ask_publicity(ctx),
        "ack": lambda: _ask_ack(ctx),
        "confirm": lambda: _summary(ctx),
    }
    ask = asks.get(step)
    if ask is None:
        ctx.state.clear()
        return [stale()]
    return [Reply("notices.use_buttons"), ask()]


def _typed_time(ctx: Context, text: str) -> datetime | None:
    """A typed local `YYYY-MM-DD HH:MM` still ahead (within a year), as an aware time; else None."""
    if not TYPED_TIME.match(text):
        return None
    try:
        local = datetime.strptime(" ".join(text.split()), TIME_FORMAT)
    except ValueError:
        return None
    moment = local.replace(tzinfo=ctx.policy.zone)
    if moment <= ctx.now or moment > ctx.now + MAX_AHEAD:
        return None
    return moment


# --- /notices ------------------------------------------------------------------------------------


def _item(notice: Notice, acked: bool) -> dict[str, Any]:
    return {
        "id": notice.id,
        "title": notice.title,
        "kind": notice.kind,
        "urgent": notice.urgent,
        "date": notice.send_at.isoformat(),
        "ack": notice.ack_required,
        "acked": acked,
        "poll_event": notice.data.get("poll", {}).get("event", ""),
    }


def list_notices(ctx: Context) -> list[Reply]:
    """`/notices`: staff see the delivery report of notices under their jurisdiction; residents theirs."""
    replies: list[Reply] = []
    roots = notices.author_nodes(ctx.session, ctx.person_id)
    if roots:
        replies.extend(_staff_list(ctx, roots))
    if not roots or ctx.residencies():
        replies.extend(_resident_list(ctx))
    return replies


def _resident_list(ctx: Context) -> list[Reply]:
    shown = notices.visible(ctx.session, ctx.person_id, ctx.now, LIST_LIMIT)
    if not shown:
        return [Reply("notices.none")]
    done = notices.acked(ctx.session, ctx.person_id, [n.id for n in shown])  # type: ignore[misc]
    rows: list[list[Button]] = []
    for notice in shown:
        mark = POLL_MARKS.get(notice.data.get("poll", {}).get("event", ""), "")
        row = [Button(f"n:v:{notice.id}", text=mark + notice.title[:40])]
        if notice.ack_required and notice.id not in done:
            row.append(Button(f"n:a:{notice.id}", "notices.btn_ack"))
        rows.append(row)
    items = [_item(n, n.id in done) for n in shown]
    return [Reply("notices.list", {"items": items}, rows)]


def _staff_list(ctx: Context, roots: list[OrgNode]) -> list[Reply]:
    found = notices.authored_under(ctx.session, roots, LIST_LIMIT)
    if not found:
        return [Reply("notices.staff_none")]
    replies = [Reply("notices.staff_header", {"count": len(found)})]
    for notice in found:
        counts = notices.report(ctx.session, notice.id)  # type: ignore[arg-type]
        node = ctx.session.get(OrgNode, notice.node_id)
        buttons: list[list[Button]] = []
        if notice.state != "cancelled":
            row = []
            if counts["pending"]:
                row.append(Button(f"n:c:{notice.id}", "notices.btn_cancel"))
            if notice.ack_required:
                row.append(Button(f"n:r:{notice.id}", "notices.btn_remind"))
            if row:
                buttons.append(row)
        replies.append(
            Reply(
                "notices.staff_item",
                {
                    **_item(notice, False),
                    "place": node.name if node else "",
                    "cancelled": notice.state == "cancelled",
                    "counts": counts,
                },
                buttons,
            )
        )
    return replies


def _view(ctx: Context, notice_id: int | None) -> list[Reply]:
    notice = ctx.session.get(Notice, notice_id) if notice_id else None
    if notice is None:
        return [stale()]
    mine = notices.is_recipient(ctx.session, notice.id, ctx.person_id, ctx.now)  # type: ignore[arg-type]
    node = ctx.session.get(OrgNode, notice.node_id)
    if not mine and (node is None or not notices.may_author(ctx.session, ctx.person_id, node)):
        return [stale()]
    acked = bool(notices.acked(ctx.session, ctx.person_id, [notice.id]))  # type: ignore[list-item]
    photos = (
        [Attachment("photo", notice.attachment_ref)]
        if notice.attachment_kind == "photo" and notice.attachment_channel in (ctx.person.channel, "web")
        else []
    )
    buttons = (
        [[Button(f"n:a:{notice.id}", "notices.btn_ack")]]
        if mine and notice.ack_required and not acked
        else []
    )
    return [
        Reply(
            "notices.view",
            {
                **_item(notice, acked),
                **notice.data,
                "body": notice.body,
                "publicity_until": notices.publicity_end(notice).isoformat()
                if notice.publicity_until
                else "",
            },
            buttons,
            photos=photos,
        )
    ]


def _acknowledge(ctx: Context, notice_id: int | None) -> list[Reply]:
    if notice_id is None:
        return [_refused("not_recipient")]
    try:
        fresh = notices.acknowledge(ctx.session, notice_id, ctx.person_id, ctx.now)
    except notices.NoticeError as exc:
        return [_refused(exc.reason)]
    notice = ctx.session.get(Notice, notice_id)
    title = notice.title if notice else ""
    return [Reply("notices.acked" if fresh else "notices.already_acked", {"title": title})]


def _cancel(ctx: Context, notice_id: int | None) -> list[Reply]:
    if notice_id is None:
        return [stale()]
    try:
        count = notices.cancel(ctx.session, notice_id, ctx.person_id, ctx.now)
    except notices.NoticeError as exc:
        return [_refused(exc.reason)]
    return [Reply("notices.cancelled", {"id": notice_id, "count": count})]


def _remind(ctx: Context, notice_id: int | None) -> list[Reply]:
    if notice_id is None:
        return [stale()]
    try:
        count = notices.remind(ctx.session, notice_id, ctx.person_id, ctx.now, ctx.policy)
    except notices.NoticeError as exc:
        return [_refused(exc.reason)]
    return [Reply("notices.reminded", {"id": notice_id, "count": count})]


# --- /mute ---------------------------------------------------------------------------------------


def mutes(ctx: Context) -> list[Reply]:
    """`/mute`: each kind with a button to mute or unmute it; safety notices cannot be muted."""
    silenced = notices.muted(ctx.session, ctx.person_id)
    kinds = [
        {"kind": k, "muted": k in silenced, "mutable": k not in notices.UNMUTABLE} for k in notices.KINDS
    ]
    buttons = [
        [Button(f"n:m:{k['kind']}", "notices.btn_mute", args={"kind": k["kind"], "muted": k["muted"]})]
        for k in kinds
        if k["mutable"]
    ]
    return [Reply("notices.mute_list", {"kinds": kinds}, buttons)]


def _toggle_mute(ctx: Context, kind: str) -> list[Reply]:
    try:
        if kind in notices.muted(ctx.session, ctx.person_id):
            notices.unmute(ctx.session, ctx.person_id, kind)
        else:
            notices.mute(ctx.session, ctx.person_id, kind)
    except notices.NoticeError as exc:
        return [_refused(exc.reason), *mutes(ctx)]
    return mutes(ctx)


# --- buttons -------------------------------------------------------------------------------------


def on_button(ctx: Context, data: str) -> list[Reply]:
    """Every `n:` button, checked against the state or the database."""
    action, _, arg = data[2:].partition(":")
    if action == "x":
        if ctx.state.flow != FLOW:
            return [stale()]
        ctx.state.clear()
        return [Reply("notices.flow_cancelled")]
    if action == "v":
        return _view(ctx, parse_id(arg))
    if action == "a":
        return _acknowledge(ctx, parse_id(arg))
    if action == "c":
        return _cancel(ctx, parse_id(arg))
    if action == "r":
        return _remind(ctx, parse_id(arg))
    if action == "m":
        return _toggle_mute(ctx, arg)
    if ctx.state.flow != FLOW:
        return [stale()]
    return _flow_button(ctx, action, arg)
