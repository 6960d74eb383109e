"""The CSV download of a table: a DataFrame handed to the one CSV writer in dashboard.domain."""

from __future__ import annotations

import pandas as pd

from dashboard.domain.csv_export import rows_to_csv


def to_safe_csv(df: pd.DataFrame) -> bytes:
    """UTF-8 CSV of ``df`` (no index), formula cells neutralised, every cell quoted."""
    cells = df.astype(object).where(df.notna(), None)
    return rows_to_csv(list(df.columns), cells.itertuples(index=False, name=None)).encode("utf-8")
