"""The draft of a notice being written in the `/notice` flow, kept in the conversation state."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field

from core import notices as use
from handlers.flows import Draft


class Composing(Draft):
    """The notice being written."""

    roots: list[int] = Field(default_factory=list)  # the author's jurisdiction when they began
    kind: str = ""
    title: str = ""
    body: str = ""
    photo: tuple[str, str] | None = None  # channel, file reference
    node_id: int | None = None
    buildings: list[int] = Field(default_factory=list)
    roles: list[str] | None = None  # None until the roles are first asked: then owners and tenants
    send_at: datetime | None = None
    days: int = 0  # on display this many days; 0: no publicity period
    ack: bool = False
    editing: str = ""  # a field asked again from the summary: once answered, back to the summary

    def times(self, now: datetime) -> tuple[datetime, datetime | None]:
        """When it is sent (never in the past) and until when it is on display."""
        send_at = max(self.send_at or now, now)
        return send_at, (send_at + timedelta(days=self.days) if self.days else None)

    def notice(self, now: datetime) -> use.NoticeDraft:
        """The draft as the use case takes it."""
        send_at, until = self.times(now)
        return use.NoticeDraft(
            kind=self.kind,
            title=self.title,
            body=self.body,
            node_id=self.node_id or 0,
            buildings=tuple(self.buildings),
            roles=tuple(self.roles or ()),
            send_at=send_at,
            publicity_until=until,
            ack_required=self.ack,
            attachment=("photo", *self.photo) if self.photo else None,
        )
