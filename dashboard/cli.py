"""`orca-dashboard`: up | migrate | seed | worker | doctor — the console's command line."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from pydantic import ValidationError

from dashboard.settings import PROJECT_ROOT, get_settings

log = logging.getLogger("orca")


class CliError(Exception):
    """A failure to report in plain words (no traceback) with a non-zero exit."""


def _setup_logging() -> None:
    level = os.environ.get("ORCA_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _parse_now(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CliError(f"--now must be an ISO date-time such as 2026-11-20T12:00Z: {exc}") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orca-dashboard",
        description="ORCA Ops Console: run the console, its worker, migrations and checks.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    up = sub.add_parser(
        "up", help="start everything: databases, migrations, demo data, worker, console"
    )
    up.add_argument(
        "--no-seed", action="store_true", help="do not load demo data into an empty database"
    )
    up.add_argument("--port", type=_positive, help="console port (default ORCA_PORT or 8501)")
    mig = sub.add_parser("migrate", help="apply database migrations (to head by default)")
    mig.add_argument("--revision", default="head", help="target revision (default head)")
    seed = sub.add_parser(
        "seed", help="load simulated data into an empty database (COPY bulk load)"
    )
    seed.add_argument(
        "--agents", type=_positive, default=None, help="number of agents (default 3000)"
    )
    seed.add_argument("--days", type=_positive, default=None, help="days of history (default 30)")
    seed.add_argument("--seed", type=int, default=None, help="random seed (default 42)")
    seed.add_argument("--now", default=None, help="end of the simulated period (ISO; default now)")
    work = sub.add_parser(
        "worker", help="run the background worker (rollups, KPI snapshots, heartbeat)"
    )
    work.add_argument("--once", action="store_true", help="run every job once and exit")
    sub.add_parser("doctor", help="check settings, PostgreSQL, Redis and migrations")
    for module in _extensions():
        module.add_parser(sub)
    return parser


def _extensions() -> list[Any]:
    """Command groups that live in their own modules (dashboard/commands/*.py).

    Each module has ``COMMAND`` (its name), ``add_parser(subparsers)`` and ``run(args) -> int``.
    """
    import importlib
    import pkgutil

    import dashboard.commands as pkg

    return [
        importlib.import_module(f"{pkg.__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    _setup_logging()
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 with a usage message on bad arguments
    try:
        get_settings()
        if args.command == "up":
            return cmd_up(no_seed=args.no_seed, port=args.port)
        if args.command == "migrate":
            return cmd_migrate(args.revision)
        if args.command == "seed":
            return cmd_seed(args.agents, args.days, args.seed, _parse_now(args.now))
        if args.command == "worker":
            return cmd_worker(once=args.once)
        if args.command == "doctor":
            from dashboard.doctor import run_doctor

            return run_doctor(print)
        for module in _extensions():
            if args.command == module.COMMAND:
                return int(module.run(args))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        print(f"error: setting ORCA_{where.upper()}: {first.get('msg')}", file=sys.stderr)
        return 2
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last line of defence: one plain line, details in the log
        log.debug("command failed", exc_info=True)
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    parser.print_usage(sys.stderr)
    return 2


def cmd_migrate(revision: str) -> int:
    from dashboard.db.migrate import upgrade
    from dashboard.services import resolve_services

    services = resolve_services("migrate")
    try:
        upgrade(services.database, revision)
        print(f"migrated to {revision}")
    finally:
        services.stop()
    return 0


def _agent_count(url: str) -> int:
    from sqlalchemy import text

    from dashboard.db.engine import make_engine

    with make_engine(url).connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM agents")).scalar_one())


def cmd_seed(agents: int | None, days: int | None, seed: int | None, now: datetime | None) -> int:
    from dashboard.db.engine import make_engine
    from dashboard.db.migrate import upgrade
    from dashboard.services import resolve_services
    from dashboard.sim.seed import seed_database

    settings = get_settings()
    services = resolve_services("seed")
    try:
        upgrade(services.database)
        if _agent_count(services.database) > 0:
            raise CliError("the database already holds agents; seed only loads an empty database")
        started = time.monotonic()
        report = seed_database(
            make_engine(services.database),
            agents=agents or settings.demo_agents,
            days=days or settings.demo_days,
            seed=settings.demo_seed if seed is None else seed,
            now=now,
            progress=lambda msg: print(f"  {msg}", flush=True),
        )
        print(f"seeded in {time.monotonic() - started:.1f} s: {report}")
    finally:
        services.stop()
    return 0


def cmd_worker(*, once: bool) -> int:
    from dashboard.services import resolve_services
    from dashboard.worker.main import run_worker

    services = resolve_services("worker")
    try:
        return run_worker(once=once)
    finally:
        services.stop()


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
    from dashboard.db.migrate import upgrade
    from dashboard.services import resolve_services

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
        if not no_seed and _agent_count(services.database) == 0:
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


if __name__ == "__main__":
    sys.exit(main())
