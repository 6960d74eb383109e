"""Resolve the PostgreSQL and Redis URLs for a command: configured, reused embedded, or started."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import redis

from dashboard.embedded import EmbeddedPostgres, EmbeddedRedis
from dashboard.settings import Settings, get_settings, reset_settings

log = logging.getLogger(__name__)


class ServicesError(RuntimeError):
    """A server the command needs is neither configured nor running; the message says so."""


@dataclass(frozen=True)
class ServerPolicy:
    """What a command needs and what it may do to get it.

    ``start``: start the embedded servers that are neither configured nor reused.
    ``reuse``: first look for the embedded servers `orca-dashboard up` runs (recorded in the
    state folder); a reused server belongs to `up` and is never stopped by this process.
    """

    database: bool = True
    redis: bool = True
    start: bool = True
    reuse: bool = False


#: One row per command: the only place that decides which servers a command gets.
POLICIES: dict[str, ServerPolicy] = {
    "up": ServerPolicy(),
    "migrate": ServerPolicy(),
    "seed": ServerPolicy(),
    "worker": ServerPolicy(),
    "bench": ServerPolicy(),
    # The stand-in and drills join a running `up` instead of pulling its servers away.
    "core": ServerPolicy(reuse=True),
    "chaos": ServerPolicy(database=False, reuse=True),
    "users": ServerPolicy(redis=False),
    # doctor looks, never starts: a check that starts what it checks proves nothing.
    "doctor": ServerPolicy(start=False, reuse=True),
    # config-doc only reads the settings class: no server at all.
    "config-doc": ServerPolicy(database=False, redis=False, start=False),
    # Backups act on the servers a running `up` (or the settings) name, never on new ones.
    "backup": ServerPolicy(start=False, reuse=True),
}


def embedded_state_file(settings: Settings) -> Path:
    return settings.state_dir / "embedded.json"


@dataclass
class Services:
    """The URLs in use, where they came from, and the embedded servers this process started."""

    database_url: str | None
    redis_url: str | None
    origin: str = "settings"
    embedded_pg: EmbeddedPostgres | None = None
    embedded_redis: EmbeddedRedis | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def database(self) -> str:
        if self.database_url is None:
            raise ServicesError("no PostgreSQL: set ORCA_DATABASE_URL or run `orca-dashboard up`")
        return self.database_url

    @property
    def redis(self) -> str:
        if self.redis_url is None:
            raise ServicesError("no Redis: set ORCA_REDIS_URL or run `orca-dashboard up`")
        return self.redis_url

    def stop(self) -> None:
        """Stop what this process started (reused and configured servers keep running)."""
        if self.embedded_redis is not None:
            self.embedded_redis.stop()
            self.embedded_redis = None
        if self.embedded_pg is not None:
            self.embedded_pg.stop()
            self.embedded_pg = None


def _read_state(settings: Settings) -> dict[str, str | None]:
    try:
        saved = json.loads(embedded_state_file(settings).read_text())
    except (OSError, ValueError):
        return {}
    return saved if isinstance(saved, dict) else {}


def _write_state(settings: Settings, *, database_url: str | None, redis_url: str | None) -> None:
    """Record the servers started here, keeping the other's entry, for other terminals."""
    saved = _read_state(settings)
    if database_url is not None:
        saved["database_url"] = database_url
    if redis_url is not None:
        saved["redis_url"] = redis_url
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    embedded_state_file(settings).write_text(json.dumps(saved))


def redis_alive(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        return bool(client.ping())
    except (redis.RedisError, OSError, ValueError):
        return False


def resolve_services(command: str, settings: Settings | None = None) -> Services:
    """The database and Redis URLs for ``command`` (a key of POLICIES).

    Configured URLs (ORCA_DATABASE_URL / ORCA_REDIS_URL) always win. Otherwise, for commands
    that may reuse, the embedded servers `up` recorded in the state folder (checked alive
    when there is an alternative); otherwise, for commands that may start, new embedded ones.
    When something was started or reused, the URLs are exported to this process's environment
    so child processes and later settings reads see the same servers. Call ``stop()`` after.
    """
    policy = POLICIES[command]
    settings = settings or get_settings()
    db_url = settings.database_url if policy.database else None
    redis_url = settings.redis_url if policy.redis else None
    origin = "settings"
    missing_db = policy.database and db_url is None
    missing_redis = policy.redis and redis_url is None
    if policy.reuse and (missing_db or missing_redis):
        saved = _read_state(settings)
        saved_db = saved.get("database_url") if missing_db else None
        saved_redis = saved.get("redis_url") if missing_redis else None
        # With a fallback (start), reuse only a live `up`; without one, report what is recorded.
        usable = not policy.start or (
            (saved_db or not missing_db)
            and (saved_redis or not missing_redis)
            and redis_alive(saved.get("redis_url") or "")
        )
        if usable and (saved_db or saved_redis):
            db_url, redis_url = db_url or saved_db, redis_url or saved_redis
            origin = "settings + embedded servers started by `orca-dashboard up`"
    services = Services(db_url, redis_url, origin)
    if policy.start:
        try:
            if policy.database and services.database_url is None:
                pg = EmbeddedPostgres(settings.state_dir / "pg")
                services.embedded_pg = pg
                services.database_url = pg.start()
                services.notes.append(f"embedded PostgreSQL 16 in {settings.state_dir / 'pg'}")
            if policy.redis and services.redis_url is None:
                rd = EmbeddedRedis(settings.state_dir / "redis", settings.embedded_redis_port)
                services.embedded_redis = rd
                services.redis_url = rd.start()
                services.notes.append(f"embedded Redis on 127.0.0.1:{settings.embedded_redis_port}")
        except BaseException:
            services.stop()
            raise
        if services.embedded_pg is not None or services.embedded_redis is not None:
            _write_state(
                settings,
                database_url=services.database_url if services.embedded_pg else None,
                redis_url=services.redis_url if services.embedded_redis else None,
            )
    if policy.start:
        if services.database_url is not None:
            os.environ["ORCA_DATABASE_URL"] = services.database_url
        if services.redis_url is not None:
            os.environ["ORCA_REDIS_URL"] = services.redis_url
        reset_settings()
    return services
