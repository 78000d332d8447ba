"""Every message exists in Chinese and English, and renders."""

from __future__ import annotations

import re
from pathlib import Path

from bot.render import TEMPLATES

BLOCK = re.compile(r"{%-?\s*block\s+(\w+)")


def blocks(locale: str) -> dict[str, set[str]]:
    return {
        p.stem: set(BLOCK.findall(p.read_text(encoding="utf-8"))) for p in (TEMPLATES / locale).glob("*.j2")
    }


def test_every_chinese_message_has_an_english_twin() -> None:
    zh, en = blocks("zh_CN"), blocks("en")
    assert zh.keys() == en.keys()
    for flow in zh:
        assert zh[flow] == en[flow], flow


def test_every_template_key_used_in_code_exists() -> None:
    root = Path(__file__).resolve().parent.parent
    zh = blocks("zh_CN")
    used = set()
    for folder in ("handlers", "bot", "core"):
        for source in root.joinpath(folder).rglob("*.py"):
            text = source.read_text(encoding="utf-8")
            used |= set(re.findall(r'Reply\(\s*"(\w+)\.(\w+)"(?!\s*\+)', text))
            # the notify layer's pushes: Message(person, "flow.block", …) and its named templates
            used |= set(re.findall(r'Message\(\s*[\w.]+,\s*"(\w+)\.(\w+)"', text))
            used |= set(re.findall(r'^[A-Z_]+ = "(\w+)\.(\w+)"$', text, re.MULTILINE))
    assert used, "no Reply(...) found"
    missing = [f"{flow}.{block}" for flow, block in used if block not in zh.get(flow, set())]
    assert not missing
