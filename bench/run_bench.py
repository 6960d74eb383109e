"""`make bench`: seed the scale data set into a throwaway database and time the dashboards.

Prints, per dashboard, the cold and warm p50/p95 of its full set of queries (cold = computed
by PostgreSQL, warm = answered by the shared Redis cache), and for the agent search the time of
page 1 versus page 10,000 (keyset). Figures, not pass/fail: targets are printed beside them.

Environment:
  ORCA_BENCH_AGENTS (default 1000000), ORCA_BENCH_DAYS (default 30),
  ORCA_BENCH_DATABASE_URL  server to create the throwaway database on (default: embedded),
  ORCA_BENCH_KEEP=1        keep the database (and reuse it when it exists) for repeated runs,
  ORCA_BENCH_DB_NAME       the throwaway database's name (default orca_bench_<agents>_<days>),
  ORCA_BENCH_BROWSER=0     skip the headless-Chromium part (ORCA_BENCH_ONLY_BROWSER=1: only it;
                           ORCA_BENCH_BROWSER_AGENTS: its demo data set, default 3,000 agents;
                           ORCA_BENCH_BROWSER_RUNS: warm loads per figure, at least 15),
  ORCA_BENCH_ONLY_RUNBOOK=1  only the Service Restart runbook, button to healthy, on a small
                           database (ORCA_BENCH_RUNBOOK=0 skips it in the full run),
  ORCA_BENCH_ONLY_REPORT=1 only the monthly reports (time and peak memory; reads only),
  ORCA_BENCH_REDIS_PORT    the bench's embedded Redis port (default 6392), so parallel runs
                           from several checkouts do not share one Redis.
  ORCA_BENCH_ONLY_ALERTS=1 only the alert evaluation cycle (bench.alerts) on an existing,
                           seeded database: no migration, no seeding, everything rolled back.
  ORCA_BENCH_ONLY_BACKUP=1 only the backup + verified restore of the 1M-agent database
                           (bench/backup_bench.py; ORCA_BENCH_BACKUP_SOURCE_URL picks it).
  ORCA_BENCH_ONLY_LOAD=1   only the load run (bench/load.py): 50 real sessions on Service
                           Health with auto-refresh for 5 minutes over two consoles, on a small
                           demo database: console CPU, memory (and 2 minutes after), page p95.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import Engine, text  # noqa: E402

from dashboard.db.engine import make_engine  # noqa: E402
from dashboard.db.migrate import upgrade  # noqa: E402
from dashboard.embedded import create_database  # noqa: E402
from dashboard.services import Services, resolve_services  # noqa: E402
from dashboard.settings import PROJECT_ROOT, Settings  # noqa: E402

AGENTS = int(os.environ.get("ORCA_BENCH_AGENTS", "1000000"))
DAYS = int(os.environ.get("ORCA_BENCH_DAYS", "30"))
KEEP = os.environ.get("ORCA_BENCH_KEEP") == "1"
DB_NAME = os.environ.get("ORCA_BENCH_DB_NAME", f"orca_bench_{AGENTS}_{DAYS}")
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
RUNS = int(os.environ.get("ORCA_BENCH_RUNS", "7"))
# Only the monthly report (issue 13): build and render it, print time and memory.
ONLY_REPORT = os.environ.get("ORCA_BENCH_ONLY_REPORT") == "1"
# Before anything imports Streamlit: its config (read once) sets its loggers' level, and AppTest
# runs outside a server log "missing ScriptRunContext" thousands of times (bench.suites).
os.environ.setdefault("STREAMLIT_LOGGER_LEVEL", "error")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[idx]


def fmt(ms: float) -> str:
    return f"{ms:8.1f} ms"


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def bench_services() -> Services:
    """The bench's own servers (under .state/bench), or ORCA_BENCH_DATABASE_URL."""
    settings = Settings(
        state_dir=PROJECT_ROOT / ".state" / "bench",
        embedded_redis_port=int(os.environ.get("ORCA_BENCH_REDIS_PORT", "6392")),
        database_url=os.environ.get("ORCA_BENCH_DATABASE_URL"),
        redis_url=None,
    )
    return resolve_services("bench", settings)


def database(admin: str) -> tuple[str, bool]:
    """The bench database URL and whether it already holds the data set."""
    plain = admin.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone()
        if exists and not KEEP:
            conn.execute(f'DROP DATABASE "{DB_NAME}" WITH (FORCE)')
            exists = None
        host, port, user = conn.info.host, conn.info.port, conn.info.user
    create_database(plain, DB_NAME)
    if host.startswith("/"):
        url = f"postgresql://{user}@/{DB_NAME}?host={host}&port={port}"
    else:
        url = f"postgresql://{user}@{host}:{port}/{DB_NAME}"
    return url, bool(exists)


