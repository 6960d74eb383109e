"""Scale-out on the engines the console already uses: two consoles and two workers on one
PostgreSQL and one Redis.

- A signed-in session survives its console's restart and a move to the other replica: the
  browser keeps only its HttpOnly cookie, the session lives in PostgreSQL.
- Exactly one worker leads (the PostgreSQL advisory lock); only the leader runs jobs; killing
  it (SIGKILL, no clean release) hands leadership over within 30 s and the new leader runs
  the jobs.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from dashboard.sim.seed import seed_database
from dashboard.worker.main import LEADER_LOCK_ID
from tests.conftest import SEED_NOW, MakeDatabase
from tests.e2e.browser import wait_until_loaded
from tests.e2e.conftest import (
    COOKIE_KEY,
    RunningConsole,
    make_login,
    session_cookies,
    sign_in,
    start_console,
)
from tests.harness import LoggedProcess, ThrowawayDatabase, free_port, run_log_path

pytestmark = pytest.mark.e2e
LEADS = "this worker is the leader"


@pytest.fixture(scope="module")
def scale_db(make_database: MakeDatabase) -> Iterator[ThrowawayDatabase]:
    db = make_database("orca_scale")
    seed_database(db.engine(), agents=60, days=1, seed=12, now=SEED_NOW)
    yield db
    db.drop()


def test_a_session_survives_a_console_restart_and_a_move_to_the_other_replica(
    scale_db: ThrowawayDatabase, redis_url: str, browser: Any
) -> None:
    from dashboard.domain.permissions import Role

    login = make_login(scale_db.engine(), Role.ONCALL)
    first = start_console(scale_db.url, redis_url, name="scale-a")
    other = start_console(scale_db.url, redis_url, name="scale-b")
    restarted: RunningConsole | None = None
    try:
        context = browser.new_context()
        page = context.new_page()
        sign_in(page, first.url, login)
        cookies = session_cookies(context)
        assert cookies and cookies[0]["httpOnly"]
        context.close()
        first.process.stop(timeout_s=10)
        restarted = start_console(scale_db.url, redis_url, name="scale-a2")

        for console in (restarted, other):
            fresh = browser.new_context()
            fresh.add_cookies(cookies)  # only the cookie travels: no Streamlit state at all
            tab = fresh.new_page()
            tab.goto(console.url + "/")
            tab.wait_for_selector('h1:has-text("Service Health")', timeout=30_000)
            wait_until_loaded(tab)
            assert tab.locator('input[aria-label="Password"]').count() == 0
            fresh.close()
    finally:
        first.process.stop(timeout_s=10)
        other.process.stop(timeout_s=10)
        if restarted is not None:
            restarted.process.stop(timeout_s=10)


def _worker(db: ThrowawayDatabase, redis_url: str, name: str) -> tuple[LoggedProcess, str]:
    port = free_port()
    env = {
        **os.environ,
        "ORCA_DATABASE_URL": db.url,
        "ORCA_REDIS_URL": redis_url,
        "ORCA_COOKIE_KEY": COOKIE_KEY,
        "ORCA_METRICS_PORT": str(port),
        "ORCA_INSTANCE": name,
        "ORCA_ROLLUP_INTERVAL_S": "2",
        "ORCA_KPI_INTERVAL_S": "5",
    }
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    proc = LoggedProcess(
        name, [sys.executable, "-m", "dashboard.cli", "worker"], run_log_path(name), env=env
    ).start()
    return proc, f"http://127.0.0.1:{port}/metrics"


def _leads(proc: LoggedProcess) -> bool:
    return LEADS in proc.log_path.read_text(errors="replace")


def _jobs_run(metrics_url: str, job: str) -> float:
    try:
        body = httpx.get(metrics_url, timeout=2).text
    except httpx.HTTPError:
        return -1.0
    found = re.search(rf'^orca_worker_jobs_total\{{job="{job}",outcome="ok"\}} (\S+)', body, re.M)
    return float(found.group(1)) if found else 0.0


def _lock_holders(db: ThrowawayDatabase) -> int:
    with db.engine().connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                    " AND ((classid::bigint << 32) | objid::bigint) = :lock"
                ),
                {"lock": LEADER_LOCK_ID},
            ).scalar_one()
        )


def _wait(what: str, check: Any, timeout_s: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if check():
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout_s} s")


def test_one_worker_leads_and_a_killed_leader_hands_over_within_30_s(
    scale_db: ThrowawayDatabase, redis_url: str
) -> None:
    one, one_metrics = _worker(scale_db, redis_url, "scale-worker-1")
    two, two_metrics = _worker(scale_db, redis_url, "scale-worker-2")
    try:
        _wait("a leader", lambda: _leads(one) or _leads(two), 60)
        # Both up (both serve metrics), so both have tried for the lock by now.
        _wait(
            "both workers up",
            lambda: min(_jobs_run(u, "rollups") for u in (one_metrics, two_metrics)) >= 0,
            60,
        )
        time.sleep(3)
        assert _leads(one) != _leads(two), "exactly one worker leads"
        assert _lock_holders(scale_db) == 1
        leader, follower = (one, two) if _leads(one) else (two, one)
        leader_url, follower_url = (
            (one_metrics, two_metrics) if leader is one else (two_metrics, one_metrics)
        )
        _wait("the leader running jobs", lambda: _jobs_run(leader_url, "rollups") >= 2, 30)
        assert _jobs_run(follower_url, "rollups") == 0, "a follower runs no job"

        assert leader.proc is not None
        os.killpg(leader.proc.pid, signal.SIGKILL)  # no clean release of the lock
        leader.proc.wait(timeout=10)
        handover_s = _wait("the follower taking over", lambda: _leads(follower), 30)
        print(f"leader handover after SIGKILL: {handover_s:.1f} s")
        assert _lock_holders(scale_db) == 1
        _wait("the new leader running jobs", lambda: _jobs_run(follower_url, "rollups") >= 1, 30)
        _wait("its KPI snapshot", lambda: _jobs_run(follower_url, "kpi_snapshot") >= 1, 30)
    finally:
        one.stop(timeout_s=10)
        two.stop(timeout_s=10)
