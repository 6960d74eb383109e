"""`orca-dashboard backup run|list`: an on-demand backup from the host, then its line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import MakeDatabase

ROOT = Path(__file__).resolve().parent.parent


def test_backup_run_then_list(make_database: MakeDatabase, tmp_path: Path) -> None:
    with make_database("orca_bkcli") as db:
        env = {
            **os.environ,
            "ORCA_DATABASE_URL": db.url,
            "ORCA_REDIS_URL": "",
            "ORCA_BACKUP_DIR": str(tmp_path),
            "ORCA_STATE_DIR": str(tmp_path / "state"),
        }

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "dashboard.cli", "backup", *args],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )

        done = cli("run")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "done" in done.stdout and "Traceback" not in done.stderr
        listed = cli("list")
        assert listed.returncode == 0 and " ok " in listed.stdout, listed.stdout
        assert list(tmp_path.glob("*.dump"))
