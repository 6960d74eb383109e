"""Database Connection Issues and High Error Rate end to end against the supervised stand-in,
each with its drill's fault injected: visible before, gone after, and the evidence says so."""

from __future__ import annotations

import redis
from sqlalchemy import Engine, text

from dashboard.actions.base import Actor
from dashboard.core.control import read_deployments
from dashboard.core.faults import inject_fault, list_faults
from dashboard.data.runbook_runs import get_run, list_steps
from dashboard.runbooks.engine import start_run, wait_for
from tests import harness
from tests.runbooks.conftest import Supervised


def _idle_in_tx(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND application_name = 'orca-core-leak' AND state = 'idle in transaction'"
                )
            ).scalar_one()
        )


def _finish(engine: Engine, run_id: int | None, timeout_s: float = 120) -> tuple[str, list]:  # type: ignore[type-arg]
    assert run_id is not None
    state = wait_for(run_id, engine, timeout_s=timeout_s)
    with engine.connect() as conn:
        steps = list_steps(conn, run_id)
        run = get_run(conn, run_id)
    assert run is not None
    assert state == "succeeded", (
        run.failure,
        [(s.step_id, s.state, s.output[:300]) for s in steps],
    )
    return state, steps


def test_db_connections_ends_the_leaked_idle_transactions(
    supervised_core: Supervised, engine: Engine, redis_client: redis.Redis, oncall: Actor
) -> None:
    inject_fault(redis_client, "db_connection_leak", "10m", {"connections": 4}, by="test")
    assert harness.wait_for(lambda: _idle_in_tx(engine) == 4, timeout_s=15)
    harness.wait_for(lambda: False, timeout_s=1.2)  # older than the 1 s limit
    started = start_run(
        engine,
        redis_client,
        oncall,
        "db_connections",
        {"older_than_s": 1},
        settings=supervised_core.settings,
        executor=supervised_core.executor,
    )
    assert started.result.outcome == "changed", started.result.message
    _, steps = _finish(engine, started.run_id)
    by_id = {s.step_id: s for s in steps}
    assert by_id["idle_in_transaction_before"].state == "failed"  # visible before
    assert "connections=4" in by_id["idle_in_transaction_before"].output
    assert "ended 4 of 4" in by_id["end_idle_in_transaction"].output
    assert by_id["verify"].state == "ok" and "connections=0" in by_id["verify"].output
    assert "idle in transaction" in by_id["connections_by_state"].output
    creds = by_id["credentials"].output
    assert "user configured: yes" in creds
    assert supervised_core.settings.database_url not in creds  # never displayed
    # The leak is over: the stand-in does not reopen them and ends the fault itself.
    assert harness.wait_for(
        lambda: "db_connection_leak" not in [f.name for f in list_faults(redis_client)],
        timeout_s=10,
    )
    assert _idle_in_tx(engine) == 0


def test_high_error_rate_rolls_back_and_watches_recovery(
    supervised_core: Supervised, engine: Engine, redis_client: redis.Redis, oncall: Actor
) -> None:
    sup = supervised_core
    before = [d["version"] for d in read_deployments(sup.folder, "orca-core")]
    assert before == ["2026.11.2", "2026.11.3"]
    inject_fault(redis_client, "error_spike", "10m", {"rate": 0.5}, by="test")
    harness.wait_for(lambda: False, timeout_s=1)
    started = start_run(
        engine,
        redis_client,
        oncall,
        "high_error_rate",
        {"threshold": 0.05, "watch_s": 60},
        confirm="orca-core",
        settings=sup.settings,
        executor=sup.executor,
    )
    assert started.result.outcome == "changed", started.result.message
    _, steps = _finish(engine, started.run_id)
    by_id = {s.step_id: s for s in steps}
    first = by_id["failing_endpoints"]
    assert first.evidence is not None and first.evidence["error_rate"] > 0.2  # visible before
    assert "FAILING" in first.output and "HTTP 500" in first.output
    assert "2026.11.3" in by_id["recent_deployments"].output
    assert "rolled back to 2026.11.2" in by_id["rollback"].output
    watch = by_id["watch_recovery"]
    assert watch.evidence is not None and watch.evidence["error_rate"] < 0.05  # gone after
    history = read_deployments(sup.folder, "orca-core")
    assert history[-1]["version"] == "2026.11.2" and history[-1]["kind"] == "rollback"
    assert "error_spike" not in [f.name for f in list_faults(redis_client)]


def test_a_failing_step_stops_the_run_and_is_recorded(
    supervised_core: Supervised, engine: Engine, redis_client: redis.Redis, oncall: Actor
) -> None:
    sup = supervised_core
    # A crash fault makes every start exit at once: verify health fails, logs never run.
    inject_fault(redis_client, "crash", "2m", by="test")
    started = start_run(
        engine,
        redis_client,
        oncall,
        "service_restart",
        {"healthy_within_s": 5},
        confirm="orca-core",
        settings=sup.settings,
        executor=sup.executor,
    )
    assert started.run_id is not None
    assert wait_for(started.run_id, engine, timeout_s=90) == "failed"
    with engine.connect() as conn:
        run = get_run(conn, started.run_id)
        steps = list_steps(conn, started.run_id)
    assert run is not None and run.failed_step == "verify_health"
    assert run.failure is not None and run.failure.startswith("Verify health failed: GET")
    states = {s.step_id: s.state for s in steps}
    assert states["verify_health"] == "failed" and states["recent_logs"] == "skipped"
    redis_client.delete("orca:chaos:crash")


def test_telemetry_switches_to_console_export_and_the_errors_stop(
    supervised_core: Supervised, engine: Engine, redis_client: redis.Redis, oncall: Actor
) -> None:
    sup = supervised_core
    inject_fault(redis_client, "collector_down", "10m", by="test")
    assert harness.wait_for(
        lambda: int(redis_client.llen("orca:telemetry:export_errors")) >= 2,  # type: ignore[arg-type]
        timeout_s=15,
    )  # visible before: the stand-in's exports are refused
    started = start_run(
        engine,
        redis_client,
        oncall,
        "telemetry",
        {"verify_s": 5},
        settings=sup.settings,
        executor=sup.executor,
    )
    assert started.result.outcome == "changed", started.result.message
    _, steps = _finish(engine, started.run_id)
    by_id = {s.step_id: s for s in steps}
    assert by_id["collector_health"].state == "failed" and "503" in by_id["collector_health"].output
    assert "otlp_endpoint = http://127.0.0.1:" in by_id["otlp_setting"].output
    assert by_id["tcp_collector"].state == "ok"  # the port answers; the collector refuses
    assert by_id["export_errors"].state == "failed" and "HTTP 503" in by_id["export_errors"].output
    assert "OTEL_TRACES_EXPORTER=console" in by_id["switch_to_console"].output
    assert by_id["verify"].state == "ok" and "0 export errors" in by_id["verify"].output
    status = sup.proc.env_overrides
    assert status == {"OTEL_TRACES_EXPORTER": "console"}
    assert harness.wait_for(
        lambda: "console exporter" in (sup.folder / "orca-core.log").read_text(), timeout_s=5
    )
