"""A run survives the death of the process running its steps: the heartbeat stops, the reaper
fails the run as "executor lost", releases the target lock and says so on the incident.

The steps run in a real child process (the console's role) which the test kills with SIGKILL
in the middle of a step, as a crash or a pod eviction would.
"""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, text

from dashboard.data.runbook_runs import get_run, list_steps, lock_key
from dashboard.runbooks.engine import reap_lost_runs
from dashboard.settings import PROJECT_ROOT, Settings
from tests.harness import declare_incident, generous, wait_for

STALE_S = 12  # heartbeat every 2 s


class _Unhealthy(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture()
def unhealthy_url() -> Iterator[str]:
    """A local HTTP server that always answers 503 (the step waits on it for minutes)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Unhealthy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/health"
    server.shutdown()
    server.server_close()


CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from dashboard.actions.base import system_actor
    from dashboard.db.engine import make_engine
    from dashboard.domain.permissions import Role
    from dashboard.integrations.redis_client import make_redis
    from dashboard.runbooks.engine import start_run
    from dashboard.runbooks.executors import ProcessExecutor
    from dashboard.runbooks.spec import parse_spec
    from dashboard.settings import get_settings, to_sqlalchemy_url

    url, incident_id, control = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    settings = get_settings()
    spec = parse_spec(
        {
            "id": "wait_for_health",
            "title": "Wait for health",
            "summary": "waits on an endpoint that never recovers",
            "action": "runbook.db_connections",
            "danger": "low",
            "target": "lost-target",
            "steps": [
                {"id": "wait", "kind": "http.check", "title": "Wait for health",
                 "args": {"url": url, "expect_status": 200, "wait_s": 600}},
                {"id": "after", "kind": "http.check", "title": "Check again",
                 "args": {"url": url}},
            ],
        }
    )
    started = start_run(
        make_engine(to_sqlalchemy_url(settings.database_url)),
        make_redis(settings.redis_url),
        system_actor("test:oncall", (Role.ONCALL,)),
        spec.id,
        {},
        settings=settings,
        executor=ProcessExecutor(settings, control_dir=control),
        background=False,
        specs={spec.id: spec},
        incident_id=incident_id,
    )
    print("finished", started.result.outcome, flush=True)
    """
)


def _running_with_heartbeat(engine: Engine) -> bool:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT r.heartbeat_at > r.started_at AS beat, s.state FROM runbook_runs r "
                "JOIN runbook_steps s ON s.run_id = r.id AND s.position = 1 "
                "WHERE r.runbook_id = 'wait_for_health'"
            )
        ).first()
    return row is not None and bool(row.beat) and row.state == "running"


def test_a_run_whose_process_is_killed_is_failed_and_its_lock_released(
    engine: Engine,
    db_url: str,
    redis_url: str,
    redis_client: redis.Redis,
    unhealthy_url: str,
    tmp_path: Path,
) -> None:
    incident_id = declare_incident(engine, "core down", severity="P1")
    env = {
        **os.environ,
        "ORCA_DATABASE_URL": db_url,
        "ORCA_REDIS_URL": redis_url,
        "ORCA_RUNBOOK_STALE_AFTER_S": str(STALE_S),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, unhealthy_url, str(incident_id), str(tmp_path)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        # The first step is waiting and the executor has sent a heartbeat after the start.
        assert wait_for(
            lambda: _running_with_heartbeat(engine), timeout_s=generous(60), step_s=0.2
        ), child.stdout.read().decode() if child.poll() is not None and child.stdout else ""
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
    with engine.connect() as conn:
        run_id = conn.execute(
            text("SELECT id FROM runbook_runs WHERE runbook_id = 'wait_for_health'")
        ).scalar_one()
        run = get_run(conn, run_id)
    assert run is not None and run.state == "running"
    assert run.incident_id == incident_id
    assert redis_client.exists(lock_key("lost-target")) == 1  # the dead process still holds it
    settings = Settings(runbook_stale_after_s=STALE_S)
    beat = run.heartbeat_at
    assert beat is not None

    # A heartbeat younger than the limit is a live executor: nothing is touched.
    assert reap_lost_runs(engine, redis_client, settings=settings, now=beat) == []
    assert redis_client.exists(lock_key("lost-target")) == 1

    lost = reap_lost_runs(
        engine, redis_client, settings=settings, now=beat + timedelta(seconds=STALE_S + 1)
    )
    assert [(r.id, r.incident_id, r.lock_released) for r in lost] == [(run_id, incident_id, True)]
    assert redis_client.exists(lock_key("lost-target")) == 0
    with engine.connect() as conn:
        run = get_run(conn, run_id)
        steps = list_steps(conn, run_id)
        timeline = conn.execute(
            text(
                "SELECT actor, text FROM incident_timeline WHERE incident_id = :i "
                "AND kind = 'runbook' ORDER BY id"
            ),
            {"i": incident_id},
        ).all()
    assert run is not None and run.state == "failed"
    assert run.failed_step == "wait"
    assert run.failure is not None and run.failure.startswith("executor lost")
    assert run.finished_at is not None
    assert [(s.step_id, s.state) for s in steps] == [("wait", "failed"), ("after", "skipped")]
    assert "executor lost while this step ran" in steps[0].output
    assert [t.actor for t in timeline] == ["test:oncall", "system"]
    assert f"Wait for health started on lost-target (run #{run_id})" in timeline[0].text
    assert f"failed (run #{run_id}): executor lost" in timeline[1].text

    # Reaping is done once: a second pass finds nothing.
    later = datetime.now(UTC) + timedelta(seconds=STALE_S + 1)
    assert reap_lost_runs(engine, redis_client, settings=settings, now=later) == []


def test_the_reaper_leaves_a_lock_a_newer_run_holds(
    engine: Engine, redis_client: redis.Redis
) -> None:
    """A lost run's lock already taken over by a newer run (another token) stays."""
    with engine.begin() as conn:
        run_id = conn.execute(
            text(
                "INSERT INTO runbook_runs (runbook_id, title, target, executor, actor, "
                "started_at, heartbeat_at, lock_token) VALUES ('x', 'X', 'tgt', 'process', "
                "'someone', now() - interval '10 minutes', now() - interval '10 minutes', "
                "'old-token') RETURNING id"
            )
        ).scalar_one()
    redis_client.set(lock_key("tgt"), "new-token")
    lost = reap_lost_runs(engine, redis_client, settings=Settings(runbook_stale_after_s=60))
    assert [(r.id, r.lock_released) for r in lost] == [(run_id, False)]
    assert redis_client.get(lock_key("tgt")) == b"new-token"
