"""The live stand-in: traffic every tick, and each injected fault visible in the console's data
within two probe intervals (here: tick 1 s, probe cycles run back to back)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import cast

import httpx
import redis
from sqlalchemy import Engine, text

from dashboard.core.faults import clear_fault, inject_fault
from dashboard.core.server import CoreStandIn
from dashboard.data import live
from dashboard.integrations.probes import core_probe
from dashboard.settings import get_settings
from dashboard.sim.vocab import INSTANCES
from dashboard.worker.probes import run_probe_job
from tests.core.support import wait_for
from tests.harness import generous

PROBE_INTERVAL_S = 1.0


def probe_core(engine: Engine, client: redis.Redis, core: CoreStandIn) -> tuple[str, str]:
    """One probe job of the worker, aimed at the stand-in; stored like the worker stores it."""
    settings = get_settings().model_copy(
        update={"core_url": core.url, "probe_read_timeout_s": 1.0, "probe_deadline_s": 2.0}
    )
    probe = core_probe(core.url + "/health", connect_timeout_s=0.5, read_timeout_s=1.0)
    [result] = run_probe_job(engine, client, settings=settings, probes=[probe])
    return result.status, result.message


def stored_core_status(engine: Engine, since: datetime) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text("""SELECT status FROM health_checks WHERE component = 'orca_core'
                        AND checked_at >= :since ORDER BY checked_at"""),
                {"since": since},
            ).scalars()
        )


def errors_this_minute(engine: Engine, route: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("""SELECT coalesce(sum(error_count), 0) FROM request_metrics
                        WHERE route = :r AND minute >= date_trunc('minute', now()) - interval '1 minute'"""),
                {"r": route},
            ).scalar_one()
        )


def test_ticks_write_live_data(live_core: CoreStandIn, live_db: Engine) -> None:
    assert wait_for(lambda: live_core.ticks >= 2, timeout_s=4)
    since = datetime.now(UTC) - timedelta(minutes=2)
    with live_db.connect() as conn:
        for table, column in (
            ("request_metrics", "minute"),
            ("resource_samples", "minute"),
            ("sync_lag_samples", "minute"),
            ("agent_trust_history", "computed_at"),
        ):
            n = conn.execute(
                text(f"SELECT count(*) FROM {table} WHERE {column} >= :s"), {"s": since}
            ).scalar_one()
            assert n > 0, table
        fresh = conn.execute(
            text("SELECT count(*) FROM data_sources WHERE last_attempt_at >= :s"), {"s": since}
        ).scalar_one()
        assert fresh > 0
        assert (
            conn.execute(
                text("SELECT count(*) FROM sync_gaps WHERE external_key IS NULL")
            ).scalar_one()
            == 0
        )  # older gaps got the key the console derives


def test_error_spike_shows_in_request_metrics_and_clears(
    live_core: CoreStandIn, live_db: Engine, redis_client: redis.Redis
) -> None:
    route = "/api/v1/trust/sync-gaps"
    before = errors_this_minute(live_db, route)
    inject_fault(redis_client, "error_spike", "1m", {"routes": [route], "rate": 1.0})
    assert httpx.get(live_core.url + route, timeout=5).status_code == 500
    started = time.monotonic()
    assert wait_for(
        lambda: errors_this_minute(live_db, route) > before, timeout_s=2 * PROBE_INTERVAL_S + 1
    )
    print(f"error spike visible after {time.monotonic() - started:.2f} s")
    assert httpx.get(live_core.url + "/api/v1/trust", timeout=5).status_code == 200
    clear_fault(redis_client, "error_spike")
    assert httpx.get(live_core.url + route, timeout=5).status_code == 200


def test_health_down_reaches_health_checks_within_two_probe_intervals(
    live_core: CoreStandIn, live_db: Engine, redis_client: redis.Redis
) -> None:
    since = datetime.now(UTC)
    assert probe_core(live_db, redis_client, live_core)[0] == "up"
    inject_fault(redis_client, "health_down", "1m")
    started = time.monotonic()
    seen = []
    for _ in range(2):  # two probe intervals
        seen.append(probe_core(live_db, redis_client, live_core))
        if seen[-1][0] == "down":
            break
        time.sleep(PROBE_INTERVAL_S)
    assert seen[-1][0] == "down", seen
    assert "injected fault: health_down" in seen[-1][1]
    assert time.monotonic() - started < generous(2 * PROBE_INTERVAL_S + 2)
    assert live.read_probe_results(redis_client).value["orca_core"]["status"] == "down"
    clear_fault(redis_client, "health_down")
    assert probe_core(live_db, redis_client, live_core)[0] == "up"
    assert stored_core_status(live_db, since) == ["up", "down", "up"]


def test_health_hang_and_latency_spike(
    live_core: CoreStandIn, live_db: Engine, redis_client: redis.Redis
) -> None:
    inject_fault(redis_client, "health_hang", "1m")
    started = time.monotonic()
    status, message = probe_core(live_db, redis_client, live_core)
    assert (status, message[:9]) == ("down", "timed out")
    assert time.monotonic() - started < generous(3.5)
    clear_fault(redis_client, "health_hang")
    inject_fault(redis_client, "latency_spike", "1m", {"routes": ["/health"], "ms": 1100})
    settings = get_settings().model_copy(update={"probe_deadline_s": 3.0})
    probe = core_probe(live_core.url + "/health", connect_timeout_s=0.5, read_timeout_s=2.0)
    [result] = run_probe_job(live_db, redis_client, settings=settings, probes=[probe])
    assert result.status == "degraded" and result.message.startswith("slow: 11")
    clear_fault(redis_client, "latency_spike")


def _system_trust(engine: Engine) -> float:
    with engine.connect() as conn:
        return float(
            conn.execute(
                text("SELECT avg(trust_score) FROM agents WHERE status = 'active'")
            ).scalar_one()
        )


def test_trust_collapse_and_recovery(
    live_core: CoreStandIn, live_db: Engine, redis_client: redis.Redis
) -> None:
    assert _system_trust(live_db) > 60
    inject_fault(redis_client, "trust_collapse", "1m", {"share": 1.0})
    assert wait_for(lambda: _system_trust(live_db) < 50, timeout_s=4)
    clear_fault(redis_client, "trust_collapse")
    assert wait_for(lambda: _system_trust(live_db) > 60, timeout_s=5)


def test_drift_wave_and_sync_stall(
    live_core: CoreStandIn, live_db: Engine, redis_client: redis.Redis
) -> None:
    def drift_rate() -> float:
        with live_db.connect() as conn:
            d, a = conn.execute(
                text("""SELECT count(*) FILTER (WHERE EXISTS (SELECT 1 FROM drift_detections d
                        WHERE d.agent_id = a.id AND d.resolved_at IS NULL)), count(*)
                        FROM agents a WHERE status = 'active'""")
            ).one()
        return cast(float, 100.0 * d / a)

    inject_fault(redis_client, "drift_wave", "1m", {"share": 0.3})
    assert wait_for(lambda: drift_rate() > 15, timeout_s=4)
    clear_fault(redis_client, "drift_wave")
    high = drift_rate()
    assert wait_for(lambda: drift_rate() < high - 10, timeout_s=5)

    # Sync stall: the stalled source's data sources stop syncing (checked a few minutes ahead).
    gen = live_core.generator
    inject_fault(redis_client, "sync_stall", "1m", {"sources": ["mcp", "zapier"]})
    ahead = datetime.now(UTC) + timedelta(minutes=3)
    live_core.stop_event.wait(0.6)  # let the loop's own refresh pass
    gen.sync_refresh(now=ahead)
    with live_db.connect() as conn:
        rows: dict[bool, bool] = dict(
            conn.execute(
                text("""SELECT source IN ('mcp', 'zapier'), bool_and(status = 'ok')
                        FROM data_sources WHERE status <> 'failed' GROUP BY 1""")
            ).all()
        )
    assert rows == {True: False, False: True}
    clear_fault(redis_client, "sync_stall")
    gen.sync_refresh(now=ahead + timedelta(seconds=5))
    with live_db.connect() as conn:
        lagging = conn.execute(
            text("SELECT count(*) FROM data_sources WHERE status = 'lagging'")
        ).scalar_one()
    assert lagging == 0


def test_connection_leak_holds_and_releases(
    live_core: CoreStandIn, live_db: Engine, redis_client: redis.Redis
) -> None:
    def held() -> int:
        with live_db.connect() as conn:
            return int(
                conn.execute(
                    text("""SELECT count(*) FROM pg_stat_activity
                            WHERE application_name = 'orca-core-leak' AND datname = current_database()""")
                ).scalar_one()
            )

    inject_fault(redis_client, "db_connection_leak", "1m", {"connections": 3})
    assert wait_for(lambda: held() == 3, timeout_s=3)
    clear_fault(redis_client, "db_connection_leak")
    assert wait_for(lambda: held() == 0, timeout_s=3)


def test_crash_takes_the_stand_in_down(
    live_db: Engine, redis_url: str, redis_client: redis.Redis
) -> None:
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    reasons: list[str] = []
    standin = CoreStandIn(live_db, client, traffic=False, fault_ttl_s=0, on_crash=reasons.append)
    standin.start()
    try:
        inject_fault(redis_client, "crash", "30s")
        assert wait_for(lambda: bool(reasons), timeout_s=3)
        assert reasons[0] == "injected fault: crash"
        # While the fault lasts, a restart exits again at once (`up` keeps retrying).
        again = CoreStandIn(live_db, client, traffic=False, on_crash=reasons.append)
        again.start()
        assert reasons[-1] == "injected fault: crash (active at start)"
        again.stop()
    finally:
        clear_fault(redis_client)
        standin.stop()
        client.close()


def test_new_sync_gaps_carry_the_console_key(
    live_core: CoreStandIn, live_db: Engine, redis_client: redis.Redis
) -> None:

    from dashboard.integrations.orca_core import gap_external_key

    gen = live_core.generator
    inject_fault(redis_client, "sync_stall", "1m", {"sources": ["mcp"]})
    at = datetime.now(UTC)
    with live_db.begin() as conn:
        assert gen.write_sync_samples(conn, at, 1.0, gap_chance=1.0) == 1
    clear_fault(redis_client, "sync_stall")
    with live_db.begin() as conn:
        assert gen.write_sync_samples(conn, at + timedelta(seconds=1), 1.0, gap_chance=1.0) == 1
    with live_db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT source, target, gap_type, detected_at, external_key FROM sync_gaps "
                "WHERE detected_at >= :at ORDER BY detected_at"
            ),
            {"at": at},
        ).all()
    assert rows[0].source == "mcp" and rows[0].gap_type == "stale_data"
    assert all(
        r.external_key == gap_external_key(r.source, r.target, r.gap_type, r.detected_at)
        for r in rows
    )


def test_a_minute_of_traffic_covers_every_endpoint_once(
    live_core: CoreStandIn, live_db: Engine
) -> None:
    """The one traffic writer (it replaced the worker's demo minute): a tick fills the minute's
    rows for every endpoint and instance, and a second tick of that minute adds to the same rows."""
    minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=3)

    def counts() -> tuple[int, int]:
        with live_db.connect() as conn:
            return tuple(
                conn.execute(
                    text(f"SELECT count(*) FROM {table} WHERE minute = :m"), {"m": minute}
                ).scalar_one()
                for table in ("request_metrics", "resource_samples")
            )

    live_core.generator.tick(tick_s=60, now=minute + timedelta(seconds=30))
    requests, resources = counts()
    assert requests >= 20
    assert resources == len(INSTANCES)
    live_core.generator.tick(tick_s=60, now=minute + timedelta(seconds=40))
    assert counts()[1] == resources  # a minute's resource sample is written once
    assert counts()[0] >= requests
