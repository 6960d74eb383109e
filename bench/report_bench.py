"""The monthly report on the scale data set: time and memory of building and rendering it.

Run with ORCA_BENCH_ONLY_REPORT=1. Reads only: nothing is filed, and the schema of a reused
bench database is not migrated (a shared bench database stays at its own revision). The
tables a reused database predates (capacity_samples, incidents) are read from empty
session-local TEMP tables of the same name, so it runs on databases migrated before them.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

from dashboard.domain import periods

TARGET_S = 30.0
TARGET_MB = 500.0


def _rss_mb() -> float:
    # Linux reports ru_maxrss in kB: the peak resident size of this process so far.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# Tables newer than a reused bench database may be: session-local stand-ins, same columns.
_STAND_INS = {
    "capacity_samples": """CREATE TEMP TABLE capacity_samples (day date, metric varchar(40),
        subject text, value double precision, PRIMARY KEY (day, metric, subject))""",
    "incidents": """CREATE TEMP TABLE incidents (severity varchar(4), detected_at timestamptz,
        acknowledged_at timestamptz, resolved_at timestamptz)""",
}


def _ensure_tables(conn: Any) -> list[str]:
    made = []
    for name, ddl in _STAND_INS.items():
        if not conn.execute(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": name}).scalar_one():
            conn.execute(text(ddl))
            made.append(name)
    return made


def run_report_bench(engine: Engine, *, now: datetime, fmt: Callable[[float], str]) -> None:
    from dashboard.reports.service import generate_report

    # The report the worker files on the 1st after the data set's "now": its calendar month.
    first = periods.month_start(now.date())
    month = (first, periods.add_months(first, 1))
    quarter = (
        periods.quarter_start(now.date()),
        periods.add_months(periods.quarter_start(now.date()), 3),
    )
    jobs = [
        ("executive", *month),
        ("sla", *quarter),
        ("capacity", month[1] - timedelta(days=90), month[1]),
    ]
    base = _rss_mb()
    print(f"monthly report on this data set (targets: < {TARGET_S:g} s, < {TARGET_MB:g} MB)")
    print(f"  process RSS before: {base:,.0f} MB")
    for kind, start, end in jobs:
        with engine.connect() as conn:
            made = _ensure_tables(conn)
            if made:
                print(f"  (session-local empty stand-ins for {', '.join(made)})")
            started = time.perf_counter()
            files = generate_report(
                conn, kind=kind, start=start, end=end, generated_at=datetime.now(UTC)
            )
            elapsed = time.perf_counter() - started
            conn.rollback()
        peak = _rss_mb()
        verdict = "ok" if elapsed < TARGET_S and peak - base < TARGET_MB else "OVER TARGET"
        print(
            f"  {kind:<10} {start:%Y-%m-%d}..{end:%Y-%m-%d}  {fmt(elapsed * 1000)}  "
            f"peak RSS {peak:,.0f} MB (+{peak - base:,.0f} MB)  "
            f"pdf {len(files.pdf) / 1024:,.0f} kB, csv {len(files.csv) / 1024:,.0f} kB, "
            f"xlsx {len(files.xlsx) / 1024:,.0f} kB  {verdict}",
            flush=True,
        )
