"""How a conversation flow is declared once: its commands, the button family it answers, what it does
with typed text while a person is inside it, and the typed draft it keeps between turns.

The router is built from these declarations (handlers/router.py `DECLARED`); adding a flow is one module
with a `FLOW = Flow(...)` and its templates, plus one line there.
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
