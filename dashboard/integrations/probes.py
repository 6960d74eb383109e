"""Health probes of every component the guide names, run concurrently under one hard deadline.

Each probe answers up / degraded / down with a latency and a plain-words message. The cycle
runs them all at once on a private event loop and stops waiting at the deadline: a peer that
never answers, or drips its answer, ends as ``down`` / "timed out" and cannot stall the cycle
(async probes are cancelled; sync ones run on daemon threads that are left behind).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, cast

import psycopg
import redis.asyncio as aioredis

from dashboard.domain.enums import CheckStatus, Component, OverallHealth
from dashboard.integrations.http import (
    Deadline,
    FetchError,
    get_with_retry,
    is_connection_refused,
    make_async_client,
    run_with_deadline,
)
from dashboard.integrations.orca_core import HealthReading, parse_health

#: Whatever settings say, a probe cycle never takes longer than this (the 5 s promise).
HARD_DEADLINE_S: Final = 4.3
#: An answer slower than this is ``degraded`` ("slow").
DEFAULT_SLOW_MS: Final = 1000.0
MESSAGE_LIMIT: Final = 300


@dataclass(frozen=True)
class ProbeOutcome:
    """What one probe found (the cycle adds the component and the time)."""

    status: CheckStatus
    message: str
    latency_ms: float | None = None


@dataclass(frozen=True)
class ProbeResult:
    """One component's health at ``checked_at``: status up|degraded|down, latency, message."""

    component: str
    status: str
    latency_ms: float | None
    message: str
    checked_at: datetime

    def to_live(self) -> dict[str, Any]:
        """The JSON-friendly form kept in Redis as the latest state."""
        return {
            "status": self.status,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 2),
            "message": self.message,
            "checked_at": self.checked_at.isoformat(),
        }


ProbeFn = Callable[[Deadline], Awaitable[ProbeOutcome]]


@dataclass(frozen=True)
class Probe:
    """A named check; ``check`` gets the cycle's deadline and must be cancellable."""

    component: str
    check: ProbeFn


def _clip(message: str) -> str:
    message = " ".join(message.split())
    return message if len(message) <= MESSAGE_LIMIT else message[: MESSAGE_LIMIT - 1] + "…"


def _slow(outcome: ProbeOutcome, slow_ms: float) -> ProbeOutcome:
    if (
        outcome.status == CheckStatus.UP
        and outcome.latency_ms is not None
        and outcome.latency_ms > slow_ms
    ):
        return ProbeOutcome(
            CheckStatus.DEGRADED,
            f"slow: {outcome.latency_ms:.0f} ms (over {slow_ms:.0f} ms); {outcome.message}",
            outcome.latency_ms,
        )
    return outcome


# -- HTTP probes ----------------------------------------------------------------------------
def core_health_outcome(reading: HealthReading) -> ProbeOutcome:
    """Map an ORCA Core /health answer to a check status (DOMAIN.md: 200 healthy, else 503)."""
    health, code, ms = reading.health, reading.status_code, reading.latency_ms
    if health is None:
        if code == 200:
            return ProbeOutcome(
                CheckStatus.DEGRADED,
                f"answered 200 but {reading.problem or 'the body is not a health document'}",
                ms,
            )
        return ProbeOutcome(CheckStatus.DOWN, f"HTTP {code} ({reading.problem})", ms)
    failing = [c for c in health.checks if c.status != CheckStatus.UP]
    detail = ", ".join(
        f"{c.name} {c.status.value}" + (f" ({c.message})" if c.message else "") for c in failing
    )
    if code == 200 and health.status == OverallHealth.HEALTHY:
        return ProbeOutcome(CheckStatus.UP, f"healthy, version {health.version}", ms)
    if code not in (200, 503):
        return ProbeOutcome(CheckStatus.DOWN, f"HTTP {code}: {health.status.value}", ms)
    if health.status == OverallHealth.UNHEALTHY:
        return ProbeOutcome(
            CheckStatus.DOWN, f"HTTP {code}: unhealthy" + (f": {detail}" if detail else ""), ms
        )
    return ProbeOutcome(
        CheckStatus.DEGRADED,
        f"HTTP {code}: {health.status.value}" + (f": {detail}" if detail else ""),
        ms,
    )


def collector_outcome(status_code: int, body: bytes, latency_ms: float) -> ProbeOutcome:
    """The OpenTelemetry Collector health_check extension: 200 available, 503 not."""
    said = ""
    try:
        data = json.loads(body)
        if isinstance(data, dict) and isinstance(data.get("status"), str):
            said = data["status"][:100]
    except (ValueError, UnicodeDecodeError):
        pass
    if status_code == 200:
        return ProbeOutcome(CheckStatus.UP, said or "available", latency_ms)
    return ProbeOutcome(
        CheckStatus.DOWN, f"HTTP {status_code}" + (f": {said}" if said else ""), latency_ms
    )


