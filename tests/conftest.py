"""Shared fixtures: a migrated database per test (SQLite, or PostgreSQL when asked), the app, users."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.bootstrap import App, build
from bot.clock import FixedClock
from bot.demo import load_demo
from bot.runner import prepare
from bot.settings import load_settings
from db.migrate import upgrade
from tests.support.chat import ChatUser
from tests.support.cli import env  # noqa: F401  (a fixture: the CLI's clean environment)

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# Explicit keys, as PostgreSQL requires them (at least 32 characters each).
TEST_KEYS = {
    "SECRET_KEY": "test-key-that-signs-web-sessions-0001",
    "BALLOT_KEY": "test-key-for-secret-ballots-0000001",
}


def postgres_available() -> str | None:
    """None when PostgreSQL answers at 127.0.0.1:5432, else the reason it does not."""
    try:
        import psycopg

        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", connect_timeout=2):
            return None
    except Exception as exc:
        return f"PostgreSQL at 127.0.0.1:5432 does not answer: {str(exc).splitlines()[0][:120]}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per test run; each test gets a copy (migrating every time is slow)."""
    path = tmp_path_factory.mktemp("template") / "linli.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh migrated SQLite database for one test."""
    target = tmp_path / "linli.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """A fresh, empty (unmigrated) PostgreSQL database for one test, dropped afterwards; skips when
    PostgreSQL does not answer."""
    reason = postgres_available()
    if reason:
        pytest.skip(reason)
    import psycopg

    name = f"linli_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(empty_postgres: str) -> str:
    """A fresh migrated PostgreSQL database for one test, dropped afterwards; skips when unreachable."""
    upgrade(empty_postgres)
    return empty_postgres


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Run a test on SQLite, and again on PostgreSQL when it answers."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def clock() -> FixedClock:
    """A clock the test moves by hand."""
    return FixedClock()


def make_app(
    url: str, tmp_path: Path, clock: FixedClock, telegram_request: object = None, **overrides: object
) -> App:
    """An assembled app on the given database with the demo organisation loaded."""
    values: dict[str, object] = {"LINLI_VAR_DIR": tmp_path / "var", "DATABASE_URL": url, **TEST_KEYS}
    settings = load_settings(**(values | overrides))
    app = build(settings, clock=clock, telegram_request=telegram_request)
    if settings.embedded:
        prepare(app)
    else:  # PostgreSQL never runs the demo (prepare retires its codes), but its org is the tests' data
        with app.sessions() as session:
            load_demo(session, clock.now())
            session.commit()
    return app


@pytest.fixture(scope="session")
def demo_template(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file with the demo organisation loaded, per test run: loading it costs more
    than most tests, and every `app` starts from it."""
    folder = tmp_path_factory.mktemp("demo")
    path = folder / "linli.db"
    shutil.copy(sqlite_template, path)
    make_app(f"sqlite:///{path}", folder, FixedClock()).engine.dispose()
    return path


@pytest.fixture
def app(sqlite_url: str, demo_template: Path, tmp_path: Path, clock: FixedClock) -> Iterator[App]:
    """The app on a fresh SQLite database with the demo org (a copy of the demo template, at the path
    `sqlite_url` names, so a test that asks for both sees one database)."""
    shutil.copy(demo_template, tmp_path / "linli.db")
    application = make_app(sqlite_url, tmp_path, clock)
    yield application
    application.engine.dispose()


@pytest.fixture
def any_app(db_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[App]:
    """The app on SQLite and, when it answers, on PostgreSQL."""
    application = make_app(db_url, tmp_path, clock)
    yield application
    application.engine.dispose()


@pytest.fixture
def owner(app: App) -> ChatUser:
    """A resident who joined with the demo owner invite."""
    user = ChatUser(app.service, "owner-1", name="王芳")
    user.say("/start DEMO-OWNER")
    return user


@pytest.fixture
def neighbour(app: App) -> ChatUser:
    """Another owner in the same building (1栋), a different home."""
    user = ChatUser(app.service, "owner-2", name="李强")
    user.say("/start DEMO-OWNER2")
    return user


@pytest.fixture
def worker(app: App) -> ChatUser:
    """The grid worker of 英雄社区第一网格 (which covers 阳光花园 1栋, 2栋, 3栋)."""
    user = ChatUser(app.service, "grid-1", name="刘网格")
    user.say("/start DEMO-GRID")
    return user


@pytest.fixture
def staff(app: App) -> ChatUser:
    """Community staff of 英雄社区."""
    user = ChatUser(app.service, "staff-1", name="张主任")
    user.say("/start DEMO-STAFF")
    return user
