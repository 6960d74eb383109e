"""The dashboards' default-range panels, and refresh-ahead: the worker fills them before viewers ask.

Every panel a dashboard shows on its default range (no widget touched) is listed here once, with
the same name, function, arguments and TTL the page's loader uses, so the worker can compute
its shared-cache entry shortly before the page needs it: for the console clock's current step
while the entry is missing or about to expire, and for the next step just before it starts. A
viewer on a default range then always reads a warm entry; custom ranges and filters still go
through the single-flight cache on demand. tests/pages/test_refresh_ahead.py renders each page
after a pass and checks it created no entry of its own, so this list cannot drift from the
pages unnoticed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Engine

from dashboard.data import agents, health, incidents, kpis, metrics
from dashboard.data.agent_filter import AgentFilter
from dashboard.data.cache import AGENT_TOPICS, SharedCache, panel_key
from dashboard.domain.timebuckets import choose_bucket, resolve_preset

log = logging.getLogger(__name__)

#: The shared-cache namespace of the console's panels.
CACHE_NAMESPACE = "ui"
#: The console clock's step: every viewer inside one step asks the same question.
CLOCK_STEP_S = 10
DEFAULT_RANGE = "24h"
DEFAULT_TTL_S = 20
#: How long before an entry expires (or the next clock step starts) the worker recomputes it.
LEAD_S = 6.0
#: "Why is the Trust Score dropping?" is asked on the hour (the trust rollups' grain).
DRIVER_STEP = timedelta(hours=1)
#: The steepest falls of agents of any status kept per hour: the page shows the active ones.
DRIVER_POOL = 200
_DRIVER_ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)


def console_now(at: datetime, fixed: datetime | None = None) -> datetime:
    """The console's clock at ``at``: ``fixed`` when pinned, else floored to CLOCK_STEP_S."""
    if fixed is not None:
        return fixed.astimezone(UTC) if fixed.tzinfo else fixed.replace(tzinfo=UTC)
    at = at.astimezone(UTC)
    return at.replace(microsecond=0, second=at.second - at.second % CLOCK_STEP_S)


def floor_to(moment: datetime, step: timedelta) -> datetime:
    return moment - (moment - _DRIVER_ORIGIN.astimezone(moment.tzinfo)) % step


@dataclass(frozen=True)
class PanelSpec:
    """One loader call: ``fn(conn, **kwargs)`` cached as ``name`` for ``ttl_s`` seconds."""

    dashboard: str
    name: str
    fn: Callable[..., Any]
    kwargs: dict[str, Any] = field(default_factory=dict)
    ttl_s: int = DEFAULT_TTL_S
    #: What the value is computed from: the page passes the same topics, so keys match.
    topics: tuple[str, ...] = ()
    #: The panel the page asks next with this one's value (e.g. which of its agents are
    #: active), renewed in the same pass; None for most panels.
    follow: Callable[[Any], PanelSpec | None] | None = None


def _active_of_pool(pool: Any) -> PanelSpec | None:
    """After the trust-drivers pool: which of its agents are active (what the page asks)."""
    if not isinstance(pool, kpis.TrustDrivers):
        return None
    ids = tuple(int(i) for i in pool.agents["agent_id"])
    ttl = int(DRIVER_STEP.total_seconds())
    return PanelSpec(
        "Trust KPIs",
        "trust_drivers_active",
        kpis.list_active_agent_ids,
        {"ids": ids},
        ttl,
        topics=AGENT_TOPICS,
    )


