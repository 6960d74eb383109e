"""Rows to CSV text that a spreadsheet can neither run as formulas nor split into extra rows."""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from dashboard.domain.text import show_controls

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""A text cell starting with one of these is run as a formula by spreadsheets (OWASP)."""

# Invisible characters a spreadsheet may skip before it looks for '=': bidi controls and
# zero-width marks. A formula hidden behind them is neutralised too.
_INVISIBLE = "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c\ufeff"


def _text(value: object) -> str:
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str, sort_keys=True)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def neutralise_cell(value: object) -> str:
    """The text of one CSV cell: missing values blank, formula-like text prefixed with '.

    Numbers stay as they are (-5 is a number, not a formula); any text, JSON or other value
    that starts like a formula, also behind whitespace or invisible marks, gets a leading
    apostrophe, so the spreadsheet shows it as text. Bidi and other control characters are
    then replaced by visible ``[U+XXXX]`` marks (tab, CR and LF stay: the cell is quoted).
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        return str(value)
    text = _text(value)
    visible = text.lstrip(_INVISIBLE + " \t\r\n")
    marked = show_controls(text, keep_whitespace=True)
    if text.startswith(FORMULA_START) or visible.startswith(FORMULA_START):
        return "'" + marked
    return marked


def rows_to_csv(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """CSV text of ``header`` and ``rows``: every cell neutralised and quoted.

    Quoting every cell (QUOTE_ALL) keeps a bare CR or LF inside its cell, where a reader
    that splits on either would otherwise start a new row.
    """
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow([neutralise_cell(h) for h in header])
    for row in rows:
        writer.writerow([neutralise_cell(cell) for cell in row])
    return out.getvalue()
