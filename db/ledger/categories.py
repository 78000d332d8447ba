"""The categories of statement lines, read from data/ledger_categories.yaml and checked."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

SIDES = ("income", "expense")
LOCALES = ("zh_CN", "en")
DEFAULT_FILE = Path(__file__).resolve().parents[2] / "data" / "ledger_categories.yaml"


@dataclass(frozen=True, slots=True)
class LedgerCategory:
    """A kind of income or expense: its key, its names, its side, and whether it is the maintenance fund's."""

    key: str
    names: dict[str, str]
    side: str  # income | expense
    fund: bool

    def name(self, locale: str) -> str:
        """The category's name in a locale, falling back to Chinese."""
        return self.names.get(locale) or self.names["zh_CN"]


class LedgerCatalog:
    """All line categories in file order, looked up by key."""

    def __init__(self, categories: list[LedgerCategory]) -> None:
        self.ordered = categories
        self.by_key = {c.key: c for c in categories}

    def get(self, key: str) -> LedgerCategory | None:
        """The category with this key, or None."""
        return self.by_key.get(key)

    def of(self, side: str, fund: bool) -> list[LedgerCategory]:
        """The categories of one side, for the fund or for fees and common income, in file order."""
        return [c for c in self.ordered if c.side == side and c.fund == fund]

    def order(self, key: str) -> int:
        """A category's place in the file (unknown keys last), for listing totals in a stable order."""
        keys = list(self.by_key)
        return keys.index(key) if key in self.by_key else len(keys)


def load_ledger_catalog(path: Path) -> LedgerCatalog:
    """Read and check the categories file; a bad entry raises ValueError naming it."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    if not isinstance(raw, list):
        raise ValueError(f"{path}: must be a list of categories")
    items: list[LedgerCategory] = []
    for n, entry in enumerate(raw, start=1):
        if not isinstance(entry, dict):
            raise ValueError(f"{path}: entry {n}: must be a mapping")
        key = str(entry.get("key", ""))
        if not key or len(key) > 16 or not key.isascii() or not key.replace("_", "").isalnum():
            raise ValueError(f"{path}: entry {n}: key must be 1-16 ASCII letters, digits or '_'")
        if not entry.get("zh_CN"):
            raise ValueError(f"{path}: entry {n} ({key}): a zh_CN name is required")
        if entry.get("side") not in SIDES:
            raise ValueError(f"{path}: entry {n} ({key}): side must be income or expense")
        if not isinstance(entry.get("fund"), bool):
            raise ValueError(f"{path}: entry {n} ({key}): fund must be true or false")
        names = {"zh_CN": str(entry["zh_CN"]), "en": str(entry.get("en") or entry["zh_CN"])}
        items.append(LedgerCategory(key, names, entry["side"], entry["fund"]))
    if len({c.key for c in items}) != len(items):
        raise ValueError(f"{path}: category keys must be unique")
    if not items:
        raise ValueError(f"{path}: no categories")
    return LedgerCatalog(items)


@cache
def default_catalog() -> LedgerCatalog:
    """The shipped categories (read once per process)."""
    return load_ledger_catalog(DEFAULT_FILE)