def default_panels(now: datetime) -> list[PanelSpec]:
    """Every shared-cache panel of Service Health, Trust KPIs and Agent Registry on its default
    range at console time ``now`` (the arguments exactly as the pages pass them)."""
    tr = resolve_preset(DEFAULT_RANGE, now)
    s, e, b = tr.start, tr.end, choose_bucket(tr)
    prev = tr.previous()
    sh, tk, ar = "Service Health", "Trust KPIs", "Agent Registry"
    return [
        PanelSpec(sh, "endpoints", metrics.list_endpoints, {"since": e - timedelta(days=30)}, 300),
        PanelSpec(
            sh,
            "request_series",
            metrics.list_request_series,
            {"start": s, "end": e, "bucket": b, "route": None, "method": None},
        ),
        PanelSpec(sh, "endpoint_stats", metrics.list_endpoint_stats, {"start": s, "end": e}),
        # The status header's fallback when Redis holds no live probe results.
        PanelSpec(
            sh,
            "latest_checks",
            health.list_health_checks,
            {"since": now - timedelta(minutes=15), "limit": 50},
            10,
        ),
        PanelSpec(sh, "uptime", health.summarize_uptime, {"now": e}, 60),
        PanelSpec(
            sh, "resources", metrics.list_resource_series, {"start": s, "end": e, "bucket": b}
        ),
        PanelSpec(
            sh,
            "heartbeat",
            health.list_health_checks,
            {"since": e - timedelta(minutes=30), "until": e, "limit": 500},
            10,
        ),
        PanelSpec(
            tk,
            "kpi_summary",
            kpis.summarize_kpis,
            {"start": s, "end": e, "now": e},
            topics=AGENT_TOPICS,
        ),
        PanelSpec(
            tk, "kpi_previous", kpis.summarize_kpis_at, {"start": prev.start, "end": prev.end}, 120
        ),
        PanelSpec(tk, "kpi_series", kpis.list_kpi_series, {"start": s, "end": e, "bucket": b}),
        PanelSpec(
            tk, "ra_series", kpis.list_risk_avoided_series, {"start": s, "end": e, "bucket": b}
        ),
        PanelSpec(
            tk,
            "trust_drivers_pool",
            kpis.summarize_trust_drivers,
            {
                "start": floor_to(s, DRIVER_STEP),
                "end": floor_to(e, DRIVER_STEP),
                "limit": DRIVER_POOL,
                "active_only": False,
            },
            int(DRIVER_STEP.total_seconds()),
            follow=_active_of_pool,
        ),
        PanelSpec(tk, "sync_by_source", kpis.list_sync_lag_by_source, {"now": e}),
        PanelSpec(tk, "sync_gaps", kpis.list_sync_gaps, {"open_only": True, "limit": 500}),
        PanelSpec(
            tk, "sync_lag_series", kpis.list_sync_lag_series, {"start": s, "end": e, "bucket": b}
        ),
        # Issue 10: the MTTA/MTTR section at the foot of Trust KPIs, over the page's range.
        PanelSpec(
            tk,
            "incidents.times",
            incidents.summarize_incident_times,
            {"start": s, "end": e},
            30,
            topics=("incidents",),
        ),
        PanelSpec(
            ar,
            "agents_by_status",
            agents.count_agents_by,
            {"dimension": "status"},
            30,
            topics=AGENT_TOPICS,
        ),
        PanelSpec(
            ar,
            "agents_by_type",
            agents.count_agents_by,
            {"dimension": "type"},
            60,
            topics=AGENT_TOPICS,
        ),
        PanelSpec(
            ar,
            "agents_by_vendor",
            agents.count_agents_by,
            {"dimension": "vendor"},
            60,
            topics=AGENT_TOPICS,
        ),
        PanelSpec(
            ar,
            "discovery",
            agents.list_discovery_rate,
            {"start": s, "end": e, "bucket": max(b, timedelta(hours=1))},
        ),
        PanelSpec(
            ar, "quarantined", agents.list_quarantined_agents, {"limit": 100}, topics=AGENT_TOPICS
        ),
        PanelSpec(
            ar,
            "agent_page",
            agents.search_agents,
            {
                "filters": AgentFilter(),
                "sort": "name",
                "descending": False,
                "cursor": None,
                "page_size": 50,
            },
            15,
            topics=AGENT_TOPICS,
        ),
    ]


def entry_name(cache: SharedCache, spec: PanelSpec, database: str) -> str:
    """The shared-cache name a page reads for ``spec``: its panel key at the current generation
    of its topics (so after an action bumps a topic, the worker fills the new name). Redis
    errors raise."""
    return cache.versioned(panel_key(spec.name, spec.kwargs, database), spec.topics)


def _compute(engine: Engine, spec: PanelSpec) -> Any:
    with engine.connect() as conn:
        return spec.fn(conn, **spec.kwargs)


def refresh_ahead(
    engine: Engine,
    cache: SharedCache,
    *,
    database: str,
    at: datetime,
    fixed_now: datetime | None = None,
    lead_s: float = LEAD_S,
) -> dict[str, int]:
    """One pass: recompute the default panels that are missing or expire within ``lead_s``,
    for the clock step of ``at`` and, when it starts within ``lead_s``, the next one.

    Returns counts: ``refreshed`` (computed and stored), ``fresh`` (left alone), ``failed``
    (the query raised; logged, the page will compute on demand).
    """
    steps = [console_now(at, fixed_now)]
    upcoming = console_now(at + timedelta(seconds=lead_s), fixed_now)
    if upcoming != steps[0]:
        steps.append(upcoming)
    counts = {"refreshed": 0, "fresh": 0, "failed": 0}
    done: set[str] = set()
    for now in steps:
        queue = default_panels(now)
        while queue:
            spec = queue.pop(0)
            try:
                name = entry_name(cache, spec, database)
            except Exception as exc:  # Redis down: the pages compute on demand meanwhile
                log.warning("refresh-ahead skipped: %s", exc.__class__.__name__)
                counts["failed"] += 1
                continue
            if name in done:
                continue
            done.add(name)
            left = cache.ttl_left_s(name)
            if left is not None and left > lead_s:
                counts["fresh"] += 1
            else:
                try:
                    stored = cache.refresh(name, spec.ttl_s, partial(_compute, engine, spec))
                except Exception as exc:  # one failing panel must not stop the others
                    log.warning("refresh-ahead of %s failed: %s", spec.name, exc.__class__.__name__)
                    counts["failed"] += 1
                    continue
                counts["refreshed" if stored else "fresh"] += 1
            if spec.follow is not None:
                following = spec.follow(cache.peek(name))
                if following is not None:
                    queue.append(following)
    return counts
