"""The unit of work a use case runs in: one transaction, one moment, and the events it raised."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from core.events import Event
from db.sla import Policy


@dataclass(slots=True)
class Work:
    """One transaction's worth of work: read and write through `session`; the caller publishes the
    recorded events (core.notify.publish) and commits, so the messages they cause are committed with
    the change or not at all."""

    session: Session
    now: datetime
    policy: Policy
    events: list[Event] = field(default_factory=list)
    via: str = "chat"  # where the actor acts from, for the audit log: chat | console | cli | scheduler

    def record(self, *events: Event) -> None:
        """Remember events to publish when the work is finished."""
        self.events.extend(events)
