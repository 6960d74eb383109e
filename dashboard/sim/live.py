"""Keeps the demo alive: each minute adds the traffic, resources and sync progress of that minute.

Runs in the worker when ORCA_DEMO_LIVE is on (the default in development), so a fresh
`make run` shows moving dashboards instead of a picture that goes stale after the seed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text

from dashboard.data.rollups import ensure_partitions
from dashboard.domain.histogram import BUCKET_COLUMNS
from dashboard.sim.copy import copy_frame
from dashboard.sim.series import BUCKET_MID_MS, expected_histogram
from dashboard.sim.vocab import ENDPOINTS, INSTANCES


def simulate_minute(engine: Engine, *, minute: datetime, rng: np.random.Generator) -> int:
    """Write one minute of demo activity (idempotent per minute); rows written."""
    minute = minute.astimezone(UTC).replace(second=0, microsecond=0)
    with engine.begin() as conn:
        ensure_partitions(conn, first_day=minute.date(), last_day=minute.date() + timedelta(days=1))
        done = conn.execute(
            text("SELECT EXISTS (SELECT 1 FROM request_metrics WHERE minute = :m)"), {"m": minute}
        ).scalar_one()
        if done:
            return 0
    hour = minute.hour + minute.minute / 60
    load = 0.65 + 0.45 * np.sin((hour - 8) / 24 * 2 * np.pi) ** 2
    rows = []
    for method, route, rate, median in ENDPOINTS:
        total = int(rng.poisson(rate * load))
        n5 = int(rng.binomial(total, 0.003))
        n4 = int(rng.binomial(total - n5, 0.02))
        for cls, count, factor in (
            ("2xx", total - n5 - n4, 1.0),
            ("4xx", n4, 0.4),
            ("5xx", n5, 2.0),
        ):
            if count <= 0:
                continue
            hist = expected_histogram(np.array([count]), np.array([median * factor]), 0.6)[0]
            rows.append(
                {
                    "minute": minute,
                    "method": method,
                    "route": route,
                    "status_class": cls,
                    "request_count": count,
                    "error_count": count if cls == "5xx" else 0,
                    "latency_sum_ms": float(hist @ BUCKET_MID_MS),
                    **{c: int(v) for c, v in zip(BUCKET_COLUMNS, hist, strict=True)},
                }
            )
    resources = pd.DataFrame(
        {
            "minute": minute,
            "instance": list(INSTANCES),
            "cpu_pct": (30 + 35 * load + rng.normal(0, 4, len(INSTANCES))).clip(0, 100).round(2),
            "memory_pct": (58 + 10 * load + rng.normal(0, 2, len(INSTANCES))).clip(0, 100).round(2),
            "disk_pct": [61.0, 62.0, 63.0],
            "db_connections": [int(12 + 20 * load)] * len(INSTANCES),
            "db_pool_size": 50,
            "net_rx_bytes": int(load * 4e6),
            "net_tx_bytes": int(load * 6e6),
        }
    )
    raw = engine.raw_connection()
    try:
        pg: Any = raw.driver_connection
        written = copy_frame(pg, "request_metrics", pd.DataFrame(rows))
        written += copy_frame(pg, "resource_samples", resources)
        raw.commit()
    finally:
        raw.close()
    with engine.begin() as conn:
        # Most data sources sync every minute; a few lag behind, as in the seeded history.
        result = conn.execute(
            text("""UPDATE data_sources SET last_success_at = :m, last_attempt_at = :m, status = 'ok'
                    WHERE status <> 'failed' AND (id * 7919 + :salt) % 100 >= 4"""),
            {"m": minute, "salt": int(rng.integers(0, 100))},
        )
        written += int(getattr(result, "rowcount", 0) or 0)
        conn.execute(
            text("""INSERT INTO sync_lag_samples (minute, source, sources_total, sources_stale,
                        lag_avg_s, lag_max_s)
                    SELECT :m, source, count(*),
                        count(*) FILTER (WHERE last_success_at < CAST(:m AS timestamptz) - interval '60 seconds'),
                        coalesce(avg(extract(epoch FROM (CAST(:m AS timestamptz) - last_success_at))), 0),
                        coalesce(max(extract(epoch FROM (CAST(:m AS timestamptz) - last_success_at))), 0)
                    FROM data_sources GROUP BY source
                    ON CONFLICT (minute, source) DO NOTHING"""),
            {"m": minute},
        )
    return written
