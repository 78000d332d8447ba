"""The `linli` command run in the test's own process, as an operator would type it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main

SETTINGS = (
    "DATABASE_URL",
    "LINLI_VAR_DIR",
    "WEB_PORT",
    "WEB_HOST",
    "TIME_ZONE",
    "DEFAULT_LOCALE",
    "TELEGRAM_BOT_TOKEN",
    "LINLI_DEMO",
    "SECRET_KEY",
    "BALLOT_KEY",
)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str) -> dict[str, str]:
    """A clean environment for the CLI: a fresh migrated SQLite database, no `.env` in the directory."""
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    values = {"LINLI_VAR_DIR": str(tmp_path / "var"), "DATABASE_URL": sqlite_url}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run `linli ARGV` in this process; returns (exit status, stdout, stderr)."""
    try:
        status = main(argv)
    except SystemExit as exc:
        status = int(exc.code or 0)
    out, err = capsys.readouterr()
    return status, out, err
