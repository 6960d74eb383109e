"""Panel loaders: one call per panel, through the shared cache, never raising into a page.

A loader returns a Panel: the value plus how old it is and a state (ok, empty, stale, error)
with a plain-words message. PostgreSQL down is remembered for a few seconds so the rest of the
page does not wait on connect timeouts again; Redis down only marks the cache as degraded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

import pandas as pd
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from dashboard.data.cache import panel_key
from dashboard.data.errors import ErrorKind, InvalidQuery
from dashboard.ui import resources

log = logging.getLogger(__name__)
T = TypeVar("T")
State = Literal["ok", "empty", "stale", "error"]
_DB_DOWN_UNTIL = 0.0
_DB_DOWN_MEMORY_S = 5.0
_DB_DOWN_MESSAGE = "PostgreSQL is unreachable; showing no data for this panel."
_QUERY_FAILED_MESSAGE = "The query for this panel failed; try again in a moment."


@dataclass(frozen=True)
class Panel(Generic[T]):
    value: T | None
    state: State
    message: str | None = None
    computed_at: datetime | None = None
    cache_degraded: bool = False
    error: ErrorKind | None = None  # set when state == "error": why, for banners to decide on

    @property
    def age_s(self) -> float | None:
        if self.computed_at is None:
            return None
        return max(0.0, (datetime.now(UTC) - self.computed_at).total_seconds())


def _failed(kind: ErrorKind, message: str) -> Panel[Any]:
    return Panel(None, "error", message, error=kind)


def _key(name: str, kwargs: dict[str, Any], database: str) -> str:
    # One key function for pages and the worker's refresh-ahead (dashboard.data.panels).
    return panel_key(name, kwargs, database)


def _is_empty(value: object) -> bool:
    if isinstance(value, pd.DataFrame):
        return value.empty
    return value is None


def load(
    name: str,
    fn: Callable[..., T],
    *,
    ttl_s: int = 20,
    stale_after_s: float | None = None,
    **kwargs: Any,
) -> Panel[T]:
    """Run ``fn(conn, **kwargs)`` once per TTL for all viewers; report its state."""
    global _DB_DOWN_UNTIL
    url = resources.database_url()
    if url is None:
        return _failed(ErrorKind.NOT_CONFIGURED, "No database is configured (ORCA_DATABASE_URL).")
    if time.monotonic() < _DB_DOWN_UNTIL:
        return _failed(ErrorKind.DB_DOWN, _DB_DOWN_MESSAGE)

    def compute() -> T:
        with resources.get_engine(url).connect() as conn:
            return fn(conn, **kwargs)

    try:
        result = resources.get_cache(resources.redis_url()).get_or_compute(
            _key(name, kwargs, url), ttl_s, compute
        )
    except InvalidQuery as exc:
        return _failed(ErrorKind.INVALID, str(exc))
    except (OperationalError, DBAPIError) as exc:
        if isinstance(exc, OperationalError) or exc.connection_invalidated:
            _DB_DOWN_UNTIL = time.monotonic() + _DB_DOWN_MEMORY_S
            return _failed(ErrorKind.DB_DOWN, _DB_DOWN_MESSAGE)
        log.warning("query %s failed: %s", name, exc.__class__.__name__)
        return _failed(ErrorKind.QUERY_FAILED, _QUERY_FAILED_MESSAGE)
    except SQLAlchemyError as exc:
        log.warning("query %s failed: %s", name, exc.__class__.__name__)
        return _failed(ErrorKind.QUERY_FAILED, _QUERY_FAILED_MESSAGE)
    value = result.value
    state: State = "empty" if _is_empty(value) else "ok"
    panel = Panel(value, state, None, result.computed_at, result.degraded)
    if state == "ok" and stale_after_s is not None and panel.age_s and panel.age_s > stale_after_s:
        return Panel(value, "stale", None, result.computed_at, result.degraded)
    return panel


def reset_for_tests() -> None:
    global _DB_DOWN_UNTIL
    _DB_DOWN_UNTIL = 0.0


def invalidate(name: str, **kwargs: Any) -> None:
    """Forget one cached panel (after an action changed what it shows); quiet when Redis is down."""
    url = resources.database_url()
    if url is not None:
        resources.get_cache(resources.redis_url()).invalidate(_key(name, kwargs, url))
