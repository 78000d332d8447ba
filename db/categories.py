"""The report categories and their SLA classes, read from a YAML file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

SLA_CLASSES = ("urgent", "utilities", "general", "complex")


@dataclass(frozen=True, slots=True)
class Category:
    """A kind of problem a resident can report."""

    key: str
    names: dict[str, str]
    sla: str
    danger: bool = False
    facility: bool = False

    def name(self, locale: str) -> str:
        """The category's name in a locale, falling back to Chinese."""
        return self.names.get(locale) or self.names["zh_CN"]


class Catalog:
    """All categories, in display order, looked up by key."""

    def __init__(self, categories: list[Category]) -> None:
        self.ordered = categories
        self.by_key = {c.key: c for c in categories}

    def get(self, key: str) -> Category | None:
        """The category with this key, or None."""
        return self.by_key.get(key)


def load_catalog(path: Path) -> Catalog:
    """Read and check the categories file; a bad entry raises ValueError naming it."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    items: list[Category] = []
    for n, entry in enumerate(raw, start=1):
        key = str(entry.get("key", ""))
        if not key or len(key) > 16 or not key.isascii():
            raise ValueError(f"{path}: entry {n}: key must be 1-16 ASCII characters")
        if entry.get("sla") not in SLA_CLASSES:
            raise ValueError(f"{path}: entry {n} ({key}): sla must be one of {', '.join(SLA_CLASSES)}")
        if not entry.get("zh_CN"):
            raise ValueError(f"{path}: entry {n} ({key}): a zh_CN name is required")
        names = {"zh_CN": str(entry["zh_CN"]), "en": str(entry.get("en") or entry["zh_CN"])}
        items.append(
            Category(key, names, entry["sla"], bool(entry.get("danger")), bool(entry.get("facility")))
        )
    if len({c.key for c in items}) != len(items):
        raise ValueError(f"{path}: category keys must be unique")
    return Catalog(items)
