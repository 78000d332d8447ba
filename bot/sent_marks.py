"""Answers that have left, waiting to be marked sent in the next transaction this process runs anyway.

A turn's answers are committed with the turn, leased to the process that sends them. Marking them sent
in a transaction of their own would cost every update a third transaction and a third thread hop; instead
the marks ride along with the next intake store or the dispatcher's next lease (every few seconds at
most), long before the lease runs out. A crash before then sends those answers once more when the lease
runs out, as a crash between commit and send always could: twice, never zero times.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlmodel import Session

from db import outbox


class SentMarks:
    """Outbox row ids sent and not yet marked; shared by the turns and the dispatcher of one process."""

    def __init__(self) -> None:
        self._ids: list[int] = []
        self._lock = threading.Lock()  # turns and transactions run in worker threads

    def add(self, ids: Iterable[int]) -> None:
        """Note rows that have left."""
        with self._lock:
            self._ids.extend(ids)

    def __len__(self) -> int:
        return len(self._ids)

    @contextmanager
    def written(self, session: Session, now: datetime) -> Iterator[None]:
        """Mark the waiting rows sent in this session's transaction, which the caller commits inside the
        block; should it fail, the rows wait for the next one."""
        with self._lock:
            ids, self._ids = self._ids, []
        try:
            if ids:
                outbox.mark_sent(session, ids, now)
            yield
        except BaseException:
            self.add(ids)
            raise
