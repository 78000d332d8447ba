"""Fill a database with Telegram recipients and one outbox row each, fast (bulk statements), and read back
what became of the rows: for the broadcast tests and `bench/broadcast.py`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from db import outbox
from db.models import Identity, Outbox, Person

TEMPLATE = "common.idle"  # a short text with an empty context


def add_recipients(sessions: sessionmaker[Session], chat_ids: Iterable[int], now: datetime) -> list[int]:
    """Create one person with a Telegram identity (chat id = user id) per chat; returns the person ids."""
    chats = list(chat_ids)
    with sessions() as session:
        people = session.scalars(
            insert(Person).returning(Person.id, sort_by_parameter_order=True),  # type: ignore[call-overload]
            [{"name": f"居民{chat}", "phone": "", "locale": "zh_CN", "created_at": now} for chat in chats],
        ).all()
        session.execute(
            insert(Identity),
            [
                {
                    "channel": "telegram",
                    "external_id": str(chat),
                    "chat_id": str(chat),
                    "person_id": person,
                    "display_name": "",
                    "unreachable": False,
                }
                for chat, person in zip(chats, people, strict=True)
            ],
        )
        session.commit()
    return list(people)


def queue(
    sessions: sessionmaker[Session],
    person_ids: Iterable[int],
    now: datetime,
    template: str = TEMPLATE,
    context: dict[str, Any] | None = None,
) -> None:
    """One pending outbox row per person, in one statement (as a broadcast writes them)."""
    rows = [{"person_id": person} for person in person_ids]
    with sessions() as session:
        outbox.enqueue_many(session, rows, template=template, context=context or {}, created_at=now)
        session.commit()


def statuses(sessions: sessionmaker[Session]) -> Counter[str]:
    """How many outbox rows are in each status."""
    with sessions() as session:
        rows = session.execute(select(Outbox.status, func.count()).group_by(Outbox.status)).all()  # type: ignore[arg-type]
    return Counter({status: count for status, count in rows})


def unreachable_chats(sessions: sessionmaker[Session]) -> set[int]:
    """Chat ids of Telegram identities marked unreachable."""
    with sessions() as session:
        rows = session.execute(
            select(Identity.chat_id).where(Identity.channel == "telegram", Identity.unreachable.is_(True))  # type: ignore[attr-defined]
        ).all()
    return {int(chat) for (chat,) in rows}
