"""Amounts typed in yuan (¥1,234.50, 1234.5元, ５００) read as fen, exactly: never through a float."""

from __future__ import annotations

import re
import unicodedata

MAX_FEN = 10**13 - 1  # ¥99,999,999,999.99: far beyond any compound's quarter, and within BIGINT
_AMOUNT = re.compile(r"^(\d{1,11})(?:\.(\d{1,2}))?$")


def fen_of(text: str) -> int | None:
    """The amount in fen of what a person typed in yuan, or None when it is not a plain positive amount
    (a minus sign, three decimals, words, zero)."""
    plain = unicodedata.normalize("NFKC", text).strip()  # full-width digits and points as typed on phones
    for mark in ("¥", "￥", "RMB", "rmb", "人民币", "元整", "元", "块", " "):
        plain = plain.replace(mark, "")
    plain = plain.replace(",", "").replace("，", "").replace("。", ".")
    found = _AMOUNT.match(plain)
    if found is None:
        return None
    fen = int(found.group(1)) * 100 + int((found.group(2) or "0").ljust(2, "0"))
    return fen if 0 < fen <= MAX_FEN else None
