"""Database load does not grow with viewers: pg_stat_statements calls per refresh interval for
1, 10 and 50 viewers of Service Health with auto-refresh (10 s), split over two consoles, with
the worker's refresh-ahead running, on one PostgreSQL and one Redis.

Each viewer is a real signed-in session on the real server, speaking Streamlit's websocket
protocol (tests/ws_viewer.py: what the browser's front end sends and answers, auto-refresh
included) rather than a Chromium page: 50 browsers do not fit on a small machine.

pg_stat_statements must be preloaded, which the embedded server cannot do, so this module
starts a private PostgreSQL of its own from the machine's binaries (own data folder, own
socket, no TCP; stopped and deleted at the end). Target: 10 and 50 viewers cost at most 1.1x
the statements of one (the worker's viewer-independent hourly and minutely jobs parked:
see PARKED_JOBS).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text

from dashboard.domain.permissions import Role
from dashboard.settings import to_sqlalchemy_url
from dashboard.sim.seed import seed_database
from tests.conftest import SEED_NOW
from tests.e2e.conftest import COOKIE_KEY, RunningConsole, make_login, start_console
from tests.harness import LoggedProcess, ThrowawayDatabase, free_port, new_database, run_log_path
from tests.ws_viewer import Viewer, signed_in_cookie

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
WINDOW_S = 60.0  # six refresh intervals of 10 s, a whole number of each short worker job's period
REFRESH_S = 10.0
# The worker's jobs that do not serve viewers and run once a minute or less often (sync,
# rollups, KPI snapshot, ...) run once at its start and then not again during the test: one of
# them more or less in a window is noise of tens of statements, which viewers cannot cause.
# Refresh-ahead (2 s), probes and alerts (15 s) and notifications (10 s) keep running.
PARKED_JOBS = {
    f"ORCA_{name}_INTERVAL_S": "3600"
    for name in ("SYNC", "ROLLUP", "KPI", "REPORTS_CHECK", "CAPACITY_SAMPLE")
}
POINTS = (1, 10, 50)


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


@pytest.fixture(scope="module")
def pgss_server() -> Iterator[str]:
    """A private PostgreSQL with pg_stat_statements preloaded; its maintenance URL."""
    bindir = _pg_bin()
    if bindir is None or not (bindir.parent / "lib" / "pg_stat_statements.so").exists():
        pytest.skip("no PostgreSQL binaries with pg_stat_statements on this machine")
    root = Path(tempfile.mkdtemp(prefix="orca-pgss-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as the postgres account
        account = pwd.getpwnam("postgres")
        os.chown(root, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", free_port()
    subprocess.run(
        [*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    options = (
        f"-p {port} -k {root} -c listen_addresses='' -c max_connections=200"
        " -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
    )
    pg_ctl = [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log")]
    subprocess.run(
        [*pg_ctl, "-w", "-o", options, "start"], check=True, capture_output=True, timeout=120
    )
    try:
        yield f"postgresql://postgres@/postgres?host={root}&port={port}"
    finally:
        subprocess.run([*pg_ctl, "-m", "fast", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def load_db(pgss_server: str) -> Iterator[ThrowawayDatabase]:
    db = new_database(pgss_server, "orca_load", migrate=True)
    seed_database(db.engine(), agents=200, days=1, seed=21, now=SEED_NOW)
    with db.engine().begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
    yield db
    db.drop()


def _calls(engine: Engine) -> int:
    """Statements run in this database since the last reset, the measuring ones left out."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s"
                    " JOIN pg_database d ON d.oid = s.dbid"
                    " WHERE d.datname = current_database() AND s.query NOT ILIKE '%pg_stat_statements%'"
                )
            ).scalar_one()
        )


def _console_counter(console: RunningConsole, name: str) -> float:
    """A counter of the console's /metrics, summed over its labels."""
    body = httpx.get(console.url + "/metrics", timeout=5).text
    pattern = "^" + re.escape(name) + r"\{[^}]*\} (\S+)"
    return sum(float(v) for v in re.findall(pattern, body, re.M))


def _console_queries(console: RunningConsole) -> float:
    return _console_counter(console, "orca_db_query_seconds_count")


