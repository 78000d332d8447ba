"""The inbound log: every update is stored once, before it is acknowledged, and processed once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from db.models import InboundLog
from db.rows import table_of


def store_batch(
    session: Session, channel: str, items: list[tuple[str, dict[str, Any]]], now: datetime
) -> list[str]:
    """Record a batch of updates (one executemany); returns the update ids that were new."""
    if not items:
        return []
    connection = session.connection()
    statement = _STORE_PG if connection.dialect.name == "postgresql" else _STORE_SQLITE
    rows = [
        {"b_channel": channel, "b_update_id": uid, "b_payload": payload, "b_now": now}
        for uid, payload in items
    ]
    result = connection.execute(statement, rows)
    return [row.update_id for row in result]


def _store_statement(insert_: Any) -> Any:
    table = table_of(InboundLog)
    return (
        insert_(table)
        .values(
            channel=bindparam("b_channel"),
            update_id=bindparam("b_update_id"),
            payload=bindparam("b_payload", type_=table.c.payload.type),
            received_at=bindparam("b_now", type_=table.c.received_at.type),
            processed_at=None,
        )
        .on_conflict_do_nothing(index_elements=["channel", "update_id"])
        .returning(table.c.update_id, sort_by_parameter_order=True)
    )


_STORE_PG = _store_statement(pg_insert)
_STORE_SQLITE = _store_statement(sqlite_insert)


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
    key = result.inserted_primary_key
    assert key is not None  # a one-row INSERT knows the key it wrote
    return int(key[0])


def unprocessed(
    session: Session,
    channel: str,
    limit: int = 500,
    after_id: int = 0,
    received_before: datetime | None = None,
) -> list[InboundLog]:
    """Updates stored but not processed (a crash came between), oldest first, after row `after_id`;
    only those received before `received_before` when given (older than any turn still running)."""
    query = select(InboundLog).where(
        InboundLog.channel == channel,
        col(InboundLog.processed_at).is_(None),
        col(InboundLog.id) > after_id,
    )
    if received_before is not None:
        query = query.where(col(InboundLog.received_at) < received_before)
    return list(session.exec(query.order_by(col(InboundLog.id)).limit(limit)).all())


def close(session: Session, channel: str, update_ids: list[str], now: datetime, error: str = "") -> int:
    """Mark stored updates as done without a turn: ignored ones (no error), or ones set aside because
    they cannot be parsed or handled (with the reason), so no restart replays them; returns how many."""
    if not update_ids:
        return 0
    result = session.exec(
        update(InboundLog)
        .where(
            col(InboundLog.channel) == channel,
            col(InboundLog.update_id).in_(update_ids),
            col(InboundLog.processed_at).is_(None),
        )
        .values(processed_at=now, error=error[:200])
    )
    return int(result.rowcount or 0)


@dataclass(frozen=True, slots=True)
class Backlog:
    """What a channel has stored but not processed: how many, and since when."""

    count: int
    oldest: datetime | None


def backlog(session: Session, channel: str) -> Backlog:
    """The channel's stored-but-unprocessed updates (the processed_at index serves it)."""
    row = session.exec(
        select(func.count(), func.min(InboundLog.received_at)).where(
            InboundLog.channel == channel, col(InboundLog.processed_at).is_(None)
        )
    ).one()
    return Backlog(int(row[0]), row[1])
