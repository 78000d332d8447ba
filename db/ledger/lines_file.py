"""A statement's lines from CSV text (header: category, amount and optionally side, note, project, poll),
each numbered by its row in the file (the header is row 1), read the same way by `linli ledger file` and
the console's upload; the lines are then checked whole by the ledger rules."""

from __future__ import annotations

import csv
import io

from db.ledger.lines import RawLine

COLUMNS = ("category", "amount", "side", "note", "project", "poll")


class LinesFileError(ValueError):
    """CSV text that cannot be read as lines at all: the row at fault (0: the whole file) and why."""

    def __init__(self, line: int, detail: str) -> None:
        super().__init__(f"line {line}: {detail}")
        self.line = line
        self.detail = detail


def csv_lines(text: str) -> list[RawLine]:
    """The lines of CSV text, blank rows skipped; LinesFileError for an empty file or a bad header."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows:
        raise LinesFileError(0, "the file is empty")
    header = [h.strip().lower() for h in rows[0]]
    unknown = [h for h in header if h not in COLUMNS]
    if unknown or "category" not in header or "amount" not in header:
        raise LinesFileError(
            1,
            f"the header names category, amount and optionally side, note, project, poll "
            f"(unknown: {', '.join(unknown) or 'none'})",
        )
    lines = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # a blank row a spreadsheet left behind
        cells = dict(zip(header, (c.strip() for c in row), strict=False))
        lines.append(
            RawLine(
                number,
                cells.get("category", ""),
                cells.get("amount", ""),
                cells.get("side", ""),
                cells.get("note", ""),
                cells.get("project", ""),
                cells.get("poll") or None,
            )
        )
    return lines
