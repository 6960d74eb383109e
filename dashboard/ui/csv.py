"""CSV export that a spreadsheet cannot turn into a formula (cells starting = + - @ are neutralised)."""

from __future__ import annotations

import pandas as pd

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    if isinstance(value, str) and value.startswith(DANGEROUS):
        return "'" + value
    return value


def to_safe_csv(df: pd.DataFrame) -> bytes:
    safe = df.copy()
    for col in safe.columns:
        if safe[col].dtype == object or pd.api.types.is_string_dtype(safe[col]):
            safe[col] = safe[col].map(neutralise)
    safe.columns = [str(neutralise(str(c))) for c in safe.columns]
    return safe.to_csv(index=False).encode("utf-8")
