"""Live component state for the status header, read through the data layer's fallback rule."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from dashboard.data import health, live
from dashboard.data.live_status import summarize_status
from dashboard.domain.status import StatusBoard
from dashboard.ui import loaders, resources


def _stored_checks() -> pd.DataFrame | None:
    panel = loaders.load(
        "latest_checks",
        health.list_health_checks,
        since=resources.now() - timedelta(minutes=15),
        limit=50,
        ttl_s=10,
    )
    return panel.value


def component_states() -> StatusBoard:
    """Every component's state, worst first, with its source (Redis or stored checks)."""
    read = live.read_probe_results(resources.get_redis(resources.redis_url()))
    return summarize_status(read, stored_checks=_stored_checks)
