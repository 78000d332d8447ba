"""What a handler is given besides the Inbound: the person, their state, the database and the time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import Session

from core import notify
from core.permissions import Actor
from core.work import Work
from db import people
from db.categories import Catalog
from db.conversations import State
from db.models import Residency, RoleGrant
from db.people import Who
from db.policy import Library
from db.sla import Policy


@dataclass(slots=True)
class Context:
    """One turn of a conversation: read and write through `session`; the service commits."""

    session: Session
    person: Who
    state: State
    now: datetime
    catalog: Catalog
    policy: Policy
    public_url: str = ""
    files_dir: Path | None = None  # where generated files (charts) go; the web chat serves them
    library: Library | None = None  # the policy library, loaded once at start
    seal_key: bytes = b""  # finds a changeable secret ballot again; derived from the ballot key, never stored
    _residencies: list[Residency] | None = None
    _roles: list[RoleGrant] | None = None
    _actor: Actor | None = None
    _work: Work | None = None

    @property
    def person_id(self) -> int:
        """The person's id."""
        return self.person.person_id

    def residencies(self, status: str | None = "verified") -> list[Residency]:
        """The person's residencies with a status, read once per turn."""
        if self._residencies is None:
            self._residencies = people.residencies(self.session, self.person_id)
        return [r for r in self._residencies if status is None or r.status == status]

    def roles(self) -> list[RoleGrant]:
        """The person's staff roles, read once per turn."""
        if self._roles is None:
            self._roles = people.roles(self.session, self.person_id)
        return self._roles

    def actor(self) -> Actor:
        """The person as the permission policy sees them (grants with their nodes, residences), read once
        per turn."""
        if self._actor is None:
            # Contracts and committee terms run by the local calendar day of the turn's own clock.
            self._actor = people.actor(
                self.session, self.person_id, self.now.astimezone(self.policy.zone).date()
            )
        return self._actor

    @property
    def work(self) -> Work:
        """The unit of work use cases run in: this turn's transaction and moment; its events are
        published by `publish` before the turn commits."""
        if self._work is None:
            self._work = Work(self.session, self.now, self.policy)
        return self._work

    def publish(self) -> int:
        """Turn the events this turn's use cases recorded into pushes, in the turn's transaction."""
        return notify.publish(self._work) if self._work is not None else 0

    def forget_membership(self) -> None:
        """Drop what was read about homes and roles after a change to them."""
        self._residencies = self._roles = self._actor = None

    @property
    def locale(self) -> str:
        """The person's language."""
        return self.person.locale
