"""`orca-dashboard seed`: bulk-load simulated data (COPY) into an empty database."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import Any

from dashboard.commands import CliError, positive_int

COMMAND = "seed"


def add_parser(subparsers: Any) -> None:
    seed = subparsers.add_parser(
        COMMAND, help="load simulated data into an empty database (COPY bulk load)"
    )
    seed.add_argument(
        "--agents", type=positive_int, default=None, help="number of agents (default 3000)"
    )
    seed.add_argument(
        "--days", type=positive_int, default=None, help="days of history (default 30)"
    )
    seed.add_argument("--seed", type=int, default=None, help="random seed (default 42)")
    seed.add_argument("--now", default=None, help="end of the simulated period (ISO; default now)")


def parse_now(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CliError(f"--now must be an ISO date-time such as 2026-11-20T12:00Z: {exc}") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def agent_count(url: str) -> int:
    from sqlalchemy import text

    from dashboard.db.engine import make_engine

    with make_engine(url).connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM agents")).scalar_one())


def run(args: argparse.Namespace) -> int:
    from dashboard.db.engine import make_engine
    from dashboard.db.migrate import upgrade
    from dashboard.services import resolve_services
    from dashboard.settings import get_settings
    from dashboard.sim.seed import seed_database

    now = parse_now(args.now)
    settings = get_settings()
    services = resolve_services(COMMAND)
    try:
        upgrade(services.database)
        if agent_count(services.database) > 0:
            raise CliError("the database already holds agents; seed only loads an empty database")
        started = time.monotonic()
        report = seed_database(
            make_engine(services.database),
            agents=args.agents or settings.demo_agents,
            days=args.days or settings.demo_days,
            seed=settings.demo_seed if args.seed is None else args.seed,
            now=now,
            progress=lambda msg: print(f"  {msg}", flush=True),
        )
        print(f"seeded in {time.monotonic() - started:.1f} s: {report}")
    finally:
        services.stop()
    return 0
