"""`orca-dashboard migrate [--revision R | --down | --show]`: move the schema with Alembic.

Forward to head by default (or to ``--revision``); ``--down`` steps back exactly one revision
(the rollback of the last upgrade, README "Upgrade and rollback"); ``--show`` only prints the
database's revision and the code's head.
"""

from __future__ import annotations

import argparse
from typing import Any

COMMAND = "migrate"


def add_parser(subparsers: Any) -> None:
    mig = subparsers.add_parser(
        COMMAND, help="apply database migrations (to head by default; --down steps back one)"
    )
    which = mig.add_mutually_exclusive_group()
    which.add_argument("--revision", default="head", help="target revision (default head)")
    which.add_argument(
        "--down", action="store_true", help="downgrade one revision (roll back the last upgrade)"
    )
    which.add_argument(
        "--show", action="store_true", help="print the current and the head revision only"
    )


def run(args: argparse.Namespace) -> int:
    from dashboard.commands import CliError
    from dashboard.db.engine import make_engine
    from dashboard.db.migrate import current_revision, downgrade, head_revision, upgrade
    from dashboard.services import resolve_services

    services = resolve_services(COMMAND)
    try:
        engine = make_engine(services.database)
        before = current_revision(engine)
        if args.show:
            print(f"current {before or 'none'}, head {head_revision()}")
            return 0
        if args.down:
            if before is None:
                raise CliError("the database has no migrations applied; nothing to roll back")
            downgrade(services.database, "-1")
            print(f"downgraded from {before} to {current_revision(engine) or 'none (empty)'}")
            return 0
        upgrade(services.database, args.revision)
        print(f"migrated to {args.revision} ({before or 'none'} -> {current_revision(engine)})")
    finally:
        services.stop()
    return 0
