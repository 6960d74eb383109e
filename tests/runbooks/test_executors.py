"""compose, kubernetes and systemd executors: the exact argument lists they run, recorded by
fake binaries on PATH (Docker, clusters and systemd do not run here)."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from dashboard.runbooks.executors import ExecutorError, make_executor
from dashboard.settings import Settings

RECORDER = """#!{python}
import json, os, sys
with open(os.environ["FAKE_RECORD"], "a") as fh:
    fh.write(json.dumps({{"argv": [os.path.basename(sys.argv[0])] + sys.argv[1:],
        "env": {{k: v for k, v in os.environ.items() if k.startswith(("ORCA_", "OTEL_"))
                 and k != "ORCA_DATABASE_URL"}}}}) + "\\n")
print("fake " + os.path.basename(sys.argv[0]) + " ok")
sys.exit(int(os.environ.get("FAKE_EXIT", "0")))
"""


@pytest.fixture()
def fake_bins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("docker", "kubectl", "systemctl", "journalctl"):
        path = bindir / name
        path.write_text(RECORDER.format(python=sys.executable))
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    record = tmp_path / "calls.jsonl"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_RECORD", str(record))
    return record


def calls(record: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in record.read_text().splitlines()]


def test_compose_argument_lists(fake_bins: Path, tmp_path: Path) -> None:
    settings = Settings(
        runbook_compose_project="orca",
        runbook_compose_file=tmp_path / "docker-compose.yml",
        runbook_service_names={"orca-core": "core"},
    )
    ex = make_executor(settings, "compose")
    base = [
        "docker",
        "compose",
        "--project-name",
        "orca",
        "--file",
        str(tmp_path / "docker-compose.yml"),
    ]
    assert ex.run("restart", "orca-core").ok
    assert ex.run("stop", "orca-core").ok
    assert ex.run("logs", "orca-core").ok
    assert ex.run("rollback", "orca-core", version="2026.11.2").ok
    got = calls(fake_bins)
    assert [c["argv"] for c in got] == [
        [*base, "restart", "core"],
        [*base, "stop", "core"],
        [*base, "logs", "--no-color", "--tail", "50", "core"],
        [*base, "up", "--detach", "--no-deps", "core"],
    ]
    env = got[3]["env"]
    assert isinstance(env, dict) and env["ORCA_ORCA_CORE_VERSION"] == "2026.11.2"


def test_kubernetes_argument_lists_in_orca_system(fake_bins: Path) -> None:
    ex = make_executor(Settings(), "kubernetes")
    for op, kw in (
        ("restart", {}),
        ("stop", {}),
        ("start", {}),
        ("status", {}),
        ("deployments", {}),
        ("rollback", {}),
        ("rollback", {"version": "3"}),
        ("set_env", {"env_name": "OTEL_TRACES_EXPORTER", "value": "console"}),
    ):
        assert ex.run(op, "orca-core", **kw).ok
    ns = ["kubectl", "--namespace", "orca-system"]
    d = "deployment/orca-core"
    assert [c["argv"] for c in calls(fake_bins)] == [
        [*ns, "rollout", "restart", d],
        [*ns, "scale", d, "--replicas=0"],
        [*ns, "scale", d, "--replicas=1"],
        [*ns, "rollout", "status", d, "--timeout=120s"],
        [*ns, "rollout", "history", d],
        [*ns, "rollout", "undo", d],
        [*ns, "rollout", "undo", d, "--to-revision=3"],
        [*ns, "set", "env", d, "OTEL_TRACES_EXPORTER=console"],
    ]


def test_systemd_argument_lists(fake_bins: Path) -> None:
    ex = make_executor(Settings(runbook_service_names={"orca-core": "orca-core"}), "systemd")
    assert ex.run("restart", "orca-core").ok
    assert ex.run("status", "orca-core").ok
    assert ex.run("logs", "orca-core").ok
    assert [c["argv"] for c in calls(fake_bins)] == [
        ["systemctl", "restart", "orca-core.service"],
        ["systemctl", "is-active", "orca-core.service"],
        ["journalctl", "--unit", "orca-core.service", "--lines", "50", "--no-pager"],
    ]
    with pytest.raises(ExecutorError, match="no deployment history"):
        ex.command("rollback", "orca-core")


def test_a_failing_command_fails_and_bad_values_never_reach_a_command(
    fake_bins: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ex = make_executor(Settings(), "kubernetes")
    monkeypatch.setenv("FAKE_EXIT", "3")
    result = ex.run("restart", "orca-core")
    assert not result.ok and result.exit_code == 3
    with pytest.raises(ExecutorError, match="not allowed"):
        ex.command("rollback", "orca-core", version="1; rm -rf /")
    with pytest.raises(ExecutorError, match="unknown service"):
        ex.command("restart", "postgres")
    assert len(calls(fake_bins)) == 1


def test_a_missing_binary_is_a_plain_failure(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    result = make_executor(Settings(), "systemd").run("restart", "orca-core")
    assert not result.ok and "not installed" in result.output
