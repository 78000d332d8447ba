"""What a person is told about a draft they left: that it is kept, whether to throw it away, that it was.

The router parks and restores drafts (handlers/router.py); flows use these replies too (the report's own
cancel button asks before discarding, like /cancel).
"""

from __future__ import annotations

from core.actions import Drafts
from handlers.common import menu_buttons
from handlers.context import Context
from handlers.types import Button, Reply


def resume_button(flow: str, primary: bool = False) -> Button:
    """继续报事: bring the parked draft of a flow back."""
    return Button.of(Drafts("r", flow=flow), "resume_draft", args={"flow": flow}, primary=primary)


def parked(flow: str) -> Reply:
    """The line appended to a detour's answer: the draft of this flow is kept, with a button back."""
    return Reply("drafts.parked", {"flow": flow}, [[resume_button(flow)]])


def ask_discard(flow: str) -> Reply:
    """放弃这份草稿吗？ asked before a draft with something typed in it is thrown away."""
    return Reply(
        "drafts.ask_discard",
        {"flow": flow},
        [
            [Button.of(Drafts("k", flow=flow), "keep_draft", primary=True)],
            [Button.of(Drafts("x", flow=flow), "discard_draft")],
        ],
    )


def discarded(ctx: Context, flow: str) -> Reply:
    """The draft is gone; the menu shows what to do next."""
    return Reply("drafts.discarded", {"flow": flow}, menu_buttons(ctx))
