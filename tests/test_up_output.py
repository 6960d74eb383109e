"""`orca-dashboard up` is calm: what a person needs in the terminal, the rest in the log file."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from dashboard.commands.up import LOG_NAME, worth_knowing
from tests.harness import LoggedProcess, free_port, generous, run_log_path, tail

NOISE = ("initdb", "pg_ctl", "pgserver", "Uvicorn", "You can now view", "Traceback")


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        (
            "2026-12-02 20:10:29,381 INFO dashboard.worker.main: this worker is the leader",
            "20:10:29 worker: this worker is the leader",
        ),
        (
            "2026-12-02 20:10:30,009 INFO dashboard.worker.probes: probe otel_collector: down (x)",
            "20:10:30 worker: probe otel_collector: down (x)",
        ),
        (
            "2026-12-02 20:10:31,000 WARNING dashboard.worker.sync: ORCA Core sync: timed out",
            "20:10:31 worker: warning: ORCA Core sync: timed out",
        ),
        (
            "2026-12-02 20:10:32,000 ERROR dashboard.core.server: stand-in loop step failed",
            "20:10:32 stand-in: error: stand-in loop step failed",
        ),
        ("ORCA Core stand-in: http://127.0.0.1:8600  (tick 60 s)", None),
        # A text line logged inside a span: the ids are for the log file.
        (
            "2026-12-02 20:10:33,000 INFO dashboard.worker.probes: probe redis: up"
            " trace_id=0af7651916cd43dd8448eb211c80319c span_id=b7ad6b7169203331",
            "20:10:33 worker: probe redis: up",
        ),
        # The JSON the children log under `up`: time, who and message only.
        (
            '{"ts": "2026-12-02T20:10:34.381+00:00", "level": "INFO",'
            ' "logger": "dashboard.worker.main", "message": "this worker is the leader",'
            ' "service": "worker", "thread": "MainThread",'
            ' "trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331"}',
            "{time} worker: this worker is the leader",
        ),
        (
            '{"ts": "2026-12-02T20:10:35.000+00:00", "level": "WARNING",'
            ' "logger": "dashboard.worker.sync", "message": "ORCA Core sync: timed out\\nmore",'
            ' "exception": "Traceback (most recent call last): ..."}',
            "{time} worker: warning: ORCA Core sync: timed out",
        ),
    ],
)
def test_worker_events_are_shortened(line: str, shown: str | None) -> None:
    if shown is not None and "{time}" in shown:  # JSON times are UTC, shown in local time
        ts = json.loads(line)["ts"]
        shown = shown.format(time=datetime.fromisoformat(ts).astimezone().strftime("%H:%M:%S"))
    assert worth_knowing(line) == (shown or line)


@pytest.mark.parametrize(
    "line",
    [
        "2026-12-02 20:10:30,217 INFO dashboard.worker.sync: ORCA Core sync: 50 agents",
        "2026-12-02 20:10:21,194 INFO pgserver: running pg_ctl... pg_ctl_args=[...]",
        "2026-12-02 20:10:28.626 Uvicorn server started on :::8501",
        "  You can now view your Streamlit app in your browser.",
        "Traceback (most recent call last):",
        "2026-12-02 20:10:21,194 WARNING streamlit.runtime: something of Streamlit's",
        '{"ts": "2026-12-02T20:10:30.217+00:00", "level": "INFO",'
        ' "logger": "dashboard.worker.sync", "message": "ORCA Core sync: 50 agents"}',
        '{"ts": "2026-12-02T20:10:30.217+00:00", "level": "WARNING",'
        ' "logger": "streamlit.runtime", "message": "something of Streamlit"}',
        '{"not": "a log record"}',
    ],
)
def test_routine_lines_stay_in_the_log(line: str) -> None:
    assert worth_knowing(line) is None


@pytest.fixture()
def state_dir() -> Iterator[Path]:
    """A fresh state folder outside the private pytest tree: pgserver's postgres user must
    reach it (it runs PostgreSQL as its own user when started as root)."""
    path = Path(tempfile.mkdtemp(prefix="orca-up-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _up(state: Path, *extra: str) -> LoggedProcess:
    core_port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("ORCA_DATABASE_URL", "ORCA_REDIS_URL")}
    env |= {
        "ORCA_STATE_DIR": str(state),
        "ORCA_EMBEDDED_REDIS_PORT": str(free_port()),
        "ORCA_PORT": str(free_port()),
        "ORCA_CORE_PORT": str(core_port),
        "ORCA_CORE_URL": f"http://127.0.0.1:{core_port}",
    }
    args = [sys.executable, "-m", "dashboard.cli", "up", "--no-seed", *extra]
    return LoggedProcess("orca-dashboard up", args, run_log_path("up"), env=env).start()


def _run_until_the_worker_leads(state: Path, *extra: str) -> str:
    """Start `up`, wait for the console URL and the worker's first event, stop it; its output."""
    up = _up(state, *extra)
    try:
        up.wait_until(
            lambda: "this worker is the leader" in tail(up.log_path, 400),
            timeout_s=generous(40),
        )
    finally:
        code = up.stop(timeout_s=30)
    out = up.log_path.read_text(errors="replace")
    assert code == 0, up.describe(f"exit code {code}")
    return out


def test_up_prints_only_what_matters_and_names_its_log(state_dir: Path) -> None:
    out = _run_until_the_worker_leads(state_dir)
    log_file = state_dir / LOG_NAME
    assert f"full logs: {log_file}" in out
    assert f"using embedded PostgreSQL 16 in {state_dir / 'pg'}" in out
    assert "ORCA Ops Console: http://localhost:" in out
    assert "Demo users" in out and "admin" in out
    assert "stopping ..." in out
    for noise in NOISE:
        assert noise not in out, (noise, out)
    assert len(out.splitlines()) < 25, out
    # What was left out is in the log file: initdb's, pg_ctl's and Streamlit's own lines.
    logged = log_file.read_text(errors="replace")
    for kept in ("initdb", "pg_ctl", "[console]", "[worker]"):
        assert kept in logged, kept
    # The worker's lines are structured JSON there, with trace and span ids inside spans;
    # the terminal got them short, without ids or JSON.
    worker_json = [
        json.loads(line.removeprefix("[worker] "))
        for line in logged.splitlines()
        if line.startswith("[worker] {")
    ]
    assert any(r["message"] == "this worker is the leader" for r in worker_json), logged
    assert any("trace_id" in r for r in worker_json), "lines logged inside a span carry ids"
    assert "trace_id" not in out and '{"ts"' not in out, out
    assert " worker: this worker is the leader" in out, out

    # --verbose shows everything in the terminal (a second start: pg_ctl, not initdb).
    verbose = _run_until_the_worker_leads(state_dir, "--verbose")
    assert "pg_ctl" in verbose and "pgserver" in verbose
    assert "Demo users" not in verbose  # printed once, on the empty database only
