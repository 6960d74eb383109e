"""Restored scratch databases do not pile up: the worker drops each orca_restore_… database
``backup_restore_keep_h`` after its last restore (never one being restored into, one somebody is
connected to, or any database without the console's prefixes), and the Backups page lists what
is left."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from dashboard.data import backups
from dashboard.data.backups import (
    create_scratch_database,
    drop_scratch_database,
    ensure_database,
    list_scratch_databases,
    prune_scratch_databases,
)
from dashboard.db.engine import make_engine
from dashboard.integrations.pgtools import database_name
from dashboard.settings import to_sqlalchemy_url

NOW = datetime.now(UTC)


@pytest.fixture()
def backup_id(engine: Engine) -> Iterator[int]:
    """A bare 'ok' backup row (no size, no file) to hang restores on, removed afterwards: the
    database is shared, and pages and checklists of later tests read the latest backup."""
    with engine.begin() as conn:
        made = int(
            conn.execute(
                text(
                    "INSERT INTO backups (status, trigger, requested_by, store, finished_at) "
                    "VALUES ('ok', 'manual', 'test', 'folder', now()) RETURNING id"
                )
            ).scalar_one()
        )
    yield made
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM restores WHERE backup_id = :b"), {"b": made})
        conn.execute(text("DELETE FROM backups WHERE id = :b"), {"b": made})


def _restored(engine: Engine, backup_id: int, name: str, *, ago_h: float, status: str) -> None:
    at = NOW - timedelta(hours=ago_h)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO restores (backup_id, started_at, finished_at, status, purpose, "
                "target_database, requested_by) VALUES (:b, :s, :f, :st, 'restore', :t, 'test')"
            ),
            {
                "b": backup_id,
                "s": at - timedelta(minutes=1),
                "f": None if status == "running" else at,
                "st": status,
                "t": name,
            },
        )


def _names(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {d["name"] for d in list_scratch_databases(conn, keep_h=24)}


def test_old_restores_are_dropped_the_rest_are_listed_and_kept(
    engine: Engine, db_url: str, backup_id: int
) -> None:
    tag = secrets.token_hex(3)
    old = database_name(create_scratch_database(db_url, "orca_restore_"))
    recent = database_name(create_scratch_database(db_url, "orca_restore_"))
    busy = database_name(create_scratch_database(db_url, "orca_restore_"))
    restoring = database_name(create_scratch_database(db_url, "orca_restore_"))
    named = database_name(ensure_database(db_url, f"orca_restore_named_{tag}"))
    other = database_name(ensure_database(db_url, f"orca_keepme_{tag}"))  # not the console's
    _restored(engine, backup_id, old, ago_h=30, status="ok")
    _restored(engine, backup_id, recent, ago_h=1, status="ok")
    _restored(engine, backup_id, busy, ago_h=30, status="failed")
    _restored(engine, backup_id, restoring, ago_h=30, status="running")
    _restored(engine, backup_id, restoring, ago_h=0.1, status="running")
    inspector = make_engine(to_sqlalchemy_url(backups._with_password(db_url, busy)))
    try:
        with inspector.connect() as held:  # somebody is looking at this restore
            held.execute(text("SELECT 1"))
            with engine.connect() as conn:
                listed = {d["name"]: d for d in list_scratch_databases(conn, keep_h=24)}
            assert {old, recent, busy, restoring, named} <= listed.keys()
            assert other not in listed
            assert listed[old]["drop_at"] == NOW - timedelta(hours=6)
            assert listed[recent]["drop_at"] == NOW + timedelta(hours=23)
            assert listed[busy]["connections"] >= 1
            assert listed[restoring]["restoring"] and listed[restoring]["drop_at"] is None
            assert listed[named]["drop_at"] is None  # no restore recorded, no stamp: kept
            assert listed[old]["size_bytes"] > 0

            dropped = prune_scratch_databases(engine, db_url, keep_h=24, now=NOW)
            assert old in dropped
            assert not {recent, busy, restoring, named} & set(dropped)
    finally:
        inspector.dispose()
    left = _names(engine)
    assert old not in left and {recent, busy, restoring, named} <= left
    with engine.connect() as conn:
        assert conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": other}
        ).scalar()
    # Nobody connected any more: the failed restore's database goes on the next pass.
    assert busy in prune_scratch_databases(engine, db_url, keep_h=24, now=NOW)
    for name in (recent, restoring, named):
        drop_scratch_database(db_url, name)
    with (
        backups.admin_engine(db_url)
        .connect()
        .execution_options(isolation_level="AUTOCOMMIT") as conn
    ):
        conn.execute(text(f'DROP DATABASE IF EXISTS "{other}"'))


def test_a_stamped_database_without_a_record_is_dropped_by_its_name(
    engine: Engine, db_url: str
) -> None:
    """A database left by a restore whose process died before recording it."""
    name = database_name(create_scratch_database(db_url, "orca_restore_"))
    with engine.connect() as conn:
        (found,) = [d for d in list_scratch_databases(conn, keep_h=1) if d["name"] == name]
    assert found["last_restore"] is not None and found["drop_at"] is not None
    assert name not in prune_scratch_databases(engine, db_url, keep_h=1)
    later = found["drop_at"] + timedelta(seconds=1)
    assert name in prune_scratch_databases(engine, db_url, keep_h=1, now=later)
    assert name not in _names(engine)
