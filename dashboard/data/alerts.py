"""Alert state, history and silences: PostgreSQL keeps them, Redis carries the live snapshot.

Read interface for other features (header strip, notifications, incidents):

- ``list_active(client, conn=None) -> ActiveRead``: every pending / firing / no-data alert,
  worst first, from the Redis snapshot the worker writes each cycle (``conn``: fallback to
  PostgreSQL when Redis has none).
- ``list_firing(client, conn=None) -> list[ActiveAlert]``: the firing ones only.
- ``count_firing_by_severity(client, conn=None) -> dict[str, int]``: {"P1", "P2", "warning"}
  counts of firing, unsilenced alerts.
- ``alert_key``: ``<rule_id>[<labels>]@<start, UTC %Y%m%dT%H%M%SZ>`` names one alert instance
  (dashboard.domain.alerting.alert_key); every history row carries it.
- ``alert_history`` table: every transition / acknowledgement / silence / escalation, for good.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pandas as pd
import redis
from sqlalchemy import Connection, text

from dashboard.data.cache import register
from dashboard.data.keyset import Field, decode_cursor, encode_cursor
from dashboard.data.sql import frame
from dashboard.domain.alerting import (
    ACTIVE_STATES,
    AlertRule,
    SeriesState,
    State,
    worst_first_key,
)
from dashboard.integrations.redis_client import key

STATES_KEY = key("alerts", "states")
#: The snapshot expires when no worker renews it, so a dead evaluator shows as "no live state".
SNAPSHOT_TTL_S = 600
#: Points kept per series for the page's sparkline (30 minutes at the default 15 s).
RECENT_POINTS = 120
HISTORY_LIMIT = 500
HISTORY_PAGE = 100
HISTORY_SCOPE = "alert_history"
HISTORY_KINDS = ("transition", "acknowledged", "silenced", "unsilenced", "escalated")


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    assert isinstance(value, datetime)
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


# --- the evaluator's persisted state -------------------------------------------------------


@dataclass(frozen=True)
class StoredState:
    """One row of alert_states: the evaluator's memory plus acknowledgement and escalation."""

    series: SeriesState
    severity: str
    threshold: float
    recent: tuple[tuple[str, float | None], ...] = ()
    acked_key: str | None = None
    acked_by: str | None = None
    acked_at: datetime | None = None
    ack_note: str | None = None
    escalated_key: str | None = None
    escalation_level: int = 0
    version: int = 1

    @property
    def alert_key(self) -> str | None:
        return self.series.alert_key

    @property
    def acked(self) -> bool:
        return self.acked_key is not None and self.acked_key == self.alert_key

    @property
    def escalations_done(self) -> int:
        return self.escalation_level if self.escalated_key == self.alert_key else 0


_STATE_COLS = (
    "rule_id, labels, state, severity, since, started_at, fired_at, value, threshold, "
    "evaluated_at, recent, acked_key, acked_by, acked_at, ack_note, escalated_key, "
    "escalation_level, version"
)


def _stored(row: Any) -> StoredState:
    recent = row.recent if isinstance(row.recent, list) else []
    return StoredState(
        series=SeriesState(
            rule_id=row.rule_id,
            labels=row.labels,
            state=cast(State, row.state),
            since=_utc(row.since),
            started_at=_utc(row.started_at),
            fired_at=_utc(row.fired_at),
            value=row.value,
            evaluated_at=_utc(row.evaluated_at),
        ),
        severity=row.severity,
        threshold=float(row.threshold),
        recent=tuple((str(p[0]), None if p[1] is None else float(p[1])) for p in recent),
        acked_key=row.acked_key,
        acked_by=row.acked_by,
        acked_at=_utc(row.acked_at),
        ack_note=row.ack_note,
        escalated_key=row.escalated_key,
        escalation_level=int(row.escalation_level),
        version=int(row.version),
    )


def list_states(
    conn: Connection, *, for_update: bool = False
) -> dict[tuple[str, str], StoredState]:
    """Every series the evaluator knows, by (rule_id, labels); locked when ``for_update``."""
    sql = f"SELECT {_STATE_COLS} FROM alert_states"  # noqa: S608 - fixed column list
    if for_update:
        sql += " FOR UPDATE"
    return {(r.rule_id, r.labels): _stored(r) for r in conn.execute(text(sql))}


