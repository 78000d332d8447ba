"""Conversation state: which flow and step a person is in, and the draft so far."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session

from db.models import Conversation


@dataclass(slots=True)
class State:
    """A person's place in a flow; handlers change it, the service saves it."""

    flow: str = ""
    step: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def go(self, flow: str, step: str, **data: Any) -> None:
        """Enter a flow at a step, replacing the draft."""
        self.flow, self.step, self.data = flow, step, dict(data)

    def clear(self) -> None:
        """Leave any flow."""
        self.flow, self.step, self.data = "", "", {}


def load_state(session: Session, person_id: int) -> State:
    """The person's saved state, or an empty one."""
    row = session.get(Conversation, person_id)
    if row is None:
        return State()
    return State(row.flow, row.step, dict(row.data))


def save_state(session: Session, person_id: int, state: State, before: State, now: datetime) -> None:
    """Write the state back, skipping the write when nothing changed."""
    if state.flow == before.flow and state.step == before.step and state.data == before.data:
        return
    row = session.get(Conversation, person_id)
    if row is None:
        session.add(
            Conversation(
                person_id=person_id, flow=state.flow, step=state.step, data=state.data, updated_at=now
            )
        )
    else:
        row.flow, row.step, row.data, row.updated_at = state.flow, state.step, dict(state.data), now
