"""httpx clients with explicit timeouts, an overall deadline, and at most 2 retries for GETs.

httpx's read timeout bounds each socket read, not the whole answer: a peer that drips one
byte a second never trips it. So every call here also runs under an asyncio deadline, which
cancels the request wherever it is (connecting, reading headers or the body). Network code
that must finish on time is therefore async; sync callers use :func:`run_with_deadline`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final, Literal, TypeVar

import httpx

T = TypeVar("T")

# httpx logs every request at INFO: two lines per probe every few seconds drown the worker log.
logging.getLogger("httpx").setLevel(logging.WARNING)

USER_AGENT: Final = "orca-ops-console/0.1"
#: Retries of an idempotent GET after the first attempt: never more than this.
MAX_RETRIES: Final = 2
#: A peer answering more than this for one response is cut off (hostile or broken peer).
DEFAULT_MAX_BYTES: Final = 8 * 1024 * 1024
#: Answers worth retrying for an idempotent GET (transient server-side trouble).
RETRY_STATUSES: Final[frozenset[int]] = frozenset({500, 502, 503, 504})

FailureKind = Literal["refused", "connect_timeout", "timeout", "protocol", "too_large", "other"]


def timeouts(connect_s: float, read_s: float) -> httpx.Timeout:
    """Connect, read, write and pool timeouts; none of them is ever infinite."""
    return httpx.Timeout(connect=connect_s, read=read_s, write=read_s, pool=connect_s)


def _client_kwargs(
    base_url: str, connect_timeout_s: float, read_timeout_s: float, max_connections: int
) -> dict[str, object]:
    return {
        "base_url": base_url,
        "timeout": timeouts(connect_timeout_s, read_timeout_s),
        "limits": httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        "follow_redirects": False,
        # Proxy variables of the environment must not reroute probes of local services.
        "trust_env": False,
        "headers": {"User-Agent": USER_AGENT, "Accept": "application/json"},
    }


def make_async_client(
    *,
    connect_timeout_s: float,
    read_timeout_s: float,
    base_url: str = "",
    max_connections: int = 10,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An async client with every timeout set, no redirects and no proxy from the environment."""
    kwargs = _client_kwargs(base_url, connect_timeout_s, read_timeout_s, max_connections)
    return httpx.AsyncClient(transport=transport, **kwargs)  # type: ignore[arg-type]


class Deadline:
    """A point in (monotonic) time by which a piece of work must be finished."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if seconds <= 0:
            raise ValueError("a deadline must be in the future")
        self.seconds = seconds
        self._clock = clock
        self._start = clock()
        self._end = self._start + seconds

    def remaining(self) -> float:
        return max(0.0, self._end - self._clock())


class FetchError(Exception):
    """A GET that got no usable answer; ``message`` is plain words fit for a health row."""

    def __init__(self, message: str, *, kind: FailureKind, attempts: int) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.attempts = attempts


class DeadlineExceeded(FetchError):
    """The overall deadline ran out before an answer was complete."""

    def __init__(self, seconds: float, *, attempts: int) -> None:
        super().__init__(f"timed out after {seconds:.1f} s", kind="timeout", attempts=attempts)


class ResponseTooLarge(FetchError):
    def __init__(self, limit: int, *, attempts: int) -> None:
        super().__init__(
            f"response larger than {limit:,} bytes: cut off", kind="too_large", attempts=attempts
        )


@dataclass(frozen=True)
class Fetched:
    """A complete answer: status, headers, body, attempts made, latency of the answering try."""

    url: str
    status_code: int
    headers: Mapping[str, str]
    body: bytes
    attempts: int
    latency_ms: float


def is_connection_refused(exc: BaseException) -> bool:
    """True when ``exc`` (or an error it wraps) is a refused TCP connection."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ConnectionRefusedError):
            return True
        if isinstance(cur, OSError) and cur.errno == errno.ECONNREFUSED:
            return True
        text = str(cur).lower()
        if "refused" in text or "error 111 " in text:
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def describe_error(exc: BaseException) -> tuple[FailureKind, str]:
    """A transport failure in plain words: ("refused", "connection refused") and so on."""
    if isinstance(exc, FetchError):
        return exc.kind, exc.message
    if isinstance(exc, httpx.ConnectTimeout):
        return "connect_timeout", "connect timed out"
    if isinstance(exc, httpx.ReadTimeout):
        return "timeout", "read timed out"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout", "timed out"
    if isinstance(exc, httpx.ConnectError):
        if is_connection_refused(exc):
            return "refused", "connection refused"
        text = str(exc).lower()
        if "name or service not known" in text or "nodename nor servname" in text:
            return "other", "host not found"
        return "other", f"cannot connect: {str(exc)[:200]}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "protocol", f"peer broke the HTTP protocol: {str(exc)[:200]}"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return "protocol", f"connection failed mid-answer: {str(exc)[:200] or type(exc).__name__}"
    if isinstance(exc, TimeoutError):
        return "timeout", "timed out"
    return "other", f"{type(exc).__name__}: {str(exc)[:200]}"


