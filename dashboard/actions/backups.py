"""Backup now, restore and the DR drill as audited actions (on-call and admin).

Each runs inside :func:`run_authorised`, so the audit row carries the real result: the
transaction waits (with no locks held and the idle-in-transaction limit lifted for it alone)
while the backup or restore runs on its own connections, then records how it went.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, Engine, text

from dashboard.actions.base import ActionResult, Actor, Outcome, audit_change, run_authorised
from dashboard.data import backups
from dashboard.domain.permissions import Role
from dashboard.integrations.pgtools import database_name
from dashboard.settings import Settings, get_settings

TOPICS = ("backups",)
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _long_wait(conn: Connection) -> None:
    conn.execute(text("SET LOCAL idle_in_transaction_session_timeout = 0"))


def _urls(settings: Settings, database_url: str | None) -> str:
    url = database_url or settings.database_url
    if url is None:
        raise ValueError("No database is configured: nothing to back up.")
    return url


def backup_now(
    engine: Engine,
    actor: Actor,
    *,
    settings: Settings | None = None,
    database_url: str | None = None,
    redis_url: str | None = None,
) -> ActionResult:
    """Take a backup now (pg_dump + Redis snapshot), apply retention; audited as backup.run."""
    settings = settings or get_settings()

    def body(conn: Connection, roles: tuple[Role, ...]) -> ActionResult:
        try:
            url = _urls(settings, database_url)
        except ValueError as exc:
            return ActionResult("invalid", str(exc))
        _long_wait(conn)
        done = backups.run_backup(
            engine,
            settings,
            database_url=url,
            redis_url=redis_url if redis_url is not None else settings.redis_url,
            trigger="manual",
            requested_by=actor.username,
        )
        if done.backup_id is None:  # refused before starting (one is already running)
            return ActionResult("noop", done.message)
        audit_change(
            conn,
            actor,
            roles,
            "backup.run",
            target=("backup", str(done.backup_id)),
            outcome="ok" if done.ok else "failed",
            after={"size_bytes": done.size_bytes, "pruned": list(done.pruned)},
            detail=done.message[:500],
        )
        return ActionResult("changed" if done.ok else "error", done.message, int(done.ok))

    return run_authorised(
        engine, actor, "backup.run", body, target=("backup", "new"), topics=TOPICS
    )


def restore_backup(
    engine: Engine,
    actor: Actor,
    backup_id: int,
    *,
    target_database: str | None = None,
    allow_non_empty: bool = False,
    settings: Settings | None = None,
    database_url: str | None = None,
) -> ActionResult:
    """Restore ``backup_id`` into ``target_database`` (created when missing; None = a new
    scratch database), then verify its row counts. A non-empty target is refused unless
    ``allow_non_empty``; the console's own database is never a target here."""
    settings = settings or get_settings()

    def body(conn: Connection, roles: tuple[Role, ...]) -> ActionResult:
        try:
            url = _urls(settings, database_url)
        except ValueError as exc:
            return ActionResult("invalid", str(exc))
        own = database_name(url)
        if target_database is not None and not _DB_NAME.match(target_database):
            return ActionResult("invalid", "A database name is lower-case letters, digits and _.")
        if target_database == own:
            return ActionResult(
                "invalid", f"{own} is the console's own database: restore elsewhere."
            )
        _long_wait(conn)
        if target_database is None:
            target_url = backups.create_scratch_database(url, "orca_restore_")
        else:
            target_url = backups.ensure_database(url, target_database)
        done = backups.restore_backup(
            engine,
            settings,
            backup_id=backup_id,
            target_url=target_url,
            purpose="restore",
            requested_by=actor.username,
            allow_non_empty=allow_non_empty,
        )
        audit_change(
            conn,
            actor,
            roles,
            "backup.restore",
            target=("backup", str(backup_id)),
            outcome="ok" if done.ok else ("noop" if done.status == "refused" else "failed"),
            after={"target": done.target_database, "status": done.status},
            detail=done.message[:500],
        )
        if done.ok:
            return ActionResult("changed", f"{done.target_database}: {done.message}", 1)
        outcome: Outcome = "invalid" if done.status == "refused" else "error"
        return ActionResult(outcome, f"{done.target_database}: {done.message}", int(done.ok))

    return run_authorised(
        engine, actor, "backup.restore", body, target=("backup", str(backup_id)), topics=TOPICS
    )


def run_dr_drill(
    engine: Engine,
    actor: Actor,
    backup_id: int | None = None,
    *,
    settings: Settings | None = None,
    database_url: str | None = None,
) -> ActionResult:
    """The quarterly DR drill: restore a backup (the newest good one by default) into a scratch
    database, verify it, drop the scratch database; the result is kept in ``restores``."""
    settings = settings or get_settings()

    def body(conn: Connection, roles: tuple[Role, ...]) -> ActionResult:
        try:
            url = _urls(settings, database_url)
        except ValueError as exc:
            return ActionResult("invalid", str(exc))
        chosen = backup_id
        if chosen is None:
            last = backups.get_restorable_backup(conn)
            if last is None:
                return ActionResult("invalid", "There is no good backup to drill with yet.")
            chosen = int(last)
        _long_wait(conn)
        done = backups.run_drill(
            engine, settings, backup_id=chosen, database_url=url, requested_by=actor.username
        )
        audit_change(
            conn,
            actor,
            roles,
            "backup.drill",
            target=("backup", str(chosen)),
            outcome="ok" if done.ok else "failed",
            after={"status": done.status, "duration_s": done.duration_s},
            detail=done.message[:500],
        )
        return ActionResult("changed" if done.ok else "error", f"DR drill: {done.message}", 1)

    return run_authorised(
        engine,
        actor,
        "backup.drill",
        body,
        target=("backup", str(backup_id or "latest")),
        topics=TOPICS,
    )
