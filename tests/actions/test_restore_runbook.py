"""The Restore Backup runbook end to end: dry run changes nothing, a real run restores and
verifies, a corrupt or missing backup stops the run at the failing step."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import redis
from sqlalchemy import Engine, text

from dashboard.data import backups
from dashboard.data.runbook_runs import get_run, list_steps
from dashboard.domain.permissions import Role
from dashboard.runbooks.engine import dry_run, start_run
from dashboard.runbooks.executors import ProcessExecutor
from dashboard.runbooks.spec import catalogue
from dashboard.settings import Settings
from tests.actions.conftest import LoggedIn, make_agent


def _settings(db_url: str) -> tuple[Settings, Path]:
    folder = Path(tempfile.mkdtemp(prefix="restore-runbook-"))
    return Settings(state_dir=folder, backup_dir=folder / "b", database_url=db_url), folder


def test_restore_runbook_restores_and_verifies(
    auth_engine: Engine,
    auth_db_url: str,
    redis_client: redis.Redis,
    signed_in: Callable[..., LoggedIn],
) -> None:
    settings, folder = _settings(auth_db_url)
    for _ in range(5):
        make_agent(auth_engine)
    done = backups.run_backup(
        auth_engine,
        settings,
        database_url=auth_db_url,
        redis_url=None,
        trigger="manual",
        requested_by="test",
    )
    assert done.ok, done.message
    target = f"orca_restore_rb{done.backup_id}"
    params = {"backup_id": done.backup_id, "target_database": target}
    spec = catalogue()["restore_backup"]
    plan = dry_run(
        spec, params, settings=settings, executor=ProcessExecutor(settings, control_dir=folder)
    )
    assert "pg_restore --single-transaction" in str(plan)
    with backups.admin_engine(auth_db_url).connect() as conn:  # the dry run created nothing
        assert (
            conn.execute(
                text("SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": target}
            ).scalar_one()
            == 0
        )
    oncall = signed_in(Role.ONCALL)
    started = start_run(
        auth_engine,
        redis_client,
        oncall.actor,
        "restore_backup",
        params,
        confirm=target,
        settings=settings,
        executor=ProcessExecutor(settings, control_dir=folder),
        background=False,
    )
    try:
        assert started.result.ok, started.result
        assert started.run_id is not None
        with auth_engine.connect() as conn:
            run = get_run(conn, started.run_id)
            steps = list_steps(conn, started.run_id)
        assert run is not None and run.state == "succeeded", (run, steps)
        assert [s.state for s in steps] == ["ok"] * 3
        assert "✓" in steps[-1].output and "✗" not in steps[-1].output
    finally:
        backups.drop_scratch_database(auth_db_url, target)

    # A manager may not start it; a missing backup stops the run at its first step.
    manager = signed_in(Role.MANAGER)
    refused = start_run(
        auth_engine,
        redis_client,
        manager.actor,
        "restore_backup",
        params,
        confirm=target,
        settings=settings,
        background=False,
        executor=ProcessExecutor(settings, control_dir=folder),
    )
    assert refused.result.outcome == "denied"
    missing = start_run(
        auth_engine,
        redis_client,
        oncall.actor,
        "restore_backup",
        {"backup_id": 999_999_999, "target_database": target},
        confirm=target,
        settings=settings,
        background=False,
        executor=ProcessExecutor(settings, control_dir=folder),
    )
    assert missing.run_id is not None
    with auth_engine.connect() as conn:
        failed = get_run(conn, missing.run_id)
    assert failed is not None and failed.failed_step == "lookup"