def get_state_by_key(
    conn: Connection, *, alert_key_: str, for_update: bool = False
) -> StoredState | None:
    """The series whose current instance is ``alert_key_`` (None when it moved on or never was)."""
    rule_id, _, rest = alert_key_.partition("[")
    labels, _, _ = rest.rpartition("]@")
    sql = f"SELECT {_STATE_COLS} FROM alert_states WHERE rule_id = :r AND labels = :l"  # noqa: S608
    if for_update:
        sql += " FOR UPDATE"
    row = conn.execute(text(sql), {"r": rule_id, "l": labels}).first()
    if row is None:
        return None
    stored = _stored(row)
    return stored if stored.alert_key == alert_key_ else None


def save_state(conn: Connection, *, stored: StoredState, now: datetime) -> None:
    """Insert or update one series' row (the evaluator's write; version untouched)."""
    s = stored.series
    conn.execute(
        text(
            """INSERT INTO alert_states (rule_id, labels, state, severity, since, started_at,
                   fired_at, value, threshold, evaluated_at, recent, escalated_key,
                   escalation_level, updated_at)
               VALUES (:rule_id, :labels, :state, :severity, :since, :started_at, :fired_at,
                   :value, :threshold, :evaluated_at, CAST(:recent AS jsonb), :escalated_key,
                   :escalation_level, :now)
               ON CONFLICT (rule_id, labels) DO UPDATE SET state = EXCLUDED.state,
                   severity = EXCLUDED.severity, since = EXCLUDED.since,
                   started_at = EXCLUDED.started_at, fired_at = EXCLUDED.fired_at,
                   value = EXCLUDED.value, threshold = EXCLUDED.threshold,
                   evaluated_at = EXCLUDED.evaluated_at, recent = EXCLUDED.recent,
                   escalated_key = EXCLUDED.escalated_key,
                   escalation_level = EXCLUDED.escalation_level, updated_at = EXCLUDED.updated_at"""
        ),
        {
            "rule_id": s.rule_id,
            "labels": s.labels,
            "state": s.state,
            "severity": stored.severity,
            "since": s.since,
            "started_at": s.started_at,
            "fired_at": s.fired_at,
            "value": s.value,
            "threshold": stored.threshold,
            "evaluated_at": s.evaluated_at,
            "recent": json.dumps([list(p) for p in stored.recent[-RECENT_POINTS:]]),
            "escalated_key": stored.escalated_key,
            "escalation_level": stored.escalation_level,
            "now": now,
        },
    )


def delete_state(conn: Connection, *, rule_id: str, labels: str) -> None:
    """Forget one series (its history stays in alert_history)."""
    conn.execute(
        text("DELETE FROM alert_states WHERE rule_id = :r AND labels = :l"),
        {"r": rule_id, "l": labels},
    )


def last_evaluated_at(conn: Connection) -> datetime | None:
    return _utc(conn.execute(text("SELECT max(evaluated_at) FROM alert_states")).scalar())


