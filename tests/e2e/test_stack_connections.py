"""While the whole stack runs (worker, ORCA Core stand-in, console with a viewer), no project
connection stays idle inside a transaction: such a connection holds back VACUUM's horizon.

The worker's leader keeps a session-level advisory lock on one connection for as long as it
leads; that connection used to sit "idle in transaction" the whole time. The test samples
pg_stat_activity of the stack's own database twice a second for ~20 s.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from dashboard.domain.permissions import Role
from dashboard.embedded import EmbeddedRedis
from dashboard.sim.seed import seed_database
from tests.conftest import SEED_NOW, MakeDatabase
from tests.e2e.browser import wait_until_loaded
from tests.e2e.conftest import make_login, sign_in, start_console
from tests.harness import LoggedProcess, ThrowawayDatabase, free_port, run_log_path

pytestmark = pytest.mark.e2e
CLI = str(Path(sys.executable).parent / "orca-dashboard")
LONGEST_IDLE_IN_TRANSACTION_S = 3.0
WATCH_S = 20.0


@pytest.fixture(scope="module")
def stack_db(make_database: MakeDatabase) -> Iterator[ThrowawayDatabase]:
    db = make_database("orca_stack")
    seed_database(db.engine(), agents=60, days=1, seed=5, now=SEED_NOW)
    yield db
    db.drop()


@pytest.fixture(scope="module")
def stack_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis of its own: the worker writes live state other tests would read."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("stack-redis"), free_port())
    yield server.start()
    server.stop()


def _sample(db: ThrowawayDatabase, samples: list[dict[str, Any]], stop: threading.Event) -> None:
    engine = db.engine(pool_size=1)
    while not stop.is_set():
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT pid, application_name, state, query,"
                    " extract(epoch FROM now() - xact_start) AS xact_s,"
                    " EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid"
                    "         AND l.locktype = 'advisory' AND l.granted) AS advisory"
                    " FROM pg_stat_activity a"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).mappings()
            samples.extend(dict(r) for r in rows)
            conn.commit()
        stop.wait(0.5)


def test_no_connection_idles_in_a_transaction_while_the_stack_runs(
    stack_db: ThrowawayDatabase, stack_redis: str, browser: Any
) -> None:
    core_port = free_port()
    env = {
        **os.environ,
        "ORCA_DATABASE_URL": stack_db.url,
        "ORCA_REDIS_URL": stack_redis,
        "ORCA_CORE_PORT": str(core_port),
        "ORCA_CORE_URL": f"http://127.0.0.1:{core_port}",
        # Busy on purpose: every loop runs several times within the window.
        "ORCA_PROBE_INTERVAL_S": "2",
        "ORCA_SYNC_INTERVAL_S": "3",
        "ORCA_ROLLUP_INTERVAL_S": "3",
        "ORCA_KPI_INTERVAL_S": "5",
    }
    core = LoggedProcess("the stand-in", [CLI, "core", "--tick", "2"], run_log_path("stack-core"))
    core.env = env
    worker = LoggedProcess("the worker", [CLI, "worker"], run_log_path("stack-worker"), env=env)
    samples: list[dict[str, Any]] = []
    stop = threading.Event()
    sampler = threading.Thread(target=_sample, args=(stack_db, samples, stop), daemon=True)
    console = None
    try:
        core.start()

        def core_up() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{core_port}/health", timeout=1).is_success
            except httpx.HTTPError:
                return False

        core.wait_until(core_up, timeout_s=60)
        worker.start()
        console = start_console(stack_db.url, stack_redis, name="stack-console")
        sampler.start()
        page = browser.new_context(viewport={"width": 1400, "height": 2000}).new_page()
        sign_in(page, console.url, make_login(stack_db.engine(), *Role))
        end = time.monotonic() + WATCH_S
        while time.monotonic() < end:
            for path in ("/", "/agent_registry", "/trust_kpis", "/review_queue"):
                page.goto(console.url + path)
                wait_until_loaded(page)
        assert worker.proc is not None and worker.proc.poll() is None, worker.describe("exited")
    finally:
        stop.set()
        sampler.join(timeout=10)
        if console is not None:
            console.process.stop()
        worker.stop()
        core.stop()

    assert len({s["pid"] for s in samples}) >= 3, "the stack never connected: nothing was watched"
    # The leader's lock connection was among those watched (it is the one that used to leak).
    assert any(s["advisory"] for s in samples), worker.describe("no leader lock was seen")
    stuck = [
        s
        for s in samples
        if str(s["state"]).startswith("idle in transaction")
        # The transaction's age, not the idle spell's: a lock check every few seconds inside
        # one never-committed transaction resets state_change but holds the horizon all along.
        and float(s["xact_s"]) > LONGEST_IDLE_IN_TRANSACTION_S
    ]
    assert not stuck, stuck[:5]
