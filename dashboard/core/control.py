"""Control files between a supervisor (`orca-dashboard up`, or a test) and whoever asks it to
stop, start, restart, roll back or reconfigure the ORCA Core stand-in (the runbooks' process
executor), plus the supervisor itself (:class:`ControlledProcess`).

In ``<state_dir>/control/``: ``<service>.request.json`` (the one pending request, written
atomically), ``<service>.status.json`` (what the supervisor last did, with the answer to the
last request), ``<service>.deployments.json`` (the stand-in's version history) and
``<service>.log`` (the child's output). Files, not signals: the asker needs an answer (did the
restart work?), and the answer must outlive the asker's page refresh.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Final

log = logging.getLogger(__name__)

#: Faults that live in the process's memory: a requested restart starts without them.
RESTART_CURES: Final[tuple[str, ...]] = ("health_down", "health_hang", "latency_spike")
#: ... and those a bad version brings: a rollback to another version starts without them.
ROLLBACK_CURES: Final[tuple[str, ...]] = (*RESTART_CURES, "error_spike")
#: Environment a runbook may change through set_env, with the values allowed.
SETTABLE_ENV: Final[Mapping[str, tuple[str, ...]]] = {"OTEL_TRACES_EXPORTER": ("otlp", "console")}
CURES_ENV: Final = "ORCA_CORE_CURES"
VERSION_ENV: Final = "ORCA_CORE_VERSION"
_SEED_VERSIONS: Final = (("2026.11.2", 14), ("2026.11.3", 2))


def control_dir(state_dir: Path) -> Path:
    return state_dir / "control"


def _path(folder: Path, service: str, what: str) -> Path:
    return folder / f"{service}.{what}"


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    tmp.write_text(json.dumps(data, default=str), encoding="utf-8")
    os.replace(tmp, path)  # atomic: a reader sees the old file or the new one, never half


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# -- the asking side ----------------------------------------------------------------------
def send_request(folder: Path, service: str, op: str, args: Mapping[str, str]) -> str:
    request_id = uuid.uuid4().hex
    _write_json(
        _path(folder, service, "request.json"),
        {"id": request_id, "op": op, "args": dict(args), "at": now_iso()},
    )
    return request_id


def read_status(folder: Path, service: str) -> dict[str, Any] | None:
    data = _read_json(_path(folder, service, "status.json"))
    return data if isinstance(data, dict) else None


def wait_done(
    folder: Path, service: str, request_id: str, *, timeout_s: float
) -> dict[str, Any] | None:
    """The supervisor's answer to ``request_id`` ({ok, message}), or None after the timeout."""
    until = time.monotonic() + timeout_s
    while time.monotonic() < until:
        status = read_status(folder, service)
        done = (status or {}).get("done") or {}
        if done.get("id") == request_id:
            return dict(done)
        time.sleep(0.1)
    return None


def describe_status(status: Mapping[str, Any]) -> str:
    parts = [f"state: {status.get('state')}", f"version: {status.get('version')}"]
    if status.get("pid"):
        parts.append(f"pid: {status['pid']}")
    if status.get("last_exit"):
        parts.append(f"last exit: {status['last_exit']}")
    overrides = status.get("env") or {}
    if overrides:
        parts.append("env: " + ", ".join(f"{k}={v}" for k, v in overrides.items()))
    return "; ".join(parts)


def read_deployments(folder: Path, service: str) -> list[dict[str, Any]]:
    data = _read_json(_path(folder, service, "deployments.json"))
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []


def describe_deployment(entry: Mapping[str, Any]) -> str:
    extra = f" (from {entry['from']})" if entry.get("from") else ""
    return f"{entry.get('at')}  {entry.get('kind', 'deploy'):<8} {entry.get('version')}{extra}"


def tail_log(folder: Path, service: str, lines: int) -> str:
    try:
        with _path(folder, service, "log").open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64_000))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return "(no log yet)"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- the supervising side -------------------------------------------------------------------