def try_evaluation_lock(conn: Connection, *, lock_id: int) -> bool:
    """A transaction-level advisory lock: one evaluator at a time, released at commit."""
    return bool(conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": lock_id}).scalar())


# --- history ------------------------------------------------------------------------------


def record_history(
    conn: Connection,
    *,
    kind: str,
    at: datetime,
    alert_key_: str,
    rule_id: str,
    labels: str,
    severity: str,
    from_state: str | None = None,
    to_state: str | None = None,
    value: float | None = None,
    threshold: float | None = None,
    actor: str | None = None,
    note: str | None = None,
) -> bool:
    """Append one history row; a transition already recorded (same key, states, time) is not."""
    if kind not in HISTORY_KINDS:
        raise ValueError(f"unknown history kind {kind!r}")
    row = conn.execute(
        text(
            """INSERT INTO alert_history (at, kind, alert_key, rule_id, labels, severity,
                   from_state, to_state, value, threshold, actor, note)
               VALUES (:at, :kind, :k, :rule_id, :labels, :severity, :f, :t, :v, :th, :a, :n)
               ON CONFLICT (alert_key, from_state, to_state, at) WHERE kind = 'transition'
               DO NOTHING RETURNING id"""
        ),
        {
            "at": at,
            "kind": kind,
            "k": alert_key_,
            "rule_id": rule_id,
            "labels": labels,
            "severity": severity,
            "f": from_state,
            "t": to_state,
            "v": value,
            "th": threshold,
            "a": actor,
            "n": note,
        },
    ).first()
    return row is not None


HISTORY_COLUMNS = [
    "id",
    "at",
    "kind",
    "alert_key",
    "rule_id",
    "labels",
    "severity",
    "from_state",
    "to_state",
    "value",
    "threshold",
    "actor",
    "note",
]


def list_history(
    conn: Connection,
    *,
    alert_key_: str | None = None,
    rule_id: str | None = None,
    severity: str | None = None,
    kind: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = HISTORY_LIMIT,
) -> pd.DataFrame:
    """The newest history rows matching every filter given (bound parameters, newest first)."""
    where, params = _history_where(
        alert_key_=alert_key_, rule_id=rule_id, severity=severity, kind=kind, start=start, end=end
    )
    return _select_history(conn, where, params, max(1, min(int(limit), HISTORY_LIMIT)))


def _select_history(
    conn: Connection, where: list[str], params: dict[str, Any], limit: int
) -> pd.DataFrame:
    sql = (
        f"SELECT {', '.join(HISTORY_COLUMNS)} FROM alert_history "  # noqa: S608 - allow-listed
        f"WHERE {' AND '.join(where)} ORDER BY at DESC, id DESC LIMIT :limit"
    )
    return frame(conn, sql, {**params, "limit": limit}, HISTORY_COLUMNS)


@register
@dataclass(frozen=True)
class HistoryPage:
    rows: pd.DataFrame
    #: The cursor of the next (older) page; None on the last page.
    next_cursor: str | None


def list_history_page(
    conn: Connection,
    *,
    rule_id: str | None = None,
    severity: str | None = None,
    kind: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    cursor: str | None = None,
    limit: int = HISTORY_PAGE,
) -> HistoryPage:
    """One page of the filtered history, newest first, after ``cursor`` (keyset on the
    (at, id) index: page 1,000 costs what page 1 does). A cursor made for other filters, or
    edited, raises InvalidQuery."""
    if not 1 <= limit <= HISTORY_LIMIT:
        raise ValueError(f"limit must be between 1 and {HISTORY_LIMIT}")
    binding = {
        "rule_id": rule_id,
        "severity": severity,
        "kind": kind,
        "start": start,
        "end": end,
        "limit": limit,
    }
    where, params = _history_where(
        rule_id=rule_id, severity=severity, kind=kind, start=start, end=end
    )
    if cursor is not None:
        seen = decode_cursor(
            cursor,
            scope=HISTORY_SCOPE,
            binding=binding,
            fields={"a": Field.DATETIME, "i": Field.ID},
        )
        where.append("(at, id) < (:seek_at, :seek_id)")
        params.update(seek_at=seen["a"], seek_id=seen["i"])
    rows = _select_history(conn, where, params, limit + 1)
    next_cursor = None
    if len(rows) > limit:
        rows = rows.iloc[:limit].reset_index(drop=True)
        last = rows.iloc[-1]
        at = pd.Timestamp(last["at"]).to_pydatetime()
        next_cursor = encode_cursor(
            scope=HISTORY_SCOPE,
            binding=binding,
            position={"a": at if at.tzinfo else at.replace(tzinfo=UTC), "i": int(last["id"])},
        )
    return HistoryPage(rows=rows, next_cursor=next_cursor)


def _history_where(
    *,
    alert_key_: str | None = None,
    rule_id: str | None = None,
    severity: str | None = None,
    kind: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[list[str], dict[str, Any]]:
    where = ["TRUE"]
    params: dict[str, Any] = {}
    for column, value in (
        ("alert_key", alert_key_),
        ("rule_id", rule_id),
        ("severity", severity),
        ("kind", kind),
    ):
        if value:
            where.append(f"{column} = :{column}")
            params[column] = value
    if start is not None:
        where.append("at >= :start")
        params["start"] = start
    if end is not None:
        where.append("at < :end")
        params["end"] = end
    return where, params


# --- silences -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Silence:
    id: int
    rule_id: str
    labels: str | None  # None: every series of the rule
    comment: str
    created_by: str
    created_at: datetime
    ends_at: datetime
    lifted_by: str | None = None
    lifted_at: datetime | None = None
    version: int = 1

    def covers(self, rule_id: str, labels: str) -> bool:
        return self.rule_id == rule_id and (self.labels is None or self.labels == labels)

    def active(self, now: datetime) -> bool:
        return self.lifted_at is None and self.ends_at > now


_SILENCE_COLS = (
    "id, rule_id, labels, comment, created_by, created_at, ends_at, lifted_by, lifted_at, version"
)


def _silence(row: Any) -> Silence:
    return Silence(
        id=int(row.id),
        rule_id=row.rule_id,
        labels=row.labels,
        comment=row.comment,
        created_by=row.created_by,
        created_at=cast(datetime, _utc(row.created_at)),
        ends_at=cast(datetime, _utc(row.ends_at)),
        lifted_by=row.lifted_by,
        lifted_at=_utc(row.lifted_at),
        version=int(row.version),
    )


def list_silences(
    conn: Connection, *, now: datetime, active_only: bool = True, limit: int = 200
) -> list[Silence]:
    """Silences in force at ``now`` (or, with active_only=False, the newest ones of any state)."""
    if active_only:
        sql = (
            f"SELECT {_SILENCE_COLS} FROM alert_silences "  # noqa: S608 - fixed columns
            "WHERE lifted_at IS NULL AND ends_at > :now ORDER BY ends_at LIMIT :limit"
        )
    else:
        sql = (
            f"SELECT {_SILENCE_COLS} FROM alert_silences "  # noqa: S608 - fixed columns
            "ORDER BY created_at DESC, id DESC LIMIT :limit"
        )
    return [_silence(r) for r in conn.execute(text(sql), {"now": now, "limit": limit})]


def get_silence(conn: Connection, *, silence_id: int, for_update: bool = False) -> Silence | None:
    sql = f"SELECT {_SILENCE_COLS} FROM alert_silences WHERE id = :id"  # noqa: S608
    if for_update:
        sql += " FOR UPDATE"
    row = conn.execute(text(sql), {"id": silence_id}).first()
    return None if row is None else _silence(row)


def insert_silence(
    conn: Connection,
    *,
    rule_id: str,
    labels: str | None,
    comment: str,
    created_by: str,
    created_at: datetime,
    ends_at: datetime,
) -> int:
    return int(
        conn.execute(
            text(
                """INSERT INTO alert_silences (rule_id, labels, comment, created_by, created_at,
                       ends_at) VALUES (:r, :l, :c, :b, :at, :e) RETURNING id"""
            ),
            {
                "r": rule_id,
                "l": labels,
                "c": comment,
                "b": created_by,
                "at": created_at,
                "e": ends_at,
            },
        ).scalar_one()
    )


def silence_for(
    silences: Iterable[Silence], rule_id: str, labels: str, now: datetime
) -> Silence | None:
    """The silence covering a series at ``now`` that lasts longest (None: not silenced)."""
    covering = [s for s in silences if s.active(now) and s.covers(rule_id, labels)]
    return max(covering, key=lambda s: s.ends_at) if covering else None


# --- the live snapshot for pages ------------------------------------------------------------


@dataclass(frozen=True)
class ActiveAlert:
    """One alert as the pages show it (plain values; rule text comes from the rules file)."""

    alert_key: str
    rule_id: str
    labels: str
    name: str
    severity: str
    state: str
    since: datetime | None
    started_at: datetime | None
    value: float | None
    threshold: float
    metric: str
    runbook: str
    panel: str
    summary: str
    drivers: str | None
    recent: tuple[tuple[str, float | None], ...] = ()
    acked_by: str | None = None
    acked_at: datetime | None = None
    ack_note: str | None = None
    silenced_by: str | None = None
    silenced_until: datetime | None = None
    silence_comment: str | None = None
    version: int = 1

    @property
    def silenced(self) -> bool:
        return self.silenced_until is not None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for name in ("since", "started_at", "acked_at", "silenced_until"):
            value = out[name]
            out[name] = value.isoformat() if isinstance(value, datetime) else None
        out["recent"] = [list(p) for p in self.recent]
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ActiveAlert:
        values = dict(data)
        for name in ("since", "started_at", "acked_at", "silenced_until"):
            values[name] = _utc(values.get(name))
        values["recent"] = tuple((str(p[0]), p[1]) for p in values.get("recent") or ())
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in values.items() if k in known})


