"""WeChat's and WeCom's access tokens are shared by every process: one fetch per expiry, never one each."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from bot.clock import FixedClock
from bot.platform_tokens import SharedToken, TokenUnavailable
from db import tokens
from db.engine import make_engine, session_factory


class Platform:
    """Issues numbered tokens and counts the fetches; a force fetch is noted."""

    def __init__(self) -> None:
        self.issued: list[tuple[str, bool]] = []
        self.lock = threading.Lock()
        self.down = False

    def fetch(self, force: bool) -> tuple[str, int]:
        if self.down:
            raise ConnectionError("the platform does not answer")
        with self.lock:
            token = f"token-{len(self.issued) + 1}"
            self.issued.append((token, force))
        return token, 7200


def two_processes(db_url: str, clock: FixedClock, platform: Platform) -> tuple[SharedToken, SharedToken]:
    """Two token holders on one database, as two processes would have (each with its own engine)."""
    first = SharedToken(session_factory(make_engine(db_url)), clock, "wechat:wx1", platform.fetch)
    second = SharedToken(session_factory(make_engine(db_url)), clock, "wechat:wx1", platform.fetch)
    return first, second


def test_two_processes_share_one_token_until_it_runs_out(db_url: str) -> None:
    clock, platform = FixedClock(), Platform()
    first, second = two_processes(db_url, clock, platform)
    assert first.get() == "token-1"
    assert second.get() == "token-1"  # read from the database, not fetched again
    clock.advance(minutes=100)
    assert second.get() == "token-1"  # still 20 minutes left
    clock.advance(minutes=16)  # under five minutes left: refreshed once, for both
    assert second.get() == "token-2"
    assert first.get() == "token-2"
    assert [token for token, _ in platform.issued] == ["token-1", "token-2"]


def test_a_refused_token_is_replaced_once_with_a_forced_fetch(db_url: str) -> None:
    clock, platform = FixedClock(), Platform()
    first, second = two_processes(db_url, clock, platform)
    bad = first.get()
    second.get()
    first.invalidate(bad)
    second.invalidate(bad)  # both processes were refused the same token at once
    assert first.get() == "token-2"
    assert second.get() == "token-2"
    assert platform.issued == [("token-1", False), ("token-2", True)]


def test_many_threads_fetch_once(db_url: str) -> None:
    clock, platform = FixedClock(), Platform()
    first, second = two_processes(db_url, clock, platform)
    got: list[str] = []
    threads = [threading.Thread(target=lambda h=h: got.append(h.get())) for h in (first, second) * 8]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(got) == {"token-1"}
    assert len(platform.issued) == 1


def test_a_failed_fetch_lets_the_next_call_try_again(db_url: str) -> None:
    clock, platform = FixedClock(), Platform()
    first, second = two_processes(db_url, clock, platform)
    platform.down = True
    with pytest.raises(TokenUnavailable):
        first.get()
    platform.down = False
    assert second.get() == "token-1"  # the lease was let go: no 30-second wait for the other process


def test_a_process_that_died_holding_the_lease_delays_the_others_only_until_it_runs_out(db_url: str) -> None:
    clock, platform = FixedClock(), Platform()
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    with sessions() as session:  # a process took the lease and was killed before it stored a token
        now = clock.now()
        assert tokens.take_lease(session, "wechat:wx1", "dead", now, timedelta(seconds=30), now)
        session.commit()
    waited: list[float] = []

    def sleep(seconds: float) -> None:  # the clock moves while this process waits
        waited.append(seconds)
        clock.advance(seconds=10)

    holder = SharedToken(sessions, clock, "wechat:wx1", platform.fetch, sleep=sleep)
    assert holder.get() == "token-1"
    assert 1 <= len(waited) <= 4


def test_a_process_that_read_a_stale_token_does_not_refresh_it_again_once_another_has(db_url: str) -> None:
    # B read the stale token; A then refreshed it and let go of the lease; B must not fetch a second one
    # (with WeChat's stable token a forced second fetch would cancel A's).
    clock, platform = FixedClock(), Platform()
    first, second = two_processes(db_url, clock, platform)
    first.get()
    clock.advance(hours=2)
    now = clock.now()
    assert first.get() == "token-2"  # A refreshed while B was between its read and its lease
    with second.sessions() as session:
        assert not tokens.take_lease(session, "wechat:wx1", "B", now, timedelta(seconds=30), now)
        session.commit()
    assert second.get() == "token-2"
    assert len(platform.issued) == 2


def test_a_refused_token_forces_one_fetch_not_every_later_one(db_url: str) -> None:
    clock, platform = FixedClock(), Platform()
    first, second = two_processes(db_url, clock, platform)
    bad = first.get()
    second.get()
    first.invalidate(bad)
    second.invalidate(bad)
    assert first.get() == second.get() == "token-2"
    clock.advance(hours=2)  # the ordinary refresh two hours later is not a forced one
    second.get()
    assert platform.issued == [("token-1", False), ("token-2", True), ("token-3", False)]
