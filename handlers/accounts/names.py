"""The names of the ledger's line categories in the person's language, for templates."""

from __future__ import annotations

from functools import cache

from core import ledger as use
from handlers.context import Context


@cache
def table(locale: str) -> dict[str, str]:
    """Category key → name in a language."""
    return {c.key: c.name(locale) for c in use.catalog().ordered}


def of(ctx: Context) -> dict[str, str]:
    """Category key → name in the person's language."""
    return table(ctx.locale)
