"""The health checks behind `orca-dashboard doctor` (and a future Doctor page): one verdict each."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import redis
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from dashboard.data.live import read_heartbeat
from dashboard.db.engine import make_engine
from dashboard.db.migrate import current_revision, head_revision
from dashboard.integrations.redis_client import make_redis
from dashboard.settings import Settings, get_settings

#: A check's verdict: fail makes doctor exit non-zero, warn does not.
CheckVerdict = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    name: str
    verdict: CheckVerdict
    detail: str


def settings_check() -> tuple[Check, Settings | None]:
    """Read the settings; a bad one is a failed check (and no settings to go on with)."""
    try:
        settings = get_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        return Check(
            "settings", "fail", f"invalid setting {first.get('loc')}: {first.get('msg')}"
        ), None
    return Check("settings", "ok", f"env={settings.env}, state dir {settings.state_dir}"), settings


def database_checks(database_url: str | None, *, origin: str) -> list[Check]:
    """PostgreSQL reachable, and the schema at the code's head revision."""
    if database_url is None:
        return [
            Check(
                "postgresql",
                "fail",
                "no database configured and no embedded PostgreSQL running: "
                "set ORCA_DATABASE_URL or start the console with `make run`",
            )
        ]
    started = time.monotonic()
    try:
        engine = make_engine(database_url, connect_timeout_s=3)
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar_one()
        ms = (time.monotonic() - started) * 1000
        out = [
            Check("postgresql", "ok", f"PostgreSQL {version} reachable in {ms:.0f} ms ({origin})")
        ]
        current, head = current_revision(engine), head_revision()
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        return [Check("postgresql", "fail", f"cannot connect to PostgreSQL: {reason}")]
    if current == head:
        out.append(Check("migrations", "ok", f"schema at head {head}"))
    else:
        out.append(
            Check(
                "migrations",
                "fail",
                f"schema at {current or 'nothing'}, code expects {head}: "
                "run `orca-dashboard migrate`",
            )
        )
    return out


def redis_checks(redis_url: str | None, *, origin: str) -> list[Check]:
    """Redis reachable, and the worker's heartbeat in it."""
    if redis_url is None:
        return [
            Check(
                "redis",
                "fail",
                "no Redis configured and no embedded Redis running: "
                "set ORCA_REDIS_URL or start the console with `make run`",
            )
        ]
    try:
        client = make_redis(redis_url, timeout_s=2)
        client.ping()
        out = [Check("redis", "ok", f"Redis reachable ({origin})")]
        beat = read_heartbeat(client)
    except redis.RedisError as exc:
        return [Check("redis", "fail", f"cannot reach Redis: {exc}")]
    if beat.value is None:
        out.append(
            Check("worker", "warn", "no worker heartbeat: is `orca-dashboard worker` running?")
        )
    else:
        role = "leader" if beat.value.get("leader") else "standby"
        out.append(Check("worker", "ok", f"worker heartbeat {beat.age_s:.0f} s ago ({role})"))
    return out


def peer_checks(settings: Settings) -> list[Check]:
    """ORCA Core and the OpenTelemetry Collector: warn, never fail (the console works without)."""
    from dashboard.integrations.probes import collector_probe, core_probe, run_probe_cycle

    connect, read = settings.probe_connect_timeout_s, settings.probe_read_timeout_s
    core_url = settings.core_url.rstrip("/") + "/health"
    peers = [
        (
            "orca core",
            core_url,
            core_probe(core_url, connect_timeout_s=connect, read_timeout_s=read),
        ),
        (
            "otel",
            settings.otel_health_url,
            collector_probe(
                settings.otel_health_url, connect_timeout_s=connect, read_timeout_s=read
            ),
        ),
    ]
    results = run_probe_cycle([p for _, _, p in peers], deadline_s=settings.probe_deadline_s)
    return [
        Check(name, "ok" if r.status == "up" else "warn", f"{url}: {r.status}, {r.message}")
        for (name, url, _), r in zip(peers, results, strict=True)
    ]


def run_checks(
    settings: Settings, *, database_url: str | None, redis_url: str | None, origin: str
) -> list[Check]:
    """Every check after the settings one, against the servers given (nothing is started)."""
    from dashboard.data.ops_checks import ops_checks  # issue 11: defaults, pgvector, disk, ...

    return [
        *database_checks(database_url, origin=origin),
        *redis_checks(redis_url, origin=origin),
        *peer_checks(settings),
        *ops_checks(settings, database_url=database_url),
    ]


def run_all_checks() -> list[Check]:
    """The Doctor page's list: the same checks as `orca-dashboard doctor`, against the servers
    this process is configured with (the console always runs with both URLs set)."""
    first, settings = settings_check()
    if settings is None:
        return [first]
    return [
        first,
        *run_checks(
            settings,
            database_url=settings.database_url,
            redis_url=settings.redis_url,
            origin="settings",
        ),
    ]
