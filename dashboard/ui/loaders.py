"""Panel loaders: one call per panel, through the shared cache, never raising into a page.

A loader returns a Panel: the value plus how old it is and a state (ok, empty, stale, error)
with a plain-words message. PostgreSQL down is remembered for a few seconds so the rest of the
page does not wait on connect timeouts again; Redis down only marks the cache as degraded, and
is remembered too, so a frozen Redis costs one timeout per page, not one per panel.

Every database call of a page runs under a deadline (``console_db_deadline_s``, see
:func:`call_db`): a PostgreSQL that accepts connections but never answers (frozen, partitioned)
gives the banner within the deadline instead of a blank page. When the deadline passes, the
server is asked directly whether it is alive; a live server is just slow, so that panel says it
is still computing (the computation goes on and fills the shared cache for the next view).
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar, cast

import pandas as pd
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from dashboard.data.cache import CacheResult, panel_key
from dashboard.data.errors import ErrorKind, InvalidQuery
from dashboard.db.engine import server_answers
from dashboard.settings import get_settings
from dashboard.ui import resources

log = logging.getLogger(__name__)
T = TypeVar("T")
State = Literal["ok", "empty", "stale", "error"]
_DB_DOWN_UNTIL = 0.0
_DB_DOWN_MEMORY_S = 5.0
_REDIS_DOWN_UNTIL = 0.0
_REDIS_DOWN_MEMORY_S = 5.0
_DB_DOWN_MESSAGE = "PostgreSQL is unreachable; showing no data for this panel."
_QUERY_FAILED_MESSAGE = "The query for this panel failed; try again in a moment."
_SLOW_MESSAGE = "This panel is still being computed; it will appear on the next refresh."


class _Call(Generic[T]):
    """One database call on a daemon thread, so a page can stop waiting for it.

    A call that outlives its page's deadline still finishes (or meets its statement timeout or
    TCP bounds) in the background; daemon threads never hold up the process's exit.
    """

    def __init__(self, fn: Callable[[], T]) -> None:
        self._fn = fn
        self._done = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None
        # In a copy of this context, so the query spans stay children of the page's span.
        context = contextvars.copy_context()
        threading.Thread(target=context.run, args=(self._run,), name="orca-db", daemon=True).start()

    def _run(self) -> None:
        try:
            self._value = self._fn()
        except BaseException as exc:  # handed to the waiting caller, never lost
            self._error = exc
        finally:
            self._done.set()

    def result(self, timeout_s: float) -> T:
        if not self._done.wait(timeout_s):
            raise TimeoutError
        if self._error is not None:
            raise self._error
        return cast(T, self._value)


class DatabaseDown(Exception):
    """PostgreSQL is unreachable or not answering (remembered for a few seconds)."""


class StillComputing(Exception):
    """PostgreSQL is alive but the call did not finish within the page's deadline."""


def db_down() -> bool:
    """True while a recent call found PostgreSQL unreachable (pages then skip their queries)."""
    return time.monotonic() < _DB_DOWN_UNTIL


def _remember_db_down() -> None:
    global _DB_DOWN_UNTIL
    _DB_DOWN_UNTIL = time.monotonic() + _DB_DOWN_MEMORY_S


def call_db(fn: Callable[[], T], *, url: str | None = None, deadline_s: float | None = None) -> T:
    """``fn()`` (which talks to PostgreSQL), waited for at most ``deadline_s`` (by default
    ``console_db_deadline_s``).

    Raises DatabaseDown at once while PostgreSQL is remembered as down, or when the deadline
    passes and the server does not answer a pre-login probe either; StillComputing when the
    server is alive but slow. OperationalError (refused, connect timeout) marks it down too.
    Exceptions of ``fn`` otherwise propagate unchanged.
    """
    if db_down():
        raise DatabaseDown
    target = url or resources.database_url()
    call = _Call(fn)
    try:
        return call.result(deadline_s or get_settings().console_db_deadline_s)
    except TimeoutError:
        if target is not None and server_answers(target, timeout_s=0.5):
            raise StillComputing from None
        _remember_db_down()
        raise DatabaseDown from None
    except OperationalError:
        _remember_db_down()
        raise DatabaseDown from None
    except DBAPIError as exc:
        if exc.connection_invalidated:
            _remember_db_down()
            raise DatabaseDown from None
        raise


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
    topics: Sequence[str] = (),
    **kwargs: Any,
) -> Panel[T]:
    """Run ``fn(conn, **kwargs)`` once per TTL for all viewers; report its state.

    ``topics`` name what the value is computed from (e.g. ``AGENT_TOPICS``): an action that
    changes them starts a new generation, and every replica's next view computes afresh.
    """
    global _REDIS_DOWN_UNTIL
    url = resources.database_url()
    if url is None:
        return _failed(ErrorKind.NOT_CONFIGURED, "No database is configured (ORCA_DATABASE_URL).")
    if db_down():
        return _failed(ErrorKind.DB_DOWN, _DB_DOWN_MESSAGE)
    # Resources are resolved here, on the script's thread (st.cache_resource needs its context).
    engine = resources.get_engine(url)
    cache = resources.get_cache(resources.redis_url())
    skip_redis = time.monotonic() < _REDIS_DOWN_UNTIL

    def compute() -> T:
        with engine.connect() as conn:
            return fn(conn, **kwargs)

    def cached() -> CacheResult[T]:
        if skip_redis:
            return CacheResult(compute(), datetime.now(UTC), from_cache=False, degraded=True)
        return cache.get_or_compute(_key(name, kwargs, url), ttl_s, compute, topics=topics)

    try:
        result = call_db(cached, url=url)
    except InvalidQuery as exc:
        return _failed(ErrorKind.INVALID, str(exc))
    except DatabaseDown:
        return _failed(ErrorKind.DB_DOWN, _DB_DOWN_MESSAGE)
    except StillComputing:
        return _failed(ErrorKind.QUERY_FAILED, _SLOW_MESSAGE)
    except SQLAlchemyError as exc:
        log.warning("query %s failed: %s", name, exc.__class__.__name__)
        return _failed(ErrorKind.QUERY_FAILED, _QUERY_FAILED_MESSAGE)
    if result.degraded and not skip_redis:
        _REDIS_DOWN_UNTIL = time.monotonic() + _REDIS_DOWN_MEMORY_S
    value = result.value
    state: State = "empty" if _is_empty(value) else "ok"
    panel = Panel(value, state, None, result.computed_at, result.degraded)
    if state == "ok" and stale_after_s is not None and panel.age_s and panel.age_s > stale_after_s:
        return Panel(value, "stale", None, result.computed_at, result.degraded)
    return panel


def reset_for_tests() -> None:
    global _DB_DOWN_UNTIL, _REDIS_DOWN_UNTIL
    _DB_DOWN_UNTIL = 0.0
    _REDIS_DOWN_UNTIL = 0.0