async def _get_once(
    client: httpx.AsyncClient,
    url: str,
    params: Mapping[str, str] | None,
    max_bytes: int,
    attempt: int,
) -> Fetched:
    started = time.monotonic()
    async with client.stream("GET", url, params=params) as resp:
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise ResponseTooLarge(max_bytes, attempts=attempt)
            chunks.append(chunk)
        return Fetched(
            url=str(resp.url),
            status_code=resp.status_code,
            headers=dict(resp.headers),
            body=b"".join(chunks),
            attempts=attempt,
            latency_ms=(time.monotonic() - started) * 1000.0,
        )


async def get_with_retry(
    client: httpx.AsyncClient,
    url: str,
    *,
    deadline: Deadline,
    params: Mapping[str, str] | None = None,
    retries: int = MAX_RETRIES,
    retry_statuses: frozenset[int] = RETRY_STATUSES,
    backoff_s: float = 0.1,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Fetched:
    """GET ``url`` and read the whole body, all within ``deadline``.

    Transport failures and ``retry_statuses`` answers are retried (at most MAX_RETRIES times,
    with a short exponential back-off) while time remains. Any answer that is not retried is
    returned, whatever its status; no answer at all raises :class:`FetchError`.
    """
    retries = max(0, min(retries, MAX_RETRIES))
    attempt = 0
    answer: Fetched | None = None  # the last answer worth a retry, returned if time runs out
    while True:
        attempt += 1
        remaining = deadline.remaining()
        if remaining <= 0:
            if answer is not None:
                return answer
            raise DeadlineExceeded(deadline.seconds, attempts=attempt - 1)
        failure: BaseException | None = None
        try:
            async with asyncio.timeout(remaining):
                fetched = await _get_once(client, url, params, max_bytes, attempt)
        except TimeoutError:
            if answer is not None:
                return answer
            raise DeadlineExceeded(deadline.seconds, attempts=attempt) from None
        except ResponseTooLarge:
            raise
        except httpx.TransportError as exc:
            failure = exc
        else:
            if fetched.status_code not in retry_statuses or attempt > retries:
                return fetched
            answer = fetched
        if attempt > retries:
            assert failure is not None
            if answer is not None:
                return answer
            kind, message = describe_error(failure)
            if attempt > 1:
                message = f"{message} (after {attempt} attempts)"
            raise FetchError(message, kind=kind, attempts=attempt) from failure
        pause = min(backoff_s * (2 ** (attempt - 1)), deadline.remaining())
        if pause > 0:
            await asyncio.sleep(pause)


def run_with_deadline(factory: Callable[[], Awaitable[T]], seconds: float) -> T:
    """Run a coroutine to completion from sync code; TimeoutError after ``seconds``.

    A private event loop with its own executor: the loop is closed without waiting for
    executor threads (name lookups) that may still hang, so the caller always gets control
    back on time. (``asyncio.run`` would wait for them in shutdown_default_executor.)
    """
    loop = asyncio.new_event_loop()
    executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="orca-net")
    loop.set_default_executor(executor)

    async def _bounded() -> T:
        async with asyncio.timeout(seconds):
            return await factory()

    try:
        return loop.run_until_complete(_bounded())
    finally:
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(
                    asyncio.wait(pending, timeout=0.2)  # cancelled tasks unwind at once
                )
            with contextlib.suppress(RuntimeError):
                loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
            loop.close()