@dataclass(frozen=True)
class ActiveRead:
    """The active alerts and where they came from (age in s; degraded: Redis failed)."""

    alerts: list[ActiveAlert] = field(default_factory=list)
    age_s: float | None = None
    source: str = "none"
    degraded: bool = False


def build_active(
    states: Iterable[StoredState],
    rules: Mapping[str, AlertRule],
    silences: Sequence[Silence],
    *,
    now: datetime,
) -> list[ActiveAlert]:
    """Active alerts, worst first, from the stored states (rules no longer in the file skipped)."""
    found: list[ActiveAlert] = []
    for st in states:
        s = st.series
        rule = rules.get(s.rule_id)
        if rule is None or s.state not in ACTIVE_STATES or st.alert_key is None:
            continue
        silence = silence_for(silences, s.rule_id, s.labels, now)
        found.append(
            ActiveAlert(
                alert_key=st.alert_key,
                rule_id=s.rule_id,
                labels=s.labels,
                name=rule.name,
                severity=rule.severity,
                state=s.state,
                since=s.since,
                started_at=s.started_at,
                value=s.value,
                threshold=rule.threshold,
                metric=rule.metric,
                runbook=rule.runbook,
                panel=rule.panel,
                summary=rule.summary,
                drivers=rule.drivers,
                recent=st.recent,
                acked_by=st.acked_by if st.acked else None,
                acked_at=st.acked_at if st.acked else None,
                ack_note=st.ack_note if st.acked else None,
                silenced_by=silence.created_by if silence else None,
                silenced_until=silence.ends_at if silence else None,
                silence_comment=silence.comment if silence else None,
                version=st.version,
            )
        )
    found.sort(key=lambda a: worst_first_key(a.severity, a.state, a.started_at))
    return found