class ControlledProcess:
    """One supervised child (the stand-in) that honours control requests.

    ``supervise()`` is called from the supervisor's loop (every ~0.5 s): it answers a pending
    request, and restarts the child after an unrequested exit (a crash) with backoff.
    ``on_line`` receives each output line (``up`` shows the notable ones); every line also
    goes to ``<service>.log``.
    """

    def __init__(
        self,
        service: str,
        cmd: Sequence[str],
        folder: Path,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        on_line: Callable[[str], None] | None = None,
        on_crash: Callable[[int | None, float], None] | None = None,
    ) -> None:
        self.service = service
        self.cmd = list(cmd)
        self.folder = folder
        self.cwd = cwd
        self.base_env = dict(env if env is not None else os.environ)
        self.on_line = on_line
        self.on_crash = on_crash
        self.proc: subprocess.Popen[bytes] | None = None
        self.wanted = False  # False after a requested stop: no crash-restart then
        self.env_overrides: dict[str, str] = {}
        self.crashes = 0
        self.restart_at: float | None = None
        self.last_exit: str | None = None
        self.started_at: str | None = None
        self._relay: threading.Thread | None = None
        self._log: IO[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):  # a request left from a previous run is stale
            _path(folder, service, "request.json").unlink()
        if not read_deployments(folder, service):
            now = datetime.now(UTC)
            _write_json(
                _path(folder, service, "deployments.json"),
                [
                    {
                        "version": v,
                        "at": (now - timedelta(days=d)).isoformat(timespec="seconds"),
                        "kind": "deploy",
                    }
                    for v, d in _SEED_VERSIONS
                ],
            )
        self._done: dict[str, Any] | None = None
        self._write_status()

    @property
    def version(self) -> str:
        history = read_deployments(self.folder, self.service)
        return str(history[-1]["version"]) if history else "unknown"

    def _write_status(self) -> None:
        alive = self.proc is not None and self.proc.poll() is None
        state = "running" if alive else ("restarting" if self.wanted else "stopped")
        _write_json(
            _path(self.folder, self.service, "status.json"),
            {
                "state": state,
                "pid": self.proc.pid if alive and self.proc is not None else None,
                "started_at": self.started_at if alive else None,
                "version": self.version,
                "env": self.env_overrides,
                "last_exit": self.last_exit,
                "updated_at": now_iso(),
                "done": self._done,
            },
        )

    def _relay_lines(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            if self._log is not None:
                with contextlib.suppress(OSError, ValueError):
                    self._log.write(raw)
                    self._log.flush()
            if self.on_line is not None:
                self.on_line(raw.decode("utf-8", errors="replace"))
        stream.close()

    def start(self, *, cures: Sequence[str] = ()) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        env = {**self.base_env, **self.env_overrides, "PYTHONUNBUFFERED": "1"}
        env[VERSION_ENV] = self.version
        if cures:
            env[CURES_ENV] = ",".join(cures)
        else:
            env.pop(CURES_ENV, None)
        if self._log is None:
            self._log = _path(self.folder, self.service, "log").open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - our own command line
            self.cmd,
            cwd=self.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert self.proc.stdout is not None
        self._relay = threading.Thread(
            target=self._relay_lines, args=(self.proc.stdout,), daemon=True
        )
        self._relay.start()
        self.wanted = True
        self.started_at = now_iso()
        self.restart_at = None
        self._write_status()

    def stop(self, *, timeout_s: float = 10.0) -> str:
        """Stop the child (SIGTERM, then SIGKILL after ``timeout_s``); say how it ended."""
        self.wanted = False
        proc = self.proc
        if proc is None or proc.poll() is not None:
            self._write_status()
            return f"{self.service} was not running"
        pid = proc.pid
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
            how = f"pid {pid} exited (code {proc.returncode})"
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
            how = f"pid {pid} did not stop in {timeout_s:.0f} s and was killed"
        if self._relay is not None:
            self._relay.join(timeout=2)
        if _pid_alive(pid):
            how += f"; pid {pid} is STILL alive"
        self.last_exit = how
        self._write_status()
        return how

    def _rollback(self, version: str | None) -> str:
        history = read_deployments(self.folder, self.service)
        current = self.version
        previous = [str(d["version"]) for d in history if str(d["version"]) != current]
        target = version or (previous[-1] if previous else None)
        if target is None:
            raise ValueError("there is no earlier version to roll back to")
        if target not in {str(d["version"]) for d in history}:
            raise ValueError(f"version {target!r} was never deployed")
        history.append({"version": target, "at": now_iso(), "kind": "rollback", "from": current})
        _write_json(_path(self.folder, self.service, "deployments.json"), history)
        return target

    def handle(self, request: Mapping[str, Any]) -> tuple[bool, str]:
        op = request.get("op")
        args = request.get("args") or {}
        if op == "stop":
            return True, self.stop()
        if op == "start":  # a fresh process: what lived in the old one's memory is gone
            self.start(cures=RESTART_CURES)
            return True, f"{self.service} started (pid {self.proc.pid if self.proc else '?'})"
        if op == "restart":
            how = self.stop()
            self.start(cures=RESTART_CURES)
            return True, f"{how}; started again (pid {self.proc.pid if self.proc else '?'})"
        if op == "rollback":
            target = self._rollback(args.get("version"))
            how = self.stop()
            self.start(cures=ROLLBACK_CURES)
            return True, f"rolled back to {target}; {how}; started again"
        if op == "set_env":
            name, value = str(args.get("env_name")), str(args.get("value"))
            if value not in SETTABLE_ENV.get(name, ()):
                return False, f"{name}={value} is not a setting runbooks may change"
            self.env_overrides[name] = value
            how = self.stop()
            self.start()
            return True, f"{name}={value}; {how}; started again"
        return False, f"unknown request {op!r}"

    def supervise(self) -> None:
        """Answer a pending request; restart after a crash; refresh the status file."""
        req_path = _path(self.folder, self.service, "request.json")
        request = _read_json(req_path) if req_path.exists() else None
        if request is not None:
            with contextlib.suppress(OSError):
                req_path.unlink()
            try:
                ok, message = self.handle(request)
            except (ValueError, OSError) as exc:
                ok, message = False, str(exc)
            log.info("%s request %s: %s", self.service, request.get("op"), message)
            self._done = {"id": request.get("id"), "ok": ok, "message": message, "at": now_iso()}
            self._write_status()
            return
        proc = self.proc
        if self.wanted and proc is not None and proc.poll() is not None:
            if self.restart_at is None:  # a crash: restart with backoff, as `up` always did
                self.crashes += 1
                wait_s = float(min(10, 2**self.crashes))
                self.last_exit = f"exited with code {proc.returncode}"
                self.restart_at = time.monotonic() + wait_s
                if self.on_crash is not None:
                    self.on_crash(proc.returncode, wait_s)
                self._write_status()
            elif time.monotonic() >= self.restart_at:
                self.start()

    def close(self) -> None:
        self.stop()
        if self._log is not None:
            self._log.close()
            self._log = None
