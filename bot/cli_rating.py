"""`linli rating`: the half-year's evaluation of property companies as a table or CSV (DESIGN §4.5)."""

from __future__ import annotations

import argparse
from typing import Any


def add_rating(sub: Any) -> None:
    """Register the subcommand on the `linli` parser's subparsers."""
    del sub  # registered once the part is built


def _unused(args: argparse.Namespace) -> int:
    return 0
