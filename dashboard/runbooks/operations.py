"""Step kinds that act through the executor (``exec.*``) or on the console's own database.

Every acting kind has a ``describe`` that names exactly what will run: the executor's
argument list (or control request) for ``exec.*``, the SQL and its filters for the database.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

import redis
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from dashboard.runbooks.checks import http_get
from dashboard.runbooks.executors import ExecutorError
from dashboard.runbooks.steps import StepContext, StepOutcome, step_kind

_EXEC_ARGS = ("service", "version", "env_name", "value")


def _exec_kw(args: dict[str, Any]) -> dict[str, str]:
    return {k: str(args[k]) for k in ("version", "env_name", "value") if args.get(k) is not None}


def _describe_exec(op: str):  # type: ignore[no-untyped-def]
    def describe(ctx: StepContext, args: dict[str, Any]) -> str:
        kw = _exec_kw(args)
        if op == "rollback" and "version" not in kw and ctx.facts.get("previous_version"):
            kw["version"] = str(ctx.facts["previous_version"])
        try:
            cmd = ctx.executor.command(op, str(args["service"]), **kw)
        except ExecutorError as exc:
            return f"cannot {op}: {exc}"
        shown = " ".join(repr(a) if " " in a else a for a in cmd.argv) if cmd.argv else cmd.display
        return f"[{ctx.executor.name}] {shown}"

    return describe


def _exec(op: str, *, acts: bool) -> None:
    def run(ctx: StepContext, args: dict[str, Any]) -> StepOutcome:
        kw = _exec_kw(args)
        if op == "rollback" and "version" not in kw and ctx.facts.get("previous_version"):
            kw["version"] = str(ctx.facts["previous_version"])
        try:
            result = ctx.executor.run(op, str(args["service"]), **kw)
        except ExecutorError as exc:
            return StepOutcome(False, str(exc))
        ok = result.ok
        expect = args.get("expect")
        if ok and expect:
            words = {"stopped": ("stopped", "inactive", "exited"), "running": ("running", "active")}
            ok = any(w in result.output for w in words.get(str(expect), (str(expect),)))
        shown = " ".join(result.command.argv) or result.command.display
        if op == "deployments" and ctx.executor.name == "process":
            # "<at> <kind> <version> [(from x)]" lines, oldest first: remember the previous one
            versions = [
                p[2] for p in (ln.split() for ln in result.output.splitlines()) if len(p) >= 3
            ]
            if versions:
                ctx.facts["current_version"] = versions[-1]
                earlier = [v for v in versions if v != versions[-1]]
                ctx.facts["previous_version"] = earlier[-1] if earlier else None
        return StepOutcome(
            ok,
            f"$ {shown}\n{result.output}".rstrip(),
            {"argv": list(result.command.argv), "exit_code": result.exit_code, "ok": result.ok},
        )

    step_kind(
        f"exec.{op}",
        acts=acts,
        required=("service",),
        optional=("version", "env_name", "value", "expect"),
        describe=_describe_exec(op),
    )(run)


for _op, _acts in (
    ("stop", True),
    ("start", True),
    ("restart", True),
    ("rollback", True),
    ("set_env", True),
    ("status", False),
    ("logs", False),
    ("deployments", False),
):
    _exec(_op, acts=_acts)


# -- the console's own database -----------------------------------------------------------
_IDLE_TX = (
    "SELECT pid, usename, application_name, state, "
    "round(extract(epoch FROM now() - state_change)) AS idle_s, "
    "pg_terminate_backend(pid) AS ended "
    "FROM pg_stat_activity "
    "WHERE datname = current_database() AND usename = current_user "
    "AND pid <> pg_backend_pid() "
    "AND state IN ('idle in transaction', 'idle in transaction (aborted)') "
    "AND now() - state_change > make_interval(secs => :older_than_s)"
)


@step_kind(
    "db.end_idle_in_transaction",
    acts=True,
    required=("older_than_s",),
    describe=lambda ctx, args: (
        "end (pg_terminate_backend) the sessions of this database and role that have been idle "
        f"in a transaction for more than {args['older_than_s']} s; no other database or role"
    ),
)
def end_idle_in_transaction(ctx: StepContext, args: dict[str, Any]) -> StepOutcome:
    try:
        with ctx.engine.begin() as conn:
            rows = [
                dict(r._mapping)
                for r in conn.execute(text(_IDLE_TX), {"older_than_s": float(args["older_than_s"])})
            ]
    except SQLAlchemyError as exc:
        return StepOutcome(
            False, f"PostgreSQL refused: {type(getattr(exc, 'orig', None) or exc).__name__}"
        )
    ended = sum(1 for r in rows if r["ended"])
    lines = [
        f"pid {r['pid']} ({r['application_name'] or 'no name'}), idle {r['idle_s']} s: "
        + ("ended" if r["ended"] else "NOT ended")
        for r in rows
    ]
    return StepOutcome(
        ended == len(rows),
        "\n".join([f"ended {ended} of {len(rows)} sessions", *lines]),
        {"ended": ended, "found": len(rows)},
    )


@step_kind(
    "db.pool",
    acts=False,
    describe=lambda ctx, args: "show the console's connection pool (checked out, idle, overflow)",
)
def db_pool(ctx: StepContext, args: dict[str, Any]) -> StepOutcome:
    pool = ctx.engine.pool
    status = pool.status()
    return StepOutcome(True, f"pool: {status}", {"pool": status})


@step_kind(
    "db.credentials",
    acts=False,
    describe=lambda ctx, args: "check that database credentials are configured (never shown)",
)
def db_credentials(ctx: StepContext, args: dict[str, Any]) -> StepOutcome:
    """Says whether a user and a password are configured; the values never leave this step."""
    url = ctx.settings.database_url or ""
    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://", 1))
    has_user = bool(parts.username)
    has_password = bool(parts.password)
    local_socket = not parts.hostname or parts.hostname.startswith("/") or "host=%2F" in url
    ok = has_user and (
        has_password or local_socket or bool(parts.hostname in ("127.0.0.1", "localhost"))
    )
    lines = [
        f"database URL configured: {'yes' if url else 'no'}",
        f"user configured: {'yes' if has_user else 'no'}",
        f"password configured: {'yes (not shown)' if has_password else 'no'}",
    ]
    if not has_password:
        lines.append("no password: the server must trust local connections (embedded mode)")
    return StepOutcome(
        bool(url) and ok,
        "\n".join(lines),
        {"url_set": bool(url), "user_set": has_user, "password_set": has_password},
    )


# -- error rate, sampled from the service itself --------------------------------------------
def _sample(base: str, routes: list[str], per_route: int) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for route in routes:
        counts: dict[str, int] = {}
        for _ in range(per_route):
            status, _body, _ms = http_get(base.rstrip("/") + route)
            label = str(status) if status is not None else "no answer"
            counts[label] = counts.get(label, 0) + 1
        out[route] = counts
    return out


def _rate(sample: dict[str, dict[str, int]]) -> float:
    total = sum(sum(c.values()) for c in sample.values())
    bad = sum(n for c in sample.values() for k, n in c.items() if not k.startswith(("2", "3", "4")))
    return bad / total if total else 1.0


def _sample_lines(sample: dict[str, dict[str, int]]) -> list[str]:
    lines = []
    for route, counts in sample.items():
        failing = {k: n for k, n in counts.items() if not k.startswith(("2", "3", "4"))}
        total = sum(counts.values())
        mark = "FAILING" if failing else "ok"
        shown = ", ".join(f"HTTP {k}: {n}" for k, n in sorted(counts.items()))
        lines.append(f"{route}: {mark} ({shown} of {total})")
    return lines


@step_kind(
    "http.error_rate",
    acts=False,
    required=("base_url", "routes"),
    optional=("per_route", "threshold", "watch_s"),
    describe=lambda ctx, args: (
        f"send {args.get('per_route', 10)} GETs to each of {len(args['routes'])} endpoints of "
        f"{args['base_url']} and count errors"
        + (
            f"; repeat until the error rate is under {float(args.get('threshold', 0.05)):.0%} "
            f"or {args['watch_s']} s have passed"
            if args.get("watch_s")
            else ""
        )
    ),
)
def error_rate(ctx: StepContext, args: dict[str, Any]) -> StepOutcome:
    """Failing endpoints and error types from a fresh sample; with ``watch_s``, watches until
    the rate is under ``threshold`` (passes) or the time is up (fails)."""
    routes = [str(r) for r in args["routes"]]
    per_route = int(args.get("per_route", 10))
    threshold = float(args.get("threshold", 0.05))
    until = time.monotonic() + float(args.get("watch_s", 0))
    rounds = 0
    while True:
        rounds += 1
        sample = _sample(str(args["base_url"]), routes, per_route)
        rate = _rate(sample)
        summary = f"error rate {rate:.0%} (threshold {threshold:.0%}), round {rounds}"
        if (
            not args.get("watch_s")
            or rate < threshold
            or time.monotonic() >= min(until, ctx.deadline)
        ):
            break
        ctx.progress(summary + "\n" + "\n".join(_sample_lines(sample)))
        time.sleep(1.0)
    ok = rate < threshold if args.get("watch_s") else True
    return StepOutcome(
        ok,
        "\n".join([summary, *_sample_lines(sample)]),
        {"error_rate": round(rate, 4), "threshold": threshold, "sample": sample, "rounds": rounds},
    )


@step_kind(
    "setting.show",
    acts=False,
    required=("names",),
    describe=lambda ctx, args: "show the settings " + ", ".join(args["names"]),
)
def setting_show(ctx: StepContext, args: dict[str, Any]) -> StepOutcome:
    """Non-secret settings by name (anything named like a secret is refused)."""
    lines = []
    for name in args["names"]:
        if any(w in name for w in ("password", "secret", "key", "token", "database_url")):
            return StepOutcome(False, f"{name} is secret and is never shown")
        lines.append(f"{name} = {getattr(ctx.settings, str(name), '(not a setting)')}")
    return StepOutcome(True, "\n".join(lines), {"names": list(args["names"])})


# -- telemetry --------------------------------------------------------------------------------
def _export_errors(ctx: StepContext) -> list[dict[str, Any]]:
    raw = cast(list[bytes], ctx.redis.lrange("orca:telemetry:export_errors", 0, 49))
    out = []
    for item in raw:
        try:
            entry = json.loads(item)
            entry["at_dt"] = datetime.fromisoformat(entry["at"])
            out.append(entry)
        except (ValueError, KeyError, TypeError):
            continue
    return out


@step_kind(
    "telemetry.export_errors",
    acts=False,
    optional=("within_s", "wait_s"),
    describe=lambda ctx, args: (
        (f"wait {args['wait_s']} s, then " if args.get("wait_s") else "")
        + f"read the telemetry export errors of the last {args.get('within_s', 60)} s "
        "(orca:telemetry:export_errors); passes when there are none"
    ),
)
def export_errors(ctx: StepContext, args: dict[str, Any]) -> StepOutcome:
    wait_s = float(args.get("wait_s", 0))
    window = float(args.get("within_s", 60))
    if wait_s:
        time.sleep(min(wait_s, max(0.0, ctx.deadline - time.monotonic())))
    since = datetime.now(UTC) - timedelta(seconds=min(window, wait_s) if wait_s else window)
    try:
        recent = [e for e in _export_errors(ctx) if e["at_dt"] >= since]
    except redis.RedisError as exc:
        return StepOutcome(False, f"Redis did not answer: {type(exc).__name__}")
    lines = [f"{len(recent)} export errors since {since.strftime('%H:%M:%S')} UTC"]
    lines += [f"{e['at'][11:19]} {e.get('service')}: {e.get('error')}" for e in recent[:10]]
    return StepOutcome(not recent, "\n".join(lines), {"errors": len(recent)})
