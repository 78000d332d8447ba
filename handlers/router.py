"""The one entry point for handlers: route an Inbound to its flow by command, button or state."""

from __future__ import annotations

import re

from core import actions
from core.actions import Press
from db.types import parse_id
from handlers import (
    followup,
    general,
    newpoll,
    notices,
    onboarding,
    policy,
    polls,
    progress,
    queue,
    report,
    staff,
    stats,
    tasks,
)
from handlers.common import MAX_TEXT, menu_buttons, stale
from handlers.context import Context
from handlers.flows import Command, Flow
from handlers.types import Inbound, Reply

TICKET_CODE = re.compile(r"^[#＃]\s*(\d{1,12})$")


# Every flow, declared once: its commands, its buttons, its typed text. /policy and /notices may be read
# mid-report, so they do not leave the flow the person is in.
DECLARED: tuple[Flow, ...] = (
    general.FLOW,
    onboarding.FLOW,
    report.FLOW,
    progress.FLOW,
    staff.FLOW,
    tasks.FLOW,
    followup.FLOW,
    queue.FLOW,
    notices.FLOW,
    policy.FLOW,
    Flow("", {"/stats": Command(stats.stats)}),
    polls.FLOW,
    newpoll.FLOW,
)


def _index() -> tuple[dict[str, Command], dict[type[Press], Flow], dict[str, Flow]]:
    """The declarations by command, by button family and by state name; a clash is a programming error."""
    commands: dict[str, Command] = {}
    presses: dict[type[Press], Flow] = {}
    texts: dict[str, Flow] = {}
    for flow in DECLARED:
        for name, command in flow.commands.items():
            if name in commands:
                raise ValueError(f"{name} is declared twice")
            commands[name] = command
        if flow.press is not None:
            if flow.press in presses:
                raise ValueError(f"{flow.press.__name__} buttons are declared twice")
            presses[flow.press] = flow
        if flow.name and flow.on_text is not None:
            texts[flow.name] = flow
    return commands, presses, texts


COMMANDS, PRESSES, TEXTS = _index()
MENU_COMMANDS = frozenset(name for name, c in COMMANDS.items() if not c.typed_only)  # what `cmd:` may run


def handle(ctx: Context, inbound: Inbound) -> list[Reply]:
    """Answer one inbound message or button press."""
    if inbound.unsupported:
        return [Reply("common.unsupported")]
    if len(inbound.text) > MAX_TEXT:
        return [Reply("common.too_long", {"limit": MAX_TEXT, "length": len(inbound.text)})]
    if inbound.button is not None:
        return _button(ctx, inbound.button)
    command = inbound.command
    if command is not None:
        return _command(ctx, *command)
    code = TICKET_CODE.match(inbound.text.strip())
    if code and ctx.state.flow in ("", "join"):
        return _ticket_by_code(ctx, parse_id(code.group(1)))
    flow = TEXTS.get(ctx.state.flow)
    if flow is not None and flow.on_text is not None:
        return flow.on_text(ctx, inbound)
    if not onboarding.is_member(ctx):
        if inbound.text and onboarding.looks_like_invite(inbound.text):
            return onboarding.redeem(ctx, inbound.text)
        return onboarding.start(ctx, "")
    return [Reply("common.idle", {}, menu_buttons(ctx))]


def _ticket_by_code(ctx: Context, ticket_id: int | None) -> list[Reply]:
    """`#12`: the resident's page of their ticket, or the task card for whoever may work it."""
    replies = progress.show(ctx, ticket_id)
    if replies and replies[0].template == "progress.not_found" and ticket_id and ctx.roles():
        card = tasks.card_for_code(ctx, ticket_id) or tasks.staff_card_for_code(ctx, ticket_id)
        if card is not None:
            return [card]
    return replies


def _command(ctx: Context, name: str, args: str) -> list[Reply]:
    entry = COMMANDS.get(name)
    if entry is None:
        return [Reply("common.unknown_command", {"command": name[:32]})]
    if entry.members_only and not onboarding.is_member(ctx):
        if name == "/report" and ctx.state.flow != "report":
            return report.start(ctx)  # explains that joining comes first, or that approval is pending
        return onboarding.start(ctx, "")
    if entry.leaves_flow:
        ctx.state.clear()
    return entry.handler(ctx, args)


def may_hold_a_secret(inbound: Inbound, flow: str) -> bool:
    """Whether what the person sent may be a secret ballot's choice or a receipt code: a press on a poll
    button, or anything typed inside the polls flow. A turn that failed on it keeps none of it."""
    return flow == "polls" or actions.prefix_of(inbound.button or "") == actions.Vote.FAMILY


def _button(ctx: Context, data: str) -> list[Reply]:
    press = actions.decode(data)
    if isinstance(press, actions.Menu):
        return _command(ctx, press.command, "") if press.command in MENU_COMMANDS else [stale()]
    flow = PRESSES.get(type(press)) if press is not None else None
    if flow is None or flow.on_press is None:
        return [stale()]
    return flow.on_press(ctx, press)
