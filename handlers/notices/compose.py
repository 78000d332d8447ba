"""`/notice`: staff write a notice step by step — kind, title, body (a photo may come along), where to
(down the org tree, buildings of a compound), to whom, when, how long it stays on display, whether
readers must acknowledge it — see a summary with the audience, and send it.

The steps are declared once in `STEPS`: what each asks, which buttons it accepts and what typed text it
takes. The draft is `Composing`, kept in the conversation state between turns. Every id a button carries
is checked again here and by the use case (core.notices) against the database.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from core import notices as use
from core.actions import Menu, Notices
from db import notices as rules
from db.models import OrgNode
from handlers.common import given, stale
from handlers.context import Context
from handlers.notices import asks
from handlers.notices.draft import Composing
from handlers.types import Button, Inbound, Reply

FLOW_NAME = "notice"
TIME_FORMAT = "%Y-%m-%d %H:%M"
TYPED_TIME = re.compile(r"^\s*\d{4}-\d{1,2}-\d{1,2}\s+\d{1,2}:\d{2}\s*$")
MAX_AHEAD = timedelta(days=365)
T = TypeVar("T")


Answer = list[Reply]
OnPress = Callable[[Context, Composing, Notices], Answer]
OnText = Callable[[Context, Composing, Inbound], Answer]


@dataclass(frozen=True, slots=True)
class Step:
    """One step: what it asks, the buttons (by verb) it accepts, and what it does with typed text (None:
    it asks to use the buttons)."""

    ask: Callable[[Context, Composing], Reply]
    presses: Mapping[str, OnPress] = field(default_factory=dict)
    typed: OnText | None = None


# The fields the summary lets the author change, each with the steps that ask it (in order). The summary
# presses `k` with the field's name: the same verb as choosing the kind, at another step.
FIELDS: dict[str, tuple[str, ...]] = {
    "kind": ("kind",),
    "title": ("title",),
    "body": ("body",),
    "audience": ("node", "buildings", "roles"),
    "time": ("time",),
    "publicity": ("publicity",),
    "ack": ("ack",),
}
EDIT_VERB = "k"


def _go(ctx: Context, draft: Composing, step: str, *before: Reply) -> Answer:
    """Move to a step (or stay on it) and ask what it asks, after any replies given. A field asked again
    from the summary goes back to the summary once its steps are answered."""
    if draft.editing and step not in FIELDS.get(draft.editing, ()):
        draft.editing, step = "", "confirm"
    ctx.state.step = step
    reply = STEPS[step].ask(ctx, draft)
    draft.keep(ctx.state)
    return [*before, reply]


def start(ctx: Context, _: str = "") -> Answer:
    """`/notice`: staff begin a notice by choosing its kind."""
    roots = use.jurisdiction(ctx.work, ctx.actor())
    if not roots:
        return [Reply("notices.not_staff")]
    ctx.state.go(FLOW_NAME, "kind")
    return _go(ctx, Composing(roots=[n.id for n in roots if n.id is not None]), "kind")


# --- what each step takes ---------------------------------------------------------------------------


def _kind(ctx: Context, draft: Composing, press: Notices) -> Answer:
    if press.kind not in rules.KINDS:
        return [stale()]
    draft.kind = press.kind
    return _go(ctx, draft, "title")


def _title(ctx: Context, draft: Composing, inbound: Inbound) -> Answer:
    text = inbound.text.strip()
    if len(text) > rules.MAX_TITLE:
        return _go(
            ctx, draft, "title", Reply("notices.too_long", {"limit": rules.MAX_TITLE, "length": len(text)})
        )
    if not text:
        return _go(ctx, draft, "title")
    draft.title = text
    return _go(ctx, draft, "body")


def _body(ctx: Context, draft: Composing, inbound: Inbound) -> Answer:
    text = inbound.text.strip()
    if len(text) > rules.MAX_BODY:
        return _go(
            ctx, draft, "body", Reply("notices.too_long", {"limit": rules.MAX_BODY, "length": len(text)})
        )
    photos = [a for a in inbound.attachments if a.kind == "photo"]
    if photos:
        draft.photo = (inbound.channel, photos[-1].ref)
    if not text:
        if not photos:
            return _go(ctx, draft, "body")
        draft.keep(ctx.state)
        return [Reply("notices.photo_kept")]
    draft.body = text
    return _go(ctx, draft, "node")


def _down(ctx: Context, draft: Composing, press: Notices) -> Answer:
    target = ctx.session.get(OrgNode, press.node)
    if (
        target is None
        or target.kind not in (*asks.BROWSE_KINDS, "compound")
        or not asks.within(target, asks.jurisdiction(ctx, draft))
    ):
        return [stale()]
    draft.node_id = target.id
    return _go(ctx, draft, "node")


def _up(ctx: Context, draft: Composing, press: Notices) -> Answer:
    node = asks.current(ctx, draft)
    parent = ctx.session.get(OrgNode, node.parent_id) if node and node.parent_id else None
    inside = parent is not None and asks.within(parent, asks.jurisdiction(ctx, draft))
    draft.node_id = parent.id if parent is not None and inside else None
    return _go(ctx, draft, "node")


def _here(ctx: Context, draft: Composing, press: Notices) -> Answer:
    node = asks.current(ctx, draft)
    if node is None or not asks.within(node, asks.jurisdiction(ctx, draft)):
        return [stale()]
    draft.buildings = []
    return _go(ctx, draft, "buildings" if node.kind == "compound" else "roles")


def _building(ctx: Context, draft: Composing, press: Notices) -> Answer:
    if press.building not in {b.id for b in asks.buildings_of(ctx, draft.node_id)}:
        return [stale()]
    draft.buildings = _toggled(draft.buildings, given(press.building))
    return _go(ctx, draft, "buildings")


def _buildings_done(ctx: Context, draft: Composing, press: Notices) -> Answer:
    return _go(ctx, draft, "roles")


def _role(ctx: Context, draft: Composing, press: Notices) -> Answer:
    if press.role not in rules.ROLES:
        return [stale()]
    chosen = draft.roles if draft.roles is not None else list(rules.DEFAULT_ROLES)
    draft.roles = _toggled(chosen, press.role)
    return _go(ctx, draft, "roles")


def _toggled(chosen: list[T], item: T) -> list[T]:
    """The choices with the item taken out, or added at the end."""
    return [c for c in chosen if c != item] if item in chosen else [*chosen, item]


def _roles_done(ctx: Context, draft: Composing, press: Notices) -> Answer:
    if not draft.roles:
        return _go(ctx, draft, "roles", Reply("notices.need_role"))
    return _go(ctx, draft, "time")


def _when(ctx: Context, draft: Composing, press: Notices) -> Answer:
    moment = asks.preset(ctx, press.when or "")
    if moment is None:
        return [stale()]
    draft.send_at = moment
    return _go(ctx, draft, "publicity")


def _typed_time(ctx: Context, draft: Composing, inbound: Inbound) -> Answer:
    """A typed local `YYYY-MM-DD HH:MM`, still ahead and within a year."""
    text = inbound.text.strip()
    if not text:
        return _go(ctx, draft, "time", Reply("notices.use_buttons"))
    moment = _parse_time(ctx, text)
    if moment is None:
        return _go(ctx, draft, "time", Reply("notices.bad_time"))
    draft.send_at = moment
    return _go(ctx, draft, "publicity")


def _parse_time(ctx: Context, text: str) -> datetime | None:
    if not TYPED_TIME.match(text):
        return None
    try:
        local = datetime.strptime(" ".join(text.split()), TIME_FORMAT)
    except ValueError:
        return None
    moment = local.replace(tzinfo=ctx.policy.zone)
    return moment if ctx.now < moment <= ctx.now + MAX_AHEAD else None


def _days(ctx: Context, draft: Composing, press: Notices) -> Answer:
    if press.days not in asks.PUBLICITY_DAYS:
        return [stale()]
    draft.days = press.days
    return _go(ctx, draft, "ack")


def _ack(ctx: Context, draft: Composing, press: Notices) -> Answer:
    draft.ack = bool(press.yes)
    return _go(ctx, draft, "confirm")


def _edit(ctx: Context, draft: Composing, press: Notices) -> Answer:
    """From the summary: ask one field again, then come back to the summary."""
    steps = FIELDS.get(press.kind or "")
    if steps is None:
        return [stale()]
    draft.editing = press.kind or ""
    return _go(ctx, draft, steps[0])


def _submit(ctx: Context, draft: Composing, press: Notices) -> Answer:
    ctx.state.clear()
    try:
        published = use.publish_notice(ctx.work, ctx.actor(), draft.notice(ctx.now))
    except use.NoticeError as exc:
        return [Reply("notices.refused", {"reason": exc.reason})]
    goes = published.goes_at.isoformat() if published.goes_at else ""
    context = {"id": published.notice_id, "audience": published.audience, "send_at": goes}
    return [Reply("notices.created", context, [[Button.of(Menu(command="/notices"), "notices")]])]


STEPS: dict[str, Step] = {
    "kind": Step(asks.ask_kind, {"k": _kind}),
    "title": Step(asks.ask_title, typed=_title),
    "body": Step(asks.ask_body, typed=_body),
    "node": Step(asks.ask_node, {"d": _down, "u": _up, "o": _here}),
    "buildings": Step(asks.ask_buildings, {"b": _building, "bd": _buildings_done}),
    "roles": Step(asks.ask_roles, {"g": _role, "gd": _roles_done}),
    "time": Step(asks.ask_time, {"t": _when}, _typed_time),
    "publicity": Step(asks.ask_publicity, {"p": _days}),
    "ack": Step(asks.ask_ack, {"y": _ack}),
    "confirm": Step(asks.summary, {"ok": _submit, EDIT_VERB: _edit}),
}


# --- the flow's entries -----------------------------------------------------------------------------


def on_press(ctx: Context, press: Notices) -> Answer:
    """A button of the /notice flow; one that does not fit the current step is stale."""
    if ctx.state.flow != FLOW_NAME:
        return [stale()]
    if press.verb == "x":
        ctx.state.clear()
        return [Reply("notices.flow_cancelled")]
    step = STEPS.get(ctx.state.step)
    taken = step.presses.get(press.verb) if step is not None else None
    return taken(ctx, Composing.of(ctx.state), press) if taken is not None else [stale()]


def resume(ctx: Context) -> Answer:
    """Ask again what the current step asks (the summary at the end): for coming back to a draft."""
    if ctx.state.flow != FLOW_NAME or ctx.state.step not in STEPS:
        return [stale()]
    return _go(ctx, Composing.of(ctx.state), ctx.state.step)


def on_message(ctx: Context, inbound: Inbound) -> Answer:
    """Typed text and photos inside the /notice flow."""
    step = STEPS.get(ctx.state.step)
    if step is None:
        ctx.state.clear()
        return [stale()]
    draft = Composing.of(ctx.state)
    if step.typed is not None:
        return step.typed(ctx, draft, inbound)
    return _go(ctx, draft, ctx.state.step, Reply("notices.use_buttons"))