def write_snapshot(client: redis.Redis, alerts: Sequence[ActiveAlert]) -> bool:
    """The live snapshot for pages (False, never an exception, when Redis fails)."""
    payload = json.dumps({"at": time.time(), "alerts": [a.to_json() for a in alerts]})
    try:
        client.set(STATES_KEY, payload, ex=SNAPSHOT_TTL_S)
    except (redis.RedisError, OSError):
        return False
    return True


def publish(
    conn: Connection, client: redis.Redis | None, rules: Mapping[str, AlertRule], *, now: datetime
) -> list[ActiveAlert]:
    """Rebuild the active list from PostgreSQL and write it to Redis (when given)."""
    alerts = build_active(list_states(conn).values(), rules, list_silences(conn, now=now), now=now)
    if client is not None:
        write_snapshot(client, alerts)
    return alerts


def _read_snapshot(client: redis.Redis) -> ActiveRead:
    try:
        raw = cast(bytes | None, client.get(STATES_KEY))
    except (redis.RedisError, OSError):
        return ActiveRead(source="redis unavailable", degraded=True)
    if raw is None:
        return ActiveRead(source="none")
    try:
        data = json.loads(raw)
        alerts = [ActiveAlert.from_json(a) for a in data["alerts"]]
        return ActiveRead(alerts, max(0.0, time.time() - float(data["at"])), "live")
    except (ValueError, KeyError, TypeError):
        return ActiveRead(source="unreadable snapshot", degraded=True)


