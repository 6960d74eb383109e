"""Bulk loading: pandas frames streamed into PostgreSQL with COPY ... FROM STDIN (CSV)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import pandas as pd
import psycopg


def copy_frame(
    conn: psycopg.Connection[object],
    table: str,
    frame: pd.DataFrame,
    columns: Sequence[str] | None = None,
) -> int:
    """COPY ``frame`` into ``table``; NaN/None become NULL. Returns the row count."""
    if frame.empty:
        return 0
    cols = list(columns or frame.columns)
    buffer = io.StringIO()
    frame[cols].to_csv(buffer, header=False, index=False, date_format="%Y-%m-%d %H:%M:%S%z")
    data = buffer.getvalue().encode()
    # Table and column names are the simulator's own constants, never user input.
    statement = f"COPY {table} ({', '.join(cols)}) FROM STDIN WITH (FORMAT csv)"
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for start in range(0, len(data), 1 << 20):
            copy.write(data[start : start + (1 << 20)])
    return len(frame)
