"""Reply templates for the 工单 page: short, polite answers to a ticket's residents per category, read
from data/reply_templates.yaml (each in Chinese and English)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

FILE = Path(__file__).resolve().parent.parent.parent / "data" / "reply_templates.yaml"


@dataclass(frozen=True, slots=True)
class Replies:
    """The replies of each category and those offered for every category."""

    default: tuple[dict[str, str], ...]
    by_category: dict[str, tuple[dict[str, str], ...]]

    def offered(self, category: str, locale: str) -> list[str]:
        """The replies offered for a ticket of a category, in a language (the category's own first)."""
        found = [*self.by_category.get(category, ()), *self.default]
        return [r.get(locale) or r["zh_CN"] for r in found]


def _entries(raw: object, where: str) -> tuple[dict[str, str], ...]:
    if not isinstance(raw, list) or not all(
        isinstance(r, dict) and isinstance(r.get("zh_CN"), str) and isinstance(r.get("en"), str) for r in raw
    ):
        raise ValueError(f"{where}: a list of replies, each with zh_CN and en texts")
    return tuple({"zh_CN": r["zh_CN"].strip(), "en": r["en"].strip()} for r in raw)


@cache
def load(path: Path = FILE) -> Replies:
    """The reply templates file, read once."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    categories = data.get("categories") or {}
    if not isinstance(categories, dict):
        raise ValueError("categories: a mapping of category keys to replies")
    return Replies(
        _entries(data.get("default") or [], "default"),
        {str(key): _entries(value, str(key)) for key, value in categories.items()},
    )
