"""Resolve the PostgreSQL and Redis URLs: the configured servers, or the embedded ones."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from dashboard.embedded import EmbeddedPostgres, EmbeddedRedis
from dashboard.settings import Settings, get_settings, reset_settings

log = logging.getLogger(__name__)


def embedded_state_file(settings: Settings) -> Path:
    return settings.state_dir / "embedded.json"


@dataclass
class Services:
    """The URLs in use and the embedded servers this process started (to stop them again)."""

    database_url: str
    redis_url: str
    embedded_pg: EmbeddedPostgres | None = None
    embedded_redis: EmbeddedRedis | None = None
    notes: list[str] = field(default_factory=list)

    def stop(self) -> None:
        if self.embedded_redis is not None:
            self.embedded_redis.stop()
        if self.embedded_pg is not None:
            self.embedded_pg.stop()


def start_services(settings: Settings | None = None) -> Services:
    """Use ORCA_DATABASE_URL / ORCA_REDIS_URL when set; start the embedded servers otherwise.

    The URLs are exported to this process's environment so child processes (worker, console)
    and later settings reads see the same servers, and written to the state folder so
    `orca-dashboard doctor` can find the embedded servers from another terminal.
    """
    settings = settings or get_settings()
    pg: EmbeddedPostgres | None = None
    rd: EmbeddedRedis | None = None
    notes: list[str] = []
    db_url = settings.database_url
    if db_url is None:
        pg = EmbeddedPostgres(settings.state_dir / "pg")
        db_url = pg.start()
        notes.append(f"embedded PostgreSQL 16 in {settings.state_dir / 'pg'}")
    redis_url = settings.redis_url
    if redis_url is None:
        rd = EmbeddedRedis(settings.state_dir / "redis", settings.embedded_redis_port)
        redis_url = rd.start()
        notes.append(f"embedded Redis on 127.0.0.1:{settings.embedded_redis_port}")
    os.environ["ORCA_DATABASE_URL"] = db_url
    os.environ["ORCA_REDIS_URL"] = redis_url
    if pg is not None or rd is not None:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        embedded_state_file(settings).write_text(
            json.dumps(
                {"database_url": db_url if pg else None, "redis_url": redis_url if rd else None}
            )
        )
    reset_settings()
    return Services(db_url, redis_url, pg, rd, notes)


def known_urls(settings: Settings | None = None) -> tuple[str | None, str | None, str]:
    """The URLs `doctor` should check, without starting anything, and where they came from."""
    settings = settings or get_settings()
    db_url, redis_url, origin = settings.database_url, settings.redis_url, "settings"
    state = embedded_state_file(settings)
    if (db_url is None or redis_url is None) and state.exists():
        try:
            saved = json.loads(state.read_text())
        except (OSError, ValueError):
            saved = {}
        db_url = db_url or saved.get("database_url")
        redis_url = redis_url or saved.get("redis_url")
        origin = "settings + embedded servers started by `orca-dashboard up`"
    return db_url, redis_url, origin
