"""Notices in chat, three commands over one button family (`n`): `/notice` writes one (compose),
`/notices` lists them — staff with delivery reports, cancel and remind; residents to open and
acknowledge (board) — and `/mute` silences kinds of notice (mutes).

A press is handed to the job its verb belongs to; the /notice flow's own verbs go to the flow, which
answers stale outside it. Every id is checked again against the database by the use cases in
core.notices.
"""

from __future__ import annotations

from collections.abc import Callable

from core import actions
from core.actions import Notices
from handlers.context import Context
from handlers.flows import Command, Flow
from handlers.notices import board, compose, mutes
from handlers.types import Reply

# Verbs outside the /notice flow: a notice's view, acknowledge, cancel, remind; mute a kind.
_OUTSIDE_THE_FLOW: dict[str, Callable[[Context, Notices], list[Reply]]] = {
    "v": board.view,
    "a": board.acknowledge,
    "c": board.cancel,
    "r": board.remind,
    "m": mutes.toggle,
}


def on_press(ctx: Context, press: Notices) -> list[Reply]:
    """Every `n` button, handed to the job its verb belongs to."""
    job = _OUTSIDE_THE_FLOW.get(press.verb, compose.on_press)
    return job(ctx, press)


# /notices and /mute may be used mid-report, so they do not leave the flow the person is in.
FLOW = Flow(
    compose.FLOW_NAME,
    {
        "/notice": Command(compose.start, leaves_flow=True),
        "/notices": Command(board.list_notices),
        "/mute": Command(mutes.mutes),
    },
    actions.Notices,
    on_press,
    compose.on_message,
    resume=compose.resume,
)
