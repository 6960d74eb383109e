"""`orca-dashboard doctor`: one line per check, non-zero exit with a plain reason on failure."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

COMMAND = "doctor"


def add_parser(subparsers: Any) -> None:
    subparsers.add_parser(COMMAND, help="check settings, PostgreSQL, Redis and migrations")


def run(args: argparse.Namespace) -> int:
    return run_doctor(print)


def format_check(check: Any) -> str:
    """One line: verdict, name, what was found (and, when not ok, the fix)."""
    return f"{check.verdict.upper():4}  {check.name:<11} {check.detail}"


def run_doctor(echo: Callable[[str], object]) -> int:
    from dashboard.data.checks import run_checks, settings_check
    from dashboard.services import resolve_services

    first, settings = settings_check()
    checks = [first]
    if settings is not None:
        found = resolve_services(COMMAND, settings)  # looks only: doctor starts nothing
        checks += run_checks(
            settings,
            database_url=found.database_url,
            redis_url=found.redis_url,
            origin=found.origin,
        )
    for check in checks:
        echo(format_check(check))
    failed = [c for c in checks if c.verdict == "fail"]
    if failed:
        echo(f"doctor: {len(failed)} check(s) failed: " + "; ".join(c.name for c in failed))
        return 1
    echo("doctor: all checks passed")
    return 0
