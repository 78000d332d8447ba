"""Scratch databases for the benches: a migrated SQLite file or PostgreSQL database, dropped afterwards."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from db.migrate import upgrade

PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"


def pg_reason() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        import psycopg

        with psycopg.connect(PG_DSN, connect_timeout=2):
            return None
    except Exception as exc:
        return str(exc).splitlines()[0][:120]


@contextmanager
def database(backend: str) -> Iterator[str]:
    """A fresh, migrated, empty database URL, removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="linli-bench-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            upgrade(url)
            yield url
        return
    import psycopg

    name = f"linli_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sqlite_value(value: Any) -> Any:
    """A value as SQLAlchemy stores it in SQLite, for rows inserted straight through the driver."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


def copy_value(value: Any) -> str:
    """A value as PostgreSQL's COPY text format reads it (the benches' texts hold no tab, newline or
    backslash)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


CHUNK = 50_000  # rows per executemany or COPY write


def load_tickets(
    engine: Engine,
    columns: Sequence[str],
    keys: Iterable[Any],
    row_of: Callable[[Any], dict[str, Any]],
    cache: bool = True,
    after: Sequence[str] = (),
) -> None:
    """Bulk-insert ticket rows straight through the driver, then refresh the planner's statistics.

    Each key gives a row (`row_of`); with `cache` the rows come in a few shapes, each converted to the
    driver's form once and reused. Foreign keys are not checked row by row (every id exists by
    construction) and the secondary indexes are dropped before the load and rebuilt after it from their own
    stored definitions; `after` statements run once the rows are in (e.g. timeline events for some)."""
    raw = engine.raw_connection()
    try:
        dbapi = raw.driver_connection
        if engine.dialect.name == "sqlite":
            _load_sqlite(dbapi, columns, keys, row_of, cache, after)
        else:
            _load_postgres(dbapi, columns, keys, row_of, cache, after)
    finally:
        raw.close()


def _load_sqlite(
    dbapi: Any,
    columns: Sequence[str],
    keys: Iterable[Any],
    row_of: Callable[[Any], dict[str, Any]],
    cache: bool,
    after: Sequence[str],
) -> None:
    insert = f"INSERT INTO ticket ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    dbapi.execute("PRAGMA foreign_keys=OFF")
    dbapi.execute("BEGIN")
    indexes = list(
        dbapi.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ticket'"
            " AND sql IS NOT NULL"
        )
    )
    for name, _ in indexes:
        dbapi.execute(f'DROP INDEX "{name}"')
    shaped: dict[Any, tuple[Any, ...]] = {}
    batch: list[tuple[Any, ...]] = []
    for key in keys:
        value = shaped.get(key) if cache else None
        if value is None:
            row = row_of(key)
            value = tuple(sqlite_value(row[c]) for c in columns)
            if cache:
                shaped[key] = value
        batch.append(value)
        if len(batch) >= CHUNK:
            dbapi.executemany(insert, batch)
            batch.clear()
    dbapi.executemany(insert, batch)
    for _, sql in indexes:
        dbapi.execute(sql)
    for sql in after:
        dbapi.execute(sql)
    dbapi.execute("COMMIT")
    dbapi.execute("PRAGMA foreign_keys=ON")
    dbapi.execute("ANALYZE")
    dbapi.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _load_postgres(
    dbapi: Any,
    columns: Sequence[str],
    keys: Iterable[Any],
    row_of: Callable[[Any], dict[str, Any]],
    cache: bool,
    after: Sequence[str],
) -> None:
    dbapi.execute("SET session_replication_role = replica")  # no per-row FK triggers: ids are valid
    indexes = dbapi.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i JOIN pg_class c ON c.relname = i.indexname"
        " JOIN pg_index x ON x.indexrelid = c.oid"
        " WHERE i.tablename = 'ticket' AND NOT x.indisprimary"
    ).fetchall()
    for name, _ in indexes:
        dbapi.execute(f'DROP INDEX "{name}"')
    shaped: dict[Any, bytes] = {}
    with dbapi.cursor() as cur, cur.copy(f"COPY ticket ({', '.join(columns)}) FROM STDIN") as copy:
        chunk: list[bytes] = []
        for key in keys:
            line = shaped.get(key) if cache else None
            if line is None:
                row = row_of(key)
                line = ("\t".join(copy_value(row[c]) for c in columns) + "\n").encode()
                if cache:
                    shaped[key] = line
            chunk.append(line)
            if len(chunk) >= CHUNK:
                copy.write(b"".join(chunk))
                chunk.clear()
        copy.write(b"".join(chunk))
    for _, sql in indexes:
        dbapi.execute(sql)
    for sql in after:
        dbapi.execute(sql)
    dbapi.execute("SET session_replication_role = DEFAULT")
    dbapi.commit()
    dbapi.autocommit = True
    dbapi.execute("VACUUM ANALYZE")
    dbapi.autocommit = False
