"""`orca-dashboard up`: servers, migrations, demo data, then supervise stand-in, worker, console.

The terminal gets what a person needs (servers used, demo users once, seeding progress, the
URLs, one short line per worker event worth knowing: time, who, message); everything else,
initdb and pg_ctl included, goes to the log file in the state folder (``--verbose`` shows it
all in the terminal too). The children log structured JSON (trace and span ids included) unless
ORCA_LOG_FORMAT says otherwise: the log file keeps that, the terminal gets the short form.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import IO, Any

from dashboard.commands import CliError, positive_int
from dashboard.core.control import ControlledProcess, control_dir
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
    up.add_argument(
        "--verbose",
        action="store_true",
        help="also show the servers' full logs here (initdb, pg_ctl, Streamlit, worker)",
    )


def run(args: argparse.Namespace) -> int:
    return cmd_up(no_seed=args.no_seed, port=args.port, verbose=getattr(args, "verbose", False))


LOG_NAME = "up.log"
# A child's log line: "2026-12-02 20:10:29,381 INFO dashboard.worker.main: message".
_LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d (?P<time>\d\d:\d\d:\d\d)[,.]\d+ (?P<level>[A-Z]+) (?P<name>[\w.]+): "
    r"(?P<message>.*)$"
)
# Worker events a person running `up` wants to see: it started, stopped, leads or stepped
# down, and a probed component changed state (the worker logs changes only).
_EVENT_LOGGERS = ("dashboard.worker.main", "dashboard.worker.probes")
_PLAIN_LINES = ("ORCA Core stand-in: http",)  # the stand-in's own URL line
_WHO = (("dashboard.worker", "worker"), ("dashboard.core", "stand-in"))


# What TextFormatter appends to a line logged inside a span: for the log file, not a person.
_TRACE_IDS = re.compile(r" trace_id=[0-9a-f]+ span_id=[0-9a-f]+$")


def _fields(text: str) -> tuple[str, str, str, str] | None:
    """(time, level, logger, message) of one log line, JSON or text; None for other output."""
    if text.startswith("{"):
        try:
            record = json.loads(text)
        except ValueError:
            return None
        if not isinstance(record, dict) or not {"ts", "level", "logger"} <= record.keys():
            return None
        try:
            when = datetime.fromisoformat(str(record["ts"])).astimezone().strftime("%H:%M:%S")
        except ValueError:
            return None
        first_line = (str(record.get("message", "")).splitlines() or [""])[0]
        return when, str(record["level"]), str(record["logger"]), first_line
    m = _LOG_LINE.match(text)
    if m is None:
        return None
    return m["time"], m["level"], m["name"], _TRACE_IDS.sub("", m["message"])


def worth_knowing(line: str) -> str | None:
    """The short terminal line for one line of a child's output, or None to keep it in the log.

    Kept: worker events (start, stop, leadership, probe state changes), every warning or
    error of the project's own loggers, and the stand-in's URL, as "time who: message"
    without the JSON envelope or the trace and span ids. Dropped: everything else
    (Streamlit's banner, periodic sync reports, tracebacks: they are in the log file).
    """
    text = line.rstrip()
    if text.startswith(_PLAIN_LINES):
        return text
    fields = _fields(text)
    if fields is None:
        return None
    when, level, name, message = fields
    ours = name == "orca" or name.startswith("dashboard.")
    if not ours:
        return None
    if level in ("WARNING", "ERROR", "CRITICAL") or name in _EVENT_LOGGERS:
        who = next((w for p, w in _WHO if name.startswith(p)), "orca")
        prefix = "" if level == "INFO" else f"{level.lower()}: "
        return f"{when} {who}: {prefix}{message}"
    return None


class _Output:
    """The terminal and the log file: children's lines go to the log, the notable ones also
    to the terminal (all of them with ``verbose``)."""

    def __init__(self, log_path: Path, *, verbose: bool) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.path = log_path
        self.verbose = verbose
        self._file: IO[str] = log_path.open("a", encoding="utf-8", errors="replace")
        self._lock = threading.Lock()
        self._handler: logging.Handler | None = None
        self.write_log(f"----- orca-dashboard up, {time.strftime('%Y-%m-%d %H:%M:%S')} -----\n")

    def write_log(self, text: str) -> None:
        with self._lock:
            self._file.write(text)
            self._file.flush()

    def relay(self, name: str, stream: IO[bytes]) -> None:
        """Copy one child's output line by line until it closes (runs in a thread)."""
        for raw in iter(stream.readline, b""):
            self.line(name, raw.decode("utf-8", errors="replace"))
        stream.close()

    def line(self, name: str, line: str) -> None:
        """One line of child ``name``: to the log, and to the terminal when worth knowing."""
        self.write_log(f"[{name}] {line}" if line.endswith("\n") else f"[{name}] {line}\n")
        shown = line.rstrip("\n") if self.verbose else worth_knowing(line)
        if shown is not None:
            print(shown, flush=True)

    def setup_logging(self) -> None:
        """This process's own logging: all of it to the file, warnings of ours to the terminal."""
        root = logging.getLogger()
        for handler in list(root.handlers):
            if self.verbose:
                continue
            root.removeHandler(handler)
        file_handler = self._handler = logging.StreamHandler(self._file)
        file_handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        root.addHandler(file_handler)
        root.setLevel(min(root.level or logging.INFO, logging.INFO))
        logging.captureWarnings(True)  # library warnings (platformdirs ...) into the log
        if not self.verbose:
            terminal = logging.StreamHandler(sys.stderr)
            terminal.setLevel(logging.WARNING)
            terminal.addFilter(lambda r: r.name == "orca" or r.name.startswith("dashboard."))
            terminal.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
            root.addHandler(terminal)

    def close(self) -> None:
        if self._handler is not None:
            logging.getLogger().removeHandler(self._handler)
        with self._lock:
            self._file.close()


class _Children:
    """The processes `up` supervises; stopped in reverse order on exit."""

    def __init__(self, output: _Output) -> None:
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.commands: dict[str, list[str]] = {}
        self.output = output
        self.relays: list[threading.Thread] = []

    def start(self, name: str, cmd: list[str]) -> None:
        self.commands[name] = cmd
        # Unbuffered, so a child's lines reach the log (and the terminal) as they happen;
        # structured logs for the log file unless the user chose a format.
        env = {"ORCA_LOG_FORMAT": "json", **os.environ, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(  # noqa: S603
            cmd,
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.procs[name] = proc
        assert proc.stdout is not None
        relay = threading.Thread(
            target=self.output.relay, args=(name, proc.stdout), name=f"relay-{name}", daemon=True
        )
        relay.start()
        self.relays.append(relay)

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
        for relay in self.relays:  # the last lines of each child reach the log
            relay.join(timeout=2)


def cmd_up(*, no_seed: bool, port: int | None, verbose: bool = False) -> int:
    from dashboard.commands.seed import agent_count
    from dashboard.db.migrate import upgrade
    from dashboard.services import resolve_services
    from dashboard.settings import get_settings

    settings = get_settings()
    output = _Output(settings.state_dir / LOG_NAME, verbose=verbose)
    output.setup_logging()
    print(f"full logs: {output.path}", flush=True)
    services = resolve_services("up", settings)
    children = _Children(output)
    core: ControlledProcess | None = None
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
            # Progress lines (stdout) are for the terminal; the seed's logging goes to the log.
            with output.path.open("a", encoding="utf-8") as seed_log:
                rc = subprocess.call(
                    [sys.executable, "-m", "dashboard.cli", "seed"],
                    cwd=PROJECT_ROOT,
                    stderr=None if verbose else seed_log,
                )
            if rc != 0:
                raise CliError(f"loading demo data failed (see {output.path})")
        py = sys.executable
        if settings.env != "production":  # the ORCA Core stand-in writes simulated traffic
            # Supervised through control files, so the runbooks' process executor can stop,
            # start, restart and roll it back (dashboard.core.control).
            core = ControlledProcess(
                "orca-core",
                [py, "-m", "dashboard.cli", "core"],
                control_dir(settings.state_dir),
                cwd=PROJECT_ROOT,
                env=dict(os.environ),
                on_line=lambda line: output.line("core", line),
                on_crash=lambda code, wait_s: log.warning(
                    "ORCA Core stand-in exited (code %s); restarting in %s s", code, f"{wait_s:g}"
                ),
            )
            core.start()
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
        restarts = 0
        while not stopping:
            time.sleep(0.5)
            console = children.procs["console"]
            if console.poll() is not None:
                raise CliError(
                    f"the console exited with code {console.returncode} (see {output.path})"
                )
            worker = children.procs["worker"]
            if worker.poll() is not None and not stopping:
                restarts += 1
                wait_s = min(30, 2**restarts)
                log.warning(
                    "worker exited (code %s); restarting in %s s (its log: %s)",
                    worker.returncode,
                    wait_s,
                    output.path,
                )
                time.sleep(wait_s)
                children.start("worker", children.commands["worker"])
            if core is not None and not stopping:
                core.supervise()  # requests from runbooks; crash restarts (the `crash` drill)
        print("stopping ...", flush=True)
        return 0
    finally:
        children.stop_all()
        if core is not None:
            core.close()
        services.stop()
        output.close()