def _http_probe(
    component: str,
    url: str,
    interpret: Callable[[int, bytes, float], ProbeOutcome],
    *,
    connect_timeout_s: float,
    read_timeout_s: float,
    retries: int,
    slow_ms: float,
) -> Probe:
    async def check(deadline: Deadline) -> ProbeOutcome:
        async with make_async_client(
            connect_timeout_s=connect_timeout_s, read_timeout_s=read_timeout_s, max_connections=2
        ) as client:
            try:
                # A 503 from a health endpoint is an answer, never retried.
                fetched = await get_with_retry(
                    client, url, deadline=deadline, retries=retries, retry_statuses=frozenset()
                )
            except FetchError as exc:
                return ProbeOutcome(CheckStatus.DOWN, exc.message, None)
        return _slow(interpret(fetched.status_code, fetched.body, fetched.latency_ms), slow_ms)

    return Probe(component, check)


def core_probe(
    url: str,
    *,
    connect_timeout_s: float,
    read_timeout_s: float,
    retries: int = 2,
    slow_ms: float = DEFAULT_SLOW_MS,
) -> Probe:
    """ORCA Core: GET ``url`` (its /health) and judge the documented health document."""
    return _http_probe(
        Component.ORCA_CORE.value,
        url,
        lambda code, body, ms: core_health_outcome(parse_health(code, body, ms)),
        connect_timeout_s=connect_timeout_s,
        read_timeout_s=read_timeout_s,
        retries=retries,
        slow_ms=slow_ms,
    )


def collector_probe(
    url: str,
    *,
    connect_timeout_s: float,
    read_timeout_s: float,
    retries: int = 2,
    slow_ms: float = DEFAULT_SLOW_MS,
) -> Probe:
    """OpenTelemetry Collector: GET its health_check endpoint (:13133/ by default)."""
    return _http_probe(
        Component.OTEL_COLLECTOR.value,
        url,
        collector_outcome,
        connect_timeout_s=connect_timeout_s,
        read_timeout_s=read_timeout_s,
        retries=retries,
        slow_ms=slow_ms,
    )


# -- PostgreSQL and Redis -------------------------------------------------------------------
def _libpq_url(url: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def _pg_message(exc: BaseException) -> str:
    text = str(exc).strip()
    low = text.lower()
    if "connection refused" in low:
        return "connection refused"
    if "timeout expired" in low or "timed out" in low:
        return "connect timed out"
    if "too many clients" in low or "remaining connection slots" in low:
        return "too many connections"
    if "password authentication failed" in low:
        return "authentication failed"
    if "does not exist" in low:
        return text.splitlines()[-1][:200] if text else "database does not exist"
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def postgres_probe(
    database_url: str, *, connect_timeout_s: float, slow_ms: float = DEFAULT_SLOW_MS
) -> Probe:
    """PostgreSQL: a fresh connection and ``SELECT 1`` (the pool could hide a dead server)."""
    dsn = _libpq_url(database_url)
    # libpq counts connect_timeout in whole seconds and treats less than 2 as 2.
    connect_timeout = max(2, math.ceil(connect_timeout_s))

    async def check(deadline: Deadline) -> ProbeOutcome:
        started = time.monotonic()
        try:
            conn = await psycopg.AsyncConnection.connect(
                dsn,
                connect_timeout=connect_timeout,
                autocommit=True,
                application_name="orca-probe",
                options="-c statement_timeout=2000",
            )
        except psycopg.Error as exc:
            return ProbeOutcome(CheckStatus.DOWN, _pg_message(exc), None)
        try:
            await conn.execute("SELECT 1")
        except psycopg.Error as exc:
            return ProbeOutcome(CheckStatus.DOWN, _pg_message(exc), None)
        finally:
            await conn.close()
        ms = (time.monotonic() - started) * 1000.0
        return _slow(ProbeOutcome(CheckStatus.UP, "SELECT 1 answered", ms), slow_ms)

    return Probe(Component.POSTGRESQL.value, check)


def redis_probe(redis_url: str, *, timeout_s: float, slow_ms: float = DEFAULT_SLOW_MS) -> Probe:
    """Redis: PING on a fresh connection with short socket timeouts."""

    async def check(deadline: Deadline) -> ProbeOutcome:
        client = aioredis.Redis.from_url(
            redis_url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry_on_timeout=False,
        )
        started = time.monotonic()
        try:
            await cast(Awaitable[bool], client.ping())
        except (aioredis.RedisError, OSError) as exc:
            text = str(exc)
            if is_connection_refused(exc):
                return ProbeOutcome(CheckStatus.DOWN, "connection refused", None)
            if "timeout" in text.lower() or "timed out" in text.lower():
                return ProbeOutcome(CheckStatus.DOWN, "timed out", None)
            return ProbeOutcome(CheckStatus.DOWN, f"{type(exc).__name__}: {text[:200]}", None)
        finally:
            await client.aclose()
        ms = (time.monotonic() - started) * 1000.0
        return _slow(ProbeOutcome(CheckStatus.UP, "PING answered", ms), slow_ms)

    return Probe(Component.REDIS.value, check)


# -- sync checks (heartbeat) ----------------------------------------------------------------
def sync_probe(component: str, fn: Callable[[], ProbeOutcome]) -> Probe:
    """Wrap a blocking check: it runs on a daemon thread the cycle can walk away from."""

    async def check(deadline: Deadline) -> ProbeOutcome:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ProbeOutcome] = loop.create_future()

        def _deliver(value: ProbeOutcome | None, error: BaseException | None) -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                assert value is not None
                future.set_result(value)

        def _run() -> None:
            value: ProbeOutcome | None = None
            error: BaseException | None = None
            try:
                value = fn()
            except BaseException as exc:  # handed to the loop, reported as down
                error = exc
            # RuntimeError: the loop is closed already, nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_deliver, value, error)

        threading.Thread(target=_run, name=f"probe-{component}", daemon=True).start()
        return await future

    return Probe(component, check)


