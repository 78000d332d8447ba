"""The audit log: every staff action, appended, never changed; read by the supervisors of where it
happened (an entry's node path lies under their jurisdiction)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from db.models import AuditEntry
from db.org import in_subtrees

PAGE = 50


def add(
    session: Session,
    *,
    at: datetime,
    actor_id: int | None,
    actor_role: str,
    via: str,
    action: str,
    subject: str,
    subject_id: int | None,
    node_path: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction (it is kept or lost with the change it records)."""
    entry = AuditEntry(
        at=at,
        actor_id=actor_id,
        actor_role=actor_role,
        via=via,
        action=action[:40],
        subject=subject[:24],
        subject_id=subject_id,
        node_path=node_path[:200],
        before=dict(before or {}),
        after=dict(after or {}),
    )
    session.add(entry)
    return entry


@dataclass(frozen=True, slots=True)
class Query:
    """Which entries: under these org paths, optionally by action prefix, actor, subject and time."""

    paths: tuple[str, ...]
    action: str = ""
    actor_id: int | None = None
    actor_ids: tuple[int, ...] | None = None  # any of these people (a name search); () matches nobody
    subject: str = ""
    subject_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def entries(
    session: Session, query: Query, before_id: int | None = None, limit: int = PAGE
) -> list[AuditEntry]:
    """The newest entries matching the query, older than `before_id` (keyset pages), newest first."""
    if not query.paths:
        return []
    statement = select(AuditEntry).where(in_subtrees(AuditEntry.node_path, query.paths))
    if query.action:
        statement = statement.where(col(AuditEntry.action).startswith(query.action))
    if query.actor_id is not None:
        statement = statement.where(AuditEntry.actor_id == query.actor_id)
    if query.actor_ids is not None:
        statement = statement.where(col(AuditEntry.actor_id).in_(query.actor_ids))
    if query.subject:
        statement = statement.where(AuditEntry.subject == query.subject)
    if query.subject_id is not None:
        statement = statement.where(AuditEntry.subject_id == query.subject_id)
    if query.since is not None:
        statement = statement.where(col(AuditEntry.at) >= query.since)
    if query.until is not None:
        statement = statement.where(col(AuditEntry.at) < query.until)
    if before_id is not None:
        statement = statement.where(col(AuditEntry.id) < before_id)
    return list(session.exec(statement.order_by(col(AuditEntry.id).desc()).limit(limit)).all())


def of_subject(session: Session, subject: str, subject_id: int) -> Iterable[AuditEntry]:
    """Every entry about one object, oldest first."""
    return session.exec(
        select(AuditEntry)
        .where(AuditEntry.subject == subject, AuditEntry.subject_id == subject_id)
        .order_by(col(AuditEntry.id))
    ).all()
