"""The stand-in's HTTP API (DOMAIN.md's ORCA Core API) over the database, read-only, with faults.

Standard library http.server only. Every query is read-only (the transaction is declared
READ ONLY) with bound parameters; filters come from allow-lists; the agents listing pages with
an opaque keyset cursor. Each request served is recorded for request_metrics.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import redis
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from dashboard.core.faults import FaultView
from dashboard.data.kpis import summarize_kpis
from dashboard.domain.enums import AgentStatus, AgentType, Severity, Vendor, values
from dashboard.domain.histogram import BUCKET_BOUNDS_MS
from dashboard.domain.kpi import FRESHNESS_SLO_SECONDS
from dashboard.integrations.orca_core import MAX_PAGE_SIZE, decode_cursor, encode_cursor

log = logging.getLogger(__name__)

VERSION: Final = "1.0.0-standin"
DEFAULT_PAGE_SIZE: Final = 100
MAX_GAPS: Final = 1000
KPI_PERIOD: Final = timedelta(days=30)
#: How long /health hangs at most under health_hang (the fault normally ends it sooner).
MAX_HANG_S: Final = 600.0

MetricKey = tuple[str, str, str]


class RequestRecorder:
    """Requests served since the last drain: count, errors, latency sum and histogram."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[MetricKey, list[float]] = {}

    def record(self, method: str, route: str, status_code: int, latency_ms: float) -> None:
        cls = "5xx" if status_code >= 500 else "4xx" if status_code >= 400 else "2xx"
        bucket = next(
            i for i, bound in enumerate(BUCKET_BOUNDS_MS) if max(0.0, latency_ms) <= bound
        )
        with self._lock:
            row = self._data.setdefault((method, route, cls), [0.0] * (3 + len(BUCKET_BOUNDS_MS)))
            row[0] += 1
            row[1] += 1 if cls == "5xx" else 0
            row[2] += latency_ms
            row[3 + bucket] += 1

    def drain(self) -> dict[MetricKey, list[float]]:
        with self._lock:
            data, self._data = self._data, {}
        return data


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def _one(query: Mapping[str, list[str]], name: str) -> str | None:
    given = query.get(name)
    return given[-1] if given else None


def _allowed(query: Mapping[str, list[str]], name: str, allowed: tuple[str, ...]) -> str | None:
    value = _one(query, name)
    if value is not None and value not in allowed:
        raise ApiError(400, f"invalid {name} {value[:40]!r}; use one of {', '.join(allowed)}")
    return value


# -- queries (read-only) --------------------------------------------------------------------
API_AGENT_SELECT_LIST: Final = (
    "id, external_id, discovery_source, name, type, vendor, model, status, compliance_tier, "
    "owner, discovered_at, last_seen_at, trust_score, metadata"
)
AGENT_FILTER: Final = """(CAST(:status AS text) IS NULL OR status = :status)
      AND (CAST(:type AS text) IS NULL OR type = :type)
      AND (CAST(:vendor AS text) IS NULL OR vendor = :vendor)"""


def query_agents(conn: Connection, query: Mapping[str, list[str]]) -> dict[str, Any]:
    params: dict[str, Any] = {
        "status": _allowed(query, "status", values(AgentStatus)),
        "type": _allowed(query, "type", values(AgentType)),
        "vendor": _allowed(query, "vendor", values(Vendor)),
    }
    raw_limit = _one(query, "limit")
    try:
        limit = DEFAULT_PAGE_SIZE if raw_limit is None else int(raw_limit)
    except ValueError:
        raise ApiError(400, "limit must be a whole number") from None
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ApiError(400, f"limit must be between 1 and {MAX_PAGE_SIZE}")
    after = 0
    cursor = _one(query, "cursor")
    if cursor:
        try:
            after = int(decode_cursor(cursor)["after"])
        except (ValueError, KeyError, TypeError):
            raise ApiError(400, "invalid cursor") from None
    rows = (
        conn.execute(
            text(
                f"SELECT {API_AGENT_SELECT_LIST} FROM agents WHERE {AGENT_FILTER} AND id > :after "  # noqa: S608 - constant SQL pieces
                "ORDER BY id LIMIT :lim"
            ),
            {**params, "after": after, "lim": limit + 1},
        )
        .mappings()
        .all()
    )
    total = conn.execute(
        text(f"SELECT count(*) FROM agents WHERE {AGENT_FILTER}"),  # noqa: S608
        params,
    ).scalar_one()
    page = [dict(r) for r in rows[:limit]]
    more = len(rows) > limit
    return {
        "agents": page,
        "total": int(total),
        "next_cursor": encode_cursor({"after": page[-1]["id"]}) if more and page else None,
    }


