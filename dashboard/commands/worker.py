"""`orca-dashboard worker [--once]`: run the background worker on the resolved servers."""

from __future__ import annotations

import argparse
from typing import Any

COMMAND = "worker"


def add_parser(subparsers: Any) -> None:
    work = subparsers.add_parser(
        COMMAND, help="run the background worker (rollups, KPI snapshots, heartbeat)"
    )
    work.add_argument("--once", action="store_true", help="run every job once and exit")


def run(args: argparse.Namespace) -> int:
    from dashboard import telemetry
    from dashboard.services import resolve_services
    from dashboard.settings import get_settings
    from dashboard.worker.main import run_worker

    services = resolve_services(COMMAND)
    telemetry.setup("worker")
    port = get_settings().metrics_port
    if port is not None and not args.once:
        telemetry.serve_prometheus(port)
    try:
        return run_worker(once=args.once)
    finally:
        services.stop()
