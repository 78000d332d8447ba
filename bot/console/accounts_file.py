"""A statement's lines from an uploaded file (the console's 上传公示文件): CSV with a header row, or YAML —
a list of lines, or a statement mapping whose `lines` (and `opening`) are taken; the compound, period and
filer come from the form. Every line keeps the line of the file it starts on, so an error says exactly
where to look; the lines are then checked whole by core.ledger (every bad one named, nothing saved).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from db.ledger.lines import RawLine, parse_yuan
from db.ledger.lines_file import COLUMNS, LinesFileError, csv_lines

MAX_FILE = 512 * 1024


class FileError(ValueError):
    """A file that cannot be read as lines at all: where (a line of the file, 0 for the whole) and why."""

    def __init__(self, line: int, detail: str) -> None:
        super().__init__(f"line {line}: {detail}")
        self.line = line
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Upload:
    """What a file gives: its lines, numbered by their line in the file, and optional openings in fen."""

    lines: list[RawLine]
    opening_income_fen: int = 0
    opening_fund_fen: int = 0


def read(name: str, data: bytes) -> Upload:
    """The lines of an uploaded file, by its name's ending (.csv, else YAML); FileError when unreadable."""
    try:
        text = data.decode("utf-8-sig")  # a spreadsheet's BOM is no part of the header
    except UnicodeDecodeError:
        raise FileError(0, "not UTF-8 text (save the file as UTF-8)") from None
    if name.lower().endswith(".csv"):
        return Upload(_csv(text))
    return _yaml(text)


def _csv(text: str) -> list[RawLine]:
    try:
        return csv_lines(text)
    except LinesFileError as exc:
        raise FileError(exc.line, exc.detail) from None


def _yaml(text: str) -> Upload:
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise FileError(mark.line + 1 if mark else 0, str(exc).splitlines()[0]) from None
    if root is None:
        raise FileError(0, "the file is empty")
    income = fund = 0
    items = root
    if isinstance(root, yaml.MappingNode):
        fields = {str(k.value): v for k, v in root.value if isinstance(k, yaml.ScalarNode)}
        items = fields.get("lines")  # type: ignore[assignment]
        opening = fields.get("opening")
        if isinstance(opening, yaml.MappingNode):
            given = {str(k.value): v for k, v in opening.value}
            income = _opening(given.get("income"))
            fund = _opening(given.get("fund"))
        if items is None:
            raise FileError(root.start_mark.line + 1, "no lines: give a list under lines:")
    if not isinstance(items, yaml.SequenceNode):
        raise FileError(items.start_mark.line + 1, "lines must be a list of mappings (category, amount, …)")
    lines = []
    for node in items.value:
        number = node.start_mark.line + 1
        if not isinstance(node, yaml.MappingNode):
            raise FileError(number, "each line is a mapping (category: …, amount: …)")
        values: dict[str, Any] = {}
        for key, value in node.value:
            name = str(key.value)
            if name not in COLUMNS:
                raise FileError(
                    key.start_mark.line + 1, f"unknown field {name} (known: {', '.join(COLUMNS)})"
                )
            values[name] = value.value if isinstance(value, yaml.ScalarNode) else ""
        lines.append(
            RawLine(
                number,
                str(values.get("category") or ""),
                values.get("amount"),
                str(values.get("side") or ""),
                str(values.get("note") or ""),
                str(values.get("project") or ""),
                values.get("poll") or None,
            )
        )
    return Upload(lines, income, fund)


def _opening(node: yaml.Node | None) -> int:
    """An opening balance in yuan as fen (negative: a deficit carried over)."""
    if node is None or not isinstance(node, yaml.ScalarNode) or node.value in ("", "0"):
        return 0
    text = str(node.value).strip()
    fen = parse_yuan(text.lstrip("-"))
    if fen is None:
        raise FileError(node.start_mark.line + 1, "an opening balance is an amount in yuan")
    return -fen if text.startswith("-") else fen
