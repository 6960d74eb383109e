"""The worker's leader lock: a PostgreSQL session-level advisory lock on one connection."""

from __future__ import annotations

from sqlalchemy import Connection, text


def try_leader_lock(conn: Connection, *, lock_id: int) -> bool:
    """Take the lock if free (committed at once: the lock lives as long as the connection)."""
    got = conn.execute(text("SELECT pg_try_advisory_lock(:id)"), {"id": lock_id}).scalar_one()
    conn.commit()
    return bool(got)


def check_connection(conn: Connection) -> None:
    """Raise if the lock's connection is gone (and with it the lock)."""
    conn.execute(text("SELECT 1"))


def release_leader_lock(conn: Connection, *, lock_id: int) -> None:
    conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock_id})
    conn.commit()
