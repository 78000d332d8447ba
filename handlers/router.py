"""The one entry point for handlers: route an Inbound to its flow by command, button or state."""

from __future__ import annotations

import re
from collections.abc import Callable

from handlers import (
    followup,
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
from handlers.common import MAX_TEXT, menu_buttons, parse_id, stale
from handlers.context import Context
from handlers.types import Inbound, Reply

TICKET_CODE = re.compile(r"^[#＃]\s*(\d{1,12})$")
FLOWS = {
    "report": report.on_message,
    "note": progress.on_message,
    "join": onboarding.on_message,
    "task": tasks.on_message,
    "followup": followup.on_message,
    "queue": queue.on_message,
    "notice": notices.on_message,
    "policy": policy.on_message,
    "polls": polls.on_message,
    "newpoll": newpoll.on_message,
}


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
    handler = FLOWS.get(ctx.state.flow)
    if handler is not None:
        return handler(ctx, inbound)
    if not onboarding.is_member(ctx):
        if inbound.text and onboarding.looks_like_invite(inbound.text):
            return onboarding.redeem(ctx, inbound.text)
        return onboarding.start(ctx, "")
    return [Reply("common.idle", {}, menu_buttons(ctx))]  # type: ignore[arg-type]


def _ticket_by_code(ctx: Context, ticket_id: int | None) -> list[Reply]:
    """`#12`: the resident's page of their ticket, or the task card for whoever may work it."""
    replies = progress.show(ctx, ticket_id)
    if replies and replies[0].template == "progress.not_found" and ticket_id and ctx.roles():
        card = tasks.card_for_code(ctx, ticket_id)
        if card is not None:
            return [card]
    return replies


def _cancel(ctx: Context, _: str) -> list[Reply]:
    had_flow = bool(ctx.state.flow)
    ctx.state.clear()
    return [Reply("common.cancelled" if had_flow else "common.nothing_to_cancel", {}, menu_buttons(ctx))]


# command → (handler, whether it leaves any flow first). /policy and /notices may be read mid-report.
COMMANDS: dict[str, tuple[Callable[[Context, str], list[Reply]], bool]] = {
    "/start": (onboarding.start, False),
    "/cancel": (_cancel, False),
    "/help": (lambda ctx, _: onboarding.help_(ctx), False),
    "/lang": (lambda ctx, _: onboarding.lang(ctx), False),
    "/policy": (policy.command, False),
    "/report": (lambda ctx, _: report.start(ctx), True),
    "/my": (lambda ctx, _: progress.my(ctx), True),
    "/pending": (lambda ctx, _: staff.pending(ctx), False),
    "/queue": (lambda ctx, _: queue.queue(ctx), True),
    "/notice": (lambda ctx, _: notices.start(ctx), True),
    "/notices": (lambda ctx, _: notices.list_notices(ctx), False),
    "/mute": (lambda ctx, _: notices.mutes(ctx), False),
    "/stats": (stats.stats, False),
    "/tasks": (lambda ctx, _: tasks.list_tasks(ctx), True),
    "/duty": (tasks.duty, False),
    "/polls": (polls.list_polls, True),
    "/newpoll": (newpoll.start, True),
}
MEMBERS_ONLY = ("/report", "/my", "/pending")
MENU_COMMANDS = frozenset(COMMANDS) - {"/duty"}  # what a `cmd:` button may run; /duty only when typed


def _command(ctx: Context, name: str, args: str) -> list[Reply]:
    if name in MEMBERS_ONLY and not onboarding.is_member(ctx):
        if name == "/report" and ctx.state.flow != "report":
            return report.start(ctx)  # explains that joining comes first, or that approval is pending
        return onboarding.start(ctx, "")
    entry = COMMANDS.get(name)
    if entry is None:
        return [Reply("common.unknown_command", {"command": name[:32]})]
    handler, leaves_flow = entry
    if leaves_flow:
        ctx.state.clear()
    return handler(ctx, args)


def _cancel_note_or_ticket(ctx: Context, data: str) -> list[Reply]:
    return progress.cancel_note(ctx) if data.startswith("t:x:") else progress.on_button(ctx, data)


# button data prefix → handler; the handler checks the rest against the database and the current flow.
BUTTONS: dict[str, Callable[[Context, str], list[Reply]]] = {
    "l": onboarding.set_lang,
    "j": onboarding.on_button,
    "r": report.on_button,
    "t": _cancel_note_or_ticket,
    "a": staff.decide,
    "q": queue.on_button,
    "k": tasks.on_button,
    "f": followup.on_button,
    "n": notices.on_button,
    "p": policy.on_button,
    "v": polls.on_button,
    "w": newpoll.on_button,
}


def may_hold_a_secret(inbound: Inbound, flow: str) -> bool:
    """Whether what the person sent may be a secret ballot's choice or a receipt code: a press on a poll
    button, or anything typed inside the polls flow. A turn that failed on it keeps none of it."""
    return flow == "polls" or (inbound.button or "").split(":", 1)[0] == "v"


def _button(ctx: Context, data: str) -> list[Reply]:
    prefix = data.split(":", 1)[0]
    if prefix == "cmd":
        name = data[4:]
        return _command(ctx, name, "") if name in MENU_COMMANDS else [stale()]
    handler = BUTTONS.get(prefix)
    return handler(ctx, data) if handler is not None else [stale()]
