"""`orca-dashboard`: parse the command line, then dispatch to the command's module."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from pydantic import ValidationError

from dashboard import telemetry
from dashboard.commands import CliError
from dashboard.services import ServicesError
from dashboard.settings import get_settings

log = logging.getLogger("orca")

#: Every command and its module (COMMAND, add_parser(subparsers), run(args) -> exit code).
COMMANDS: dict[str, str] = {
    "up": "dashboard.commands.up",
    "migrate": "dashboard.commands.migrate",
    "seed": "dashboard.commands.seed",
    "worker": "dashboard.commands.worker",
    "doctor": "dashboard.commands.doctor",
    "users": "dashboard.commands.users",
    "core": "dashboard.commands.core",
    "chaos": "dashboard.commands.chaos",
    "config-doc": "dashboard.commands.config_doc",
    "backup": "dashboard.commands.backup",  # issue 11 (ops)
}


def _setup_logging() -> None:
    try:
        # One line per event (JSON with ORCA_LOG_FORMAT=json), trace ids, secrets masked.
        telemetry.configure_logging()
        return
    except ValidationError:
        pass  # a bad setting: plain logging, and main() reports the setting
    level = os.environ.get("ORCA_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _module(command: str) -> ModuleType:
    return importlib.import_module(COMMANDS[command])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orca-dashboard",
        description="ORCA Ops Console: run the console, its worker, migrations and checks.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for command in COMMANDS:
        _module(command).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _setup_logging()
    args = build_parser().parse_args(argv)  # exits 2 with a usage message on bad arguments
    try:
        get_settings()
        return int(_module(args.command).run(args))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        print(f"error: setting ORCA_{where.upper()}: {first.get('msg')}", file=sys.stderr)
        return 2
    except (CliError, ServicesError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last line of defence: one plain line, details in the log
        log.debug("command failed", exc_info=True)
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
