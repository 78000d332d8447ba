"""What every `linli` command shares: the settings or one line saying what is wrong, and argparse types."""

from __future__ import annotations

import argparse
import sys

from bot.settings import Settings, SettingsError, load_settings


def settings_or_exit() -> Settings:
    """The settings, or exit with status 2 and one line on stderr naming the bad setting."""
    try:
        settings = load_settings()
        if settings.embedded:
            settings.keep_keys()  # before any migration creates the database (see keep_keys)
        return settings
    except SettingsError as exc:
        print(f"linli: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except OSError as exc:
        print(f"linli: setting LINLI_VAR_DIR: cannot keep the keys there: {exc.strerror}", file=sys.stderr)
        raise SystemExit(2) from None


def positive(value: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number
