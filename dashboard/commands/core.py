"""`orca-dashboard core`: run the ORCA Core stand-in (its API over the console's database,
live traffic every tick, injected faults) on settings.core_port.

`make run` starts it next to the console. It writes simulated traffic, so it refuses to run
with ORCA_ENV=production unless told --allow-production.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from types import FrameType
from typing import Any

COMMAND = "core"
#: Environment override of the traffic tick (seconds), for tests and fast drills.
TICK_ENV = "ORCA_CORE_TICK_S"


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError("must be between 0 and 3600 seconds")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port is between 1 and 65535")
    return value


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        COMMAND,
        help="run the ORCA Core stand-in: its API over the console database, live traffic, "
        "fault injection (see `chaos`)",
    )
    parser.add_argument("--port", type=_port, default=None, help="port (default ORCA_CORE_PORT)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--tick",
        type=_positive_float,
        default=None,
        help=f"seconds between traffic ticks (default {TICK_ENV} or 60)",
    )
    parser.add_argument(
        "--no-traffic", action="store_true", help="serve the API only, write no live data"
    )
    parser.add_argument(
        "--collector-port",
        type=_port,
        default=None,
        help="also answer an OpenTelemetry-Collector-like health check on this port "
        "(e.g. 13133); off by default",
    )
    parser.add_argument(
        "--allow-production",
        action="store_true",
        help="run even with ORCA_ENV=production (it writes simulated data!)",
    )


def _cures() -> tuple[str, ...]:
    """Faults a requested restart / rollback starts without (set by the supervisor)."""
    from dashboard.core.faults import FAULTS

    raw = os.environ.get("ORCA_CORE_CURES", "")
    return tuple(n for n in (p.strip() for p in raw.split(",")) if n in FAULTS)


def run(args: argparse.Namespace) -> int:
    from dashboard.core.server import CoreStandIn
    from dashboard.db.engine import make_engine
    from dashboard.integrations.redis_client import make_redis
    from dashboard.services import resolve_services
    from dashboard.settings import get_settings

    settings = get_settings()
    if settings.env == "production" and not args.allow_production:
        print(
            "error: the stand-in writes simulated traffic into the database; it does not run "
            "with ORCA_ENV=production (use --allow-production if you really mean it)",
            file=sys.stderr,
        )
        return 2
    tick = args.tick
    if tick is None:
        raw = os.environ.get(TICK_ENV)
        try:
            tick = _positive_float(raw) if raw else 60.0
        except argparse.ArgumentTypeError as exc:
            print(f"error: {TICK_ENV}: {exc}", file=sys.stderr)
            return 2
    services = resolve_services("core")
    try:
        standin = CoreStandIn(
            make_engine(services.database, pool_size=5),
            make_redis(services.redis),
            host=args.host,
            port=args.port or settings.core_port,
            tick_s=tick,
            traffic=not args.no_traffic,
            collector_port=args.collector_port,
            cures=_cures(),
            version=os.environ.get("ORCA_CORE_VERSION") or None,
            # Exports only where an OTLP endpoint is given explicitly (tests, drills).
            otlp_endpoint=os.environ.get("ORCA_OTLP_ENDPOINT") or None,
            exporter=os.environ.get("OTEL_TRACES_EXPORTER") or "otlp",
        )
    except OSError as exc:
        services.stop()
        print(
            f"error: cannot listen on {args.host}:{args.port or settings.core_port}: {exc}",
            file=sys.stderr,
        )
        return 1

    def _stop(signum: int, frame: FrameType | None) -> None:
        standin.stop_event.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(
        f"ORCA Core stand-in: {standin.url}  (tick {tick:g} s; faults: orca-dashboard chaos)",
        flush=True,
    )
    try:
        standin.serve_forever()
    finally:
        services.stop()
    return 0
