"""The engine and sessions; SQLite gets WAL and a busy timeout so the web and the bot share it."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session


def make_engine(url: str, **kw: Any) -> Engine:
    """Build an engine for a database URL (SQLite file or PostgreSQL); connects lazily."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"check_same_thread": False, "timeout": BUSY_SECONDS, "factory": _writer_factory()}
        engine = create_engine(url, connect_args=connect_args, **kw)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    return create_engine(url, pool_pre_ping=True, **kw)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # The driver's own transaction handling is off so that BEGIN IMMEDIATE below takes the write lock
    # up front: read-then-write transactions then queue instead of failing with "database is locked".
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    dbapi_conn = conn.connection.dbapi_connection
    if isinstance(dbapi_conn, _Writer):
        dbapi_conn.take_turn()
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        if isinstance(dbapi_conn, _Writer):
            dbapi_conn.give_turn()
        raise


BUSY_SECONDS = 30


class _Writer(sqlite3.Connection):
    """A connection whose transactions (all BEGIN IMMEDIATE, so all writers) take turns on a lock
    shared by the engine's connections before they ask SQLite for its write lock.

    SQLite makes a writer that finds the database locked sleep and try again (up to 100 ms a time), so
    under many concurrent transactions the lock is often free while every waiter sleeps; a thread waiting
    on this lock instead starts the moment the previous transaction ends. Other processes on the same
    file still queue through SQLite's busy timeout."""

    turns: threading.Lock

    def take_turn(self) -> None:
        """Wait for this process's other transactions on the database (as long as SQLite would)."""
        if not self.turns.acquire(timeout=BUSY_SECONDS):
            raise sqlite3.OperationalError("database is locked")
        self._holding = True

    def give_turn(self) -> None:
        """The transaction is over: the next one may start."""
        if getattr(self, "_holding", False):
            self._holding = False
            self.turns.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            if not self.in_transaction:
                self.give_turn()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.give_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.give_turn()


def _writer_factory() -> type[_Writer]:
    # One lock per engine: each engine is one database.
    return type("Writer", (_Writer,), {"turns": threading.Lock()})


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A factory of SQLModel sessions bound to the engine; objects stay readable after commit."""
    return sessionmaker(engine, class_=Session, expire_on_commit=False)
