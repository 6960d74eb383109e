"""`orca-dashboard migrate [--revision R]`: apply the Alembic migrations (head by default)."""

from __future__ import annotations

import argparse
from typing import Any

COMMAND = "migrate"


def add_parser(subparsers: Any) -> None:
    mig = subparsers.add_parser(COMMAND, help="apply database migrations (to head by default)")
    mig.add_argument("--revision", default="head", help="target revision (default head)")


def run(args: argparse.Namespace) -> int:
    from dashboard.db.migrate import upgrade
    from dashboard.services import resolve_services

    services = resolve_services(COMMAND)
    try:
        upgrade(services.database, args.revision)
        print(f"migrated to {args.revision}")
    finally:
        services.stop()
    return 0
