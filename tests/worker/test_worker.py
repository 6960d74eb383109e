"""The worker: jobs write rollups, KPI snapshots, probe results and heartbeat; one leader."""

from __future__ import annotations

from datetime import UTC, datetime

import redis
from sqlalchemy import Engine, text

from dashboard.data import live, panels
from dashboard.settings import get_settings
from dashboard.worker.main import LEADER_LOCK_ID, Worker


def test_jobs_run_and_leave_their_mark(seeded_engine: Engine, redis_client: redis.Redis) -> None:
    worker = Worker(seeded_engine)
    second = Worker(seeded_engine)
    try:
        assert worker.is_leader()
        assert not second.is_leader()  # the advisory lock admits one leader
        hour = panels.floor_to(
            panels.console_now(datetime.now(UTC), get_settings().fixed_now), panels.DRIVER_STEP
        )
        with seeded_engine.connect() as conn:  # this pass's probes, not an earlier test's
            started = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
        results = worker.run_due(force=True)
        assert set(results) >= {
            "partitions",
            "rollups",
            "kpi_snapshot",
            "probes",
            "notify",
            "trust_pools",
        }
        assert all(v == "ok" for v in results.values()), results
        worker.heartbeat(leader=True)
        beat = live.read_heartbeat(redis_client)
        assert beat.value["leader"] is True and beat.age_s is not None and beat.age_s < 5
        probes = live.read_probe_results(redis_client).value
        assert probes["postgresql"]["status"] == "up"
        assert probes["redis"]["status"] == "up"
        # Nothing listens on the configured ORCA Core port in this test: reported down, not raised.
        assert probes["orca_core"]["status"] == "down"
        with seeded_engine.connect() as conn:
            assert (
                conn.execute(
                    text("SELECT count(*) FROM kpi_snapshots WHERE origin = 'worker'")
                ).scalar_one()
                == 1
            )
            assert (
                conn.execute(
                    text("SELECT count(*) FROM health_checks WHERE checked_at >= :t"),
                    {"t": started},
                ).scalar_one()
                == 5
            )
        with seeded_engine.connect() as conn:  # the preset ranges' trust-fall pools, this hour's
            spans = conn.execute(
                text(
                    "SELECT count(DISTINCT end_at - start_at) FROM trust_fall_pools"
                    " WHERE end_at >= :hour"
                ),
                {"hour": hour},
            ).scalar_one()
            assert spans == 5
        with seeded_engine.connect() as conn:  # the snapshot lives in PostgreSQL only now
            assert (
                conn.execute(
                    text("SELECT total_agents FROM kpi_snapshots WHERE origin = 'worker'")
                ).scalar_one()
                == 400
            )
        worker.release_leadership()
        assert second.is_leader()  # leadership passes on when the leader goes
        second.release_leadership()
    finally:  # a failed assertion must not leave the lock held for the next test
        worker.release_leadership()
        second.release_leadership()


def _lock_holder(engine: Engine) -> tuple[int, str] | None:
    """(pid, state) of the session holding the leader lock, seen from another connection."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT a.pid, a.state FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                " WHERE l.locktype = 'advisory' AND l.granted AND l.objid = :lo"
            ),
            {"lo": LEADER_LOCK_ID & 0xFFFFFFFF},
        ).first()
    return (int(row[0]), str(row[1])) if row is not None else None


def test_the_leader_holds_no_transaction_and_notices_a_lost_lock(seeded_engine: Engine) -> None:
    worker = Worker(seeded_engine)
    try:
        assert worker.is_leader() and worker.is_leader()  # the second call checks the lock
        holder = _lock_holder(seeded_engine)
        assert holder is not None
        pid, state = holder
        assert state == "idle", state  # never "idle in transaction": VACUUM is not held back
        with seeded_engine.connect() as conn:  # the lock's session dies, as in a failover
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        assert not worker.is_leader()  # noticed: the dead connection is dropped
        assert worker.is_leader()  # and leadership is taken again on a new connection
        assert (new := _lock_holder(seeded_engine)) is not None and new[0] != pid
    finally:
        worker.release_leadership()