def drop_database(admin: str) -> None:
    plain = admin.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def main() -> int:
    from bench.suites import run_suites  # the per-dashboard query sets

    if os.environ.get("ORCA_BENCH_ONLY_ALERTS") == "1" and not KEEP:
        print("ORCA_BENCH_ONLY_ALERTS=1 needs ORCA_BENCH_KEEP=1 (it reuses a seeded database)")
        return 1
    if os.environ.get("ORCA_BENCH_ONLY_BACKUP") == "1":
        from bench.backup_bench import run_backup_bench

        return run_backup_bench()

    services = bench_services()
    admin, redis_url = services.database, services.redis
    if os.environ.get("ORCA_BENCH_ONLY_RUNBOOK") == "1":
        return _runbook_only(admin, redis_url, services)
    if os.environ.get("ORCA_BENCH_ONLY_LOAD") == "1":
        return _load_only(admin, redis_url, services)
    try:
        url, ready = database(admin)
        engine: Engine = make_engine(url)
        if os.environ.get("ORCA_BENCH_ONLY_ALERTS") == "1":
            from bench.alerts import run_alert_bench

            if not ready:
                print(f"{DB_NAME} holds no data set: seed it first (ORCA_BENCH_KEEP=1 make bench)")
                return 1
            run_alert_bench(engine, redis_url, now=NOW, runs=RUNS, pct=pct)
            return 0
        if not ready:
            upgrade(url)
            from dashboard.sim.seed import seed_database

            print(f"seeding {AGENTS:,} agents, {DAYS} days into {DB_NAME} ...", flush=True)
            started = time.perf_counter()
            report = seed_database(
                engine,
                agents=AGENTS,
                days=DAYS,
                seed=1,
                now=NOW,
                progress=lambda m: print(f"  {m}", flush=True),
            )
            print(f"seeded in {time.perf_counter() - started:.0f} s: {report}\n", flush=True)
        elif ONLY_REPORT:
            # Reads only: a reused (possibly shared) bench database keeps its own revision.
            print(f"reusing {DB_NAME} as it is (no migration)\n")
        else:
            upgrade(url)
            print(f"reusing {DB_NAME}\n")
        with engine.connect() as s:
            n = s.execute(text("SELECT count(*) FROM agents")).scalar_one()
            m = s.execute(text("SELECT count(*) FROM request_metrics")).scalar_one()
        print(f"data set: {n:,} agents, {m:,} request-metric rows; now = {NOW.isoformat()}\n")
        if not ONLY_REPORT:
            _trust_pools(engine)
        os.environ["ORCA_DATABASE_URL"] = url
        os.environ["ORCA_REDIS_URL"] = redis_url
        os.environ["ORCA_FIXED_NOW"] = NOW.isoformat()
        # Cold page renders measure the whole computation, not the console's page deadline
        # (past it a live server's slow panel says "still computing" and the page returns).
        os.environ.setdefault("ORCA_CONSOLE_DB_DEADLINE_S", "300")
        if ONLY_REPORT:
            from bench.report_bench import run_report_bench

            run_report_bench(engine, now=NOW, fmt=fmt)
            return 0
        if os.environ.get("ORCA_BENCH_ONLY_BROWSER") != "1":
            run_suites(
                engine,
                redis_url,
                now=NOW,
                runs=RUNS,
                pct=pct,
                fmt=fmt,
                timed=timed,
                day=timedelta(days=1),
            )
        if os.environ.get("ORCA_BENCH_RUNBOOK", "1") == "1":
            from bench.runbook import run_runbook_bench

            run_runbook_bench(engine, url, redis_url, runs=5, pct=pct, fmt=fmt)
        if os.environ.get("ORCA_BENCH_BROWSER", "1") == "1":
            from bench.browser import run_browser_bench

            run_browser_bench(
                admin, redis_url, db_name=DB_NAME, now=NOW, runs=RUNS, pct=pct, fmt=fmt
            )
    finally:
        if not KEEP:
            drop_database(admin)
        services.stop()
    return 0


def _trust_pools(engine: Engine) -> None:
    """What the worker keeps hourly (and the seed once): the preset ranges' trust-fall pools.
    A database seeded before migration 0014 has none; time the worker's job that makes them."""
    from dashboard.data import kpis
    from dashboard.domain.timebuckets import PRESETS

    with engine.begin() as conn:
        conn.execute(text("DELETE FROM trust_fall_pools WHERE end_at = :e"), {"e": NOW})
        started = time.perf_counter()
        done = kpis.refresh_fall_pools(conn, end=NOW, spans=tuple(PRESETS.values()), now=NOW)
    took = time.perf_counter() - started
    print(
        f"== Worker's hourly trust-fall pools (presets ending {NOW:%H:%M}): {took:.1f} s "
        f"({', '.join(f'{k}: {v}' for k, v in done.items())}); the dashboards' cold runs read "
        "them, as a viewer's first load after a cache expiry does\n"
    )


def _runbook_only(admin: str, redis_url: str, services: Services) -> int:
    """The runbook bench alone, on a small migrated database of its own (no seeding)."""
    from bench.runbook import run_runbook_bench

    name = "orca_bench_runbook"
    plain = admin.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            host, port, user = conn.info.host, conn.info.port, conn.info.user
        create_database(plain, name)
        if host.startswith("/"):
            url = f"postgresql://{user}@/{name}?host={host}&port={port}"
        else:
            url = f"postgresql://{user}@{host}:{port}/{name}"
        upgrade(url)
        os.environ["ORCA_DATABASE_URL"] = url
        os.environ["ORCA_REDIS_URL"] = redis_url
        run_runbook_bench(make_engine(url), url, redis_url, runs=RUNS, pct=pct, fmt=fmt)
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        services.stop()
    return 0


def _load_only(admin: str, redis_url: str, services: Services) -> int:
    """The load run alone, on a small demo database of its own."""
    from bench.browser import _demo_database
    from bench.load import DB_NAME, run_load_bench

    def drop(server: str) -> None:
        plain = server.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')

    try:
        return run_load_bench(
            admin, redis_url, now=NOW, demo_database=_demo_database, drop_database=drop
        )
    finally:
        services.stop()


if __name__ == "__main__":
    sys.exit(main())
