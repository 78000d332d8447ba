"""The report categories and their SLA classes, read from a YAML file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SLA_CLASSES = ("urgent", "utilities", "general", "complex")
KEYWORD_LOCALES = ("zh_CN", "en")
MAX_KEYWORD = 32


@dataclass(frozen=True, slots=True)
class Category:
    """A kind of problem a resident can report."""

    key: str
    names: dict[str, str]
    sla: str
    danger: bool = False
    facility: bool = False
    # Words that propose this category for a text typed outside the report flow, by locale.
    keywords: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def name(self, locale: str) -> str:
        """The category's name in a locale, falling back to Chinese."""
        return self.names.get(locale) or self.names["zh_CN"]

    def matches(self, text: str) -> bool:
        """Whether one of its keywords is in the text: Chinese ones anywhere, English ones as whole
        words in any case."""
        if any(word in text for word in self.keywords.get("zh_CN", ())):
            return True
        lowered = text.lower()
        return any(
            re.search(rf"\b{re.escape(word.lower())}\b", lowered) for word in self.keywords.get("en", ())
        )


class Catalog:
    """All categories, in display order, looked up by key."""

    def __init__(self, categories: list[Category]) -> None:
        self.ordered = categories
        self.by_key = {c.key: c for c in categories}

    def get(self, key: str) -> Category | None:
        """The category with this key, or None."""
        return self.by_key.get(key)

    def propose(self, text: str) -> Category | None:
        """The category proposed for a resident's words: the first, in file order, with a keyword in
        the text; None when no keyword matches."""
        return next((c for c in self.ordered if c.matches(text)), None)


def _keywords(path: Path, n: int, key: str, raw: Any) -> dict[str, tuple[str, ...]]:
    """An entry's `keywords:` mapping (locale → list of words), checked."""
    where = f"{path}: entry {n} ({key}): keywords"
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not set(raw) <= set(KEYWORD_LOCALES):
        raise ValueError(f"{where} must map {' and '.join(KEYWORD_LOCALES)} to lists of words")
    found: dict[str, tuple[str, ...]] = {}
    for locale, words in raw.items():
        if not isinstance(words, list) or not all(
            isinstance(w, str) and w.strip() and len(w) <= MAX_KEYWORD for w in words
        ):
            raise ValueError(f"{where}.{locale} must be a list of words of 1-{MAX_KEYWORD} characters")
        found[locale] = tuple(w.strip() for w in words)
    return found


def load_catalog(path: Path) -> Catalog:
    """Read and check the categories file; a bad entry raises ValueError naming it."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    items: list[Category] = []
    owners: dict[tuple[str, str], str] = {}
    for n, entry in enumerate(raw, start=1):
        key = str(entry.get("key", ""))
        if not key or len(key) > 16 or not key.isascii():
            raise ValueError(f"{path}: entry {n}: key must be 1-16 ASCII characters")
        if entry.get("sla") not in SLA_CLASSES:
            raise ValueError(f"{path}: entry {n} ({key}): sla must be one of {', '.join(SLA_CLASSES)}")
        if not entry.get("zh_CN"):
            raise ValueError(f"{path}: entry {n} ({key}): a zh_CN name is required")
        names = {"zh_CN": str(entry["zh_CN"]), "en": str(entry.get("en") or entry["zh_CN"])}
        keywords = _keywords(path, n, key, entry.get("keywords"))
        for locale, words in keywords.items():
            for word in words:
                other = owners.setdefault((locale, word.lower()), key)
                if other != key:
                    raise ValueError(f"{path}: entry {n} ({key}): keyword {word!r} is already {other}'s")
        items.append(
            Category(
                key, names, entry["sla"], bool(entry.get("danger")), bool(entry.get("facility")), keywords
            )
        )
    if len({c.key for c in items}) != len(items):
        raise ValueError(f"{path}: category keys must be unique")
    return Catalog(items)
