"""The status header's data: live probe results from Redis, else the newest stored checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from dashboard.data.live import LiveRead
from dashboard.domain.enums import COMPONENT_LABELS, Component
from dashboard.domain.status import ComponentState, StatusBoard, board, is_fresh


def _from_checks(checks: pd.DataFrame) -> dict[str, dict[str, Any]]:
    latest = checks.sort_values("checked_at").groupby("component").tail(1)
    found: dict[str, dict[str, Any]] = {}
    for rec in latest.to_dict("records"):
        lat: Any = rec["latency_ms"]
        found[str(rec["component"])] = {
            "status": rec["status"],
            "latency_ms": None if pd.isna(lat) else float(lat),
            "message": rec["message"],
        }
    return found


def summarize_status(
    live_read: LiveRead, *, stored_checks: Callable[[], pd.DataFrame | None]
) -> StatusBoard:
    """One state per component, worst first, with where it came from.

    Fresh live probe results (Redis) win; otherwise ``stored_checks()`` (the newest rows of
    health_checks, read only then) is used; with neither every component is unknown.
    """
    found: dict[str, Any] = {}
    if live_read.value and is_fresh(live_read.age_s):
        found = dict(live_read.value)
        source = f"live probes, {live_read.age_s:.0f} s old"
    else:
        checks = stored_checks()
        if checks is not None and not checks.empty:
            found = _from_checks(checks)
            source = "newest stored checks" + (
                " (live state unavailable)" if live_read.degraded else ""
            )
        else:
            source = "no recent checks: is the worker running?"
    states = []
    for comp in Component:
        state = found.get(comp.value) or {}
        latency = state.get("latency_ms")
        states.append(
            ComponentState(
                label=COMPONENT_LABELS[comp],
                status=state.get("status"),
                latency_ms=None if latency is None else float(latency),
                message=state.get("message"),
            )
        )
    return board(states, source=source)
