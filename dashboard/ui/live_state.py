"""Live component state for the status header: Redis first, the newest stored checks otherwise."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd

from dashboard.data import health, live
from dashboard.domain.enums import COMPONENT_LABELS, Component
from dashboard.ui import loaders, resources


def component_states() -> tuple[list[dict[str, Any]], str]:
    """(one dict per component: label, status, latency_ms, message; a note on the source)."""
    read = live.read_probe_results(resources.get_redis(resources.redis_url()))
    found: dict[str, Any] = {}
    note = ""
    if read.value and read.age_s is not None and read.age_s < 300:
        found = dict(read.value)
        note = f"live probes, {read.age_s:.0f} s old"
    else:
        panel = loaders.load(
            "latest_checks",
            health.list_health_checks,
            since=resources.now() - timedelta(minutes=15),
            limit=50,
            ttl_s=10,
        )
        if panel.value is not None and not panel.value.empty:
            latest = panel.value.sort_values("checked_at").groupby("component").tail(1)
            for rec in latest.to_dict("records"):
                lat: Any = rec["latency_ms"]
                found[str(rec["component"])] = {
                    "status": rec["status"],
                    "latency_ms": None if pd.isna(lat) else float(lat),
                    "message": rec["message"],
                }
            note = "newest stored checks" + (" (live state unavailable)" if read.degraded else "")
        else:
            note = "no recent checks: is the worker running?"
    out = []
    for comp in Component:
        state = found.get(comp.value, {})
        out.append(
            {
                "label": COMPONENT_LABELS[comp],
                "status": state.get("status"),
                "latency_ms": state.get("latency_ms"),
                "message": state.get("message"),
            }
        )
    return out, note
