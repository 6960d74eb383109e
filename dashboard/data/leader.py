"""Session-level PostgreSQL advisory locks: the worker's leader lock and one-at-a-time jobs."""

from __future__ import annotations

from sqlalchemy import Connection, text


def try_leader_lock(conn: Connection, *, lock_id: int) -> bool:
    """Take the lock if free (committed at once: the lock lives as long as the connection)."""
    got = conn.execute(text("SELECT pg_try_advisory_lock(:id)"), {"id": lock_id}).scalar_one()
    conn.commit()
    return bool(got)


def still_holds_lock(conn: Connection, *, lock_id: int) -> bool:
    """True while this connection's session holds ``lock_id``; raises if the connection is gone.

    Committed at once, so the lock's connection never sits idle in a transaction (an open
    transaction would hold back VACUUM's horizon for as long as the worker leads). A bigint
    advisory key shows in pg_locks as classid (high 32 bits), objid (low 32 bits), objsubid 1.
    """
    held = conn.execute(
        text(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND pid = pg_backend_pid() AND classid = :hi AND objid = :lo AND objsubid = 1)"
        ),
        {"hi": (lock_id >> 32) & 0xFFFFFFFF, "lo": lock_id & 0xFFFFFFFF},
    ).scalar_one()
    conn.commit()
    return bool(held)


def wait_for_lock(conn: Connection, *, lock_id: int) -> None:
    """Block until the lock is ours (committed at once: it lives as long as the connection)."""
    conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": lock_id})
    conn.commit()


def release_lock(conn: Connection, *, lock_id: int) -> None:
    """Give back a lock taken by try_leader_lock or wait_for_lock on this connection."""
    conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock_id})
    conn.commit()
