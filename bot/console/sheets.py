"""Downloads staff open in a spreadsheet: CSV (UTF-8 with a BOM, so Excel reads the Chinese) and XLSX,
both safe against formula injection — a user-typed value starting with = + - @ (a compound's name, a
resident's description) is kept as text, never run as a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

# What a spreadsheet reads as the start of a formula (a tab or return may hide one after it).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
Cell = str | int | float | None


def text_cell(value: str) -> str:
    """A CSV cell that a spreadsheet shows as the text itself: a leading quote where it could be a formula."""
    return f"'{value}" if value.startswith(FORMULA_START) else value


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    """Rows as CSV with a BOM; every text cell formula-safe, numbers as they are, None empty."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([text_cell(h) for h in header])
    for row in rows:
        writer.writerow(["" if c is None else text_cell(c) if isinstance(c, str) else c for c in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_bytes(title: str, header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    """Rows as one XLSX sheet: numbers as numbers, every string as a text cell (never a formula)."""
    # Imported here: openpyxl takes a while to load, and only a download needs it.
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook has one sheet
    sheet.title = title[:31]  # Excel's limit
    widths = [len(h) for h in header]
    for r, row in enumerate([list(header), *rows], start=1):
        for c, value in enumerate(row, start=1):
            cell = sheet.cell(r, c)
            if isinstance(value, str):
                cell.value = value
                # openpyxl takes a string starting with "=" as a formula: say it is text, and mark it
                # with Excel's quote prefix so an edit in Excel keeps it text too.
                cell.data_type = "s"
                if value.startswith(FORMULA_START):
                    cell.quotePrefix = True
                widths[c - 1] = max(widths[c - 1], min(40, len(value) * 2))
            else:
                cell.value = value
                if isinstance(value, float):
                    cell.number_format = "0.0"  # a rate: 50.0, as the CSV writes it
    for c, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(c)].width = max(8, width + 2)
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
