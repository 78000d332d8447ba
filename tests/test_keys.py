"""Two keys: SECRET_KEY signs web chat sessions, BALLOT_KEY seals and encrypts secret ballots.

Rotating the session key signs people out of the web chat and nothing else; on SQLite both keys may be
generated into the var directory (an install from before BALLOT_KEY keeps its ballots countable); with
PostgreSQL both must be given, and a missing or weak key stops the start with one line.
"""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot.bootstrap import App
from bot.cli import main
from bot.clock import FixedClock
from bot.settings import load_settings
from tests.conftest import make_app
from tests.test_poll_schedule import advance, announce, get_poll, join, vote

ROOT = Path(__file__).resolve().parents[1]
LINLI = Path(sys.executable).parent / "linli"
PG = "postgresql://postgres@127.0.0.1:9/nowhere"  # never reached: the settings stop the start first
SETTINGS = ("DATABASE_URL", "LINLI_VAR_DIR", "SECRET_KEY", "BALLOT_KEY", "LINLI_DEMO", "TELEGRAM_BOT_TOKEN")


def _open_secret_poll(app: App, clock: FixedClock) -> tuple[int, int, int]:
    """A changeable secret poll, open, with two owners who voted yes and no; (poll, owner, neighbour)."""
    owner, neighbour = join(app, "o1", "DEMO-OWNER"), join(app, "o2", "DEMO-OWNER2")
    poll_id = announce(app, None, timedelta(days=15), timedelta(days=7), changeable=True, secret=True)
    clock.advance(days=15)
    assert advance(app)["opened"] == 1
    vote(app, poll_id, owner, "yes")
    vote(app, poll_id, neighbour, "no")
    return poll_id, owner, neighbour


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_rotating_the_session_key_leaves_an_open_secret_poll_countable(
    db_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    first = make_app(db_url, tmp_path, clock)
    poll_id, _, neighbour = _open_secret_poll(first, clock)
    first.engine.dispose()

    rotated = make_app(db_url, tmp_path, clock, SECRET_KEY="a-new-session-key-after-a-leak-0042")
    try:
        assert rotated.settings.session_secret() != first.settings.session_secret()
        vote(rotated, poll_id, neighbour, "yes")  # the changeable ballot is still found by its seal
        clock.advance(days=7)
        assert advance(rotated)["closed"] == 1
        result = get_poll(rotated, poll_id).result
        assert result["ballots"] == 2 and result["participating_owners"] == 2
        (yes,) = result["approvals"]
        assert yes["owners"] == 2 and result["no_owners"] == 0
    finally:
        rotated.engine.dispose()


def test_an_sqlite_install_from_before_the_ballot_key_keeps_its_ballots_through_a_rotation(
    sqlite_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    var = tmp_path / "var"
    var.mkdir()
    old = secrets.token_urlsafe(32)
    (var / "secret_key").write_text(old)
    # Before BALLOT_KEY, ballots were sealed under the generated var/secret_key: the same key as this.
    before = make_app(sqlite_url, tmp_path, clock, SECRET_KEY="", BALLOT_KEY=old)
    poll_id, _, _ = _open_secret_poll(before, clock)
    before.engine.dispose()

    upgraded = make_app(sqlite_url, tmp_path, clock, SECRET_KEY="", BALLOT_KEY="")
    upgraded.engine.dispose()
    assert (var / "ballot_key").read_text() == old  # the ballots' key now lives on by itself
    assert _mode(var / "ballot_key") == 0o600

    (var / "secret_key").unlink()  # the operator rotates the session key
    rotated = make_app(sqlite_url, tmp_path, clock, SECRET_KEY="", BALLOT_KEY="")
    try:
        assert rotated.settings.session_secret() != old
        assert _mode(var / "secret_key") == 0o600
        clock.advance(days=7)
        assert advance(rotated)["closed"] == 1
        assert get_poll(rotated, poll_id).result["ballots"] == 2
    finally:
        rotated.engine.dispose()


def test_a_fresh_sqlite_install_generates_two_different_private_keys(tmp_path: Path) -> None:
    settings = load_settings(LINLI_VAR_DIR=tmp_path / "var", DATABASE_URL="", SECRET_KEY="", BALLOT_KEY="")
    session, ballot = settings.keep_keys()
    assert session != ballot and min(len(session), len(ballot)) >= 32
    for name in ("secret_key", "ballot_key"):
        assert _mode(tmp_path / "var" / name) == 0o600
    again = load_settings(LINLI_VAR_DIR=tmp_path / "var", DATABASE_URL="", SECRET_KEY="", BALLOT_KEY="")
    assert again.keep_keys() == (session, ballot)
    assert again.seal_key == settings.seal_key


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No settings from the environment or a `.env`."""
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("LINLI_VAR_DIR", str(tmp_path / "var"))


STRONG = "k3y-Wf9q-2xYz-Lm8p-Rt5v-Bn4c-Hj7d-0001"


@pytest.mark.parametrize("command", ["run", "migrate"])
@pytest.mark.parametrize(
    ("env", "setting", "says"),
    [
        ({"DATABASE_URL": PG}, "SECRET_KEY", "is required with PostgreSQL"),
        ({"DATABASE_URL": PG, "SECRET_KEY": STRONG}, "BALLOT_KEY", "is required with PostgreSQL"),
        ({"DATABASE_URL": PG, "BALLOT_KEY": STRONG}, "SECRET_KEY", "is required with PostgreSQL"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY", "at least 32 random characters"),
        ({"SECRET_KEY": "a" * 40}, "SECRET_KEY", "at least 32 random characters"),
    ],
)
def test_a_missing_or_weak_key_stops_the_start_with_one_line(
    command: str,
    env: dict[str, str],
    setting: str,
    says: str,
    clean_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    async def never(*_: object) -> None:
        raise AssertionError("the bot started")

    monkeypatch.setattr("bot.runner.serve", never)
    with pytest.raises(SystemExit) as stopped:
        main([command])
    out, err = capsys.readouterr()
    assert stopped.value.code == 2 and out == ""
    [line] = err.strip().splitlines()
    assert line.startswith(f"linli: setting {setting}: ") and says in line
    assert STRONG not in line


@pytest.mark.parametrize("name", ["secret_key", "ballot_key"])
def test_an_emptied_key_file_stops_the_start_with_one_line(
    name: str, clean_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    var = tmp_path / "var"
    var.mkdir()
    (var / name).write_text("\n")
    with pytest.raises(SystemExit) as stopped:
        main(["migrate"])
    assert stopped.value.code == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("linli: setting LINLI_VAR_DIR: ") and name in line
    assert not (var / "linli.db").exists()  # stopped before anything was created


def test_a_bad_key_gives_no_traceback_from_the_installed_command(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    environ |= {"PYTHONPATH": str(ROOT), "LINLI_VAR_DIR": str(tmp_path / "var"), "DATABASE_URL": PG}
    result = subprocess.run(
        [str(LINLI), "run"], capture_output=True, text=True, env=environ, cwd=tmp_path, timeout=60
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("linli: setting SECRET_KEY: is required with PostgreSQL")
    assert result.stdout == ""


def test_an_older_short_ballot_key_carries_over_and_a_wrong_one_stops_the_start(
    sqlite_url: str,
    tmp_path: Path,
    clock: FixedClock,
    clean_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    legacy = "oldshortkey-2023"  # what an install before the strength check may have used
    app = make_app(sqlite_url, tmp_path, clock, BALLOT_KEY=legacy)
    poll_id, _, _ = _open_secret_poll(app, clock)
    app.engine.dispose()

    async def served(*_: object) -> None:
        return None

    monkeypatch.setattr("bot.runner.serve", served)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("LINLI_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("BALLOT_KEY", legacy)
    assert main(["run"]) == 0  # accepted: the poll's ballots were sealed with it
    monkeypatch.setenv("BALLOT_KEY", "a-brand-new-ballot-key-by-mistake-0001")
    assert main(["run"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("linli: setting BALLOT_KEY: ") and f"#{poll_id}" in line
