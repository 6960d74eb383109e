"""`orca-dashboard up`: servers, migrations, demo data, then supervise stand-in, worker, console."""

from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import time
from types import FrameType
from typing import Any

from dashboard.commands import CliError, positive_int
from dashboard.settings import PROJECT_ROOT

COMMAND = "up"
log = logging.getLogger("orca")


def add_parser(subparsers: Any) -> None:
    up = subparsers.add_parser(
        COMMAND, help="start everything: databases, migrations, demo data, worker, console"
    )
    up.add_argument(
        "--no-seed", action="store_true", help="do not load demo data into an empty database"
    )
    up.add_argument("--port", type=positive_int, help="console port (default ORCA_PORT or 8501)")


def run(args: argparse.Namespace) -> int:
    return cmd_up(no_seed=args.no_seed, port=args.port)


class _Children:
    """The processes `up` supervises; stopped in reverse order on exit."""

    def __init__(self) -> None:
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.commands: dict[str, list[str]] = {}

    def start(self, name: str, cmd: list[str]) -> None:
        self.commands[name] = cmd
        self.procs[name] = subprocess.Popen(cmd, cwd=PROJECT_ROOT)  # noqa: S603

    def stop_all(self) -> None:
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 10
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()


def cmd_up(*, no_seed: bool, port: int | None) -> int:
    from dashboard.commands.seed import agent_count
    from dashboard.db.migrate import upgrade
    from dashboard.services import resolve_services
    from dashboard.settings import get_settings

    settings = get_settings()
    services = resolve_services("up", settings)
    children = _Children()
    stopping = False

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        for note in services.notes:
            print(f"using {note}")
        upgrade(services.database)
        from dashboard.actions.auth import CookieKeyError, check_cookie_key, print_demo_users_once
        from dashboard.db.engine import make_engine

        try:
            check_cookie_key(settings)
        except CookieKeyError as exc:
            raise CliError(str(exc)) from None
        print_demo_users_once(make_engine(services.database), settings, print)
        print("database schema is current")
        if not no_seed and agent_count(services.database) == 0:
            print(
                f"empty database: loading demo data ({settings.demo_agents} agents, "
                f"{settings.demo_days} days)"
            )
            rc = subprocess.call([sys.executable, "-m", "dashboard.cli", "seed"], cwd=PROJECT_ROOT)
            if rc != 0:
                raise CliError("loading demo data failed (see above)")
        py = sys.executable
        if settings.env != "production":  # the ORCA Core stand-in writes simulated traffic
            children.start("core", [py, "-m", "dashboard.cli", "core"])
        children.start("worker", [py, "-m", "dashboard.cli", "worker"])
        console_port = port or settings.port
        children.start(
            "console",
            [
                py,
                "-m",
                "dashboard.ui.serve",
                "--server.port",
                str(console_port),
                "--server.headless",
                "true",
            ],
        )
        print(
            f"\nORCA Ops Console: http://localhost:{console_port}  (Ctrl-C stops everything)\n",
            flush=True,
        )
        restarts = core_restarts = 0
        while not stopping:
            time.sleep(0.5)
            console = children.procs["console"]
            if console.poll() is not None:
                raise CliError(f"the console exited with code {console.returncode}")
            worker = children.procs["worker"]
            if worker.poll() is not None and not stopping:
                restarts += 1
                wait_s = min(30, 2**restarts)
                log.warning(
                    "worker exited (code %s); restarting in %s s", worker.returncode, wait_s
                )
                time.sleep(wait_s)
                children.start("worker", children.commands["worker"])
            core = children.procs.get("core")
            if core is not None and core.poll() is not None and not stopping:
                core_restarts += 1  # e.g. the `crash` drill: restarted until the fault ends
                wait_s = min(10, 2**core_restarts)
                log.warning(
                    "ORCA Core stand-in exited (code %s); restarting in %s s",
                    core.returncode,
                    wait_s,
                )
                time.sleep(wait_s)
                children.start("core", children.commands["core"])
        print("stopping ...", flush=True)
        return 0
    finally:
        children.stop_all()
        services.stop()
