"""A person's own settings for the pages they use: the web chat's 大字 (larger text) switch."""

from __future__ import annotations

from sqlmodel import Session

from db.models import Person


def large_text(session: Session, person_id: int) -> bool:
    """Whether the person asked for larger text on the web page."""
    person = session.get(Person, person_id)
    return bool(person and person.large_text)


def set_large_text(session: Session, person_id: int, on: bool) -> bool:
    """Remember the person's 大字 switch (in the caller's transaction); False when there is no such person."""
    person = session.get(Person, person_id)
    if person is None:
        return False
    person.large_text = on
    session.add(person)
    return True
