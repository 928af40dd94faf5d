"""Tables as planners and partners open them: CSV that Excel on Chinese Windows reads, and XLSX.

Text is written as text, never as something a spreadsheet program runs (CSV injection, OWASP): an XLSX cell holding
a str is a string cell whatever it starts with, and a CSV value that starts a formula (= + - @, a tab or CR, or the
full-width ＝ ＋ － ＠ a Chinese input method types) is written after a single quote, which `unquoted` takes off
again when the file is imported. Numbers stay numbers: a longitude of -2.5 is written as it is.
"""

import csv
import io
import itertools
import re
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

CSV_MEDIA_TYPE = "text/csv"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

FORMULA_STARTS = frozenset("=+-@\t\r＝＋－＠")
QUOTE = "'"
# What a quote escapes: a quote before one of these was put there by `quoted` (so a value starting with a quote
# and one of these is quoted once more, and reads back exactly).
_ESCAPED = FORMULA_STARTS | {QUOTE}


def cell(value: Any) -> Any:
    """A value as a spreadsheet cell: lists joined with ';' (as bulk imports split them), dates as ISO 8601."""
    if isinstance(value, list | tuple):
        return ";".join(map(str, value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _escaped_by_a_quote(text: str) -> bool:
    return text[:1] == QUOTE and text[1:2] in _ESCAPED


def quoted(text: str) -> str:
    """Text as a CSV value: a quote before a formula's first character (and before a quote that `unquoted` would
    otherwise take off)."""
    return QUOTE + text if text[:1] in FORMULA_STARTS or _escaped_by_a_quote(text) else text


def unquoted(text: str) -> str:
    """A CSV value as the text that was exported: `quoted` undone."""
    return text[1:] if _escaped_by_a_quote(text) else text


def _csv_value(value: Any) -> Any:
    value = cell(value)
    return quoted(value) if isinstance(value, str) else value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_csv_value(v) for v in header])
    writer.writerows([_csv_value(v) for v in row] for row in rows)
    # The BOM makes Excel on Chinese Windows read UTF-8 instead of GBK.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# Characters XML cannot hold: the register refuses them (app.formats.text), but a value stored before it did must not
# make the whole file fail; it is written with U+FFFD in their place.
_NOT_IN_XML = re.compile(ILLEGAL_CHARACTERS_RE.pattern)


def _xlsx_value(sheet: WriteOnlyWorksheet, value: Any) -> Any:
    value = cell(value)
    # openpyxl writes a str as a string cell unless it starts with "=" (a formula) or is an error code ("#N/A"):
    # those, and text XML cannot hold, get a string cell made here (one per cell would double the time).
    if not isinstance(value, str) or not (value[:1] == "=" or value in ERROR_CODES or _NOT_IN_XML.search(value)):
        return value
    string = WriteOnlyCell(sheet, _NOT_IN_XML.sub("\ufffd", value))
    string.data_type = "s"
    return string


def to_xlsx(header: Sequence[str], rows: Iterable[Sequence[Any]], title: str) -> bytes:
    return to_xlsx_sheets([(title, header, rows)])


def to_xlsx_sheets(sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence[Any]]]]) -> bytes:
    """A workbook of several tables, one sheet each: (title, header, rows)."""
    book = Workbook(write_only=True)
    for title, header, rows in sheets:
        sheet = book.create_sheet(title[:31])  # Excel's limit for a sheet name
        for row in itertools.chain([header], rows):
            sheet.append([_xlsx_value(sheet, v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
