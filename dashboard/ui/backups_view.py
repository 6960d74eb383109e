"""Backups page body: the last good backup and its age, history, restores and DR drills, and
the staged Backup now / DR drill / Restore buttons (on-call and admin)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.actions import backups as backup_actions
from dashboard.actions.base import ActionResult
from dashboard.data import backups
from dashboard.settings import get_settings
from dashboard.ui import components, loaders, staged
from dashboard.ui.markup import plain
from dashboard.ui.ops_common import frame_panel, may, not_allowed_button, run_action

PAGE = "backups"


def _age_text(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.1f} days ago"


def _history(conn: Any) -> list[dict[str, Any]]:
    rows = []
    for r in backups.list_backups(conn, limit=200):
        counts = r["row_counts"] or {}
        rows.append(
            {
                "id": r["id"],
                "started": r["started_at"],
                "status": r["status"],
                "trigger": r["trigger"],
                "by": r["requested_by"],
                "size MB": round((r["size_bytes"] or 0) / 1e6, 2),
                "duration s": round(r["duration_s"] or 0, 1),
                "rows": sum(int(v) for v in counts.values()),
                "sha256": (r["sha256"] or "")[:12],
                "redis": "yes" if r["redis_key"] else (r["redis_note"] or ""),
                "store": r["store"],
                "error": r["error"] or "",
            }
        )
    return rows


def _restores(conn: Any) -> list[dict[str, Any]]:
    return [
        {
            "id": r["id"],
            "backup": r["backup_id"],
            "started": r["started_at"],
            "purpose": r["purpose"],
            "status": r["status"],
            "verified": r["verified"],
            "target": r["target_database"],
            "by": r["requested_by"],
            "duration s": round(r["duration_s"] or 0, 1),
            "detail": r["detail"] or "",
        }
        for r in backups.list_restores(conn, limit=100)
    ]


def _scratch(conn: Any) -> list[dict[str, Any]]:
    keep_h = get_settings().backup_restore_keep_h
    return [
        {
            "database": d["name"],
            "size (MB)": round(d["size_bytes"] / 1e6, 1),
            "connections": d["connections"],
            "last restore (UTC)": _stamp(d["last_restore"]),
            "dropped after (UTC)": "restoring now"
            if d["restoring"]
            else (_stamp(d["drop_at"]) or "kept: no restore recorded"),
        }
        for d in backups.list_scratch_databases(conn, keep_h=keep_h)
    ]


def _stamp(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if at is not None else ""


def _summary(conn: Any) -> dict[str, Any]:
    return {"last": backups.get_last_backup(conn), "age_s": backups.get_last_backup_age_s(conn)}


def _stage_backup() -> staged.Plan | ActionResult:
    settings = get_settings()
    where = backups.store_for(settings).location
    return staged.Plan(
        scope="backup",
        preview=f"Take a backup now: pg_dump (custom format) of the console's database and a "
        f"Redis snapshot, into {where}; then retention (7 daily, 4 weekly, 12 monthly).",
        confirm_label="Back up now",
        count=1,
    )


def _stage_drill() -> staged.Plan | ActionResult:
    return staged.Plan(
        scope="drill",
        preview="DR drill: restore the newest good backup into a new scratch database, verify "
        "its row counts against the backup's record, then drop the scratch database. The "
        "result is kept below.",
        confirm_label="Run the DR drill",
        count=1,
    )


def _run_backup(plan: staged.Plan, confirm: int | None) -> ActionResult:
    return run_action(backup_actions.backup_now)


def _run_drill(plan: staged.Plan, confirm: int | None) -> ActionResult:
    return run_action(backup_actions.run_dr_drill)


def _run_restore(plan: staged.Plan, confirm: int | None) -> ActionResult:
    return run_action(backup_actions.restore_backup, int(plan.data[0]))


def _restore_control(history: pd.DataFrame | None) -> None:
    good = (
        []
        if history is None or history.empty
        else [int(i) for i in history.loc[history["status"] == "ok", "id"]]
    )
    if not good:
        st.caption("No kept backup to restore yet.")
        return
    chosen = st.selectbox("Backup to restore", good, key=f"{PAGE}.restore_id")

    def stage() -> staged.Plan | ActionResult:
        return staged.Plan(
            scope=f"restore:{chosen}",
            preview=f"Restore backup {chosen} into a new scratch database (orca_restore_…), "
            "then verify its row counts. Nothing existing is touched; the scratch database "
            "is kept for inspection.",
            confirm_label="Restore",
            count=1,
            data=(chosen,),
        )

    staged.control(
        f"{PAGE}.restore",
        scope=f"restore:{chosen}",
        preview_label="Restore…",
        stage=stage,
        run=_run_restore,
    )


def render() -> None:
    settings = get_settings()
    for key in ("backup", "drill", "restore"):
        staged.show_result(f"{PAGE}.{key}.result")
    summary = loaders.load(f"{PAGE}.summary", _summary, ttl_s=10, topics=(PAGE,))
    history = frame_panel(f"{PAGE}.history", _history)
    restores = frame_panel(f"{PAGE}.restores", _restores)
    scratch = frame_panel(f"{PAGE}.scratch", _scratch, ttl_s=30)
    components.banner_for([summary, history, restores])
    info = summary.value or {}
    last, age = info.get("last"), info.get("age_s")
    limit_h = settings.backup_max_age_h
    cols = st.columns(4)
    cols[0].metric("Last good backup", _age_text(age))
    # A backup row may carry no size or duration (one recorded by hand or by an older
    # version): say so rather than crash on the arithmetic.
    size, took = (last or {}).get("size_bytes"), (last or {}).get("duration_s")
    cols[1].metric("Size", f"{size / 1e6:.1f} MB" if size is not None else "—")
    cols[2].metric("Took", f"{took:.1f} s" if took is not None else "—")
    cols[3].metric("Kept in", "S3 bucket" if settings.backup_s3_bucket else "folder")
    if summary.state != "error":
        if age is None:
            st.warning("No backup has completed yet.")
        elif age > limit_h * 3600:
            st.error(f"The last good backup is older than {limit_h:.0f} hours (P2 alert).")
        else:
            st.success(f"Backups are current (alert after {limit_h:.0f} hours).")
    st.caption(
        plain(
            f"Where: {backups.store_for(settings).location}. Schedule: every "
            f"{settings.backup_interval_h:.0f} h by the worker"
            + ("" if settings.backup_schedule_enabled else " (disabled)")
            + ". Retention: "
            f"{settings.backup_retain_daily} daily, {settings.backup_retain_weekly} weekly, "
            f"{settings.backup_retain_monthly} monthly."
        )
    )
    # Stacked, not side by side: a staged preview needs the page's width to be readable.
    with st.container(border=True):
        st.markdown("**Back up now** — pg_dump and a Redis snapshot, then retention")
        if may("backup.run"):
            staged.control(
                f"{PAGE}.backup",
                scope="backup",
                preview_label="Back up now…",
                stage=_stage_backup,
                run=_run_backup,
            )
        else:
            not_allowed_button("Back up now…", f"{PAGE}.backup.off")
    with st.container(border=True):
        st.markdown("**DR drill** — restore into a scratch database, verify, drop it")
        if may("backup.drill"):
            staged.control(
                f"{PAGE}.drill",
                scope="drill",
                preview_label="DR drill…",
                stage=_stage_drill,
                run=_run_drill,
            )
        else:
            not_allowed_button("DR drill…", f"{PAGE}.drill.off")
    with st.container(border=True):
        st.markdown(
            "**Restore** — into a new scratch database, verified (the Restore Backup runbook "
            "restores into a named database)"
        )
        if may("backup.restore"):
            _restore_control(history.value)
        else:
            not_allowed_button("Restore…", f"{PAGE}.restore.off")
    components.table(
        history,
        f"{PAGE}.history_table",
        title="History",
        file_name="backups.csv",
        empty="No backup has been taken yet.",
    )
    components.table(
        restores,
        f"{PAGE}.restores_table",
        title="Restores and DR drills",
        file_name="restores.csv",
        empty="No restore or DR drill has run yet.",
    )
    components.table(
        scratch,
        f"{PAGE}.scratch_table",
        title=(
            "Restored databases on this server (the console's orca_restore_… ones only; the "
            f"worker drops each {settings.backup_restore_keep_h:g} h after its last restore "
            "unless someone is connected)"
        ),
        file_name="restored_databases.csv",
        empty="No restored database is left on this server.",
    )
    st.caption(f"As of {datetime.now(UTC):%H:%M:%S} UTC.")
