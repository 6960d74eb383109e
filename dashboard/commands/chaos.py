"""`orca-dashboard chaos`: inject, list and clear faults of the ORCA Core stand-in.

    orca-dashboard chaos error_spike --for 10m [--routes /api/v1/agents ...] [--rate 0.3]
    orca-dashboard chaos list
    orca-dashboard chaos clear [FAULT]

Faults live in Redis with a TTL, so each one ends by itself; `clear` ends it early.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC
from typing import Any

COMMAND = "chaos"


def add_parser(subparsers: Any) -> None:
    from dashboard.core.faults import FAULTS

    faults = "; ".join(f"{name}: {spec.summary}" for name, spec in FAULTS.items())
    parser = subparsers.add_parser(
        COMMAND,
        help="inject a fault into the ORCA Core stand-in (drills), list or clear faults",
        description=f"Faults — {faults}.",
    )
    parser.add_argument("fault", metavar="FAULT|list|clear", help="a fault name, list or clear")
    parser.add_argument("target", nargs="?", default=None, help="with clear: the fault to end")
    parser.add_argument(
        "--for",
        dest="duration",
        default="10m",
        help="how long: 30s, 10m, 1h (max 24h; default 10m)",
    )
    parser.add_argument("--routes", nargs="+", default=None, help="error/latency spike: routes")
    parser.add_argument("--rate", type=float, default=None, help="error_spike: share failing")
    parser.add_argument("--ms", type=int, default=None, help="latency_spike: added milliseconds")
    parser.add_argument("--share", type=float, default=None, help="trust_collapse/drift_wave")
    parser.add_argument("--sources", nargs="+", default=None, help="sync_stall: sources")
    parser.add_argument(
        "--connections", type=int, default=None, help="db_connection_leak: connections held"
    )


def _params(args: argparse.Namespace) -> dict[str, Any]:
    names = ("routes", "rate", "ms", "share", "sources", "connections")
    return {n: getattr(args, n) for n in names if getattr(args, n) is not None}


def _describe(params: dict[str, Any]) -> str:
    parts = []
    for k, v in params.items():
        shown = ", ".join(map(str, v)) if isinstance(v, list) else str(v)
        parts.append(f"{k}={shown[:120]}")
    return "; ".join(parts) or "no parameters"


def run(args: argparse.Namespace) -> int:
    import redis

    from dashboard.core.faults import clear_fault, inject_fault, list_faults
    from dashboard.integrations.redis_client import make_redis
    from dashboard.services import resolve_services

    action = args.fault
    try:
        if action not in ("list", "clear") and args.target is not None:
            raise ValueError(f"unexpected argument {args.target!r}")
        if action == "list" and (args.target is not None or _params(args)):
            raise ValueError("chaos list takes no other arguments")
        services = resolve_services("chaos")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        client = make_redis(services.redis)
        if action == "list":
            active = list_faults(client)
            if not active:
                print("no faults active")
            for fault in active:
                print(
                    f"{fault.name:<19} {fault.remaining_s:>6.0f} s left  {_describe(fault.params)}"
                )
            return 0
        if action == "clear":
            cleared = clear_fault(client, args.target)
            print("cleared: " + ", ".join(cleared) if cleared else "nothing to clear")
            return 0
        fault = inject_fault(client, action, args.duration, _params(args), by="cli")
        until = fault.ends_at.astimezone(UTC).strftime("%H:%M:%S UTC")
        print(
            f"{fault.name} active for {args.duration} (until {until}): {_describe(fault.params)}\n"
            f"end it early with: orca-dashboard chaos clear {fault.name}"
        )
        return 0
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except redis.RedisError as exc:
        print(f"error: cannot reach Redis: {exc}", file=sys.stderr)
        return 1
    finally:
        services.stop()
