"""Fixtures for the notification tests: a database of their own, emptied before each test."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from dashboard.data import notify_store as store
from dashboard.data.notifications import enqueue_notification
from dashboard.db.engine import make_engine
from dashboard.domain.notify_rules import mask_secret
from dashboard.settings import Settings, to_sqlalchemy_url
from tests.conftest import MakeDatabase


@pytest.fixture(scope="session")
def notify_engine(make_database: MakeDatabase) -> Iterator[Engine]:
    with make_database("orca_notify") as db:
        engine = make_engine(to_sqlalchemy_url(db.url), pool_size=10)
        yield engine
        engine.dispose()


@pytest.fixture()
def nengine(notify_engine: Engine) -> Engine:
    with notify_engine.begin() as conn:
        conn.execute(
            text(
                "TRUNCATE notification_attempts, notification_deliveries, notification_outbox,"
                " notification_messages, contact_points RESTART IDENTITY CASCADE"
            )
        )
    return notify_engine


@dataclass
class Clock:
    """A controllable clock: ``clock()`` is the time, ``clock.advance(s)`` moves it."""

    now: datetime = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # a Wednesday, 10:00 UTC

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture()
def clock() -> Clock:
    return Clock()


def fast_settings(**extra: Any) -> Settings:
    values: dict[str, Any] = {
        "notify_backoff_base_s": 10.0,
        "notify_backoff_cap_s": 600.0,
        "notify_max_attempts": 5,
        "notify_connect_timeout_s": 1.0,
        "notify_read_timeout_s": 4.0,
        "notify_send_deadline_s": 5.0,  # roomy: a loaded test machine is slow
        "notify_cycle_deadline_s": 20.0,
        "notify_business_tz": "UTC",
        "notify_business_start": "09:00",
        "notify_business_end": "17:00",
        "notify_business_days": "mon-fri",
    }
    values.update(extra)
    return Settings(**values)


def add_point(
    engine: Engine,
    kind: str,
    secret: str,
    *,
    audiences: Sequence[str] = ("oncall", "broadcast"),
    config: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> int:
    with engine.begin() as conn:
        return store.insert_contact_point(
            conn,
            name=name or f"{kind}-{secrets.token_hex(3)}",
            kind=kind,
            audiences=audiences,
            config=config or {},
            secret=secret,
            secret_hint=mask_secret(secret),
            by="test",
            now=datetime.now(UTC),
        )


def enqueue(engine: Engine, *, at: datetime, **fields: Any) -> bool:
    values: dict[str, Any] = {
        "dedupe_key": f"t:{secrets.token_hex(6)}",
        "severity": "P1",
        "group_key": "rule:service_down",
        "subject": "Service Down firing",
        "body": "ORCA Core /health answered 503 for 2 minutes",
        "source": "alerts",
    }
    values.update(fields)
    with engine.begin() as conn:
        return enqueue_notification(conn, at=at, **values)


def rows(engine: Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(sql), params).mappings()]