def heartbeat_outcome(
    age_s: float | None, *, error: str | None = None, up_s: float = 60.0, degraded_s: float = 300.0
) -> ProbeOutcome:
    """Worker heartbeat age: fresh is up, late is degraded, missing or very late is down."""
    if error is not None:
        return ProbeOutcome(CheckStatus.DOWN, f"heartbeat unreadable: {error}")
    if age_s is None:
        return ProbeOutcome(CheckStatus.DOWN, "no heartbeat: is the worker running?")
    if age_s <= up_s:
        return ProbeOutcome(CheckStatus.UP, f"heartbeat {age_s:.0f} s ago")
    if age_s <= degraded_s:
        return ProbeOutcome(CheckStatus.DEGRADED, f"heartbeat late: {age_s:.0f} s ago")
    return ProbeOutcome(CheckStatus.DOWN, f"heartbeat stale: {age_s:.0f} s ago")


# -- the cycle ------------------------------------------------------------------------------
async def _run_one(probe: Probe, deadline: Deadline) -> ProbeOutcome:
    started = time.monotonic()
    outcome = await probe.check(deadline)
    if outcome.latency_ms is None and outcome.status != CheckStatus.DOWN:
        # Checks without an own measure (heartbeat) report the probe's own time.
        return ProbeOutcome(outcome.status, outcome.message, (time.monotonic() - started) * 1000.0)
    return outcome


async def run_probe_cycle_async(
    probes: Sequence[Probe], *, deadline_s: float, now: datetime | None = None
) -> list[ProbeResult]:
    """Run every probe concurrently; whatever is unfinished at the deadline is down/timed out."""
    seconds = max(0.05, min(deadline_s, HARD_DEADLINE_S))
    deadline = Deadline(seconds)
    checked_at = now or datetime.now(UTC)
    tasks = [asyncio.create_task(_run_one(p, deadline), name=p.component) for p in probes]
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=seconds)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=0.2)
    results: list[ProbeResult] = []
    for probe, task in zip(probes, tasks, strict=True):
        if not task.done() or task.cancelled():
            outcome = ProbeOutcome(CheckStatus.DOWN, f"timed out after {seconds:.1f} s")
        elif task.exception() is not None:
            exc = task.exception()
            outcome = ProbeOutcome(CheckStatus.DOWN, f"probe failed: {type(exc).__name__}: {exc}")
        else:
            outcome = task.result()
        results.append(
            ProbeResult(
                component=probe.component,
                status=CheckStatus(outcome.status).value,
                latency_ms=outcome.latency_ms,
                message=_clip(outcome.message),
                checked_at=checked_at,
            )
        )
    return results


def run_probe_cycle(
    probes: Sequence[Probe], *, deadline_s: float, now: datetime | None = None
) -> list[ProbeResult]:
    """Sync entry point (the worker, doctor): always returns within ~deadline_s (≤ 4.3 s)."""
    seconds = min(deadline_s, HARD_DEADLINE_S)
    checked_at = now or datetime.now(UTC)
    try:
        return run_with_deadline(
            lambda: run_probe_cycle_async(probes, deadline_s=seconds, now=checked_at),
            seconds + 0.4,
        )
    except TimeoutError:  # only if the event loop itself was held up; never hang the caller
        return [
            ProbeResult(p.component, CheckStatus.DOWN.value, None, "timed out", checked_at)
            for p in probes
        ]


def default_probes(
    *,
    core_url: str,
    otel_health_url: str,
    database_url: str | None,
    redis_url: str | None,
    connect_timeout_s: float,
    read_timeout_s: float,
    heartbeat: Callable[[], ProbeOutcome] | None = None,
) -> list[Probe]:
    """The five components of the guide, from settings-like values."""
    probes = [
        core_probe(
            core_url.rstrip("/") + "/health",
            connect_timeout_s=connect_timeout_s,
            read_timeout_s=read_timeout_s,
        ),
        collector_probe(
            otel_health_url, connect_timeout_s=connect_timeout_s, read_timeout_s=read_timeout_s
        ),
    ]
    if database_url:
        probes.append(postgres_probe(database_url, connect_timeout_s=connect_timeout_s))
    if redis_url:
        probes.append(redis_probe(redis_url, timeout_s=max(connect_timeout_s, read_timeout_s)))
    if heartbeat is not None:
        probes.append(sync_probe(Component.WORKER.value, heartbeat))
    return probes
