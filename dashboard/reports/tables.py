"""A report's numbers as sections of rows, written as one CSV and as one XLSX sheet per section.

Both formats carry exactly the numbers of the PDF; every text cell goes through the project's
CSV neutraliser (``dashboard.domain.csv_export``), so an agent named ``=HYPERLINK(...)`` stays
text in a spreadsheet, in the CSV and in the XLSX alike.
"""

from __future__ import annotations

import io
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font

from dashboard.domain.csv_export import neutralise_cell, rows_to_csv


@dataclass(frozen=True)
class Section:
    """One table of a report: a name (also the XLSX sheet name), a header and rows."""

    name: str
    header: Sequence[str]
    rows: list[list[object]] = field(default_factory=list)
    note: str | None = None


def frame_rows(df: pd.DataFrame, columns: Sequence[str]) -> list[list[object]]:
    """Rows of ``df`` for ``columns`` with NaN as None and pandas timestamps as datetimes."""
    out: list[list[object]] = []
    for rec in df[list(columns)].itertuples(index=False):
        row: list[object] = []
        for v in rec:
            if isinstance(v, pd.Timestamp):
                row.append(v.to_pydatetime())
            elif (isinstance(v, float) and math.isnan(v)) or v is pd.NaT or v is None:
                row.append(None)
            elif hasattr(v, "item") and not isinstance(v, str):  # numpy scalars
                row.append(v.item())
            else:
                row.append(v)
        out.append(row)
    return out


def to_csv(title: str, meta: Sequence[tuple[str, str]], sections: Sequence[Section]) -> bytes:
    """One CSV: the title and meta lines, then each section as a titled block of rows."""
    rows: list[list[object]] = [[title]]
    rows += [[k, v] for k, v in meta]
    for section in sections:
        rows.append([])
        rows.append([f"## {section.name}"])
        if section.note:
            rows.append([section.note])
        rows.append(list(section.header))
        rows += section.rows
    text = rows_to_csv(rows[0], rows[1:])
    return text.encode("utf-8")


def _xlsx_value(value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, numbers.Number):
        return value
    if isinstance(value, datetime):
        # Excel has no time zones: the sheets hold UTC, as their column names say.
        return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, date):
        return value
    return neutralise_cell(value)


def to_xlsx(title: str, meta: Sequence[tuple[str, str]], sections: Sequence[Section]) -> bytes:
    """One workbook: an "About" sheet (title, meta) and a sheet per section; times in UTC."""
    wb = Workbook()
    about = wb.active
    about.title = "About"
    about.append([neutralise_cell(title)])
    about["A1"].font = Font(bold=True, size=14)
    for k, v in meta:
        about.append([neutralise_cell(k), neutralise_cell(v)])
    about.column_dimensions["A"].width = 22
    about.column_dimensions["B"].width = 60
    used: set[str] = {"About"}
    for section in sections:
        name = _sheet_name(section.name, used)
        ws = wb.create_sheet(name)
        if section.note:
            ws.append([neutralise_cell(section.note)])
        ws.append([neutralise_cell(h) for h in section.header])
        header_row = ws.max_row
        for cell in ws[header_row]:
            cell.font = Font(bold=True)
        for row in section.rows:
            ws.append([_xlsx_value(v) for v in row])
        for i, h in enumerate(section.header, start=1):
            width = max(
                [len(str(h))] + [len(str(r[i - 1])) for r in section.rows[:200] if i - 1 < len(r)]
            )
            ws.column_dimensions[ws.cell(row=header_row, column=i).column_letter].width = min(
                48, max(10, width + 2)
            )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


_BAD_SHEET = str.maketrans({c: " " for c in "[]:*?/\\"})


def _sheet_name(name: str, used: set[str]) -> str:
    base = name.translate(_BAD_SHEET).strip()[:28] or "Sheet"
    candidate, n = base, 2
    while candidate in used:
        candidate, n = f"{base[:25]} {n}", n + 1
    used.add(candidate)
    return candidate
