"""Process-wide resources for the console: engine, Redis client, shared cache (created once)."""

from __future__ import annotations

from datetime import UTC, datetime

import redis
import streamlit as st
from sqlalchemy import Engine

from dashboard.data import panels
from dashboard.data.cache import SharedCache
from dashboard.db.app_role import install_app_role
from dashboard.db.engine import make_engine
from dashboard.integrations.redis_client import make_redis
from dashboard.settings import get_settings

CLOCK_STEP_S = panels.CLOCK_STEP_S


@st.cache_resource(show_spinner=False)
def get_engine(url: str) -> Engine:
    # Short connect timeout: a page with PostgreSQL down must render within 3 s.
    # The console works as orca_app: it may add to the audit log but never rewrite it.
    return install_app_role(make_engine(url, connect_timeout_s=1, statement_timeout_ms=10_000))


@st.cache_resource(show_spinner=False)
def get_redis(url: str) -> redis.Redis:
    return make_redis(url, timeout_s=0.5)


@st.cache_resource(show_spinner=False)
def get_cache(url: str) -> SharedCache:
    return SharedCache(get_redis(url), namespace=panels.CACHE_NAMESPACE, wait_s=8.0)


def database_url() -> str | None:
    return get_settings().database_url


def redis_url() -> str:
    return get_settings().redis_url or "redis://127.0.0.1:1/0"


def now() -> datetime:
    """The console's clock. ORCA_FIXED_NOW pins it (tests, screenshots of seeded data).

    Floored to CLOCK_STEP_S: every viewer in the same step asks the same question, so the
    shared cache answers them all from one query (a per-second clock would miss every time),
    and the worker's refresh-ahead knows which question comes next (dashboard.data.panels).
    """
    return panels.console_now(datetime.now(UTC), get_settings().fixed_now)
