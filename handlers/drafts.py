"""What a person is told about a draft they left: that it is kept, whether to throw it away, that it was.

The router parks and restores drafts (handlers/router.py); flows use these replies too (the report's own
cancel button asks before discarding, like /cancel).
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from core.actions import Drafts
from handlers.common import menu_buttons
from handlers.context import Context
from handlers.types import Button, Reply


def resume_button(flow: str, primary: bool = False) -> Button:
    """继续报事: bring the parked draft of a flow back."""
    return Button.of(Drafts("r", flow=flow), "resume_draft", args={"flow": flow}, primary=primary)


def parked(flow: str, replaced: bool = False) -> Reply:
    """The line appended to a detour's answer: the draft of this flow is kept, with a button back (and,
    when another draft was kept before, that this one took its place)."""
    return Reply("drafts.parked", {"flow": flow, "replaced": replaced}, [[resume_button(flow)]])


def tag_of(data: dict[str, Any]) -> int:
    """A short tag of a draft's content (1 … 2³¹−1): a button that throws a draft away names the draft
    it was shown with, and is stale for any other."""
    digest = zlib.crc32(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode())
    return digest % (2**31 - 2) + 1


def start_over_button(flow: str, parked: dict[str, Any]) -> Button:
    """重新开始: the parked draft it names is thrown away and the flow starts afresh."""
    return Button.of(Drafts("n", flow=flow, tag=tag_of(dict(parked.get("data") or {}))), "start_over")


def ask_discard(flow: str, data: dict[str, Any]) -> Reply:
    """放弃这份草稿吗？ asked before a draft with something typed in it is thrown away."""
    return Reply(
        "drafts.ask_discard",
        {"flow": flow},
        [
            [Button.of(Drafts("k", flow=flow), "keep_draft", primary=True)],
            [Button.of(Drafts("x", flow=flow, tag=tag_of(data)), "discard_draft")],
        ],
    )


def discarded(ctx: Context, flow: str) -> Reply:
    """The draft is gone; the menu shows what to do next."""
    return Reply("drafts.discarded", {"flow": flow}, menu_buttons(ctx))
