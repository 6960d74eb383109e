"""Backup now, restore and the DR drill as actions: on-call may, a manager may not; audited."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from dashboard.actions import backups as backup_actions
from dashboard.data import backups
from dashboard.domain.permissions import Role
from dashboard.integrations.pgtools import database_name
from dashboard.settings import Settings
from tests.actions.conftest import LoggedIn, audit_rows


def test_oncall_backs_up_drills_and_restores_manager_cannot(
    auth_engine: Engine, auth_db_url: str, signed_in: Callable[..., LoggedIn], tmp_path: Path
) -> None:
    settings = Settings(state_dir=tmp_path, backup_dir=tmp_path / "b", database_url=auth_db_url)
    oncall, manager = signed_in(Role.ONCALL), signed_in(Role.MANAGER)
    denied = backup_actions.backup_now(auth_engine, manager.actor, settings=settings)
    assert denied.outcome == "denied"
    done = backup_actions.backup_now(auth_engine, oncall.actor, settings=settings)
    assert done.outcome == "changed", done
    rows = audit_rows(auth_engine, actor=oncall.username)
    assert [r["action"] for r in rows][-1:] == ["backup.run"] and rows[-1]["outcome"] == "ok"
    drill = backup_actions.run_dr_drill(auth_engine, oncall.actor, settings=settings)
    assert drill.outcome == "changed", drill
    with auth_engine.connect() as conn:
        kept = backups.list_restores(conn, limit=1)[0]
    assert kept["purpose"] == "drill" and kept["status"] == "ok" and kept["verified"] is True
    own = database_name(auth_db_url)
    refused = backup_actions.restore_backup(
        auth_engine,
        oncall.actor,
        done.count and kept["backup_id"],
        target_database=own,
        settings=settings,
    )
    assert refused.outcome == "invalid" and "own database" in refused.message
    restored = backup_actions.restore_backup(
        auth_engine, oncall.actor, kept["backup_id"], settings=settings
    )
    assert restored.outcome == "changed", restored
    name = restored.message.split(":", 1)[0]
    backups.drop_scratch_database(auth_db_url, name)
