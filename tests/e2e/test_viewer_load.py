"""Database load does not grow with viewers: pg_stat_statements calls per refresh interval for
1 and 10 viewers of Service Health with auto-refresh (10 s), split over two consoles, with the
worker's refresh-ahead running, on one PostgreSQL and one Redis.

pg_stat_statements must be preloaded, which the embedded server cannot do, so this module
starts a private PostgreSQL of its own from the machine's binaries (own data folder, own
socket, no TCP; stopped and deleted at the end). Target: 10 viewers cost at most 1.1x the
statements of one (the 50-viewer point is left to the load bench: see the README's Scaling).
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
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text

from dashboard.domain.permissions import Role
from dashboard.settings import to_sqlalchemy_url
from dashboard.sim.seed import seed_database
from tests.conftest import SEED_NOW
from tests.e2e.browser import wait_until_loaded
from tests.e2e.conftest import COOKIE_KEY, RunningConsole, make_login, sign_in, start_console
from tests.harness import LoggedProcess, ThrowawayDatabase, free_port, new_database, run_log_path

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
WINDOW_S = 40.0  # four refresh intervals of 10 s
REFRESH_S = 10.0


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


@pytest.mark.timeout(900)
def test_statements_per_refresh_do_not_grow_with_viewers(
    load_db: ThrowawayDatabase, redis_url: str, browser: Any
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
        time.sleep(5)  # the worker leads and warms the default panels
        for viewers in (1, 10):
            context = browser.new_context(viewport={"width": 1200, "height": 800})
            sign_in(context.new_page(), consoles[0].url, login)
            pages = []
            for i in range(viewers):
                page = context.new_page()
                page.goto(consoles[i % 2].url + "/service_health?refresh=10+s")
                pages.append(page)
            started = time.monotonic()
            for page in pages:
                page.wait_for_selector('h1:has-text("Service Health")', timeout=120_000)
                wait_until_loaded(page, timeout_ms=120_000)
            loaded_s = time.monotonic() - started
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
            figures[viewers] = (total, lookups)
            print(
                f"{viewers:>3} viewers (loaded in {loaded_s:.0f} s): {total:.1f} statements per 10 s refresh in PostgreSQL "
                f"(pg_stat_statements), of which the consoles sent {console:.1f}; the consoles' "
                f"auto-refresh made {lookups:.0f} shared-cache lookups in {WINDOW_S:.0f} s"
            )
            context.close()
    finally:
        worker.stop(timeout_s=10)
        for c in consoles:
            c.process.stop(timeout_s=10)
        measure.dispose()
    one, ten = figures[1][0], figures[10][0]
    assert one > 0, "the worker's refresh-ahead and probes ran statements"
    assert ten <= 1.1 * one, f"10 viewers cost {ten / one:.2f}x the statements of one"
    # The viewers really refreshed (their fragments read the shared cache), ten times as many.
    assert figures[1][1] > 0
    assert figures[10][1] >= 5 * figures[1][1]
