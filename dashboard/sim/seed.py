"""Seed an empty database with deterministic, realistic ORCA data (same seed + now = same rows).

Everything is generated with numpy, in chunks (agents) or days (time series), and streamed
with COPY by a background thread while the next chunk is generated, all in one transaction:
memory stays bounded however many agents are asked for, and a failed seed leaves nothing.
The hourly rollups are then computed from the raw rows with the worker's own SQL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

import numpy as np
from sqlalchemy import Connection, Engine, text

from dashboard.data import kpis, totals, trust_rollups
from dashboard.data.rollups import PARTITIONED, ROLLUP_SQL
from dashboard.domain.timebuckets import PRESETS
from dashboard.sim import activity, registry, series
from dashboard.sim.pgcopy import BackgroundCopier, CopyBatch
from dashboard.sim.plan import Plan, Timeline, make_plan
from dashboard.sim.snapshots import KpiAccumulator, snapshot_batch
from dashboard.sim.vocab import ENDPOINTS, INTEGRATIONS

MAX_DAYS: Final = 90
MAX_AGENTS: Final = 5_000_000
# From this many agents on, the per-agent tables' secondary indexes and foreign keys are
# dropped before the load and put back after it, from their own definitions (pg_indexes,
# pg_get_constraintdef), inside the same transaction: one sorted index build and one
# validating join per table instead of millions of row-by-row index inserts and key checks.
DEFER_CONSTRAINTS_FROM: Final = 100_000
PER_AGENT_TABLES: Final = (
    "agents",
    "agent_status_changes",
    "agent_trust_history",
    "data_sources",
    "sync_gaps",
    "drift_detections",
    "policy_violations",
)
TABLES: Final = (
    "agents",
    "agent_status_changes",
    "agent_trust_history",
    "data_sources",
    "sync_gaps",
    "drift_detections",
    "policy_violations",
    "request_metrics",
    "resource_samples",
    "health_checks",
    "sync_lag_samples",
    "kpi_snapshots",
    "request_metrics_hourly",
    "resource_samples_hourly",
    "health_checks_hourly",
    "sync_lag_samples_hourly",
    "agent_trust_hourly",
    "agent_trust_daily",
)


class SeedError(ValueError):
    """The database cannot be seeded as asked (not empty, bad arguments)."""


@dataclass(frozen=True)
class SeedReport:
    """Rows written per table, the seconds it took, and what was asked for."""

    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    agents: int = 0
    days: int = 0
    seed: int = 0
    now: datetime | None = None
    #: Seconds per phase: "copy <table>" (time in COPY), "waiting for the database" (time
    #: the generator was blocked on a full queue), "constraints", "rollups", "analyze",
    #: "trust_pools".
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def __str__(self) -> str:
        parts = ", ".join(f"{k} {v:,}" for k, v in self.rows.items())
        return f"{parts} ({self.total_rows:,} rows in {self.seconds:.1f} s)"


def default_now() -> datetime:
    """The current time, rounded down to the minute (UTC)."""
    return datetime.now(UTC).replace(second=0, microsecond=0)


def seed_database(
    engine: Engine,
    *,
    agents: int,
    days: int,
    seed: int,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> SeedReport:
    """Fill an empty, migrated database; every timestamp lies in [now - days, now].

    Raises SeedError when the database already holds agents (or seeded time series for the
    period) or the arguments are out of range. ``now`` must carry a time zone; it is rounded
    down to the minute.
    """
    if not 1 <= agents <= MAX_AGENTS:
        raise SeedError(f"agents must be between 1 and {MAX_AGENTS:,}, got {agents}")
    if not 1 <= days <= MAX_DAYS:
        raise SeedError(f"days must be between 1 and {MAX_DAYS}, got {days}")
    now = default_now() if now is None else now
    if now.tzinfo is None:
        raise SeedError("now must carry a time zone")
    now = now.astimezone(UTC).replace(second=0, microsecond=0)
    say = progress or (lambda _message: None)
    started = time.perf_counter()
    tl = Timeline(now=now, days=days, seed=seed)
    plan = make_plan(tl, endpoints=len(ENDPOINTS), sources=INTEGRATIONS)
    rows: dict[str, int] = dict.fromkeys(TABLES, 0)

    copy_seconds: dict[str, float] = {}
    timings: dict[str, float] = {}

    def copied(batch: CopyBatch, seconds: float) -> None:
        rows[batch.table] += batch.rows
        copy_seconds[batch.table] = copy_seconds.get(batch.table, 0.0) + seconds

    with engine.connect() as conn:
        _prepare(conn, tl)
        restore = _defer_constraints(conn) if agents >= DEFER_CONSTRAINTS_FROM else []
        driver = conn.connection.driver_connection
        if driver is None:
            raise SeedError("the engine's connection has no psycopg connection underneath")
        copier = BackgroundCopier(driver, on_copied=copied)
        try:
            state, acc = _registry(tl, plan, agents, copier, say)
            for batch in activity.violations(tl, plan, state, acc):
                copier.put(batch)
            say(f"policy violations generated ({time.perf_counter() - started:.1f} s)")
            _time_series(tl, plan, state, acc, copier, say, started)
            copier.close()
        except BaseException:
            copier.close_quietly()
            conn.rollback()
            raise
        timings["waiting for the database"] = copier.waited_s
        timings.update((f"copy {t}", round(v, 3)) for t, v in copy_seconds.items())
        if restore:
            say(f"rows copied ({time.perf_counter() - started:.1f} s); restoring indexes and keys")
            mark = time.perf_counter()
            for statement in restore:
                conn.execute(text(statement))
            timings["constraints"] = time.perf_counter() - mark
        for table in ("agents", "data_sources"):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"coalesce((SELECT max(id) FROM {table}), 1))"
                )
            )
        say(f"rows loaded ({time.perf_counter() - started:.1f} s); computing hourly rollups")
        mark = time.perf_counter()
        for table, sql in ROLLUP_SQL.items():
            result = conn.execute(text(sql), {"since": tl.start})
            rows[table] = int(getattr(result, "rowcount", 0) or 0)
        # The per-agent trust rollups too, so a fresh database answers the Trust KPIs fast.
        rows.update(trust_rollups.rebuild_trust_rollups(conn))
        # The agent totals (migration 0015) recounted once, whatever the bulk load fired.
        totals.rebuild_totals(conn)
        conn.commit()
        timings["rollups"] = time.perf_counter() - mark
    say(f"committed ({time.perf_counter() - started:.1f} s); analyzing")
    mark = time.perf_counter()
    _analyze(engine)
    timings["analyze"] = time.perf_counter() - mark
    # The worker's stored trust-fall pools for the presets ending at ``now``'s hour, so the
    # Trust KPIs page's first viewer on a fresh database does not wait for the history.
    say(f"analyzed ({time.perf_counter() - started:.1f} s); computing trust-fall pools")
    mark = time.perf_counter()
    with engine.begin() as conn:
        hour = now.replace(minute=0)
        kpis.refresh_fall_pools(conn, end=hour, spans=tuple(PRESETS.values()), now=now)
    timings["trust_pools"] = time.perf_counter() - mark
    seconds = time.perf_counter() - started
    say(f"done in {seconds:.1f} s")
    rounded = {k: round(v, 2) for k, v in timings.items()}
    return SeedReport(rows, seconds, agents, days, seed, now, rounded)


def _prepare(conn: Connection, tl: Timeline) -> None:
    """Settings for a long load, one seed at a time, refusal of a non-empty database."""
    conn.execute(text("SET LOCAL statement_timeout = 0"))
    conn.execute(text("SET LOCAL synchronous_commit = off"))
    conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('orca-sim-seed'))"))
    if conn.execute(text("SELECT EXISTS (SELECT 1 FROM agents)")).scalar_one():
        raise SeedError("the database already holds agents; seed only loads an empty database")
    for parent in PARTITIONED:
        conn.execute(
            text("SELECT orca_ensure_daily_partitions(:p, :a, :b)"),
            {"p": parent, "a": tl.start.date(), "b": tl.now.date() + timedelta(days=2)},
        )
    column = {"health_checks": "checked_at"}
    for table in (*PARTITIONED, "kpi_snapshots"):
        col = column.get(table, "computed_at" if table == "kpi_snapshots" else "minute")
        taken = conn.execute(
            text(f"SELECT EXISTS (SELECT 1 FROM {table} WHERE {col} BETWEEN :a AND :b)"),
            {"a": tl.start, "b": tl.now},
        ).scalar_one()
        if taken:
            raise SeedError(f"{table} already holds rows for the period; seed an empty database")


def _defer_constraints(conn: Connection) -> list[str]:
    """Drop the foreign keys and secondary indexes of the per-agent tables.

    Returns the statements that put them back exactly (same names, same definitions, read
    from the catalog): the indexes first, then the keys, which are validated on the way in.
    Primary keys and unique constraints stay, so duplicates still fail the load at once.
    """
    tables = list(PER_AGENT_TABLES)
    keys = conn.execute(
        text("""SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
                FROM pg_constraint c
                WHERE c.contype = 'f' AND c.conrelid::regclass::text = ANY(:tables)
                ORDER BY 1, 2"""),
        {"tables": tables},
    ).all()
    indexes = conn.execute(
        text("""SELECT i.indexname, i.indexdef FROM pg_indexes i
                WHERE i.schemaname = current_schema() AND i.tablename = ANY(:tables)
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                                  WHERE c.conindid = to_regclass(quote_ident(i.indexname)))
                ORDER BY i.tablename, i.indexname"""),
        {"tables": tables},
    ).all()
    restore: list[str] = []
    for table, name, _definition in keys:
        conn.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    for name, definition in indexes:
        conn.execute(text(f'DROP INDEX "{name}"'))
        restore.append(str(definition))
    for table, name, definition in keys:
        restore.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    return restore


def _registry(
    tl: Timeline,
    plan: Plan,
    agents: int,
    copier: BackgroundCopier,
    say: Callable[[str], None],
) -> tuple[registry.RegistryState, KpiAccumulator]:
    state = registry.RegistryState(
        n=agents,
        discovered_s=np.zeros(agents, dtype=np.int64),
        violation_weight=np.zeros(agents),
    )
    acc = KpiAccumulator(tl)
    chunks = range(0, agents, registry.AGENT_CHUNK)
    for number, lo in enumerate(chunks):
        hi = min(agents, lo + registry.AGENT_CHUNK)
        for batch in registry.generate_chunk(tl, plan, state, acc, chunk=number, lo=lo, hi=hi):
            copier.put(batch)
        if hi == agents or number % 4 == 3:
            say(f"agents {hi:,}/{agents:,}")
    return state, acc


def _time_series(
    tl: Timeline,
    plan: Plan,
    state: registry.RegistryState,
    acc: KpiAccumulator,
    copier: BackgroundCopier,
    say: Callable[[str], None],
    started: float,
) -> None:
    sync = series.SyncModel(
        tl,
        plan,
        totals=state.sources_per_integration,
        stale_type=np.concatenate(state.stale_type or [np.zeros(0, dtype=np.int64)]),
        stale_start_ms=np.concatenate(state.stale_start_ms or [np.zeros(0, dtype=np.int64)]),
    )
    minutes = np.arange(tl.minutes)
    alive = np.searchsorted(state.discovered_s, minutes * 60, side="right") / state.n
    traffic = series.request_metrics(tl, plan, agents=state.n, alive_share=alive)
    for day, (batch, served) in enumerate(traffic):
        copier.put(batch)
        copier.put(series.resources(tl, plan, day=day, served=served))
        copier.put(series.health_checks(tl, plan, day=day))
        copier.put(sync.samples(day=day))
        if day % 5 == 4 or day == tl.days - 1:
            say(f"time series day {day + 1}/{tl.days} ({time.perf_counter() - started:.1f} s)")
    stale = sync.stale_total(np.arange(acc.n) * 5)
    copier.put(snapshot_batch(acc, stale_sources=stale, total_sources=state.data_sources))


def _analyze(engine: Engine) -> None:
    """VACUUM ANALYZE every seeded table, two at a time (partitioned ones first).

    VACUUM, not only ANALYZE: it sets the visibility map, without which the registry's counts
    cannot be index-only scans until autovacuum comes by (ANALYZE alone leaves them reading
    every heap page of a million agents).
    """

    def one(table: str) -> None:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text("SET statement_timeout = 0"))
            conn.execute(text(f"VACUUM (ANALYZE) {table}"))
            conn.execute(text("RESET statement_timeout"))

    ordered = [
        *PARTITIONED,
        *(t for t in TABLES if t not in PARTITIONED),
    ]
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="orca-seed-analyze") as pool:
        for future in [pool.submit(one, table) for table in ordered]:
            future.result()
