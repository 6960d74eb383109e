"""Worker job: probe every component, keep the latest state in Redis and the history in PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import redis
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from dashboard import telemetry
from dashboard.data import health, live
from dashboard.domain.enums import CheckStatus
from dashboard.integrations import probes as net
from dashboard.integrations.probes import (
    Probe,
    ProbeOutcome,
    ProbeResult,
    default_probes,
    heartbeat_outcome,
)
from dashboard.settings import Settings, get_settings

log = logging.getLogger(__name__)
_last_status: dict[str, str] = {}


def worker_heartbeat_check(redis_client: redis.Redis, *, starting: bool = False) -> ProbeOutcome:
    """The worker's own heartbeat (written by every replica each loop) judged by its age."""
    read = live.read_heartbeat(redis_client)
    if read.age_s is None and read.error is None and not read.degraded and starting:
        # The probe runs inside the worker: before its first heartbeat it is alive by definition.
        return ProbeOutcome(CheckStatus.UP, "worker starting: first heartbeat pending")
    outcome = heartbeat_outcome(read.age_s, error=read.error if read.degraded else None)
    jobs = read.value.get("jobs") if isinstance(read.value, dict) else None
    if isinstance(jobs, dict):
        failing = sorted(str(name) for name, state in jobs.items() if state != "ok")
        if failing:
            return ProbeOutcome(
                outcome.status, f"{outcome.message}; failing jobs: {', '.join(failing)}"
            )
    return outcome


def build_probes(
    redis_client: redis.Redis,
    *,
    database_url: str | None = None,
    settings: Settings | None = None,
    starting: bool = False,
) -> list[Probe]:
    """The five components of the guide, from settings (PostgreSQL: ``database_url``)."""
    settings = settings or get_settings()
    return default_probes(
        core_url=settings.core_url,
        otel_health_url=settings.otel_health_url,
        database_url=database_url or settings.database_url,
        redis_url=settings.redis_url,
        connect_timeout_s=settings.probe_connect_timeout_s,
        read_timeout_s=settings.probe_read_timeout_s,
        heartbeat=lambda: worker_heartbeat_check(redis_client, starting=starting),
    )


def store_probe_results(
    engine: Engine, redis_client: redis.Redis, results: Sequence[ProbeResult]
) -> None:
    """Latest state to Redis first (so a dead PostgreSQL still shows), then the history rows."""
    if not live.write_probe_results(redis_client, {r.component: r.to_live() for r in results}):
        log.warning("probe results not written to Redis (unavailable)")
    try:
        with engine.begin() as conn:
            for r in results:
                health.record_health_check(
                    conn,
                    component=r.component,
                    status=r.status,
                    checked_at=r.checked_at,
                    latency_ms=r.latency_ms,
                    message=r.message,
                )
    except SQLAlchemyError as exc:
        log.warning("probe results not written to PostgreSQL: %s", type(exc).__name__)
        raise


@telemetry.traced("probe.cycle")
def run_probe_job(
    engine: Engine,
    redis_client: redis.Redis,
    *,
    settings: Settings | None = None,
    probes: Sequence[Probe] | None = None,
    now: datetime | None = None,
    starting: bool = False,
) -> list[ProbeResult]:
    """One probe cycle (always under 5 s) and its storage."""
    settings = settings or get_settings()
    chosen = (
        list(probes)
        if probes is not None
        else build_probes(
            redis_client,
            # The database the worker really uses (the same server the console reads).
            database_url=engine.url.render_as_string(hide_password=False),
            settings=settings,
            starting=starting,
        )
    )
    results = net.run_probe_cycle(
        chosen, deadline_s=settings.probe_deadline_s, now=now or datetime.now(UTC)
    )
    for r in results:
        telemetry.record_probe(r.component, r.status, r.latency_ms)
        # Log changes only: a collector that is simply not deployed must not fill the log.
        if _last_status.get(r.component, CheckStatus.UP.value) != r.status:
            log.info("probe %s: %s (%s)", r.component, r.status, r.message)
        _last_status[r.component] = r.status
    store_probe_results(engine, redis_client, results)
    return results


__all__ = [
    "ProbeResult",
    "build_probes",
    "run_probe_job",
    "store_probe_results",
    "worker_heartbeat_check",
]
