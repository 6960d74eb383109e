"""Session-level PostgreSQL advisory locks: the worker's leader lock and one-at-a-time jobs."""

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


def wait_for_lock(conn: Connection, *, lock_id: int) -> None:
    """Block until the lock is ours (committed at once: it lives as long as the connection)."""
    conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": lock_id})
    conn.commit()


def release_lock(conn: Connection, *, lock_id: int) -> None:
    """Give back a lock taken by try_leader_lock or wait_for_lock on this connection."""
    conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock_id})
    conn.commit()
