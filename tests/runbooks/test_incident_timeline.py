"""A run lands on the open incident's timeline: when it starts and when it ends."""

from __future__ import annotations

from pathlib import Path

import redis
from sqlalchemy import Engine, text

from dashboard.actions.base import Actor
from dashboard.runbooks.engine import start_run
from dashboard.runbooks.executors import ProcessExecutor
from dashboard.settings import Settings
from tests.harness import declare_incident


def test_a_run_is_recorded_on_the_open_incident(
    engine: Engine, redis_client: redis.Redis, oncall: Actor, tmp_path: Path
) -> None:
    incident_id = declare_incident(engine, "db trouble")
    settings = Settings(core_url="http://127.0.0.1:9", otel_health_url="http://127.0.0.1:9/")
    started = start_run(
        engine,
        redis_client,
        oncall,
        "db_connections",
        {"older_than_s": 86400},
        settings=settings,
        executor=ProcessExecutor(settings, control_dir=tmp_path),
        background=False,
    )
    assert started.result.outcome == "changed", started.result
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT actor, text FROM incident_timeline WHERE incident_id = :i "
                "AND kind = 'runbook' ORDER BY id"
            ),
            {"i": incident_id},
        ).all()
    assert [r.actor for r in rows] == ["test:oncall", "test:oncall"]
    assert (
        f"Database Connection Issues started on postgresql (run #{started.run_id})" in rows[0].text
    )
    assert f"succeeded (run #{started.run_id})" in rows[1].text