def overlay_snapshot(client: redis.Redis, rule_id: str, alert: ActiveAlert | None) -> bool:
    """Replace ``rule_id``'s entries of the live snapshot by ``alert`` (None: drop them).

    For the Database Unreachable watch, which cannot rebuild the snapshot from PostgreSQL:
    the pages and the header strip show the alert while the database is away.
    """
    read = _read_snapshot(client)
    alerts = [a for a in read.alerts if a.rule_id != rule_id]
    if alert is not None:
        alerts.append(alert)
    alerts.sort(key=lambda a: worst_first_key(a.severity, a.state, a.started_at))
    return write_snapshot(client, alerts)


def list_active(
    client: redis.Redis | None,
    conn: Connection | None = None,
    *,
    rules: Mapping[str, AlertRule] | None = None,
    now: datetime | None = None,
) -> ActiveRead:
    """Pending, firing and no-data alerts, worst first: Redis snapshot, else PostgreSQL.

    The PostgreSQL fallback needs ``conn`` and ``rules`` (the rules file); without them an
    absent snapshot is an empty read with source "none".
    """
    read = _read_snapshot(client) if client is not None else ActiveRead(source="none")
    if read.source == "live" or conn is None or rules is None:
        return read
    at = now or datetime.now(UTC)
    alerts = build_active(list_states(conn).values(), rules, list_silences(conn, now=at), now=at)
    return ActiveRead(alerts, 0.0, "database", degraded=read.degraded)


def list_firing(
    client: redis.Redis | None,
    conn: Connection | None = None,
    *,
    rules: Mapping[str, AlertRule] | None = None,
) -> list[ActiveAlert]:
    """The firing alerts, worst first (silenced ones included; see ``ActiveAlert.silenced``)."""
    return [a for a in list_active(client, conn, rules=rules).alerts if a.state == "firing"]


def count_firing_by_severity(
    client: redis.Redis | None,
    conn: Connection | None = None,
    *,
    rules: Mapping[str, AlertRule] | None = None,
) -> dict[str, int]:
    """{"P1": n, "P2": n, "warning": n}: firing alerts that are not silenced."""
    counts = {"P1": 0, "P2": 0, "warning": 0}
    for a in list_firing(client, conn, rules=rules):
        if not a.silenced and a.severity in counts:
            counts[a.severity] += 1
    return counts


# --- agents behind an alert -----------------------------------------------------------------

_DRIVER_SQL = {
    # The lowest trust scores among active agents (index on status, trust_score).
    "trust": """
        SELECT a.id, a.name, a.status, a.trust_score, a.version,
               NULL::double precision AS detail
        FROM agents a WHERE a.status = 'active' AND a.trust_score IS NOT NULL
        ORDER BY a.trust_score, a.id LIMIT :limit""",
    # Most policy violations in the last 24 hours (index on occurred_at).
    "violations": """
        SELECT a.id, a.name, a.status, a.trust_score, a.version, v.n::double precision AS detail
        FROM (SELECT agent_id, count(*) AS n FROM policy_violations
              WHERE occurred_at > :since AND occurred_at <= :now
              GROUP BY agent_id ORDER BY n DESC, agent_id LIMIT :limit) v
        JOIN agents a ON a.id = v.agent_id ORDER BY v.n DESC, a.id""",
    # Highest open drift scores (partial index on open detections).
    "drift": """
        SELECT a.id, a.name, a.status, a.trust_score, a.version, d.s AS detail
        FROM (SELECT agent_id, max(score) AS s FROM drift_detections
              WHERE resolved_at IS NULL GROUP BY agent_id ORDER BY s DESC, agent_id
              LIMIT :limit) d
        JOIN agents a ON a.id = d.agent_id ORDER BY d.s DESC, a.id""",
}
DRIVER_DETAIL = {"trust": "", "violations": "violations (24 h)", "drift": "open drift score"}


def list_alert_drivers(
    conn: Connection, *, kind: str, now: datetime, limit: int = 10
) -> pd.DataFrame:
    """The agents driving an agent-related alert: id, name, status, trust_score, version, detail."""
    sql = _DRIVER_SQL.get(kind)
    if sql is None:
        raise ValueError(f"unknown driver kind {kind!r}")
    params = {"limit": max(1, min(limit, 50)), "since": now - timedelta(days=1), "now": now}
    return frame(conn, sql, params)
