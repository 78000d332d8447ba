"""The inbound log: every update is stored once, before it is acknowledged, and processed once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from db.models import InboundLog


def store(
    session: Session, channel: str, update_id: str, payload: dict[str, Any], now: datetime
) -> int | None:
    """Record an update; returns its row id, or None when it was already stored (a redelivery)."""
    try:
        with session.begin_nested():
            result = session.exec(
                insert(InboundLog).values(
                    channel=channel, update_id=update_id, payload=payload, received_at=now, processed_at=None
                )
            )
    except IntegrityError:
        return None
    return int(result.inserted_primary_key[0])  # type: ignore[union-attr]


def mark_processed(session: Session, log_id: int, now: datetime) -> bool:
    """Claim a stored update for processing; False when it was processed already."""
    result = session.exec(
        update(InboundLog)
        .where(InboundLog.id == log_id, col(InboundLog.processed_at).is_(None))
        .values(processed_at=now)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def unprocessed(session: Session, channel: str, limit: int = 500) -> list[InboundLog]:
    """Updates stored but not processed (a crash came between), oldest first."""
    return list(
        session.exec(
            select(InboundLog)
            .where(InboundLog.channel == channel, col(InboundLog.processed_at).is_(None))
            .order_by(col(InboundLog.id))
            .limit(limit)
        ).all()
    )
