"""Writing the audit log from use cases: every staff action, in the chat or the console, leaves one
entry in the same transaction as the change (DESIGN §5.2)."""

from __future__ import annotations

from typing import Any

from core.permissions import Actor
from core.work import Work
from db import audit


def record(
    work: Work,
    actor: Actor,
    role: str,
    action: str,
    subject: str,
    subject_id: int | None,
    node_path: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Note that `actor`, acting as `role`, did `action` to a subject lying at `node_path`."""
    audit.add(
        work.session,
        at=work.now,
        actor_id=actor.person_id,
        actor_role=role,
        via=work.via if actor.person_id is not None else "system",
        action=action,
        subject=subject,
        subject_id=subject_id,
        node_path=node_path,
        before=before,
        after=after,
    )
