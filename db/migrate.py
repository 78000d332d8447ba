"""Apply Alembic migrations from code, so `linli migrate` and the tests use the same path."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from db.engine import make_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
LOCK_KEY = 0x6C696E6C69  # "linli": the advisory lock that one process at a time holds to set a database up


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at our migrations and the given database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@contextmanager
def exclusive(url: str) -> Iterator[None]:
    """Hold the set-up lock while the block runs, so processes starting together migrate and seed one
    after the other (PostgreSQL; SQLite's write lock already serialises them)."""
    engine = make_engine(url)
    try:
        if engine.dialect.name != "postgresql":
            yield
            return
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
                connection.commit()
    finally:
        engine.dispose()


def upgrade(url: str) -> None:
    """Bring the database at `url` to the newest schema (one process at a time)."""
    with exclusive(url):
        command.upgrade(alembic_config(url), "head")
