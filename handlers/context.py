"""What a handler is given besides the Inbound: the person, their state, the database and the time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from db import outbox
from db.categories import Catalog
from db.conversations import State
from db.models import Identity, Person
from handlers.types import Reply


@dataclass(slots=True)
class Context:
    """One turn of a conversation: read and write through `session`; the service commits."""

    session: Session
    person: Person
    identity: Identity
    state: State
    now: datetime
    catalog: Catalog
    public_url: str = ""
    pushed: list[int] = field(default_factory=list)

    @property
    def locale(self) -> str:
        """The person's language."""
        return self.person.locale

    def notify(self, person_id: int, reply: Reply) -> None:
        """Push a message to another person through the outbox, in this turn's transaction."""
        buttons = [
            [{"data": b.data, "label": b.label, "text": b.text, "args": b.args} for b in row]
            for row in reply.buttons
        ]
        outbox.enqueue(self.session, person_id, reply.template, reply.context, buttons, self.now)
        self.pushed.append(person_id)
