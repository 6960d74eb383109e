"""Service Restart end to end: a health fault injected, the stand-in really stopped and started
by its supervisor, health back, evidence says so; dry run changes nothing; one run per target."""

from __future__ import annotations

import redis
from sqlalchemy import Engine, select

from dashboard.actions.base import Actor
from dashboard.core.faults import inject_fault, list_faults
from dashboard.data.runbook_runs import RunRow, StepRow, get_run, list_steps, lock_key
from dashboard.db.auth_models import AuditEntry
from dashboard.runbooks.engine import dry_run, start_run, wait_for
from dashboard.runbooks.spec import catalogue
from tests import harness
from tests.runbooks.conftest import Supervised


def _run(engine: Engine, run_id: int) -> tuple[RunRow, list[StepRow]]:
    with engine.connect() as conn:
        run = get_run(conn, run_id)
        steps = list_steps(conn, run_id)
    assert run is not None
    return run, steps


def test_service_restart_cures_a_wedged_health_endpoint(
    supervised_core: Supervised, engine: Engine, redis_client: redis.Redis, oncall: Actor
) -> None:
    sup = supervised_core
    pid_before = sup.proc.proc.pid if sup.proc.proc else None
    inject_fault(redis_client, "health_down", "10m", by="test")
    assert harness.wait_for(lambda: not sup.healthy(), timeout_s=5)  # visible before
    started = start_run(
        engine,
        redis_client,
        oncall,
        "service_restart",
        {"healthy_within_s": 30},
        confirm="orca-core",
        settings=sup.settings,
        executor=sup.executor,
    )
    assert started.result.outcome == "changed", started.result.message
    assert started.run_id is not None
    state = wait_for(started.run_id, engine, timeout_s=90)
    run, steps = _run(engine, started.run_id)
    assert state == "succeeded", (run.failure, [(s.step_id, s.output) for s in steps])
    assert [s.state for s in steps] == ["failed", "ok", "ok", "ok", "ok", "ok", "ok"]
    assert run.health_before is not None and run.health_after is not None
    assert run.health_before["orca_core"]["status"] == 503
    assert "health_down" in run.health_before["faults"]
    assert run.health_after["orca_core"]["status"] == 200
    assert "health_down" not in run.health_after["faults"]
    assert "health_down" not in [f.name for f in list_faults(redis_client)]
    assert sup.proc.proc is not None and sup.proc.proc.pid != pid_before  # really restarted
    assert "exited" in steps[1].output
    assert "state: stopped" in steps[2].output
    assert sup.healthy()
    assert redis_client.get(lock_key("orca-core")) is None  # the lock is released
    with engine.connect() as conn:
        audit = conn.execute(
            select(AuditEntry).where(
                AuditEntry.action == "runbook.service_restart",
                AuditEntry.actor == "test:oncall",
            )
        ).all()
    assert audit


def test_dry_run_lists_every_step_and_changes_nothing(
    supervised_core: Supervised, engine: Engine
) -> None:
    sup = supervised_core
    pid = sup.proc.proc.pid if sup.proc.proc else None
    plan = dry_run(catalogue()["service_restart"], {}, settings=sup.settings, executor=sup.executor)
    text = plan.text()
    assert plan.target == "orca-core" and plan.needs_typed_confirmation
    assert [s.step_id for s in plan.steps][:2] == ["health_before", "stop"]
    assert "ask the supervisor to stop orca-core" in text
    assert f"GET {sup.url}/health" in text
    assert sup.proc.proc is not None and sup.proc.proc.pid == pid and sup.healthy()


def test_typed_confirmation_and_a_second_run_on_the_target_are_refused(
    supervised_core: Supervised, engine: Engine, redis_client: redis.Redis, oncall: Actor
) -> None:
    sup = supervised_core
    wrong = start_run(
        engine,
        redis_client,
        oncall,
        "service_restart",
        {},
        confirm="orca",
        settings=sup.settings,
        executor=sup.executor,
    )
    assert wrong.result.outcome == "invalid" and "Type orca-core" in wrong.result.message
    first = start_run(
        engine,
        redis_client,
        oncall,
        "service_restart",
        {},
        confirm="orca-core",
        settings=sup.settings,
        executor=sup.executor,
    )
    assert first.result.outcome == "changed"
    second = start_run(
        engine,
        redis_client,
        oncall,
        "service_restart",
        {},
        confirm="orca-core",
        settings=sup.settings,
        executor=sup.executor,
    )
    assert second.result.outcome == "conflict"
    assert f"run #{first.run_id}" in second.result.message
    assert first.run_id is not None
    assert wait_for(first.run_id, engine, timeout_s=90) == "succeeded"
