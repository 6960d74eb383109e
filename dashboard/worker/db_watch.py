"""Database Unreachable while PostgreSQL is down or hung: evaluated and paged from Redis.

Everything the normal alert cycle needs (leader lock, rule state, outbox) lives in
PostgreSQL, so that cycle cannot page about PostgreSQL itself. This watch runs in its own
thread of every worker replica and needs only Redis:

- Exactly one replica watches at a time: a Redis lease (``SET NX PX``) whose value carries a
  fencing token (``INCR``); every state write is a compare-and-set on the lease (Lua), so a
  replica that lost its lease (paused, partitioned) can no longer change anything.
- While PostgreSQL answers, the holder keeps :func:`routes_snapshot` in Redis: the contact
  points (secrets still sealed) and who is on call.
- When the bounded probe (fresh connection + ``SELECT 1``, at most ~4.7 s even against a
  hung server) fails for the rule's for-duration, the alert fires: the state goes to Redis,
  then each P1 on-call contact point is sent the page directly (the same senders, bounded
  by the send deadline). Each send is claimed in the state first (compare-and-set), so two
  replicas never send it twice; a failed send is retried with the usual back-off.
- When PostgreSQL answers again, the holder writes the outage there (``record_outage``: the
  transitions, the page in the delivery log, the P1 incident, the resolution for the
  delivery job to send) in one idempotent transaction, then clears the Redis state.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from dashboard import telemetry
from dashboard.data import alerts as alerts_store
from dashboard.data import db_watch_store
from dashboard.domain.alerting import AlertRule, alert_key
from dashboard.domain.notify_rules import backoff_s, target_audiences
from dashboard.integrations import secret_box
from dashboard.integrations.notify_senders import Outgoing, SendResult, Timeouts, send
from dashboard.integrations.probes import postgres_probe, run_probe_cycle
from dashboard.integrations.redis_client import key
from dashboard.settings import Settings, get_settings

log = logging.getLogger(__name__)

RULE_ID = "database_unreachable"
LEASE = key("dbwatch", "lease")
FENCE = key("dbwatch", "fence")
STATE = key("dbwatch", "state")
ROUTES = key("dbwatch", "routes")
ROUTES_EVERY = timedelta(seconds=60)
PROBE_DEADLINE_S = 4.0

# Renew the lease if it is still ours; 1 = renewed.
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
# Write (or with ARGV[2] == "" delete) KEYS[2] only while the lease KEYS[1] is ours.
_FENCED_SET = (
    "if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end "
    "if ARGV[2] == '' then redis.call('del', KEYS[2]) else redis.call('set', KEYS[2], ARGV[2]) end "
    "return 1"
)

Clock = Callable[[], datetime]


def _wall() -> datetime:
    return datetime.now(UTC)


@dataclass
class WatchResult:
    holder: bool = False
    database: str = "unknown"  # up / down / unknown (not the holder: not probed)
    state: str = "ok"  # ok / pending / firing
    sent: int = 0
    failed: int = 0
    recorded: bool = False
    problems: list[str] = field(default_factory=list)


def _probe_database(url: str) -> tuple[bool, str]:
    (result,) = run_probe_cycle(
        [postgres_probe(url, connect_timeout_s=2.0)], deadline_s=PROBE_DEADLINE_S
    )
    return result.status != "down", result.message


class DbWatch:
    """One replica's watcher; call :meth:`tick` every alert interval (or run :meth:`start`)."""

    def __init__(
        self,
        client: redis.Redis,
        engine: Engine,
        rule: AlertRule,
        *,
        database_url: str,
        settings: Settings | None = None,
        clock: Clock = _wall,
        probe: Callable[[str], tuple[bool, str]] = _probe_database,
        owner: str | None = None,
    ) -> None:
        self.client = client
        self.engine = engine
        self.rule = rule
        self.database_url = database_url
        self.settings = settings or get_settings()
        self.clock = clock
        self.probe = probe
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.lease: str | None = None
        self._stop = threading.Event()
        self._renew = client.register_script(_RENEW)
        self._fenced = client.register_script(_FENCED_SET)

    # -- lease ------------------------------------------------------------------------------
    def _ttl_ms(self) -> int:
        # Longer than a tick plus a probe plus a send, so a busy holder keeps it.
        tick = self.settings.alert_interval_s
        return int((2 * tick + PROBE_DEADLINE_S + self.settings.notify_send_deadline_s) * 1000)

    def hold_lease(self) -> bool:
        if self.lease is not None and self._renew(keys=[LEASE], args=[self.lease, self._ttl_ms()]):
            return True
        token = int(self.client.incr(FENCE))  # type: ignore[arg-type]
        value = f"{token}:{self.owner}"
        if self.client.set(LEASE, value, nx=True, px=self._ttl_ms()):
            self.lease = value
            return True
        self.lease = None
        return False

    def _write(self, name: str, value: dict[str, Any] | None) -> bool:
        """Fenced write of ``name`` (None deletes it); False once the lease is not ours."""
        payload = "" if value is None else json.dumps(value, default=str)
        return bool(self._fenced(keys=[LEASE, name], args=[self.lease or "", payload]))

    def read_state(self) -> dict[str, Any] | None:
        raw = self.client.get(STATE)
        return json.loads(raw) if raw else None  # type: ignore[arg-type]

    # -- one tick ---------------------------------------------------------------------------
    def tick(self) -> WatchResult:
        result = WatchResult()
        try:
            if not self.hold_lease():
                return result
        except redis.RedisError as exc:
            result.problems.append(f"Redis: {type(exc).__name__}")
            return result
        result.holder = True
        now = self.clock()
        with telemetry.span("alerts.db_watch") as current:
            up, message = self.probe(self.database_url)
            result.database = "up" if up else "down"
            state = self.read_state()
            if up:
                if state is not None:
                    self._recovered(state, now, result)
                else:
                    self._cache_routes(now, result)
            else:
                log.warning("PostgreSQL probe failed: %s", message)
                self._down(state, now, result)
            current.set_attribute("orca.db_watch.database", result.database)
            current.set_attribute("orca.db_watch.state", result.state)
            current.set_attribute("orca.db_watch.sent", result.sent)
            current.set_attribute("orca.db_watch.recorded", result.recorded)
        return result

    def _cache_routes(self, now: datetime, result: WatchResult) -> None:
        cached = self.client.get(ROUTES)
        if cached:
            at = datetime.fromisoformat(json.loads(cached)["at"])  # type: ignore[arg-type]
            if now - at < ROUTES_EVERY:
                return
        try:
            with self.engine.connect() as conn:
                snapshot = db_watch_store.routes_snapshot(conn, at=now, rule_id=self.rule.id)
        except SQLAlchemyError as exc:
            result.problems.append(f"routes not cached: {type(exc).__name__}")
            return
        self._write(ROUTES, snapshot)

    def _down(self, state: dict[str, Any] | None, now: datetime, result: WatchResult) -> None:
        if state is None:
            state = {"state": "pending", "since": now.isoformat(), "sends": {}}
        since = datetime.fromisoformat(state["since"])
        if state["state"] == "pending" and (now - since).total_seconds() >= self.rule.for_s:
            state.update(
                state="firing",
                fired_at=now.isoformat(),
                alert_key=alert_key(self.rule.id, "", since),
            )
            log.error("Database Unreachable fired (PostgreSQL down since %s)", since.isoformat())
        result.state = state["state"]
        if not self._write(STATE, state):
            result.holder = False
            return
        if state["state"] == "firing":
            self._show(state)
            self._page(state, now, result)

    def _show(self, state: dict[str, Any] | None) -> None:
        """The alert in the pages' live snapshot (None: take it out again)."""
        alert = None
        if state is not None:
            rule = self.rule
            since = datetime.fromisoformat(state["since"])
            until = self._silenced(since)
            alert = alerts_store.ActiveAlert(
                alert_key=str(state["alert_key"]),
                rule_id=rule.id,
                labels="",
                name=rule.name,
                severity=rule.severity,
                state="firing",
                since=since,
                started_at=since,
                value=1.0,
                threshold=rule.threshold,
                metric=rule.metric,
                runbook=rule.runbook,
                panel=rule.panel,
                summary=rule.summary,
                drivers=None,
                silenced_by="(cached)" if until else None,
                silenced_until=datetime.fromisoformat(until) if until else None,
            )
        alerts_store.overlay_snapshot(self.client, self.rule.id, alert)

    def _routes(self) -> dict[str, Any]:
        raw = self.client.get(ROUTES)
        return json.loads(raw) if raw else {"points": []}  # type: ignore[arg-type]

    def _silenced(self, at: datetime) -> str | None:
        """Until when the rule is silenced at ``at`` (as cached while PostgreSQL was up)."""
        until = self._routes().get("silenced_until")
        return str(until) if until and datetime.fromisoformat(until) > at else None

    def _page(self, state: dict[str, Any], now: datetime, result: WatchResult) -> None:
        routes = self._routes()
        until = self._silenced(now)
        if until is not None:
            result.problems.append(f"silenced until {until}: not paged")
            return
        wanted = target_audiences(self.rule.severity, "oncall")
        points = [p for p in routes.get("points", []) if wanted & set(p["audiences"])]
        if not points:
            result.problems.append("no cached contact point for P1 on-call pages")
        subject, body = self.message(state)
        s = self.settings
        for point in points:
            sends: dict[str, Any] = state["sends"]
            done = sends.get(str(point["id"]), {"attempts": 0, "status": "pending"})
            next_at = datetime.fromisoformat(done.get("next_at") or now.isoformat())
            if done["status"] != "pending" or next_at > now:
                continue
            # Claim the attempt before sending: a replica that took the lease meanwhile sees
            # it (and a stale holder's claim fails), so the page is never sent twice.
            done = {**done, "status": "sending", "attempts": done["attempts"] + 1}
            sends[str(point["id"])] = done
            if not self._write(STATE, state):
                result.holder = False
                return
            sent = self._send(point, routes, subject, body, state)
            retry = not sent.ok and sent.retryable and done["attempts"] < s.notify_max_attempts
            wait = backoff_s(
                done["attempts"], base_s=s.notify_backoff_base_s, cap_s=s.notify_backoff_cap_s
            )
            sends[str(point["id"])] = {
                **done,
                "status": "sent" if sent.ok else ("pending" if retry else "failed"),
                "next_at": (now + timedelta(seconds=wait)).isoformat(),
                "at": now.isoformat(),
                "ok": sent.ok,
                "status_code": sent.status_code,
                "error": sent.error,
                "duration_ms": sent.duration_ms,
            }
            result.sent += int(sent.ok)
            result.failed += int(not sent.ok)
            if not self._write(STATE, state):
                result.holder = False
                return

    def message(self, state: dict[str, Any]) -> tuple[str, str]:
        rule = self.rule
        subject = f"[{rule.severity}] FIRING: {rule.name}"
        body = (
            f"{rule.summary}\nPostgreSQL has not answered since {state['since']} "
            f"(sent directly by the worker; the console's history is written once it is "
            f"back).\nRunbook: {rule.runbook}\nPanel: {rule.panel}\nAlert: {state['alert_key']}"
        )
        return subject, body

    def _send(
        self,
        point: dict[str, Any],
        routes: dict[str, Any],
        subject: str,
        body: str,
        state: dict[str, Any],
    ) -> SendResult:
        s = self.settings
        try:
            secret = secret_box.decrypt(str(point.get("secret") or ""), s)
        except secret_box.SecretKeyError as exc:
            return SendResult(False, None, str(exc), 0.0, retryable=False)
        out = Outgoing(
            kind=str(point["kind"]),
            config=dict(point.get("config") or {}),
            secret=secret,
            subject=subject,
            body=body,
            severity=self.rule.severity,
            group_key=self.rule.id,
            link="/alerts",
            recipient=routes.get("oncall"),
            recipient_email=routes.get("oncall_email"),
            created_at=datetime.fromisoformat(state["fired_at"]),
            alerts=((state["alert_key"], "trigger", subject),),
        )
        timeouts = Timeouts(
            connect_s=s.notify_connect_timeout_s,
            read_s=s.notify_read_timeout_s,
            deadline_s=s.notify_send_deadline_s,
        )
        attributes: dict[str, str | int | float | bool] = {
            "orca.notify.kind": out.kind,
            "orca.notify.severity": out.severity,
            "orca.notify.event": "trigger",
            "orca.notify.direct": True,
        }
        with telemetry.span("notify.deliver", **attributes) as current:
            sent = send(out, timeouts)
            current.set_attribute("orca.notify.outcome", "sent" if sent.ok else "failed")
            current.set_attribute("orca.notify.status_code", sent.status_code or 0)
        return sent

    def _recovered(self, state: dict[str, Any], now: datetime, result: WatchResult) -> None:
        """PostgreSQL is back: write the outage there, then forget it in Redis."""
        if state["state"] == "firing":
            subject, body = self.message(state)
            deliveries = [
                db_watch_store.DirectDelivery(
                    contact_point_id=int(cp_id),
                    ok=bool(d.get("ok")),
                    status_code=d.get("status_code"),
                    error=d.get("error") or ("not sent" if d["status"] == "sending" else None),
                    duration_ms=float(d.get("duration_ms") or 0.0),
                    at=datetime.fromisoformat(d.get("at") or state["fired_at"]),
                    attempts=int(d.get("attempts") or 1),
                )
                for cp_id, d in state["sends"].items()
            ]
            try:
                with self.engine.begin() as conn:
                    result.recorded = db_watch_store.record_outage(
                        conn,
                        rule=self.rule,
                        alert_key=str(state["alert_key"]),
                        fired_at=datetime.fromisoformat(state["fired_at"]),
                        resolved_at=now,
                        subject=subject,
                        body=body,
                        recipient=self._routes().get("oncall"),
                        deliveries=deliveries,
                        silenced=self._silenced(datetime.fromisoformat(state["fired_at"]))
                        is not None,
                    )
            except SQLAlchemyError as exc:
                result.problems.append(f"outage not recorded yet: {type(exc).__name__}")
                result.state = "firing"
                return  # kept in Redis: the next tick tries again
            log.info("Database Unreachable resolved; the outage is recorded in PostgreSQL")
            self._show(None)
        self._write(STATE, None)
        result.state = "ok"

    # -- thread -----------------------------------------------------------------------------
    def start(self) -> threading.Thread:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.tick()
                except Exception as exc:  # the watch must outlive any one failure
                    log.warning("db watch tick failed: %s", type(exc).__name__)
                self._stop.wait(self.settings.alert_interval_s)

        thread = threading.Thread(target=loop, name="db-watch", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
