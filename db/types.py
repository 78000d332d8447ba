"""Column types shared by the tables."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

MAX_ID = 2**31 - 1  # the largest id an INTEGER column holds on PostgreSQL; input beyond it names nothing


def parse_id(value: str) -> int | None:
    """An id (1 to MAX_ID) from button data or typed text, or None when it is not one."""
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        return None
    number = int(value)
    # Beyond MAX_ID it cannot be a row, and PostgreSQL would refuse the query (integer out of range).
    return number if 0 < number <= MAX_ID else None


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always returns them aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
