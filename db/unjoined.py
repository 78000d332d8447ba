"""Forgetting people who only looked: no home, no role, nothing filed, and silent for a while."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, delete, exists, not_, or_, select
from sqlmodel import Session, SQLModel

from db.models import Conversation, Identity, Mute, Person, WebMessage
from db.rows import table_of

_PERSON = table_of(Person)
_IDENTITY = table_of(Identity)
_CONVERSATION = table_of(Conversation)
_MUTE = table_of(Mute)
_WEB = table_of(WebMessage)
# What goes with a forgotten person; a row in any other table that refers to them keeps them.
_THEIRS = {_IDENTITY.name, _CONVERSATION.name, _MUTE.name, _WEB.name}


def _referrers(target: Table, skip: set[str]) -> list[tuple[Table, str]]:
    """Every (table, column) with a foreign key to `target`'s id, found in the models, not listed by hand."""
    found = []
    for table in SQLModel.metadata.sorted_tables:
        if table.name in skip:
            continue
        for column in table.columns:
            if any(fk.column.table is target for fk in column.foreign_keys):
                found.append((table, column.name))
    return found


def forgettable(session: Session, before: datetime, limit: int = 500) -> list[int]:
    """People who never joined and were last active before a moment (ids, oldest first, at most `limit`)."""
    identities = select(_IDENTITY.c.id).where(_IDENTITY.c.person_id == _PERSON.c.id)
    held = [exists().where(table.c[name] == _PERSON.c.id) for table, name in _referrers(_PERSON, _THEIRS)]
    held += [
        exists().where(table.c[name].in_(identities)) for table, name in _referrers(_IDENTITY, {_WEB.name})
    ]
    recent = [
        exists().where(_CONVERSATION.c.person_id == _PERSON.c.id, _CONVERSATION.c.updated_at >= before),
        exists().where(_WEB.c.identity_id.in_(identities), _WEB.c.created_at >= before),
    ]
    query = (
        select(_PERSON.c.id)
        .where(_PERSON.c.created_at < before, not_(or_(*held, *recent)))
        .order_by(_PERSON.c.id)
        .limit(limit)
    )
    return list(session.connection().execute(query).scalars())


def forget(session: Session, person_ids: list[int]) -> None:
    """Delete people with their identities, web messages, conversation and mutes (callers check they may)."""
    if not person_ids:
        return
    connection = session.connection()
    identities = select(_IDENTITY.c.id).where(_IDENTITY.c.person_id.in_(person_ids))
    connection.execute(delete(_WEB).where(_WEB.c.identity_id.in_(identities)))
    connection.execute(delete(_IDENTITY).where(_IDENTITY.c.person_id.in_(person_ids)))
    connection.execute(delete(_CONVERSATION).where(_CONVERSATION.c.person_id.in_(person_ids)))
    connection.execute(delete(_MUTE).where(_MUTE.c.person_id.in_(person_ids)))
    connection.execute(delete(_PERSON).where(_PERSON.c.id.in_(person_ids)))


def forget_unjoined(session: Session, before: datetime, batch: int = 500) -> int:
    """Forget everyone who never joined and was last active before a moment; returns how many."""
    total = 0
    while ids := forgettable(session, before, batch):
        forget(session, ids)
        total += len(ids)
        if len(ids) < batch:
            break
    return total
