"""What every turn reads first: the person behind the account (created on first contact), locked for the
turn, and their conversation state, in as few statements as the database allows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from db import conversations, people
from db.conversations import State
from db.models import Person
from db.people import Who
from db.rows import table_of

_PERSON = table_of(Person)
_STATE = conversations.TABLE

# PostgreSQL: found and locked in one statement (FOR NO KEY UPDATE, as `people.lock_person`); the state is
# read only once the lock is held, so it is what the person's previous turn committed.
_WHO_LOCKED = (
    select(*people.WHO_COLUMNS)
    .select_from(people.WHO_FROM)
    .where(*people.WHO_WHERE)
    .with_for_update(key_share=True, of=_PERSON)
)
# SQLite: BEGIN IMMEDIATE already holds the one write lock, so the state comes with the person.
_WHO_AND_STATE = (
    select(
        *people.WHO_COLUMNS,
        _STATE.c.person_id.label("state_of"),
        _STATE.c.flow,
        _STATE.c.step,
        _STATE.c.data,
        _STATE.c.parked,
    )
    .select_from(people.WHO_FROM.outerjoin(_STATE, _STATE.c.person_id == _PERSON.c.id))
    .where(*people.WHO_WHERE)
)


def begin(
    session: Session,
    channel: str,
    external_id: str,
    chat_id: str,
    display_name: str,
    locale: str,
    now: datetime,
) -> tuple[Who, State]:
    """The person behind a channel account, their row locked until the transaction ends (their turns run
    one at a time in every process), and their saved conversation state."""
    connection = session.connection()
    params = {"b_channel": channel, "b_external_id": external_id}
    if connection.dialect.name == "postgresql":
        row = connection.execute(_WHO_LOCKED, params).first()
        if row is not None:
            who = people.known(connection, row, channel, chat_id)
            return who, conversations.load_state(session, who.person_id)
    else:
        both = connection.execute(_WHO_AND_STATE, params).first()
        if both is not None:
            who = people.known(connection, both, channel, chat_id)
            if both.state_of is None:
                return who, State()
            return who, State(
                both.flow, both.step, dict(both.data or {}), dict(both.parked or {}), stored=True
            )
    # First contact (or another process created the account a moment ago): the long way.
    who = people.create_person(connection, channel, external_id, chat_id, display_name, locale, now)
    people.lock_person(session, who.person_id)
    return who, conversations.load_state(session, who.person_id)