def _console_lookups(console: RunningConsole) -> float:
    return _console_counter(console, "orca_cache_requests_total")


def _open_viewers(consoles: list[RunningConsole], cookies: list[str]) -> tuple[list[Viewer], float]:
    """One refreshing Service Health session per cookie, alternating between the consoles; how
    long it took until every one had shown its first run."""
    viewers = [
        Viewer(consoles[i % len(consoles)].url, "service_health", c, query="refresh=10+s")
        for i, c in enumerate(cookies)
    ]

    def open_one(viewer: Viewer) -> None:
        viewer.connect(timeout_s=180)
        viewer.start_refreshing()

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(open_one, viewers))
    for viewer in viewers:
        assert "Service Health" in viewer.texts, "the session is signed in and on the page"
    return viewers, time.monotonic() - started


@pytest.mark.timeout(1200)
def test_statements_per_refresh_do_not_grow_with_viewers(
    load_db: ThrowawayDatabase, redis_url: str
) -> None:
    login = make_login(load_db.engine(), Role.ONCALL)
    consoles = [
        start_console(load_db.url, redis_url, name="load-a"),
        start_console(load_db.url, redis_url, name="load-b"),
    ]
    env = {
        **os.environ,
        "ORCA_DATABASE_URL": load_db.url,
        "ORCA_REDIS_URL": redis_url,
        "ORCA_COOKIE_KEY": COOKIE_KEY,
        "ORCA_FIXED_NOW": SEED_NOW.isoformat(),
        **PARKED_JOBS,
    }
    worker = LoggedProcess(
        "the worker",
        [sys.executable, "-m", "dashboard.cli", "worker"],
        run_log_path("load-worker"),
        env=env,
    ).start()
    measure = create_engine(to_sqlalchemy_url(load_db.url), pool_size=1)
    figures: dict[int, tuple[float, float]] = {}
    try:
        time.sleep(8)  # the worker leads, runs every job once and warms the default panels
        for count in POINTS:
            cookies = [
                signed_in_cookie(load_db.engine(), login.username, login.password, COOKIE_KEY)
                for _ in range(count)
            ]
            viewers, loaded_s = _open_viewers(consoles, cookies)
            try:
                time.sleep(2)
                with measure.connect() as conn:
                    conn.execute(text("SELECT pg_stat_statements_reset()"))
                console_before = sum(_console_queries(c) for c in consoles)
                lookups_before = sum(_console_lookups(c) for c in consoles)
                time.sleep(WINDOW_S)
                total = _calls(measure) / (WINDOW_S / REFRESH_S)
                console = (sum(_console_queries(c) for c in consoles) - console_before) / (
                    WINDOW_S / REFRESH_S
                )
                lookups = sum(_console_lookups(c) for c in consoles) - lookups_before
            finally:
                for viewer in viewers:
                    viewer.close()
            refreshes = sum(len(v.fragment_runs) for v in viewers)
            assert not [e for v in viewers for e in v.errors], "no session saw an error"
            figures[count] = (total, lookups)
            print(
                f"{count:>3} viewers (loaded in {loaded_s:.0f} s, {refreshes} auto-refreshes): "
                f"{total:.1f} statements per 10 s refresh in PostgreSQL (pg_stat_statements), "
                f"of which the consoles sent {console:.1f}; the consoles' auto-refresh made "
                f"{lookups:.0f} shared-cache lookups in {WINDOW_S:.0f} s"
            )
        # Their own counter works: the sign-in checks of the first runs were statements.
        assert sum(_console_queries(c) for c in consoles) > 0
    finally:
        worker.stop(timeout_s=10)
        for c in consoles:
            c.process.stop(timeout_s=10)
        measure.dispose()
    one = figures[1][0]
    assert one > 0, "the worker's refresh-ahead and probes ran statements"
    for count in POINTS[1:]:
        ratio = figures[count][0] / one
        assert ratio <= 1.1, f"{count} viewers cost {ratio:.2f}x the statements of one"
        # The viewers really refreshed (their fragments read the shared cache), in proportion.
        assert figures[count][1] >= count / 2 * figures[1][1] > 0
