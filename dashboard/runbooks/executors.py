"""Executors: how a runbook's actions reach a service (local processes, compose, kubectl, systemd).

Every executor turns an operation (stop, start, restart, status, logs, deployments, rollback,
set_env) on a logical service (``orca-core``, ``console``, ``worker``, ``collector``) into one
:class:`Command`: an argument list, never a shell string, shown verbatim by the dry run and run
with a timeout. The ``process`` executor (the local default) asks the supervisor of
`orca-dashboard up` through its control files (:mod:`dashboard.core.control`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, Protocol

from dashboard.core import control
from dashboard.settings import Settings

Op = Literal["stop", "start", "restart", "status", "logs", "deployments", "rollback", "set_env"]
OPS: Final[tuple[str, ...]] = (
    "stop",
    "start",
    "restart",
    "status",
    "logs",
    "deployments",
    "rollback",
    "set_env",
)
SERVICES: Final[tuple[str, ...]] = ("orca-core", "console", "worker", "collector")
EXECUTORS: Final[tuple[str, ...]] = ("process", "compose", "kubernetes", "systemd")
_VALUE = re.compile(r"^[A-Za-z0-9_.:/@+=-]{1,200}$")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
COMMAND_TIMEOUT_S: Final = 120.0
MAX_OUTPUT: Final = 8000


class ExecutorError(ValueError):
    """An operation this executor cannot do, or a bad argument (plain words)."""


@dataclass(frozen=True)
class Command:
    """What will run: ``argv`` (empty for the process executor) and a line for people."""

    argv: tuple[str, ...]
    display: str
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ExecResult:
    ok: bool
    output: str
    command: Command
    exit_code: int | None = None


def check_value(name: str, value: str) -> str:
    """An argument that goes into an argument list: short, no spaces or shell metacharacters."""
    text = str(value)
    if not _VALUE.match(text):
        raise ExecutorError(f"{name} {text[:40]!r} has characters that are not allowed")
    return text


def check_service(service: str) -> str:
    if service not in SERVICES:
        raise ExecutorError(f"unknown service {service[:40]!r}; use {', '.join(SERVICES)}")
    return service


class Executor(Protocol):
    name: str

    def command(self, op: str, service: str, **kw: str) -> Command: ...

    def run(self, op: str, service: str, **kw: str) -> ExecResult: ...


class ArgvExecutor:
    """Executors that run one binary with an argument list (compose, kubernetes, systemd)."""

    name = "argv"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def service_name(self, service: str) -> str:
        check_service(service)
        return check_value(
            "service name", self.settings.runbook_service_names.get(service, service)
        )

    def argv(self, op: str, name: str, **kw: str) -> list[str]:
        raise NotImplementedError

    def command(self, op: str, service: str, **kw: str) -> Command:
        if op not in OPS:
            raise ExecutorError(f"unknown operation {op!r}")
        args = {k: check_value(k, v) for k, v in kw.items()}
        if "env_name" in args and not _ENV_NAME.match(args["env_name"]):
            raise ExecutorError("an environment variable name is UPPER_SNAKE_CASE")
        argv = self.argv(op, self.service_name(service), **args)
        return Command(tuple(argv), " ".join(argv))

    def run(self, op: str, service: str, **kw: str) -> ExecResult:
        cmd = self.command(op, service, **kw)
        binary = shutil.which(cmd.argv[0])
        if binary is None:
            return ExecResult(False, f"{cmd.argv[0]} is not installed (not on PATH)", cmd)
        try:
            done = subprocess.run(  # noqa: S603 - an argument list, values checked above
                [binary, *cmd.argv[1:]],
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return ExecResult(False, f"{cmd.display}: no answer in {COMMAND_TIMEOUT_S:.0f} s", cmd)
        output = (done.stdout + done.stderr)[-MAX_OUTPUT:]
        return ExecResult(done.returncode == 0, output, cmd, done.returncode)


class ComposeExecutor(ArgvExecutor):
    name = "compose"

    def argv(self, op: str, name: str, **kw: str) -> list[str]:
        s = self.settings
        base = [s.runbook_docker_bin, "compose", "--project-name", s.runbook_compose_project]
        if s.runbook_compose_file:
            base += ["--file", str(s.runbook_compose_file)]
        match op:
            case "stop" | "start" | "restart":
                return [*base, op, name]
            case "status":
                return [*base, "ps", "--all", "--format", "json", name]
            case "logs":
                return [*base, "logs", "--no-color", "--tail", "50", name]
            case "deployments":
                return [*base, "images", "--format", "json", name]
            case "rollback":
                # The compose file reads the image tag from ORCA_<SERVICE>_VERSION.
                return [*base, "up", "--detach", "--no-deps", name]
            case "set_env":
                return [*base, "up", "--detach", "--no-deps", name]
        raise ExecutorError(f"compose cannot {op}")

    def command(self, op: str, service: str, **kw: str) -> Command:
        cmd = super().command(op, service, **kw)
        env: dict[str, str] = {}
        if op == "rollback":
            env[f"ORCA_{service.upper().replace('-', '_')}_VERSION"] = kw["version"]
        if op == "set_env":
            env[kw["env_name"]] = kw["value"]
        shown = " ".join(f"{k}={v}" for k, v in env.items())
        return Command(cmd.argv, f"{shown} {cmd.display}".strip(), env)

    def run(self, op: str, service: str, **kw: str) -> ExecResult:
        cmd = self.command(op, service, **kw)
        binary = shutil.which(cmd.argv[0])
        if binary is None:
            return ExecResult(False, f"{cmd.argv[0]} is not installed (not on PATH)", cmd)
        import os

        try:
            done = subprocess.run(  # noqa: S603 - an argument list, values checked
                [binary, *cmd.argv[1:]],
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT_S,
                check=False,
                env={**os.environ, **cmd.env},
            )
        except subprocess.TimeoutExpired:
            return ExecResult(False, f"{cmd.display}: no answer in {COMMAND_TIMEOUT_S:.0f} s", cmd)
        return ExecResult(
            done.returncode == 0, (done.stdout + done.stderr)[-MAX_OUTPUT:], cmd, done.returncode
        )


class KubernetesExecutor(ArgvExecutor):
    name = "kubernetes"

    def argv(self, op: str, name: str, **kw: str) -> list[str]:
        s = self.settings
        base = [s.runbook_kubectl_bin, "--namespace", s.runbook_k8s_namespace]
        ref = f"deployment/{name}"
        match op:
            case "stop":
                return [*base, "scale", ref, "--replicas=0"]
            case "start":
                return [*base, "scale", ref, f"--replicas={s.runbook_k8s_replicas}"]
            case "restart":
                return [*base, "rollout", "restart", ref]
            case "status":
                return [*base, "rollout", "status", ref, "--timeout=120s"]
            case "logs":
                return [*base, "logs", ref, "--tail=50", "--all-containers=true"]
            case "deployments":
                return [*base, "rollout", "history", ref]
            case "rollback":
                extra = (
                    [f"--to-revision={kw['version']}"] if kw.get("version", "").isdigit() else []
                )
                return [*base, "rollout", "undo", ref, *extra]
            case "set_env":
                return [*base, "set", "env", ref, f"{kw['env_name']}={kw['value']}"]
        raise ExecutorError(f"kubernetes cannot {op}")


class SystemdExecutor(ArgvExecutor):
    name = "systemd"

    def argv(self, op: str, name: str, **kw: str) -> list[str]:
        s = self.settings
        unit = name if name.endswith(".service") else f"{name}.service"
        match op:
            case "stop" | "start" | "restart":
                return [s.runbook_systemctl_bin, op, unit]
            case "status":
                return [s.runbook_systemctl_bin, "is-active", unit]
            case "logs":
                return [s.runbook_journalctl_bin, "--unit", unit, "--lines", "50", "--no-pager"]
            case "set_env":
                return [
                    s.runbook_systemctl_bin,
                    "set-environment",
                    f"{kw['env_name']}={kw['value']}",
                ]
        raise ExecutorError(
            f"systemd keeps no deployment history: {op} is done by your package tooling"
        )


class ProcessExecutor:
    """The local default: the processes `orca-dashboard up` (or a test) supervises.

    Only the ORCA Core stand-in is controllable: stop / start / restart / rollback / set_env
    are requests in its control folder that the supervisor honours (and answers).
    """

    name = "process"

    def __init__(self, settings: Settings, *, control_dir: Path | None = None) -> None:
        self.settings = settings
        self.control_dir = control_dir or control.control_dir(settings.state_dir)

    def command(self, op: str, service: str, **kw: str) -> Command:
        check_service(service)
        if op not in OPS:
            raise ExecutorError(f"unknown operation {op!r}")
        if service != "orca-core" and op not in ("status", "logs"):
            raise ExecutorError(
                f"the process executor controls only orca-core (asked to {op} {service})"
            )
        args = {k: check_value(k, v) for k, v in kw.items()}
        shown = " ".join(f"{k}={v}" for k, v in args.items())
        where = self.control_dir / f"{service}.request.json"
        return Command(
            (), f"ask the supervisor to {op} {service} {shown} ({where})".replace("  ", " ")
        )

    def run(self, op: str, service: str, **kw: str) -> ExecResult:
        cmd = self.command(op, service, **kw)
        if op == "status":
            status = control.read_status(self.control_dir, service)
            if status is None:
                return ExecResult(False, f"no supervisor has reported on {service}", cmd)
            return ExecResult(True, control.describe_status(status), cmd)
        if op == "logs":
            return ExecResult(True, control.tail_log(self.control_dir, service, 50), cmd)
        if op == "deployments":
            status = control.read_status(self.control_dir, service)
            history = control.read_deployments(self.control_dir, service)
            return (
                ExecResult(
                    bool(history),
                    "\n".join(control.describe_deployment(d) for d in history[-10:])
                    or "no deployment history",
                    cmd,
                )
                if status is not None
                else ExecResult(False, "no supervisor is running", cmd)
            )
        if control.read_status(self.control_dir, service) is None:
            return ExecResult(
                False, f"no supervisor is running {service} (start it with `make run`)", cmd
            )
        request_id = control.send_request(self.control_dir, service, op, dict(kw))
        answer = control.wait_done(self.control_dir, service, request_id, timeout_s=60)
        if answer is None:
            return ExecResult(False, f"the supervisor did not answer {op} within 60 s", cmd)
        return ExecResult(bool(answer.get("ok")), str(answer.get("message", "")), cmd)


def make_executor(settings: Settings, name: str | None = None) -> Executor:
    """The executor the settings choose (``runbook_executor``), or ``name``."""
    chosen = name or settings.runbook_executor
    if chosen == "process":
        return ProcessExecutor(settings)
    if chosen == "compose":
        return ComposeExecutor(settings)
    if chosen == "kubernetes":
        return KubernetesExecutor(settings)
    if chosen == "systemd":
        return SystemdExecutor(settings)
    raise ExecutorError(f"unknown executor {chosen!r}; use {', '.join(EXECUTORS)}")


def wait(seconds: float) -> None:
    time.sleep(seconds)
