"""The outbox: pushes to people, written with the change that caused them and sent afterwards.

A row is pending until a dispatcher leases it (claimed_until), sends it, and marks it sent. A dispatcher
that dies mid-send leaves its lease to run out, and the row is sent again: only messages in flight at
the crash can arrive twice, and nothing is lost. Two dispatchers never hold the same row at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from db.models import Outbox
from db.rows import table_of

MAX_ATTEMPTS = 5
TABLE = table_of(Outbox)
_WAITING = "linli.pushes_waiting"  # set on a session that queued pushes; the committer wakes the sender


def pushes_waiting(session: Session) -> bool:
    """Whether this transaction queued pushes for others (read once, after commit, to wake the sender)."""
    return bool(session.info.pop(_WAITING, False))


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
    notice_id: int | None = None,
) -> None:
    """Queue a message for a person in the current transaction."""
    session.info[_WAITING] = True
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
            notice_id=notice_id,
        )
    )


def enqueue_many(session: Session, rows: list[dict[str, Any]], **shared: Any) -> None:
    """Queue many messages in one statement (a broadcast).

    Each row holds what differs between the messages (at least `person_id`); `shared` the columns they
    have in common (template, context, buttons, created_at, not_before …), which a row may override. A
    new message is pending, not yet tried, not urgent and without buttons unless told otherwise."""
    if rows:
        session.connection().execute(TABLE.insert().values(**{**_NEW, **shared}), rows)
        session.info[_WAITING] = True


_NEW: dict[str, Any] = {"status": "pending", "attempts": 0, "error": "", "urgent": False, "buttons": []}


def enqueue_replies(
    session: Session,
    person_id: int,
    identity_id: int,
    messages: list[dict[str, Any]],
    now: datetime,
    leased_until: datetime,
) -> list[int]:
    """Write a turn's answers to one account, already leased to the turn's own sender until
    `leased_until`; returns their ids in order. Should the sender die first, a dispatcher sends them."""
    connection = session.connection()
    return [
        connection.execute(
            _REPLY,
            {
                "person_id": person_id,
                "identity_id": identity_id,
                "rendered": message,
                "created_at": now,
                "claimed_until": leased_until,
            },
        ).scalar_one()
        for message in messages
    ]


# A turn's answer is stored rendered (`rendered`), so its template and context stay empty; it goes first.
_REPLY = TABLE.insert().values({**_NEW, "template": "", "context": {}, "urgent": True}).returning(TABLE.c.id)


def prune_replies(session: Session, before: datetime) -> int:
    """Delete turns' answers that were settled (sent, unreachable, failed) before `before`: the chat
    itself is their record, and they hold what residents wrote."""
    result = session.exec(
        delete(Outbox).where(
            col(Outbox.identity_id).is_not(None),
            col(Outbox.status) != "pending",
            col(Outbox.created_at) < before,
        )
    )
    return int(result.rowcount or 0)


def _due_ids(now: datetime, limit: int, skip_locked: bool, urgent: bool) -> Any:
    # One urgency at a time: the index (status, urgent, id) then gives the rows in id order, where
    # ORDER BY urgent DESC, id would sort every pending row of a broadcast on each claim.
    query = (
        sa_select(TABLE.c.id)
        .where(
            TABLE.c.status == "pending",
            TABLE.c.urgent == urgent,
            or_(TABLE.c.not_before.is_(None), TABLE.c.not_before <= now),
            or_(TABLE.c.claimed_until.is_(None), TABLE.c.claimed_until <= now),
        )
        .order_by(TABLE.c.id)
        .limit(limit)
    )
    return query.with_for_update(skip_locked=True) if skip_locked else query


def _due(session: Session, now: datetime, limit: int, skip_locked: bool) -> list[int]:
    """Ids of up to `limit` due rows, urgent first, then oldest."""
    connection = session.connection()
    ids = [row.id for row in connection.execute(_due_ids(now, limit, skip_locked, True))]
    if len(ids) < limit:
        ids += [row.id for row in connection.execute(_due_ids(now, limit - len(ids), skip_locked, False))]
    return ids


def claim(session: Session, now: datetime, limit: int, lease: timedelta) -> list[Outbox]:
    """Lease up to `limit` due rows, urgent first, then oldest; rows another dispatcher holds are skipped."""
    ids = _due(session, now, limit, session.get_bind().dialect.name == "postgresql")
    if not ids:
        return []
    taken = session.exec(
        update(Outbox)
        .where(
            col(Outbox.id).in_(ids),
            col(Outbox.status) == "pending",
            or_(col(Outbox.claimed_until).is_(None), col(Outbox.claimed_until) <= now),
        )
        .values(claimed_until=now + lease)
        .returning(Outbox),
        execution_options={"synchronize_session": False},
    )
    rows = list(taken.scalars().all())
    return sorted(rows, key=lambda r: (not r.urgent, r.id or 0))


_SENT = (
    update(TABLE)
    .where(TABLE.c.id == bindparam("b_id"))
    .values(status="sent", sent_at=bindparam("b_now"), claimed_until=None, error="")
)


def mark_sent(session: Session, ids: Iterable[int], now: datetime) -> None:
    """Record rows as sent (one executemany)."""
    params = [{"b_id": i, "b_now": now} for i in ids]
    if params:
        session.connection().execute(_SENT, params)


def mark_status(session: Session, outbox_id: int, status: str, error: str = "") -> None:
    """Close a row for good: unreachable, failed or cancelled, with the reason."""
    session.exec(
        update(Outbox)
        .where(col(Outbox.id) == outbox_id)
        .values(status=status, error=error[:200], claimed_until=None)
    )


def retry_later(session: Session, outbox_id: int, attempts: int, until: datetime, error: str) -> None:
    """Count a failed attempt; try again after `until`, or give up after MAX_ATTEMPTS."""
    done = attempts + 1 >= MAX_ATTEMPTS
    session.exec(
        update(Outbox)
        .where(col(Outbox.id) == outbox_id)
        .values(
            attempts=attempts + 1,
            error=error[:200],
            claimed_until=None if done else until,
            status="failed" if done else "pending",
        )
    )


def defer(session: Session, outbox_id: int, until: datetime) -> None:
    """Hold a row back until `until` without counting an attempt (its chat's budget is spent)."""
    session.exec(update(Outbox).where(col(Outbox.id) == outbox_id).values(claimed_until=until))


def release(session: Session, ids: Iterable[int]) -> None:
    """Give leased rows back without counting an attempt (the channel asked us to wait)."""
    ids = list(ids)
    if ids:
        session.exec(update(Outbox).where(col(Outbox.id).in_(ids)).values(claimed_until=None))


def cancel_pending(session: Session, notice_id: int, now: datetime) -> int:
    """Cancel what of a notice has not gone out yet; rows being sent right now are left to finish."""
    result = session.exec(
        update(Outbox)
        .where(
            col(Outbox.notice_id) == notice_id,
            col(Outbox.status) == "pending",
            or_(col(Outbox.claimed_until).is_(None), col(Outbox.claimed_until) <= now),
        )
        .values(status="cancelled")
    )
    return int(result.rowcount or 0)
