"""How a conversation flow is declared once: its commands, the button family it answers, what it does
with typed text while a person is inside it, and the typed draft it keeps between turns.

The router is built from these declarations (handlers/router.py `DECLARED`); adding a flow is one module
with a `FLOW = Flow(...)` and its templates, plus one line there.

A flow that declares `resume` keeps its draft through detours: a command, menu button or another flow's
button that leaves it parks the draft (`State.parked`, one slot, the latest), and the person is offered to
go on where they left off; an old button of the parked flow brings the draft back. `/cancel` asks before
throwing away a draft the flow says is worth keeping.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from core.actions import Press
from db.conversations import State
from handlers.context import Context
from handlers.types import Inbound, Reply

CommandHandler = Callable[[Context, str], list[Reply]]


@dataclass(frozen=True, slots=True)
class Command:
    """A slash command: what answers it, and whether it first leaves any flow the person is in."""

    handler: CommandHandler
    leaves_flow: bool = False
    members_only: bool = False  # a visitor who has not joined is shown how to join instead
    typed_only: bool = False  # never run by a menu button (`cmd:`), only when typed (/duty)


@dataclass(frozen=True, slots=True)
class Flow:
    """One flow: its name in the conversation state, its commands, its buttons and its typed text."""

    name: str  # the state's `flow` while a person is inside it; "" for command-only modules
    commands: Mapping[str, Command] = field(default_factory=dict)
    press: type[Press] | None = None  # the button family it answers
    on_press: Callable[[Context, Any], list[Reply]] | None = None  # takes a decoded `press`
    on_text: Callable[[Context, Inbound], list[Reply]] | None = None  # text while inside the flow
    # Re-asks the current step of the draft in `ctx.state` (brought back from the parking slot); a flow
    # that declares it has its drafts parked on a detour instead of dropped.
    resume: Callable[[Context], list[Reply]] | None = None
    # Whether the draft in a state holds something the person gave (parked, and asked before /cancel);
    # default: any draft at all.
    keeps: Callable[[State], bool] | None = None
    # The longest text the flow takes: it refuses longer text itself, with this limit, at any step.
    text_limit: int | None = None

    def worth_keeping(self, state: State) -> bool:
        """Whether leaving this flow in this state would lose something the person gave."""
        if self.resume is None or state.flow != self.name or not self.name:
            return False
        return self.keeps(state) if self.keeps is not None else bool(state.data)


class Draft(BaseModel):
    """A flow's typed draft, kept in the conversation state between turns.

    Unknown keys are ignored and a draft that no longer fits its model starts afresh, so a draft saved by
    an older release never breaks a turn."""

    model_config = ConfigDict(extra="ignore")

    @classmethod
    def of(cls, state: State) -> Self:
        """The draft kept in a state (empty when it cannot be read as this model)."""
        try:
            return cls.model_validate(state.data)
        except ValidationError:
            return cls()

    def keep(self, state: State) -> None:
        """Write the draft back into the state, saved when the turn commits."""
        state.data = self.model_dump(mode="json")
