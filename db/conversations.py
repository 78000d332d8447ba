"""Conversation state: which flow and step a person is in, and the draft so far."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlmodel import Session

from db.models import Conversation
from db.rows import table_of

# Read and written on every turn, so plain Core statements on the table: no ORM bookkeeping.
TABLE = table_of(Conversation)
_LOAD = select(TABLE.c.flow, TABLE.c.step, TABLE.c.data, TABLE.c.parked).where(
    TABLE.c.person_id == bindparam("b_person_id")
)
_VALUES = {
    "flow": bindparam("b_flow"),
    "step": bindparam("b_step"),
    "data": bindparam("b_data", type_=TABLE.c.data.type),
    "parked": bindparam("b_parked", type_=TABLE.c.parked.type),
    "updated_at": bindparam("b_now", type_=TABLE.c.updated_at.type),
}
_UPDATE = update(TABLE).where(TABLE.c.person_id == bindparam("b_person_id")).values(**_VALUES)
_INSERT = insert(TABLE).values(person_id=bindparam("b_person_id"), **_VALUES)


@dataclass(slots=True)
class State:
    """A person's place in a flow; handlers change it, the service saves it."""

    flow: str = ""
    step: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    # A flow left mid-way with its draft: {"flow", "step", "data"}; empty when none is waiting.
    parked: dict[str, Any] = field(default_factory=dict)
    stored: bool = False  # whether a row exists for it

    def go(self, flow: str, step: str, **data: Any) -> None:
        """Enter a flow at a step, replacing the draft."""
        self.flow, self.step, self.data = flow, step, dict(data)

    def snapshot(self) -> dict[str, Any]:
        """The flow, step and a copy of the draft: what parking a draft keeps."""
        return {"flow": self.flow, "step": self.step, "data": copy.deepcopy(self.data)}

    def clear(self) -> None:
        """Leave any flow."""
        self.flow, self.step, self.data = "", "", {}

    def same_as(self, other: State) -> bool:
        """Whether flow, step and draft are equal."""
        return (self.flow, self.step, self.data, self.parked) == (
            other.flow,
            other.step,
            other.data,
            other.parked,
        )


def load_state(session: Session, person_id: int) -> State:
    """The person's saved state, or an empty one."""
    row = session.connection().execute(_LOAD, {"b_person_id": person_id}).first()
    if row is None:
        return State()
    return State(row.flow, row.step, dict(row.data or {}), dict(row.parked or {}), stored=True)


def save_state(session: Session, person_id: int, state: State, before: State, now: datetime) -> None:
    """Write the state back, skipping the write when nothing changed."""
    if state.same_as(before):
        return
    params = {
        "b_person_id": person_id,
        "b_flow": state.flow,
        "b_step": state.step,
        "b_data": state.data,
        "b_parked": state.parked,
        "b_now": now,
    }
    session.connection().execute(_UPDATE if state.stored else _INSERT, params)
    state.stored = True
