"""Backups and verified restores against the suite's real PostgreSQL 16 and Redis.

Covers: a backup then a restore into a fresh database gives the recorded row counts; a corrupt
dump is refused by its checksum; a non-empty target is refused unless allowed; a disk that is
full (a tiny tmpfs) fails the backup plainly; retention prunes files after each backup; a
second concurrent backup is refused; the backup age the alert rule reads.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from dashboard.data import backups
from dashboard.data.alert_metrics import read_metrics
from dashboard.data.backups import (
    create_scratch_database,
    drop_scratch_database,
    get_last_backup_age_s,
    restore_backup,
    run_backup,
)
from dashboard.integrations.backup_store import FolderStore
from dashboard.integrations.pgtools import PgToolError, find_pg_tool
from dashboard.settings import Settings
from tests.actions.conftest import make_agent
from tests.conftest import MakeDatabase
from tests.harness import ThrowawayDatabase


@pytest.fixture(scope="module")
def source(make_database: MakeDatabase) -> Iterator[ThrowawayDatabase]:
    with make_database("orca_bk") as db:
        engine = db.engine()
        for i in range(25):
            make_agent(engine, status="quarantined" if i % 5 == 0 else "active")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO audit_log (actor, action, outcome) "
                    "SELECT 'seed', 'seed.row', 'ok' FROM generate_series(1, 7)"
                )
            )
        yield db


def backup_dir(settings: Settings) -> Path:
    assert settings.backup_dir is not None
    return settings.backup_dir


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path / "state", backup_dir=tmp_path / "backups")


def _backup(
    db: ThrowawayDatabase, settings: Settings, redis_url: str | None = None, **kw: object
) -> backups.BackupOutcome:
    return run_backup(
        db.engine(),
        settings,
        database_url=db.url,
        redis_url=redis_url,
        trigger="manual",
        requested_by="test",
        **kw,  # type: ignore[arg-type]
    )


def test_backup_then_restore_into_a_fresh_database_gives_the_same_counts(
    source: ThrowawayDatabase, settings: Settings, redis_url: str
) -> None:
    done = _backup(source, settings, redis_url)
    assert done.ok, done.message
    engine = source.engine()
    with engine.connect() as conn:
        row = backups.get_backup(conn, done.backup_id or 0)
    assert row is not None and row["status"] == "ok"
    assert row["row_counts"]["agents"] == 25 and row["row_counts"]["audit_log"] >= 7
    assert len(row["sha256"]) == 64 and row["size_bytes"] > 1000 and row["duration_s"] > 0
    with engine.connect() as conn:
        server = str(conn.execute(text("SHOW server_version")).scalar_one())
    # The dump's server is the one it came from (16 embedded; 15 in CI's system-server pass).
    assert row["server_version"].split(".")[0] == server.split(".")[0]
    dump = backup_dir(settings) / row["dump_key"]
    assert dump.is_file() and dump.stat().st_size == row["size_bytes"]
    assert dump.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    # The Redis RDB snapshot beside it.
    assert (
        row["redis_key"] and (backup_dir(settings) / row["redis_key"]).read_bytes()[:5] == b"REDIS"
    )

    target = create_scratch_database(source.url, "orca_restore_")
    name = target.rsplit("/", 1)[-1].split("?")[0]
    try:
        result = restore_backup(
            engine,
            settings,
            backup_id=row["id"],
            target_url=target,
            purpose="restore",
            requested_by="test",
        )
        assert result.ok, result.message
        assert result.status == "ok" and "verified" in result.message
        restored = backups.admin_engine(target)
        with restored.connect() as conn:
            assert backups.count_main_tables(conn) == row["row_counts"]
        restored.dispose()
        # Restoring again into the same (now full) database is refused unless told.
        again = restore_backup(
            engine,
            settings,
            backup_id=row["id"],
            target_url=target,
            purpose="restore",
            requested_by="test",
        )
        assert again.status == "refused" and "not empty" in again.message
        forced = restore_backup(
            engine,
            settings,
            backup_id=row["id"],
            target_url=target,
            purpose="restore",
            requested_by="test",
            allow_non_empty=True,
        )
        assert forced.ok, forced.message
    finally:
        drop_scratch_database(source.url, name)
    with engine.connect() as conn:
        kept = backups.list_restores(conn)
    assert [r["status"] for r in kept[:3]] == ["ok", "refused", "ok"]
    assert get_last_backup_age_s(engine.connect()) is not None


def test_a_corrupt_dump_is_refused_by_its_checksum(
    source: ThrowawayDatabase, settings: Settings
) -> None:
    done = _backup(source, settings)
    assert done.ok, done.message
    engine = source.engine()
    with engine.connect() as conn:
        row = backups.get_backup(conn, done.backup_id or 0)
    assert row is not None
    dump = backup_dir(settings) / row["dump_key"]
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    target = create_scratch_database(source.url, "orca_restore_")
    name = target.rsplit("/", 1)[-1].split("?")[0]
    try:
        result = restore_backup(
            engine,
            settings,
            backup_id=row["id"],
            target_url=target,
            purpose="restore",
            requested_by="test",
        )
        assert result.status == "refused"
        assert result.message.startswith("corrupt dump:")
        check = backups.admin_engine(target)
        with check.connect() as conn:
            assert backups._user_tables(conn) == 0  # nothing was written
        check.dispose()
    finally:
        drop_scratch_database(source.url, name)


def test_the_console_drops_only_its_own_scratch_databases(source: ThrowawayDatabase) -> None:
    with pytest.raises(backups.BackupError, match="not a scratch database"):
        drop_scratch_database(source.url, source.name)
    with pytest.raises(backups.BackupError):
        drop_scratch_database(source.url, "postgres")


@pytest.fixture()
def tiny_disk() -> Iterator[Path]:
    """A 256 KiB tmpfs: a real full disk for pg_dump (the machine runs the suite as root)."""
    where = Path(tempfile.mkdtemp(prefix="orca-full-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        # No mount rights: /dev/full answers every write with ENOSPC, the same error.
        where.rmdir()
        yield Path("/dev/full")
        return
    try:
        (where / "filler").write_bytes(b"\0" * 200_000)
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)
        where.rmdir()


def test_a_full_disk_fails_the_backup_plainly(
    source: ThrowawayDatabase, settings: Settings, tiny_disk: Path
) -> None:
    if tiny_disk == Path("/dev/full"):
        pytest.fail("cannot mount a tmpfs here; run the suite as root")
    done = _backup(
        source, settings, work_dir=tiny_disk / "work", store=FolderStore(tiny_disk / "store")
    )
    assert not done.ok
    assert "disk full" in done.message, done.message
    with source.engine().connect() as conn:
        row = backups.get_backup(conn, done.backup_id or 0)
    assert row is not None and row["status"] == "failed" and "disk full" in row["error"]
    assert not list((tiny_disk / "work").glob("*.dump"))  # no partial file left behind


def test_a_second_backup_while_one_runs_is_refused(
    source: ThrowawayDatabase, settings: Settings
) -> None:
    with backups.backup_lock(source.engine()) as got:
        assert got
        second = _backup(source, settings)
    assert not second.ok and "already running" in second.message


def test_retention_prunes_old_files_after_each_backup(
    source: ThrowawayDatabase, tmp_path: Path
) -> None:
    settings = Settings(
        state_dir=tmp_path / "s",
        backup_dir=tmp_path / "b",
        backup_retain_daily=2,
        backup_retain_weekly=0,
        backup_retain_monthly=0,
    )
    engine = source.engine()
    with engine.begin() as conn:  # only this test's backups take part
        conn.execute(text("UPDATE backups SET status = 'pruned' WHERE status = 'ok'"))
    start = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
    ids = []
    for day in range(4):
        at = start + timedelta(days=day)
        done = _backup(source, settings, now=at)
        assert done.ok, done.message
        with engine.begin() as conn:  # the record says when it finished: pretend that day
            conn.execute(
                text("UPDATE backups SET finished_at = :at WHERE id = :id"),
                {"at": at, "id": done.backup_id},
            )
        ids.append(done.backup_id)
    last = backups.apply_retention(
        engine, settings, store=FolderStore(tmp_path / "b"), now=start + timedelta(days=3)
    )
    assert last == ()  # already applied after each backup
    with engine.connect() as conn:
        states = {r["id"]: r["status"] for r in backups.list_backups(conn) if r["id"] in ids}
    assert states == {ids[0]: "pruned", ids[1]: "pruned", ids[2]: "ok", ids[3]: "ok"}
    assert sorted(p.name.rsplit("-", 1)[-1] for p in (tmp_path / "b").glob("*.dump")) == sorted(
        f"{i}.dump" for i in ids[2:]
    )


def test_backup_age_for_the_alert_rule(source: ThrowawayDatabase, settings: Settings) -> None:
    done = _backup(source, settings)
    assert done.ok
    with source.engine().connect() as conn:
        age = get_last_backup_age_s(conn)
        later = get_last_backup_age_s(conn, now=datetime.now(UTC) + timedelta(hours=27))
    assert age is not None and age < 60
    assert later is not None and later > 26 * 3600
    # The alert rule's reader (backup_stale, P2 above 26 h) sees the same age, in hours.
    with source.engine().connect() as conn:
        fresh = read_metrics(conn, None, metrics=["backup_age_h"], now=datetime.now(UTC))
        stale = read_metrics(
            conn, None, metrics=["backup_age_h"], now=datetime.now(UTC) + timedelta(hours=27)
        )
    assert fresh["backup_age_h"][0].value < 1
    assert stale["backup_age_h"][0].value > 26


def test_pg_dump_of_another_major_version_is_refused() -> None:
    with pytest.raises(PgToolError, match=r"no pg_dump for PostgreSQL 13"):
        find_pg_tool("pg_dump", 13)
    assert (
        "16"
        in subprocess.run(
            [str(find_pg_tool("pg_dump", 16)), "--version"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )


def test_the_worker_takes_the_scheduled_backup_when_due(
    source: ThrowawayDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    from dashboard.settings import reset_settings
    from dashboard.worker.main import Worker

    monkeypatch.setenv("ORCA_BACKUP_SCHEDULE_ENABLED", "true")
    monkeypatch.setenv("ORCA_BACKUP_DIR", str(tmp_path / "sched"))
    monkeypatch.setenv("ORCA_DATABASE_URL", source.url)
    reset_settings()
    try:
        engine = source.engine()
        with engine.begin() as conn:  # nothing recent: the backup is due
            conn.execute(text("UPDATE backups SET status = 'pruned' WHERE status = 'ok'"))
        worker = Worker(engine)
        first = worker.job_backup()
        assert isinstance(first, str) and first.startswith("Backup"), first
        assert worker.job_backup() == "not due"
        with engine.connect() as conn:
            assert backups.list_backups(conn, limit=1)[0]["trigger"] == "schedule"
    finally:
        monkeypatch.undo()
        reset_settings()
