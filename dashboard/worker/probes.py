"""Health probes of the components the guide names; results go to PostgreSQL and Redis."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import redis
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from dashboard.data import health, live
from dashboard.settings import get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProbeResult:
    component: str
    status: str  # up | degraded | down
    latency_ms: float | None
    message: str | None
    checked_at: datetime


def _timed(component: str, check: Callable[[], str | None], slow_ms: float) -> ProbeResult:
    started = time.perf_counter()
    at = datetime.now(UTC)
    try:
        message = check()
    except Exception as exc:  # a probe reports failure, it never raises
        return ProbeResult(component, "down", None, f"{exc.__class__.__name__}: {exc}"[:300], at)
    ms = (time.perf_counter() - started) * 1000
    status = "degraded" if ms > slow_ms else "up"
    return ProbeResult(
        component, status, round(ms, 2), message or ("slow" if status == "degraded" else None), at
    )


def _http_check(url: str) -> Callable[[], str | None]:
    settings = get_settings()
    timeout = httpx.Timeout(settings.probe_read_timeout_s, connect=settings.probe_connect_timeout_s)

    def check() -> str | None:
        response = httpx.get(url, timeout=timeout, follow_redirects=False)
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}")
        return None

    return check


def run_probe_cycle(engine: Engine, client: redis.Redis) -> list[ProbeResult]:
    """Probe every component concurrently under one overall deadline; a hung peer is 'down'."""
    settings = get_settings()

    def pg() -> str | None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None

    def rd() -> str | None:
        client.ping()
        return None

    probes: dict[str, tuple[Callable[[], str | None], float]] = {
        "postgresql": (pg, 500),
        "redis": (rd, 200),
        "orca_core": (_http_check(settings.core_url.rstrip("/") + "/health"), 1000),
        "otel_collector": (_http_check(settings.otel_health_url), 1000),
        "worker": (lambda: None, 1000),
    }
    at = datetime.now(UTC)
    results: list[ProbeResult] = []
    pool = ThreadPoolExecutor(max_workers=len(probes), thread_name_prefix="probe")
    futures = {pool.submit(_timed, name, fn, slow): name for name, (fn, slow) in probes.items()}
    done, _ = wait(futures, timeout=settings.probe_deadline_s)
    for future, name in futures.items():
        if future in done:
            results.append(future.result())
        else:
            results.append(ProbeResult(name, "down", None, "timed out", at))
    pool.shutdown(wait=False, cancel_futures=True)
    live.write_probe_results(
        client,
        {
            r.component: {
                "status": r.status,
                "latency_ms": r.latency_ms,
                "message": r.message,
                "checked_at": r.checked_at.isoformat(),
            }
            for r in results
        },
    )
    try:
        with Session(engine) as session, session.begin():
            for r in results:
                health.record_health_check(
                    session,
                    component=r.component,
                    status=r.status,
                    checked_at=r.checked_at.replace(microsecond=0),
                    latency_ms=r.latency_ms,
                    message=r.message,
                )
    except Exception as exc:  # PostgreSQL down: the live state in Redis still tells the story
        log.warning("could not store probe results: %s", exc.__class__.__name__)
    return results
