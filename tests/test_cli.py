"""The command line: usage on bad arguments, doctor's plain-words checks, no tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "dashboard.cli", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_bad_arguments_give_usage_not_traceback() -> None:
    for args in (["frobnicate"], ["seed", "--agents", "many"], ["seed", "--agents", "0"], []):
        proc = _run(*args)
        assert proc.returncode == 2, args
        assert "usage:" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_bad_now_is_a_plain_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ORCA_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    rc = main(["seed", "--now", "yesterday-ish"])
    assert rc == 1
    assert "--now must be an ISO date-time" in capsys.readouterr().err


def test_doctor_passes_on_a_migrated_database(db_url: str, redis_url: str) -> None:
    proc = _run("doctor", env={"ORCA_DATABASE_URL": db_url, "ORCA_REDIS_URL": redis_url})
    assert "OK    postgresql" in proc.stdout
    assert "OK    migrations" in proc.stdout
    assert "OK    redis" in proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_doctor_fails_in_plain_words_when_servers_are_down(tmp_path: Path) -> None:
    proc = _run(
        "doctor",
        env={
            "ORCA_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/orca",
            "ORCA_REDIS_URL": "redis://127.0.0.1:1/0",
            "ORCA_STATE_DIR": str(tmp_path),
        },
    )
    assert proc.returncode == 1
    assert "FAIL  postgresql  cannot connect to PostgreSQL" in proc.stdout
    assert "FAIL  redis" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_doctor_rejects_a_bad_setting() -> None:
    proc = _run("doctor", env={"ORCA_PORT": "not-a-port"})
    assert proc.returncode == 2
    assert "ORCA_PORT" in proc.stderr
    assert "Traceback" not in proc.stderr
