"""The access token of a platform (WeChat, WeCom), shared by every process through the database.

A token lasts about two hours and each fetch may invalidate the last one, so the processes must not
fetch one each: the first that finds it stale takes a lease and fetches, the others wait and read it."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.clock import Clock
from db import tokens

log = logging.getLogger(__name__)
Fetch = Callable[[bool], tuple[str, int]]  # force → (token, seconds it lasts)
MARGIN = timedelta(minutes=5)  # refreshed this long before it runs out: a call in flight still works
# Longer than a fetch takes; a process that dies holding it delays the others this long.
LEASE = timedelta(seconds=30)
WAIT = 15.0  # seconds a process waits for another one's fetch before giving up on this call


class TokenUnavailable(Exception):
    """No token could be had: the platform refused the credentials or did not answer."""


class SharedToken:
    """One platform's access token: kept in memory while valid, refreshed once for all processes."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        name: str,
        fetch: Fetch,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.name = name
        self.fetch = fetch
        self.sleep = sleep
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(4)}"
        self._cached: tokens.Stored | None = None
        self._force = False  # the platform refused the stored token: the next fetch must replace it
        self._lock = threading.Lock()  # one fetch per process: the other threads read what it got

    def _fresh(self, stored: tokens.Stored | None, now: datetime) -> bool:
        return bool(stored and stored.token and stored.expires_at and stored.expires_at - MARGIN > now)

    def get(self) -> str:
        """A valid access token (blocking: call it from a worker thread)."""
        cached = self._cached
        if self._fresh(cached, self.clock.now()):
            assert cached is not None  # _fresh says so
            return cached.token
        with self._lock:
            return self._get_locked()

    def _get_locked(self) -> str:
        deadline = time.monotonic() + WAIT
        while True:
            now = self.clock.now()
            with self.sessions() as session:
                stored = tokens.read(session, self.name)
                if self._fresh(stored, now):
                    assert stored is not None
                    self._cached = stored
                    self._force = False  # whoever refreshed it replaced the refused token
                    return stored.token
                leased = tokens.take_lease(session, self.name, self.owner, now, LEASE, now + MARGIN)
                session.commit()
            if leased:
                return self._refresh()
            if time.monotonic() > deadline:
                raise TokenUnavailable(f"{self.name}: another process holds the refresh and has not finished")
            self.sleep(0.2)

    def _refresh(self) -> str:
        try:
            token, lasts = self.fetch(self._force)
        except Exception as exc:
            with self.sessions() as session:
                tokens.release(session, self.name, self.owner)
                session.commit()
            raise TokenUnavailable(f"{self.name}: {exc}") from exc
        expires_at = self.clock.now() + timedelta(seconds=max(60, lasts))
        with self.sessions() as session:
            tokens.save(session, self.name, self.owner, token, expires_at)
            session.commit()
        self._force = False
        self._cached = tokens.Stored(token, expires_at)
        log.info("%s: access token refreshed, valid for %d s", self.name, lasts)
        return token

    def invalidate(self, bad: str) -> None:
        """The platform refused `bad` (40001, 42001, 40014): the next `get` fetches a new one, unless
        another process has already replaced it."""
        cached = self._cached
        if cached is not None and cached.token == bad:
            self._cached = None
        with self.sessions() as session:
            if tokens.invalidate(session, self.name, bad):
                self._force = True
            session.commit()
