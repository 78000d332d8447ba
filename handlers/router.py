"""The one entry point for handlers: route an Inbound to its flow by command, button or state."""

from __future__ import annotations

import re
from collections.abc import Callable

from core import actions
from core.actions import Press
from db.types import parse_id
from handlers import (
    accounts,
    committee,
    console,
    drafts,
    followup,
    general,
    newpoll,
    notices,
    onboarding,
    paper,
    policy,
    polls,
    progress,
    proxies,
    queue,
    rating,
    report,
    staff,
    stats,
    survey,
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
    stats.FLOW,
    console.FLOW,
    polls.FLOW,
    newpoll.FLOW,
    paper.FLOW,
    accounts.FLOW,
    rating.FLOW,
    survey.FLOW,
    committee.FLOW,
    proxies.FLOW,
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
BY_NAME: dict[str, Flow] = {flow.name: flow for flow in DECLARED if flow.name}
OWNER: dict[str, str] = {name: flow.name for flow in DECLARED for name in flow.commands}  # command → flow
# The command that starts a flow afresh (重新开始): its first command that leaves any other flow.
START: dict[str, str] = {
    flow.name: next(name for name, c in flow.commands.items() if c.leaves_flow)
    for flow in DECLARED
    if flow.name and any(c.leaves_flow for c in flow.commands.values())
}


def handle(ctx: Context, inbound: Inbound) -> list[Reply]:
    """Answer one inbound message or button press."""
    if inbound.unsupported:
        return [Reply("common.unsupported")]
    if len(inbound.text) > MAX_TEXT and not _refuses_itself(ctx, inbound):
        limits = {"limit": MAX_TEXT, "length": len(inbound.text)}
        return [Reply("common.too_long", limits, keeps_input=True)]
    if inbound.button is not None:
        return _button(ctx, inbound.button)
    command = inbound.command
    if command is not None:
        return _command(ctx, *command)
    code = TICKET_CODE.match(inbound.text.strip())
    offered = (ctx.state.flow, ctx.state.step) == (report.NAME, report.OFFER)
    if code and (ctx.state.flow in ("", "join") or offered):
        if offered:
            ctx.state.clear()  # a ticket's number is not a report's words
        return _ticket_by_code(ctx, parse_id(code.group(1)))
    flow = TEXTS.get(ctx.state.flow)
    if flow is not None and flow.on_text is not None:
        return flow.on_text(ctx, inbound)
    invite = bool(inbound.text) and onboarding.looks_like_invite(inbound.text)
    if not onboarding.is_member(ctx):
        if invite:
            return onboarding.redeem(ctx, inbound.text)
        return onboarding.start(ctx, "")
    if not ctx.state.flow and not invite and report.may_offer(ctx, inbound):
        return report.offer(ctx, inbound)  # words or a photo outside a flow: offered as a report
    return [Reply("common.idle", {}, menu_buttons(ctx))]


def _refuses_itself(ctx: Context, inbound: Inbound) -> bool:
    """Whether typed text goes to a flow with its own limit, which refuses longer text with the limit its
    prompt states: the flow the person is in, or the report its words outside a flow are offered as."""
    if inbound.button is not None or inbound.command is not None:
        return False
    current = BY_NAME.get(ctx.state.flow)
    if current is not None:
        return current.text_limit is not None
    return not ctx.state.flow and report.may_offer(ctx, inbound)


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
    if name == "/cancel":
        flow = BY_NAME.get(ctx.state.flow)
        if flow is not None and flow.worth_keeping(ctx.state):
            # something typed: asked before it is thrown away
            return [drafts.ask_discard(flow.name, ctx.state.data)]
        return entry.handler(ctx, args)
    return _detour(ctx, lambda: entry.handler(ctx, args), entry.leaves_flow, OWNER.get(name, ""))


def _detour(ctx: Context, run: Callable[[], list[Reply]], leaves: bool, owner: str) -> list[Reply]:
    """Run a command or another flow's button. When it takes the person out of a flow whose draft is
    worth keeping, the draft is parked (one slot, the latest) and the answer ends with a line saying so,
    with a button back; a detour that leaves the person where they were parks nothing."""
    flow = BY_NAME.get(ctx.state.flow)
    if flow is None or not flow.worth_keeping(ctx.state):
        if leaves:
            ctx.state.clear()
        return run()
    earlier = ctx.state.parked
    ctx.state.parked = ctx.state.snapshot()
    if leaves:
        ctx.state.clear()
    replies = run()
    if not leaves and ctx.state.flow == flow.name:
        ctx.state.parked = earlier  # read something on the way (/help, a notice): still in the draft
        return replies
    if ctx.state.parked.get("flow") != flow.name:  # the detour itself dealt with it (重新开始)
        return replies
    if owner == flow.name and ctx.state.flow != flow.name:
        return replies  # its own command, which offers to go on with the draft itself
    # Another draft was kept before: the one slot now holds this one, and the person is told.
    replaced = bool(earlier) and earlier.get("data") != ctx.state.parked.get("data")
    return [*replies, drafts.parked(flow.name, replaced)]


def _restore(ctx: Context) -> list[Reply]:
    """Bring the parked draft back into the conversation; a draft worth keeping that the person was in
    takes its place in the slot (and they are told so)."""
    parked = ctx.state.parked
    current = BY_NAME.get(ctx.state.flow)
    swapped = current is not None and current.worth_keeping(ctx.state)
    ctx.state.parked = ctx.state.snapshot() if swapped else {}
    ctx.state.go(str(parked.get("flow", "")), str(parked.get("step", "")), **dict(parked.get("data") or {}))
    return [drafts.parked(current.name)] if swapped and current is not None else []


def _is_stale(replies: list[Reply]) -> bool:
    return len(replies) == 1 and replies[0].template == "common.stale_button"


def _draft_press(ctx: Context, press: actions.Drafts) -> list[Reply]:
    """继续 / 重新开始 a parked draft; 放弃 / 继续填写 when asked before one is thrown away."""
    name = press.flow or ""
    flow = BY_NAME.get(name)
    if flow is None or flow.resume is None:
        return [stale()]
    in_it, parked = ctx.state.flow == name, ctx.state.parked.get("flow") == name
    if press.verb == "x":
        if not in_it or press.tag != drafts.tag_of(ctx.state.data):
            return [stale()]  # not the draft the question was about
        ctx.state.clear()
        return [drafts.discarded(ctx, name)]
    if press.verb == "n":
        if parked:
            if press.tag != drafts.tag_of(dict(ctx.state.parked.get("data") or {})):
                return [stale()]  # another draft is parked now: it is not thrown away unasked
            ctx.state.parked = {}
        return _command(ctx, START[name], "") if name in START else [stale()]
    # r: the parked draft first (its button says so); k: the draft the person is in first
    if parked and (press.verb == "r" or not in_it):
        swapped = _restore(ctx)
        return [*flow.resume(ctx), *swapped]
    return flow.resume(ctx) if in_it else [stale()]


def may_hold_a_secret(inbound: Inbound, flow: str) -> bool:
    """Whether what the person sent may be a secret ballot's choice or a receipt code: a press on a poll
    button, or anything typed inside the polls flow. A turn that failed on it keeps none of it."""
    return flow == "polls" or actions.prefix_of(inbound.button or "") == actions.Vote.FAMILY


def _button(ctx: Context, data: str) -> list[Reply]:
    press = actions.decode(data)
    if isinstance(press, actions.Menu):
        return _command(ctx, press.command, "") if press.command in MENU_COMMANDS else [stale()]
    if isinstance(press, actions.Drafts):
        return _draft_press(ctx, press)
    flow = PRESSES.get(type(press)) if press is not None else None
    if flow is None or flow.on_press is None:
        return [stale()]
    on_press = flow.on_press
    if flow.name and ctx.state.flow == flow.name:
        return _applied(ctx, flow, on_press(ctx, press))
    replies = _detour(ctx, lambda: on_press(ctx, press), False, flow.name)
    if _is_stale(replies) and flow.resume is not None and ctx.state.parked.get("flow") == flow.name:
        # An old button of the parked draft (one that works outside it, such as reading a notice, was
        # answered above): the draft comes back at the step it was left, and the press is not applied —
        # an old 确认 or 取消 may belong to an earlier draft of the same flow, and must not send or
        # throw away this one unseen.
        swapped = _restore(ctx)
        return [*flow.resume(ctx), *swapped]
    return replies


def _applied(ctx: Context, flow: Flow, replies: list[Reply]) -> list[Reply]:
    """A press on a draft that does not fit its step re-asks the step instead of answering stale."""
    if _is_stale(replies) and ctx.state.flow == flow.name and flow.resume is not None:
        return flow.resume(ctx)
    return replies
