"""Read-only step kinds: HTTP, SQL, Redis and TCP checks (a dry run lists them, runs nothing).

Each check has a short timeout; a check that cannot reach its peer fails with the reason,
it never raises into the engine.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
import redis
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from dashboard.runbooks.steps import StepContext, StepOutcome, step_kind

HTTP_TIMEOUT_S = 3.0
MAX_BODY = 400


def _client() -> httpx.Client:
    return httpx.Client(
        timeout=httpx.Timeout(HTTP_TIMEOUT_S, connect=1.5),
        trust_env=False,
        follow_redirects=False,
    )


def http_get(url: str) -> tuple[int | None, str, float]:
    """(status or None, body or error, milliseconds)."""
    start = time.monotonic()
    try:
        with _client() as client:
            answer = client.get(url)
        return answer.status_code, answer.text[:MAX_BODY], (time.monotonic() - start) * 1000
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:MAX_BODY], (time.monotonic() - start) * 1000


def _describe_http(ctx: StepContext, args: dict[str, Any]) -> str:
    wait = f", waiting up to {args['wait_s']} s" if args.get("wait_s") else ""
    return f"GET {args['url']} and expect HTTP {args.get('expect_status', 200)}{wait}"


@step_kind(
    "http.check",
    acts=False,
    required=("url",),
    optional=("expect_status", "wait_s"),
    describe=_describe_http,
)
def http_check(ctx: StepContext, args: dict[str, Any]) -> StepOutcome:
    """GET ``url``; passes on ``expect_status``. With ``wait_s``, retries until then."""
    expect = int(args.get("expect_status", 200))
    until = time.monotonic() + float(args.get("wait_s", 0))
    attempts = 0
    while True:
        attempts += 1
        status, body, ms = http_get(args["url"])
        line = (
            f"GET {args['url']} -> {status if status is not None else 'no answer'} in {ms:.0f} ms"
        )
        if status == expect or time.monotonic() >= min(until, ctx.deadline):
            break
        ctx.progress(f"{line} (attempt {attempts}, waiting)")
        time.sleep(0.5)
    ok = status == expect
    return StepOutcome(
        ok,
        f"{line}\n{body}" if body else line,
        {"status": status, "latency_ms": round(ms, 1), "attempts": attempts, "healthy": ok},
    )


def _describe_sql(ctx: StepContext, args: dict[str, Any]) -> str:
    return f"read-only SQL on the console database: {args['query']}"


#: Read-only queries a spec may name (never SQL text from a file: a typo cannot write).
SQL_QUERIES: dict[str, str] = {
    "select_1": "SELECT 1 AS ok",
    "connections_by_state": (
        "SELECT coalesce(state, 'unknown') AS state, count(*) AS connections "
        "FROM pg_stat_activity WHERE datname = current_database() "
        "GROUP BY 1 ORDER BY 2 DESC"
    ),
    "idle_in_transaction": (
        "SELECT count(*) AS connections FROM pg_stat_activity "
        "WHERE datname = current_database() AND usename = current_user "
        "AND state IN ('idle in transaction', 'idle in transaction (aborted)') "
        "AND now() - state_change > make_interval(secs => :older_than_s)"
    ),
}


@step_kind(
    "sql.check",
    acts=False,
    required=("query",),
    optional=("older_than_s", "expect_zero"),
    describe=_describe_sql,
)
def sql_check(ctx: StepContext, args: dict[str, Any]) -> StepOutcome:
    """Run one of :data:`SQL_QUERIES` read-only; ``expect_zero`` passes when the first column
    of the first row is 0."""
    name = args["query"]
    if name not in SQL_QUERIES:
        return StepOutcome(False, f"unknown query {name!r}")
    start = time.monotonic()
    try:
        with ctx.engine.connect() as conn:
            conn.execute(text("SET TRANSACTION READ ONLY"))
            bind = (
                {"older_than_s": float(args.get("older_than_s", 0))}
                if ":" in SQL_QUERIES[name]
                else {}
            )
            rows = [dict(r._mapping) for r in conn.execute(text(SQL_QUERIES[name]), bind)]
            conn.rollback()
    except SQLAlchemyError as exc:
        return StepOutcome(
            False, f"PostgreSQL did not answer: {type(getattr(exc, 'orig', None) or exc).__name__}"
        )
    ms = (time.monotonic() - start) * 1000
    shown = "\n".join(", ".join(f"{k}={v}" for k, v in r.items()) for r in rows) or "(no rows)"
    ok = True
    if args.get("expect_zero"):
        first = next(iter(rows[0].values())) if rows else 0
        ok = first == 0
    return StepOutcome(ok, f"{shown}\n({ms:.0f} ms)", {"rows": rows, "latency_ms": round(ms, 1)})


@step_kind(
    "redis.check",
    acts=False,
    optional=("list_key",),
    describe=lambda ctx, args: (
        "PING Redis"
        + (f" and read the list orca:{args['list_key']}" if args.get("list_key") else "")
    ),
)
def redis_check(ctx: StepContext, args: dict[str, Any]) -> StepOutcome:
    start = time.monotonic()
    try:
        ctx.redis.ping()
        items: list[Any] = []
        if args.get("list_key"):
            raw = cast(list[bytes], ctx.redis.lrange(f"orca:{args['list_key']}", 0, 19))
            items = [json.loads(x) if x[:1] in (b"{", b"[") else x.decode() for x in raw]
    except redis.RedisError as exc:
        return StepOutcome(False, f"Redis did not answer: {type(exc).__name__}")
    ms = (time.monotonic() - start) * 1000
    lines = [f"PONG in {ms:.0f} ms"] + [json.dumps(i, default=str)[:200] for i in items]
    return StepOutcome(True, "\n".join(lines), {"items": items, "latency_ms": round(ms, 1)})


def _host_port(address: str) -> tuple[str, int]:
    if "://" in address:
        parts = urlsplit(address)
        default = 443 if parts.scheme == "https" else 80
        return parts.hostname or "127.0.0.1", parts.port or default
    host, _, port = address.rpartition(":")
    return host or "127.0.0.1", int(port)


@step_kind(
    "tcp.check",
    acts=False,
    required=("address",),
    optional=("expect_open",),
    describe=lambda ctx, args: f"open a TCP connection to {args['address']}",
)
def tcp_check(ctx: StepContext, args: dict[str, Any]) -> StepOutcome:
    """Connect to ``host:port`` (or a URL's host and port) within 2 s."""
    try:
        host, port = _host_port(str(args["address"]))
    except ValueError:
        return StepOutcome(False, f"cannot read the address {args['address']!r}")
    expect_open = bool(args.get("expect_open", True))
    start = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=2):
            is_open, why = True, "connected"
    except OSError as exc:
        is_open, why = False, exc.strerror or type(exc).__name__
    ms = (time.monotonic() - start) * 1000
    return StepOutcome(
        is_open == expect_open,
        f"TCP {host}:{port}: {why} ({ms:.0f} ms)",
        {"open": is_open, "latency_ms": round(ms, 1)},
    )