def query_trust(conn: Connection, now: datetime) -> dict[str, Any]:
    kpis = summarize_kpis(conn, start=now - KPI_PERIOD, end=now, now=now)
    return {
        "trust_score": None if kpis.trust_score is None else round(kpis.trust_score, 3),
        "risk_avoided_usd": kpis.risk_avoided_usd,
        "sync_freshness_percent": round(kpis.sync_freshness_pct, 3),
        "drift_rate_percent": round(kpis.drift_rate_pct, 3),
        "compliance_sla_percent": round(kpis.compliance_sla_pct, 3),
        "period_start": now - KPI_PERIOD,
        "period_end": now,
        "computed_at": now,
    }


def query_trust_score(conn: Connection, raw_id: str) -> dict[str, Any]:
    try:
        agent_id = int(raw_id)
    except ValueError:
        raise ApiError(400, "agent_id must be a whole number") from None
    if not 0 < agent_id < 2**62:
        raise ApiError(400, "agent_id out of range")
    row = (
        conn.execute(
            text("""SELECT a.id, h.score, h.reliability, h.policy_adherence, h.sync_freshness,
                           h.risk_exposure, h.computed_at
                    FROM agents a LEFT JOIN LATERAL (
                        SELECT * FROM agent_trust_history t WHERE t.agent_id = a.id
                        ORDER BY t.computed_at DESC LIMIT 1) h ON true
                    WHERE a.id = :id"""),
            {"id": agent_id},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise ApiError(404, "no such agent")
    if row["score"] is None:
        raise ApiError(404, "the agent has no trust score yet")
    return {
        "agent_id": agent_id,
        "score": row["score"],
        "reliability": row["reliability"],
        "policy_adherence": row["policy_adherence"],
        "context_freshness": row["sync_freshness"],
        "risk_exposure": row["risk_exposure"],
        "computed_at": row["computed_at"],
    }


GAPS_WHERE: Final = (
    "resolved_at IS NULL AND (CAST(:severity AS text) IS NULL OR severity = :severity)"
)
GAPS_SQL: Final = f"""
    SELECT source, target, gap_type, severity, detected_at, lag_ms FROM sync_gaps
    WHERE {GAPS_WHERE} ORDER BY detected_at DESC, id DESC LIMIT :lim"""  # noqa: S608
GAPS_COUNT_SQL: Final = f"SELECT count(*) FROM sync_gaps WHERE {GAPS_WHERE}"  # noqa: S608


def query_sync_gaps(
    conn: Connection, query: Mapping[str, list[str]], now: datetime
) -> dict[str, Any]:
    severity = _allowed(query, "severity", values(Severity))
    params = {"severity": severity, "lim": MAX_GAPS}
    gaps = conn.execute(text(GAPS_SQL), params).mappings().all()
    count = conn.execute(text(GAPS_COUNT_SQL), {"severity": severity}).scalar_one()
    fresh, total = conn.execute(
        text("""SELECT count(*) FILTER (WHERE last_success_at >= CAST(:now AS timestamptz)
                                              - make_interval(secs => :slo)), count(*)
                FROM data_sources"""),
        {"now": now, "slo": FRESHNESS_SLO_SECONDS},
    ).one()
    drifting, active = conn.execute(
        text("""SELECT count(*) FILTER (WHERE EXISTS (SELECT 1 FROM drift_detections d
                         WHERE d.agent_id = a.id AND d.resolved_at IS NULL)), count(*)
                FROM agents a WHERE a.status = 'active'"""),
    ).one()
    return {
        "gaps": [dict(g) for g in gaps],
        "count": int(count),
        "sync_freshness_percent": 100.0 if not total else round(100.0 * fresh / total, 3),
        "drift_rate_percent": 0.0 if not active else round(100.0 * drifting / active, 3),
    }


# -- the server -----------------------------------------------------------------------------
def route_of(path: str) -> tuple[str, str | None] | None:
    """(route template, path parameter) for a served path, None for anything else."""
    path = path.rstrip("/") or "/"
    if path in ("/health", "/api/v1/agents", "/api/v1/trust", "/api/v1/trust/sync-gaps"):
        return path, None
    prefix = "/api/v1/trust/score/"
    if path.startswith(prefix) and "/" not in path[len(prefix) :] and len(path) > len(prefix):
        return "/api/v1/trust/score/{agent_id}", path[len(prefix) :]
    return None


class CoreApi:
    """Answers requests: faults first, then the read-only query of the route."""

    def __init__(
        self,
        engine: Engine,
        redis_client: redis.Redis,
        faults: FaultView,
        recorder: RequestRecorder,
        *,
        stop_event: threading.Event,
        on_crash: Callable[[str], None],
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.redis = redis_client
        self.faults = faults
        self.recorder = recorder
        self.stop_event = stop_event
        self.on_crash = on_crash
        self.rng = rng or random.Random()  # noqa: S311 - fault sampling, not security

    def _read_only(self) -> Connection:
        conn = self.engine.connect()
        conn.execute(text("SET TRANSACTION READ ONLY"))
        return conn

    def health(self) -> tuple[int, dict[str, Any]]:
        checks: list[dict[str, Any]] = []
        started = time.monotonic()
        try:
            with self._read_only() as conn:
                conn.execute(text("SELECT 1"))
            checks.append(
                {
                    "name": "database",
                    "status": "up",
                    "latency_ms": round((time.monotonic() - started) * 1000, 2),
                }
            )
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200]
            checks.append({"name": "database", "status": "down", "message": reason})
        started = time.monotonic()
        try:
            self.redis.ping()
            checks.append(
                {
                    "name": "redis",
                    "status": "up",
                    "latency_ms": round((time.monotonic() - started) * 1000, 2),
                }
            )
        except redis.RedisError as exc:
            checks.append({"name": "redis", "status": "down", "message": str(exc)[:200]})
        if self.faults.get("health_down") is not None:
            checks.append(
                {"name": "api", "status": "down", "message": "injected fault: health_down"}
            )
        down = {c["name"] for c in checks if c["status"] == "down"}
        status = "healthy" if not down else ("degraded" if down == {"redis"} else "unhealthy")
        body = {
            "status": status,
            "timestamp": datetime.now(UTC),
            "version": VERSION,
            "checks": checks,
        }
        return (200 if status == "healthy" else 503), body

    def dispatch(self, route: str, param: str | None, query: Mapping[str, list[str]]) -> Any:
        now = datetime.now(UTC)
        with self._read_only() as conn:
            if route == "/api/v1/agents":
                return query_agents(conn, query)
            if route == "/api/v1/trust":
                return query_trust(conn, now)
            if route == "/api/v1/trust/sync-gaps":
                return query_sync_gaps(conn, query, now)
            assert param is not None
            return query_trust_score(conn, param)

    def _wait(self, seconds: float, still: Callable[[], bool] | None = None) -> None:
        end = time.monotonic() + seconds
        while not self.stop_event.is_set():
            left = end - time.monotonic()
            if left <= 0 or (still is not None and not still()):
                return
            self.stop_event.wait(min(0.25, left))

    def handle(self, method: str, raw_path: str) -> tuple[int, Any, str | None]:
        """(status, JSON body, route template or None when the path is not an API route)."""
        parts = urlsplit(raw_path)
        found = route_of(parts.path)
        if found is None:
            return 404, {"error": "not found"}, None
        route, param = found
        if method != "GET":
            return 405, {"error": "method not allowed"}, route
        faults = self.faults.active()
        if "crash" in faults:
            self.on_crash("injected fault: crash")
        spike = faults.get("latency_spike")
        if spike is not None and route in spike.params.get("routes", ()):
            self._wait(int(spike.params.get("ms", 0)) / 1000.0)
        if route == "/health" and "health_hang" in faults:
            self._wait(MAX_HANG_S, lambda: self.faults.get("health_hang") is not None)
        errors = faults.get("error_spike")
        if (
            errors is not None
            and route in errors.params.get("routes", ())
            and self.rng.random() < float(errors.params.get("rate", 0))
        ):
            return 500, {"error": "internal error (injected fault: error_spike)"}, route
        if route == "/health":
            code, body = self.health()
            return code, body, route
        query = parse_qs(parts.query, keep_blank_values=False, max_num_fields=20)
        try:
            return 200, self.dispatch(route, param, query), route
        except ApiError as exc:
            return exc.status, {"error": exc.message}, route
        except SQLAlchemyError as exc:
            log.warning("stand-in query failed: %s", type(exc).__name__)
            return 503, {"error": "database unavailable"}, route


class _Handler(BaseHTTPRequestHandler):
    server: CoreHTTPServer
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections give their thread back
    server_version = "orca-core-standin"

    def _serve(self, method: str) -> None:
        started = time.monotonic()
        if method != "GET":
            self.close_connection = True  # an unread request body must not reach the next one
        try:
            code, body, route = self.server.api.handle(method, self.path)
        except Exception:  # the stand-in answers 500 rather than dropping the connection
            log.exception("stand-in request failed")
            code, body, route = 500, {"error": "internal error"}, None
        payload = json.dumps(body, default=_json_default).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client went away (a probe that gave up)
            self.close_connection = True
        if route is not None:
            self.server.api.recorder.record(
                method, route, code, (time.monotonic() - started) * 1000.0
            )

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class CoreHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer carrying the API object its handlers call."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], api: CoreApi) -> None:
        self.api = api
        super().__init__(address, _Handler)
