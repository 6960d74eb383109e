"""The stand-in's live traffic: every tick it writes what ORCA Core would have produced.

Per tick: request_metrics (the requests really served plus simulated traffic on every
endpoint), resource_samples, a few policy violations, trust changes, drift detections,
sync_lag_samples and the odd sync gap; every few seconds, data-source syncs. Active faults bend
each of these (error/latency spikes, trust collapse, sync stall, drift wave, connection leak).
Each part commits on its own, so one failing part costs only itself.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import numpy as np
from sqlalchemy import Connection, Engine, text

from dashboard.core.api import RequestRecorder
from dashboard.core.faults import FaultView
from dashboard.data.rollups import ensure_partitions
from dashboard.domain import kpi
from dashboard.domain.enums import DiscoverySource, values
from dashboard.domain.histogram import BUCKET_BOUNDS_MS, BUCKET_COLUMNS
from dashboard.integrations.orca_core import gap_external_key
from dashboard.sim.vocab import ENDPOINTS, INSTANCES, POLICIES

log = logging.getLogger(__name__)

#: Most agents one tick may touch (trust collapse, drift wave), whatever the registry's size.
MAX_BATCH: Final = 5000
POOL_SIZE: Final = 50
HEALTHY: Final = (0.95, 0.9, 0.88)  # reliability, adherence, freshness an agent drifts back to
COLLAPSED: Final = (0.3, 0.1, 0.45)
SEVERITIES: Final = ("low", "medium", "high", "critical")
SEVERITY_P: Final = (0.5, 0.3, 0.15, 0.05)
ACTIONS: Final = ("blocked", "throttled", "audited")
ACTION_P: Final = (0.5, 0.3, 0.2)
GAP_TYPES: Final = ("missing_records", "stale_data", "ordering_issue", "webhook_drift")
DRIFT_KINDS: Final = ("config", "behavior", "performance")
_FINITE_BOUNDS = np.array(BUCKET_BOUNDS_MS[:-1], dtype=float)

_BUCKET_LIST = ", ".join(BUCKET_COLUMNS)
_BUCKET_PARAMS = ", ".join(f":{c}" for c in BUCKET_COLUMNS)
_BUCKET_ADD = ", ".join(f"{c} = request_metrics.{c} + EXCLUDED.{c}" for c in BUCKET_COLUMNS)
# Only the constant bucket column names are formatted in; values are bound parameters.
REQUEST_UPSERT: Final = f"""
    INSERT INTO request_metrics (minute, method, route, status_class, request_count,
                                 error_count, latency_sum_ms, {_BUCKET_LIST})
    VALUES (:minute, :method, :route, :status_class, :request_count, :error_count,
            :latency_sum_ms, {_BUCKET_PARAMS})
    ON CONFLICT (minute, method, route, status_class) DO UPDATE SET
        request_count = request_metrics.request_count + EXCLUDED.request_count,
        error_count = request_metrics.error_count + EXCLUDED.error_count,
        latency_sum_ms = request_metrics.latency_sum_ms + EXCLUDED.latency_sum_ms,
        {_BUCKET_ADD}"""  # noqa: S608


@dataclass
class TickReport:
    """What one tick wrote (for logs and tests)."""

    minute: datetime
    requests: int = 0
    errors: int = 0
    violations: int = 0
    trust_updates: int = 0
    drifts: int = 0
    gaps: int = 0
    failed_parts: list[str] = field(default_factory=list)


def _minute(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


class TrafficGenerator:
    """Writes the stand-in's live data; ``tick`` every tick_s, ``sync_refresh`` every few s."""

    def __init__(
        self,
        engine: Engine,
        recorder: RequestRecorder,
        faults: FaultView,
        *,
        leaked_connections: Callable[[], int] = lambda: 0,
        seed: int | None = None,
    ) -> None:
        self.engine = engine
        self.recorder = recorder
        self.faults = faults
        self.leaked_connections = leaked_connections
        self.rng = np.random.default_rng(seed)
        self._partition_days: set[date] = set()
        self._wave_ids: list[int] = []

    # -- helpers ----------------------------------------------------------------------------
    def _part(self, report: TickReport | None, name: str, fn: Callable[[Connection], Any]) -> Any:
        try:
            with self.engine.begin() as conn:
                return fn(conn)
        except Exception as exc:  # one failing part must not stop the others
            log.warning("stand-in %s failed: %s: %s", name, type(exc).__name__, exc)
            if report is not None:
                report.failed_parts.append(name)
            return None

    def _ensure_partitions(self, conn: Connection, day: date) -> None:
        if day not in self._partition_days:
            ensure_partitions(conn, first_day=day, last_day=day + timedelta(days=1))
            self._partition_days.add(day)

    def _poisson(self, lam: float) -> int:
        return int(self.rng.poisson(max(0.0, lam)))

    # -- request metrics --------------------------------------------------------------------
    def _simulated(self, now: datetime, tick_s: float) -> dict[tuple[str, str, str], list[float]]:
        faults = self.faults.active()
        errors = faults.get("error_spike")
        slow = faults.get("latency_spike")
        hour = now.hour + now.minute / 60.0
        diurnal = 0.55 + 0.45 * math.sin((hour - 8) / 24 * 2 * math.pi) ** 2 + 0.1
        out: dict[tuple[str, str, str], list[float]] = {}
        for method, route, rate, median_ms in ENDPOINTS:
            total = self._poisson(rate * diurnal * tick_s / 60.0)
            if total == 0:
                continue
            err_share = 0.002
            if errors is not None and route in errors.params.get("routes", ()):
                err_share = float(errors.params.get("rate", 0.3))
            extra_ms = 0.0
            if slow is not None and route in slow.params.get("routes", ()):
                extra_ms = float(slow.params.get("ms", 0))
            n5 = int(self.rng.binomial(total, min(1.0, err_share)))
            n4 = int(self.rng.binomial(total - n5, 0.02))
            for cls, count, factor in (
                ("2xx", total - n5 - n4, 1.0),
                ("4xx", n4, 0.4),
                ("5xx", n5, 2.0),
            ):
                if count <= 0:
                    continue
                lat = self.rng.lognormal(math.log(median_ms * factor), 0.6, count) + extra_ms
                buckets = np.bincount(
                    np.searchsorted(_FINITE_BOUNDS, lat, side="left"), minlength=len(BUCKET_COLUMNS)
                )
                out[(method, route, cls)] = [
                    float(count),
                    float(count if cls == "5xx" else 0),
                    float(lat.sum()),
                    *(float(b) for b in buckets),
                ]
        return out

    def write_request_metrics(
        self, conn: Connection, now: datetime, tick_s: float
    ) -> tuple[int, int]:
        self._ensure_partitions(conn, now.date())
        rows = self._simulated(now, tick_s)
        for k, served in self.recorder.drain().items():
            mine = rows.setdefault(k, [0.0] * len(served))
            for i, v in enumerate(served):
                mine[i] += v
        params = []
        for (method, route, cls), vals in rows.items():
            row: dict[str, Any] = {
                "minute": _minute(now),
                "method": method,
                "route": route,
                "status_class": cls,
                "request_count": int(vals[0]),
                "error_count": int(vals[1]),
                "latency_sum_ms": round(vals[2], 2),
            }
            row.update({c: int(v) for c, v in zip(BUCKET_COLUMNS, vals[3:], strict=True)})
            params.append(row)
        if params:
            conn.execute(text(REQUEST_UPSERT), params)
        return sum(int(v[0]) for v in rows.values()), sum(int(v[1]) for v in rows.values())

    # -- resources --------------------------------------------------------------------------
    def write_resources(self, conn: Connection, now: datetime) -> None:
        self._ensure_partitions(conn, now.date())
        faults = self.faults.active()
        hour = now.hour + now.minute / 60.0
        load = 0.5 + 0.5 * math.sin((hour - 8) / 24 * 2 * math.pi) ** 2
        hot = (15.0 if "error_spike" in faults else 0.0) + (
            25.0 if "latency_spike" in faults else 0.0
        )
        leaked = self.leaked_connections()
        rows = []
        for i, instance in enumerate(INSTANCES):
            conns = int(np.clip(round(12 + 20 * load + self.rng.normal(0, 3)), 1, POOL_SIZE))
            rows.append(
                {
                    "minute": _minute(now),
                    "instance": instance,
                    "cpu_pct": round(
                        float(
                            np.clip(25 + 35 * load + self.rng.normal(0, 4) + i * 3 + hot, 0, 100)
                        ),
                        2,
                    ),
                    "memory_pct": round(
                        float(np.clip(60 + 10 * load + self.rng.normal(0, 2), 0, 100)), 2
                    ),
                    "disk_pct": round(float(np.clip(58 + i + self.rng.normal(0, 0.2), 0, 100)), 2),
                    "db_connections": conns + (leaked if instance != INSTANCES[1] else 0),
                    "db_pool_size": POOL_SIZE,
                    "net_rx_bytes": int(load * 4e6 + self.rng.exponential(5e5)),
                    "net_tx_bytes": int(load * 6e6 + self.rng.exponential(5e5)),
                }
            )
        conn.execute(
            text("""INSERT INTO resource_samples (minute, instance, cpu_pct, memory_pct, disk_pct,
                        db_connections, db_pool_size, net_rx_bytes, net_tx_bytes)
                    VALUES (:minute, :instance, :cpu_pct, :memory_pct, :disk_pct, :db_connections,
                        :db_pool_size, :net_rx_bytes, :net_tx_bytes)
                    ON CONFLICT (minute, instance) DO UPDATE SET cpu_pct = EXCLUDED.cpu_pct,
                        memory_pct = EXCLUDED.memory_pct, disk_pct = EXCLUDED.disk_pct,
                        db_connections = EXCLUDED.db_connections,
                        db_pool_size = EXCLUDED.db_pool_size,
                        net_rx_bytes = EXCLUDED.net_rx_bytes, net_tx_bytes = EXCLUDED.net_tx_bytes"""),
            rows,
        )

    # -- violations -------------------------------------------------------------------------
    def write_violations(self, conn: Connection, now: datetime, tick_s: float) -> int:
        boost = 10.0 if self.faults.get("trust_collapse") is not None else 1.0
        new = self._poisson(1.0 * boost * tick_s / 60.0)
        made = 0
        if new:
            ids = (
                conn.execute(
                    text(
                        "SELECT id FROM agents WHERE status = 'active' ORDER BY random() LIMIT :k"
                    ),
                    {"k": new},
                )
                .scalars()
                .all()
            )
            rows = [
                {
                    "agent": int(agent_id),
                    "policy": str(self.rng.choice(POLICIES)),
                    "severity": str(self.rng.choice(SEVERITIES, p=SEVERITY_P)),
                    "action": str(self.rng.choice(ACTIONS, p=ACTION_P)),
                    "at": now,
                }
                for agent_id in ids
            ]
            if rows:
                conn.execute(
                    text("""INSERT INTO policy_violations (agent_id, policy_id, severity, action,
                                occurred_at) VALUES (:agent, :policy, :severity, :action, :at)"""),
                    rows,
                )
            made = len(rows)
        resolve = self._poisson(1.0 * tick_s / 60.0)
        if resolve:
            conn.execute(
                text("""UPDATE policy_violations SET resolved_at = :now WHERE id IN (
                            SELECT id FROM policy_violations WHERE resolved_at IS NULL
                            AND occurred_at < CAST(:now AS timestamptz) - interval '2 minutes'
                            ORDER BY random() LIMIT :k)"""),
                {"now": now, "k": resolve},
            )
        return made

    # -- trust ------------------------------------------------------------------------------
    def _pick(self, conn: Connection, sql: str, limit: int) -> list[int]:
        return [int(i) for i in conn.execute(text(sql), {"k": limit}).scalars().all()]

    def write_trust(self, conn: Connection, now: datetime, tick_s: float) -> int:
        collapse = self.faults.get("trust_collapse")
        active = int(
            conn.execute(text("SELECT count(*) FROM agents WHERE status = 'active'")).scalar_one()
        )
        plan: dict[int, tuple[tuple[float, float, float], float]] = {}
        if collapse is not None:
            cap = min(
                MAX_BATCH, max(20, math.ceil(float(collapse.params.get("share", 0.35)) * active))
            )
            for i in self._pick(
                conn,
                """SELECT id FROM agents WHERE status = 'active' AND coalesce(trust_score, 100) >= 45
                   ORDER BY random() LIMIT :k""",
                cap,
            ):
                plan[i] = (COLLAPSED, 0.7)
        else:
            # Mean reversion: scores below the guide's threshold (70) heal within a few ticks.
            cap = min(MAX_BATCH, max(20, math.ceil(0.35 * active)))
            for i in self._pick(
                conn,
                """SELECT id FROM agents WHERE status = 'active' AND trust_score < 70
                   ORDER BY trust_score LIMIT :k""",
                cap,
            ):
                plan[i] = (HEALTHY, 0.6)
        walkers = max(1, round(5 * tick_s / 60.0))
        for i in self._pick(
            conn,
            "SELECT id FROM agents WHERE status = 'active' ORDER BY random() LIMIT :k",
            walkers,
        ):
            plan.setdefault(i, (HEALTHY, 0.1))
        if not plan:
            return 0
        rows = conn.execute(
            text("""SELECT a.id, a.compliance_tier, a.status, h.reliability, h.policy_adherence,
                           h.sync_freshness
                    FROM agents a LEFT JOIN LATERAL (
                        SELECT * FROM agent_trust_history t WHERE t.agent_id = a.id
                        ORDER BY t.computed_at DESC LIMIT 1) h ON true
                    WHERE a.id = ANY(:ids)"""),
            {"ids": list(plan)},
        ).all()
        history = []
        for agent_id, tier, status, rel, adh, frs in rows:
            target, pull = plan[int(agent_id)]
            old = (
                HEALTHY[0] if rel is None else float(rel),
                HEALTHY[1] if adh is None else float(adh),
                HEALTHY[2] if frs is None else float(frs),
            )
            new = [
                float(np.clip(o + pull * (t - o) + self.rng.normal(0, 0.01), 0.0, 1.0))
                for o, t in zip(old, target, strict=True)
            ]
            risk = kpi.risk_exposure(str(tier), status == "quarantined")
            score = kpi.agent_trust_score(new[0], new[1], new[2], risk)
            history.append(
                {
                    "agent": int(agent_id),
                    "at": now,
                    "score": round(score, 3),
                    "rel": new[0],
                    "adh": new[1],
                    "frs": new[2],
                    "risk": risk,
                }
            )
        conn.execute(
            text("""INSERT INTO agent_trust_history (agent_id, computed_at, score, reliability,
                        policy_adherence, sync_freshness, risk_exposure)
                    VALUES (:agent, :at, :score, :rel, :adh, :frs, :risk)
                    ON CONFLICT (agent_id, computed_at) DO NOTHING"""),
            history,
        )
        conn.execute(
            text("UPDATE agents SET trust_score = :score WHERE id = :agent"),
            [{"agent": h["agent"], "score": h["score"]} for h in history],
        )
        return len(history)

    # -- drift ------------------------------------------------------------------------------
    def write_drift(self, conn: Connection, now: datetime, tick_s: float) -> int:
        wave = self.faults.get("drift_wave")
        count = self._poisson(0.25 * tick_s / 60.0)
        if wave is not None:
            active = int(
                conn.execute(
                    text("SELECT count(*) FROM agents WHERE status = 'active'")
                ).scalar_one()
            )
            count += min(
                MAX_BATCH, max(5, math.ceil(float(wave.params.get("share", 0.08)) * active))
            )
        made: list[int] = []
        if count:
            ids = self._pick(
                conn,
                """SELECT a.id FROM agents a WHERE a.status = 'active' AND NOT EXISTS (
                       SELECT 1 FROM drift_detections d
                       WHERE d.agent_id = a.id AND d.resolved_at IS NULL)
                   ORDER BY random() LIMIT :k""",
                count,
            )
            kinds = [
                "config" if wave is not None else str(self.rng.choice(DRIFT_KINDS)) for _ in ids
            ]
            scores = [round(float(s), 1) for s in self.rng.uniform(30, 98, len(ids))]
            made = [
                int(i)
                for i in conn.execute(
                    text("""INSERT INTO drift_detections (agent_id, kind, score, detected_at)
                            SELECT a, k, s, :at FROM unnest(CAST(:agents AS bigint[]),
                                CAST(:kinds AS text[]), CAST(:scores AS float8[])) AS t(a, k, s)
                            RETURNING id"""),
                    {"agents": ids, "kinds": kinds, "scores": scores, "at": now},
                ).scalars()
            ]
            if wave is not None:
                self._wave_ids.extend(made)
        if wave is None and self._wave_ids:
            # After the wave: its detections are resolved within a few ticks.
            half = self._wave_ids[: max(1, len(self._wave_ids) // 2)]
            self._wave_ids = self._wave_ids[len(half) :]
            conn.execute(
                text("""UPDATE drift_detections SET resolved_at = :now
                        WHERE id = ANY(:ids) AND resolved_at IS NULL"""),
                {"now": now, "ids": half},
            )
        conn.execute(
            text("""UPDATE drift_detections SET resolved_at = :now
                    WHERE resolved_at IS NULL AND random() < :p"""),
            {"now": now, "p": tick_s / 60.0 / 600.0},
        )
        return len(made)

    # -- syncs ------------------------------------------------------------------------------
    def _stalled(self) -> list[str]:
        stall = self.faults.get("sync_stall")
        if stall is None:
            return []
        return [str(s) for s in stall.params.get("sources", values(DiscoverySource))]

    def sync_refresh(self, now: datetime | None = None) -> int:
        """Data-source syncs: healthy sources sync every few seconds; stalled ones only try."""
        now = now or datetime.now(UTC)
        stalled = self._stalled()

        def run(conn: Connection) -> int:
            if stalled:
                conn.execute(
                    text("""UPDATE data_sources SET last_attempt_at = :now,
                                status = CASE
                                    WHEN last_success_at < CAST(:now AS timestamptz) - interval '6 hours'
                                        THEN 'failed'
                                    WHEN last_success_at < CAST(:now AS timestamptz) - interval '60 seconds'
                                        THEN 'lagging'
                                    ELSE status END
                            WHERE source = ANY(:stalled)"""),
                    {"now": now, "stalled": stalled},
                )
            result = conn.execute(
                text("""UPDATE data_sources SET
                            last_success_at = CAST(:now AS timestamptz)
                                - make_interval(secs => random() * 8),
                            last_attempt_at = :now, status = 'ok',
                            records_synced = records_synced + (random() * 200)::int
                        WHERE NOT (source = ANY(:stalled))
                          AND (status = 'ok'
                               OR last_attempt_at >= CAST(:now AS timestamptz) - interval '15 minutes'
                               OR random() < 0.01)"""),
                {"now": now, "stalled": stalled},
            )
            return int(getattr(result, "rowcount", 0) or 0)

        return int(self._part(None, "sync refresh", run) or 0)

    def write_sync_samples(
        self, conn: Connection, now: datetime, tick_s: float, *, gap_chance: float | None = None
    ) -> int:
        """Per-source lag samples of the minute; now and then a new sync gap (often in a stall)."""
        self._ensure_partitions(conn, now.date())
        conn.execute(
            text("""INSERT INTO sync_lag_samples (minute, source, sources_total, sources_stale,
                        lag_avg_s, lag_max_s)
                    SELECT :minute, source, count(*),
                           count(*) FILTER (WHERE last_success_at IS NULL OR last_success_at
                                            < CAST(:now AS timestamptz) - make_interval(secs => :slo)),
                           round(coalesce(avg(greatest(0, extract(epoch FROM
                               CAST(:now AS timestamptz) - last_success_at)))
                               FILTER (WHERE status <> 'failed'), 0)::numeric, 2),
                           round(coalesce(max(greatest(0, extract(epoch FROM
                               CAST(:now AS timestamptz) - last_success_at)))
                               FILTER (WHERE status <> 'failed'), 0)::numeric, 2)
                    FROM data_sources GROUP BY source
                    ON CONFLICT (minute, source) DO UPDATE SET
                        sources_total = EXCLUDED.sources_total,
                        sources_stale = EXCLUDED.sources_stale,
                        lag_avg_s = EXCLUDED.lag_avg_s, lag_max_s = EXCLUDED.lag_max_s"""),
            {"minute": _minute(now), "now": now, "slo": kpi.FRESHNESS_SLO_SECONDS},
        )
        stalled = self._stalled()
        chance = (0.5 if stalled else 0.05) * tick_s / 60.0 if gap_chance is None else gap_chance
        made = 0
        if self.rng.random() < chance:
            row = conn.execute(
                text("""SELECT id, source, name, last_success_at FROM data_sources
                        WHERE (cardinality(CAST(:stalled AS text[])) = 0 OR source = ANY(:stalled))
                        ORDER BY random() LIMIT 1"""),
                {"stalled": stalled},
            ).first()
            if row is not None:
                gap_type = "stale_data" if stalled else str(self.rng.choice(GAP_TYPES))
                severity = (
                    "high"
                    if stalled
                    else str(self.rng.choice(SEVERITIES, p=(0.4, 0.35, 0.18, 0.07)))
                )
                lag_ms = (
                    int((now - row.last_success_at).total_seconds() * 1000)
                    if row.last_success_at is not None
                    else int(self.rng.exponential(300_000))
                )
                conn.execute(
                    text("""INSERT INTO sync_gaps (data_source_id, source, target, gap_type,
                                severity, detected_at, lag_ms, external_key)
                            VALUES (:ds, :source, :target, :type, :sev, :at, :lag, :key)
                            ON CONFLICT (external_key) DO NOTHING"""),
                    {
                        "ds": row.id,
                        "source": row.source,
                        "target": row.name,
                        "type": gap_type,
                        "sev": severity,
                        "at": now,
                        "lag": max(0, lag_ms),
                        "key": gap_external_key(row.source, row.name, gap_type, now),
                    },
                )
                made = 1
        conn.execute(
            text("""UPDATE sync_gaps SET resolved_at = :now
                    WHERE resolved_at IS NULL AND detected_at < :now AND random() < :p"""),
            {"now": now, "p": tick_s / 60.0 / 180.0},
        )
        return made

    def backfill_gap_keys(self) -> int:
        """Give older gaps (seeded ones) the key the API's consumers derive, once at start."""

        def run(conn: Connection) -> int:
            rows = conn.execute(
                text("""SELECT id, source, target, gap_type, detected_at FROM sync_gaps
                        WHERE external_key IS NULL ORDER BY id LIMIT 100000""")
            ).all()
            keys = {
                r.id: gap_external_key(r.source, r.target, r.gap_type, r.detected_at) for r in rows
            }
            if not keys:
                return 0
            taken = set(
                conn.execute(
                    text("SELECT external_key FROM sync_gaps WHERE external_key = ANY(:k)"),
                    {"k": list(keys.values())},
                ).scalars()
            )
            updates, used = [], set(taken)
            for gap_id, k in keys.items():
                if k not in used:
                    used.add(k)
                    updates.append({"id": gap_id, "k": k})
            if updates:
                conn.execute(
                    text(
                        "UPDATE sync_gaps SET external_key = :k WHERE id = :id AND external_key IS NULL"
                    ),
                    updates,
                )
            return len(updates)

        return int(self._part(None, "gap key backfill", run) or 0)

    # -- the tick ---------------------------------------------------------------------------
    def tick(self, *, tick_s: float, now: datetime | None = None) -> TickReport:
        now = now or datetime.now(UTC)
        report = TickReport(minute=_minute(now))
        counts = self._part(
            report, "request metrics", lambda s: self.write_request_metrics(s, now, tick_s)
        )
        if counts is not None:
            report.requests, report.errors = counts
        self._part(report, "resource samples", lambda s: self.write_resources(s, now))
        report.violations = int(
            self._part(report, "violations", lambda s: self.write_violations(s, now, tick_s)) or 0
        )
        report.trust_updates = int(
            self._part(report, "trust", lambda s: self.write_trust(s, now, tick_s)) or 0
        )
        report.drifts = int(
            self._part(report, "drift", lambda s: self.write_drift(s, now, tick_s)) or 0
        )
        report.gaps = int(
            self._part(report, "sync samples", lambda s: self.write_sync_samples(s, now, tick_s))
            or 0
        )
        log.debug("stand-in tick: %s", report)
        return report
