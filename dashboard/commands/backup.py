"""`orca-dashboard backup run|list|drill`: on-demand backups from the host, audited as the CLI.

Joins a running `up` (or the configured servers); starts nothing of its own.
"""

from __future__ import annotations

import argparse
from typing import Any

COMMAND = "backup"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(COMMAND, help="take a backup now, list backups, run the DR drill")
    sub = p.add_subparsers(dest="backup_command", required=True)
    sub.add_parser("run", help="pg_dump + Redis snapshot now, then retention")
    listing = sub.add_parser("list", help="the latest backups")
    listing.add_argument("--limit", type=int, default=20)
    drill = sub.add_parser("drill", help="restore into a scratch database, verify, drop it")
    drill.add_argument("--backup", type=int, default=None, help="backup id (default: newest)")


def run(args: argparse.Namespace) -> int:
    from dashboard.actions import backups as backup_actions
    from dashboard.actions.base import cli_actor
    from dashboard.data import backups
    from dashboard.db.app_role import install_app_role
    from dashboard.db.engine import make_engine
    from dashboard.services import resolve_services
    from dashboard.settings import get_settings, reset_settings

    services = resolve_services(COMMAND)
    try:
        reset_settings()
        settings = get_settings().model_copy(
            update={"database_url": services.database_url, "redis_url": services.redis_url}
        )
        engine = install_app_role(make_engine(settings.sqlalchemy_url))
        if args.backup_command == "list":
            with engine.connect() as conn:
                for r in backups.list_backups(conn, limit=args.limit):
                    size = (r["size_bytes"] or 0) / 1e6
                    print(
                        f"{r['id']:>5}  {r['started_at']:%Y-%m-%d %H:%M}  {r['status']:<7} "
                        f"{size:8.1f} MB  {r['trigger']:<8} {r['error'] or ''}"
                    )
            return 0
        if args.backup_command == "run":
            result = backup_actions.backup_now(engine, cli_actor(), settings=settings)
        else:
            result = backup_actions.run_dr_drill(
                engine, cli_actor(), args.backup, settings=settings
            )
        print(result.message)
        return 0 if result.ok else 1
    finally:
        services.stop()
