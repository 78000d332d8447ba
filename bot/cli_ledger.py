"""`linli ledger`: file a compound's statement of accounts from a YAML or CSV file (DESIGN §4.4)."""

from __future__ import annotations

import argparse
from typing import Any


def add_ledger(sub: Any) -> None:
    """Register the subcommand on the `linli` parser's subparsers."""
    del sub  # registered once the part is built


def _unused(args: argparse.Namespace) -> int:
    return 0
