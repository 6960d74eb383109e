"""Step kinds of the Restore Backup runbook: look the backup up, restore it, verify it.

The work is :func:`dashboard.data.backups.restore_backup` (checksum first, a non-empty target
refused unless allowed, one transaction, row counts verified against the backup's record);
these steps show each part as evidence. The console's own database is never a target.
"""

from __future__ import annotations

from typing import Any

from dashboard.data import backups
from dashboard.integrations.pgtools import database_name
from dashboard.runbooks.steps import StepContext, StepOutcome, step_kind


def _source_url(ctx: StepContext) -> str:
    url = ctx.settings.database_url
    if url is None:
        raise ValueError("no database is configured")
    return url


def _describe_lookup(ctx: StepContext, args: dict[str, Any]) -> str:
    return f"read backup {args['backup_id']}'s record (status, size, checksum, row counts)"


@step_kind("backup.lookup", acts=False, required=("backup_id",), describe=_describe_lookup)
def _lookup(ctx: StepContext, args: dict[str, Any]) -> StepOutcome:
    with ctx.engine.connect() as conn:
        row = backups.get_backup(conn, int(args["backup_id"]))
    if row is None:
        return StepOutcome(False, f"there is no backup {args['backup_id']}")
    counts = row["row_counts"] or {}
    out = (
        f"backup {row['id']}: {row['status']}, {(row['size_bytes'] or 0) / 1e6:.1f} MB, "
        f"sha256 {str(row['sha256'] or '')[:16]}…, {sum(counts.values()):,} rows in "
        f"{len(counts)} tables, taken {row['started_at']:%Y-%m-%d %H:%M} UTC"
    )
    if row["status"] != "ok":
        return StepOutcome(False, out + f" — cannot restore a {row['status']} backup")
    return StepOutcome(True, out, {"backup_id": row["id"], "row_counts": counts})


def _describe_restore(ctx: StepContext, args: dict[str, Any]) -> str:
    replace = " (replacing what is there)" if args.get("allow_non_empty") else ""
    return (
        f"verify the dump's sha256, then pg_restore --single-transaction backup "
        f"{args['backup_id']} into database {args['target_database']}{replace}, created when "
        "missing; a non-empty target is refused unless allowed"
    )


@step_kind(
    "backup.restore",
    acts=True,
    required=("backup_id", "target_database"),
    optional=("allow_non_empty",),
    describe=_describe_restore,
)
def _restore(ctx: StepContext, args: dict[str, Any]) -> StepOutcome:
    try:
        url = _source_url(ctx)
    except ValueError as exc:
        return StepOutcome(False, str(exc))
    target = str(args["target_database"])
    if target == database_name(url):
        return StepOutcome(False, f"{target} is the console's own database: restore elsewhere")
    try:
        target_url = backups.ensure_database(url, target)
    except backups.BackupError as exc:
        return StepOutcome(False, str(exc))
    ctx.progress(f"restoring backup {args['backup_id']} into {target}…")
    done = backups.restore_backup(
        ctx.engine,
        ctx.settings,
        backup_id=int(args["backup_id"]),
        target_url=target_url,
        purpose="restore",
        requested_by=f"runbook:{ctx.spec.id}",
        allow_non_empty=bool(args.get("allow_non_empty")),
    )
    ctx.facts["restore_id"] = done.restore_id
    ctx.facts["target_url"] = target_url
    return StepOutcome(
        done.ok,
        f"{done.status}: {done.message}",
        {"restore_id": done.restore_id, "status": done.status, "duration_s": done.duration_s},
    )


def _describe_verify(ctx: StepContext, args: dict[str, Any]) -> str:
    return f"count the main tables in {args['target_database']} against the backup's record"


@step_kind(
    "backup.verify",
    acts=False,
    required=("backup_id", "target_database"),
    describe=_describe_verify,
)
def _verify(ctx: StepContext, args: dict[str, Any]) -> StepOutcome:
    target_url = ctx.facts.get("target_url")
    if not target_url:
        return StepOutcome(False, "nothing was restored to verify")
    with ctx.engine.connect() as conn:
        row = backups.get_backup(conn, int(args["backup_id"]))
    expected: dict[str, int] = dict((row or {}).get("row_counts") or {})
    eng = backups.admin_engine(str(target_url))
    try:
        with eng.connect() as conn:
            found = backups.count_main_tables(conn)
    finally:
        eng.dispose()
    lines = [
        f"{t}: {n:,} expected, {found.get(t, 0):,} found {'✓' if found.get(t) == n else '✗'}"
        for t, n in sorted(expected.items())
    ]
    ok = all(found.get(t) == n for t, n in expected.items())
    return StepOutcome(ok, "\n".join(lines), {"expected": expected, "found": found})
