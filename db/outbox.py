"""The outbox: pushes to people, written with the change that caused them and sent afterwards."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from db.models import Outbox


def enqueue(
    session: Session,
    person_id: int,
    template: str,
    context: dict[str, Any],
    buttons: list[list[dict[str, Any]]],
    now: datetime,
    not_before: datetime | None = None,
    urgent: bool = False,
    ticket_id: int | None = None,
) -> None:
    """Queue a message for a person in the current transaction."""
    session.add(
        Outbox(
            person_id=person_id,
            template=template,
            context=context,
            buttons=buttons,
            created_at=now,
            not_before=not_before,
            urgent=urgent,
            ticket_id=ticket_id,
        )
    )


def due(session: Session, now: datetime, limit: int = 100) -> list[Outbox]:
    """Unsent messages whose time has come (quiet hours over), urgent first, then oldest first."""
    return list(
        session.exec(
            select(Outbox)
            .where(
                col(Outbox.sent_at).is_(None),
                Outbox.attempts < 5,
                or_(col(Outbox.not_before).is_(None), col(Outbox.not_before) <= now),
            )
            .order_by(col(Outbox.urgent).desc(), col(Outbox.id))
            .limit(limit)
        ).all()
    )


def mark_sent(session: Session, outbox_id: int, now: datetime) -> bool:
    """Claim a row as sent; False when another sender got it first."""
    result = session.exec(
        update(Outbox).where(Outbox.id == outbox_id, col(Outbox.sent_at).is_(None)).values(sent_at=now)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def mark_failed(session: Session, outbox_id: int, error: str) -> None:
    """Count a failed attempt and keep the reason."""
    session.exec(
        update(Outbox)
        .where(Outbox.id == outbox_id)
        .values(attempts=Outbox.attempts + 1, error=error[:200], sent_at=None)
    )
