"""`orca-dashboard doctor`: one line per check, non-zero exit with a plain reason on failure."""

from __future__ import annotations

import time
from collections.abc import Callable
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
from dashboard.services import resolve_services
from dashboard.settings import Settings, get_settings

Outcome = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    name: str
    outcome: Outcome
    detail: str


def _checks() -> list[Check]:
    out: list[Check] = []
    try:
        settings = get_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        return [
            Check("settings", "fail", f"invalid setting {first.get('loc')}: {first.get('msg')}")
        ]
    out.append(Check("settings", "ok", f"env={settings.env}, state dir {settings.state_dir}"))

    found = resolve_services("doctor", settings)
    db_url, redis_url, origin = found.database_url, found.redis_url, found.origin
    if db_url is None:
        out.append(
            Check(
                "postgresql",
                "fail",
                "no database configured and no embedded PostgreSQL running: "
                "set ORCA_DATABASE_URL or start the console with `make run`",
            )
        )
    else:
        started = time.monotonic()
        try:
            engine = make_engine(db_url, connect_timeout_s=3)
            with engine.connect() as conn:
                version = conn.execute(text("SHOW server_version")).scalar_one()
            ms = (time.monotonic() - started) * 1000
            out.append(
                Check(
                    "postgresql", "ok", f"PostgreSQL {version} reachable in {ms:.0f} ms ({origin})"
                )
            )
            current, head = current_revision(engine), head_revision()
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
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            out.append(Check("postgresql", "fail", f"cannot connect to PostgreSQL: {reason}"))
    if redis_url is None:
        out.append(
            Check(
                "redis",
                "fail",
                "no Redis configured and no embedded Redis running: "
                "set ORCA_REDIS_URL or start the console with `make run`",
            )
        )
    else:
        try:
            client = make_redis(redis_url, timeout_s=2)
            client.ping()
            out.append(Check("redis", "ok", f"Redis reachable ({origin})"))
            beat = read_heartbeat(client)
            if beat.value is None:
                out.append(
                    Check(
                        "worker", "warn", "no worker heartbeat: is `orca-dashboard worker` running?"
                    )
                )
            else:
                role = "leader" if beat.value.get("leader") else "standby"
                out.append(
                    Check("worker", "ok", f"worker heartbeat {beat.age_s:.0f} s ago ({role})")
                )
        except redis.RedisError as exc:
            out.append(Check("redis", "fail", f"cannot reach Redis: {exc}"))
    out.extend(_peer_checks(settings))
    return out


def _peer_checks(settings: Settings) -> list[Check]:
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


def run_doctor(echo: Callable[[str], object]) -> int:
    checks = _checks()
    for check in checks:
        echo(f"{check.outcome.upper():4}  {check.name:<11} {check.detail}")
    failed = [c for c in checks if c.outcome == "fail"]
    if failed:
        echo(f"doctor: {len(failed)} check(s) failed: " + "; ".join(c.name for c in failed))
        return 1
    echo("doctor: all checks passed")
    return 0
