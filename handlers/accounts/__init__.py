"""/accounts (收支公示, DESIGN §4.4): residents read their compound's statements and ask about a line;
filers (the serving company's staff; the owners' committee for the fund) draft, publish and correct them.

One button family (`ac`): a press is handed to the filing step that takes it while a statement is being
written, else to the reading job its verb names. Typed text goes to the step the person is at. A draft
with something in it is parked on a detour and offered back (`resume`, `keeps`).
"""

from __future__ import annotations

from collections.abc import Callable

from core.actions import Accounts
from db.conversations import State
from handlers.accounts import filing, reading
from handlers.accounts.draft import ASKING, FILING, FLOW_NAME
from handlers.accounts.draft import Accounts as Draft
from handlers.common import stale
from handlers.context import Context
from handlers.flows import Command, Flow
from handlers.types import Inbound, Reply

TEXT_LIMIT = 2000  # the flow refuses longer text itself, each step with its own limit

# Verbs that work anywhere: reading a statement, asking about a line, starting or correcting one.
_READING: dict[str, Callable[[Context, Accounts], list[Reply]]] = {
    "l": lambda ctx, _: reading.listing(ctx),
    "o": reading.open_statement,
    "m": reading.more,
    "h": reading.versions,
    "qs": reading.pick,
    "q": reading.ask,
    "n": filing.start,
    "r": filing.correct,
    "x": filing.cancel,
}


def on_press(ctx: Context, press: Accounts) -> list[Reply]:
    """Every `ac` button: the filing step's own verbs first, then the reading jobs."""
    if ctx.state.flow == FLOW_NAME and ctx.state.step in FILING:
        answered = filing.on_press(ctx, press)
        if answered is not None:
            return answered
    job = _READING.get(press.verb)
    return job(ctx, press) if job is not None else [stale()]


def on_text(ctx: Context, inbound: Inbound) -> list[Reply]:
    """Text typed inside /accounts: a line's number or a question, or what a filing step asks for."""
    draft = Draft.of(ctx.state)
    if ctx.state.step == "pick":
        return reading.picked_by_number(ctx, draft, inbound)
    if ctx.state.step == "ask":
        return reading.asked(ctx, draft, inbound)
    if ctx.state.step in FILING:
        return filing.on_text(ctx, inbound)
    ctx.state.clear()
    return reading.listing(ctx)


def resume(ctx: Context) -> list[Reply]:
    """The step the person left, asked again (a draft brought back from a detour)."""
    if ctx.state.step in ASKING:
        return reading.resume_ask(ctx, Draft.of(ctx.state))
    if ctx.state.step in FILING:
        return filing.resume(ctx)
    return reading.listing(ctx)


def keeps(state: State) -> bool:
    """Worth keeping on a detour: a question being asked, or a statement with a compound chosen."""
    if state.step in ASKING:
        return True
    return state.step in FILING and bool(state.data.get("compound"))


FLOW = Flow(
    FLOW_NAME,
    {"/accounts": Command(reading.listing, leaves_flow=True, members_only=True)},
    Accounts,
    on_press,
    on_text,
    resume=resume,
    keeps=keeps,
    text_limit=TEXT_LIMIT,
)
