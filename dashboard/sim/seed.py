"""Seed an empty database with deterministic, realistic ORCA data (same seed + now = same rows).

Everything is generated with numpy in chunks and bulk-loaded with COPY, so the demo set (a few
thousand agents, 30 days) loads in seconds and the scale set (1,000,000 agents, 30 days of
per-minute metrics) in minutes with bounded memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from dashboard.data.rollups import ensure_partitions, refresh_rollups
from dashboard.domain.histogram import BUCKET_BOUNDS_MS, BUCKET_COLUMNS
from dashboard.domain.kpi import (
    QUARANTINE_RISK_PENALTY,
    SEVERITY_COST_USD,
    TIER_RISK,
    TRUST_WEIGHTS,
)
from dashboard.sim.copy import copy_frame
from dashboard.sim.vocab import (
    ADJECTIVES,
    ENDPOINTS,
    FIRST_NAMES,
    HOSTILE_NAMES,
    INSTANCES,
    LAST_NAMES,
    MODELS,
    NOUNS,
    POLICIES,
    ROLES,
    SOURCE_WEIGHTS,
    SOURCES,
    TEAMS,
)

AGENT_CHUNK = 100_000
SOURCES_ARR = np.array(SOURCES)
TYPES = np.array(["chatbot", "copilot", "pipeline", "service"])
VENDORS = np.array(["openai", "anthropic", "azure", "aws", "google", "custom"])
TIERS = np.array(["none", "standard", "high", "critical"])
SEVERITIES = np.array(["low", "medium", "high", "critical"])
ACTIONS = np.array(["blocked", "throttled", "audited"])
COMPONENTS = ("orca_core", "postgresql", "redis", "otel_collector", "worker")
SLA_HOURS = {"critical": 1.0, "high": 4.0, "medium": 24.0, "low": 168.0}
# Pseudo-bucket midpoints for latency sums (the +Inf bucket counts as 15 s).
BUCKET_MID_MS = np.array([2.5, 7.5, 17.5, 37.5, 75, 175, 375, 750, 1750, 3750, 7500, 15000.0])
LOG_BOUNDS = np.log(np.array(BUCKET_BOUNDS_MS[:-1], dtype=float))


@dataclass(frozen=True)
class SeedReport:
    """Rows written per table and the seconds it took."""

    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def __str__(self) -> str:
        parts = ", ".join(f"{k} {v:,}" for k, v in self.rows.items())
        return f"{parts} ({self.seconds:.1f} s)"


@dataclass(frozen=True)
class Incident:
    """A simulated incident window: error burst and/or latency spike on some routes."""

    start_min: int
    length_min: int
    routes: tuple[int, ...]
    error_share: float
    latency_factor: float


class _Seeder:
    def __init__(
        self,
        engine: Engine,
        agents: int,
        days: int,
        seed: int,
        now: datetime,
        progress: Callable[[str], None],
    ) -> None:
        self.engine = engine
        self.n = agents
        self.days = days
        self.seed = seed
        self.now = now
        self.start = now - timedelta(days=days)
        self.minutes = days * 1440
        self.progress = progress
        self.rows: dict[str, int] = {}
        self.incidents = self._plan_incidents()

    def rng(self, stream: str) -> np.random.Generator:
        """An independent, reproducible stream per data kind (adding one changes no other)."""
        key = sum((i + 1) * ord(c) for i, c in enumerate(stream))
        return np.random.default_rng([self.seed, key])

    def _count(self, table: str, n: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + n

    def ts(self, minutes: np.ndarray) -> pd.Series:
        base = pd.Timestamp(self.start)
        return pd.Series(base + pd.to_timedelta(np.asarray(minutes, dtype=np.int64), unit="min"))

    def ts_seconds(self, seconds: np.ndarray) -> pd.Series:
        base = pd.Timestamp(self.start)
        return pd.Series(base + pd.to_timedelta(np.asarray(seconds, dtype=np.float64), unit="s"))

    # -- plan ------------------------------------------------------------------------------
    def _plan_incidents(self) -> list[Incident]:
        rng = self.rng("incidents")
        count = max(2, self.days // 3)
        out = []
        for i in range(count):
            start = int(rng.integers(60, max(61, self.minutes - 120)))
            routes = tuple(
                int(r)
                for r in rng.choice(len(ENDPOINTS), size=int(rng.integers(1, 4)), replace=False)
            )
            errors = i % 2 == 0
            out.append(
                Incident(
                    start,
                    int(rng.integers(10, 45)),
                    routes,
                    float(rng.uniform(0.08, 0.25)) if errors else 0.0,
                    float(rng.uniform(3, 8)) if not errors or i % 3 == 0 else 1.0,
                )
            )
        # The last hour always shows a small live incident so a fresh demo has something to see.
        out.append(Incident(self.minutes - 40, 25, (1,), 0.07, 2.5))
        return out

    # -- agents ----------------------------------------------------------------------------
    def agents(self, conn: Any) -> None:
        rng = self.rng("agents")
        span_s = self.days * 86400.0
        self.agent_status = np.empty(self.n, dtype=object)
        self.agent_trust = np.empty(self.n)
        self.agent_tier = np.empty(self.n, dtype=object)
        self.agent_discovered_s = np.empty(self.n)  # seconds relative to self.start
        for lo in range(0, self.n, AGENT_CHUNK):
            hi = min(self.n, lo + AGENT_CHUNK)
            k = hi - lo
            ids = np.arange(lo + 1, hi + 1)
            source = rng.choice(SOURCES_ARR, size=k, p=SOURCE_WEIGHTS)
            typ = rng.choice(TYPES, size=k, p=[0.35, 0.25, 0.25, 0.15])
            vendor = rng.choice(VENDORS, size=k, p=[0.32, 0.22, 0.16, 0.12, 0.1, 0.08])
            tier = rng.choice(TIERS, size=k, p=[0.2, 0.45, 0.25, 0.1])
            # 60 % existed before the period; the rest arrive at a rate growing over time.
            old = rng.random(k) < 0.6
            discovered = np.where(
                old, -rng.uniform(0, 365 * 86400.0, k), span_s * np.sqrt(rng.random(k))
            )
            age_s = span_s - discovered
            status = rng.choice(
                np.array(["active", "suspended", "deprecated", "quarantined"]),
                size=k,
                p=[0.86, 0.05, 0.05, 0.04],
            )
            fresh = age_s < 2 * 86400  # found in the last two days: not reviewed yet
            status = np.where(fresh & (rng.random(k) < 0.85), "quarantined", status)
            reviewed = ~(fresh & (status == "quarantined"))
            rel = np.clip(rng.beta(30, 2, k), 0, 1)
            adh = np.clip(rng.beta(18, 2, k), 0, 1)
            frs = np.clip(rng.beta(9, 1.5, k), 0, 1)
            risk = np.minimum(
                1.0,
                np.vectorize(lambda t: TIER_RISK[t])(tier)
                + np.where(status == "quarantined", QUARANTINE_RISK_PENALTY, 0.0),
            )
            score = 100 * (
                TRUST_WEIGHTS["reliability"] * rel
                + TRUST_WEIGHTS["policy_adherence"] * adh
                + TRUST_WEIGHTS["sync_freshness"] * frs
                + TRUST_WEIGHTS["risk"] * (1 - risk)
            )
            names = np.char.add(
                np.char.add(np.char.add(rng.choice(ADJECTIVES, k), "-"), rng.choice(NOUNS, k)),
                np.char.add(
                    np.char.add("-", rng.choice(ROLES, k)),
                    np.char.add("-", np.char.zfill(ids.astype(str), 4)),
                ),
            ).astype(object)
            if lo == 0:
                for i, hostile in enumerate(HOSTILE_NAMES[: min(k, len(HOSTILE_NAMES))]):
                    names[i * 7 % k] = hostile
            first = rng.choice(FIRST_NAMES, k)
            last = rng.choice(LAST_NAMES, k)
            owner = np.char.add(np.char.add(np.char.add(first, "."), last), "@example.com")
            model = np.array(
                [
                    MODELS[v][int(j) % len(MODELS[v])]
                    for v, j in zip(vendor, rng.integers(0, 6, k), strict=True)
                ]
            )
            last_seen = np.where(
                status == "active",
                span_s - rng.exponential(1800, k),
                span_s - rng.uniform(86400, 20 * 86400, k),
            )
            last_seen = np.maximum(last_seen, discovered)
            q_at = np.where(
                status == "quarantined",
                np.maximum(discovered, span_s - rng.uniform(0, 10 * 86400, k)),
                np.nan,
            )
            nothing = np.full(k, None, dtype=object)
            q_reason = np.where(
                status != "quarantined",
                nothing,
                np.where(
                    reviewed, "policy violations above threshold", "new agent found by discovery"
                ),
            )
            q_by = np.where(
                status != "quarantined",
                nothing,
                np.where(reviewed, "ops.oncall@example.com", "discovery"),
            )
            team = rng.choice(TEAMS, k)
            frame = pd.DataFrame(
                {
                    "id": ids,
                    "external_id": np.char.add(
                        np.char.add(source.astype(str), "-"), np.char.zfill(ids.astype(str), 8)
                    ),
                    "discovery_source": source,
                    "name": names,
                    "type": typ,
                    "vendor": vendor,
                    "model": model,
                    "status": status,
                    "compliance_tier": tier,
                    "owner": owner,
                    "discovered_at": self.ts_seconds(discovered),
                    "last_seen_at": self.ts_seconds(last_seen),
                    "trust_score": np.round(score, 3),
                    "quarantine_reason": q_reason,
                    "quarantined_by": q_by,
                    "quarantined_at": self.ts_seconds(np.nan_to_num(q_at, nan=0.0)).where(
                        ~np.isnan(q_at)
                    ),
                    "reviewed_at": self.ts_seconds(np.minimum(discovered + 3600 * 6, span_s)).where(
                        reviewed
                    ),
                    "reviewed_by": np.where(reviewed, "ops.review@example.com", nothing),
                    "version": 1,
                    "metadata": [
                        '{"team": "%s", "region": "%s"}' % (t, r)  # noqa: UP031
                        for t, r in zip(
                            team,
                            rng.choice(["eu-west-1", "us-east-1", "ap-south-1"], k),
                            strict=True,
                        )
                    ],
                    "updated_at": pd.Timestamp(self.now),
                }
            )
            self._count("agents", copy_frame(conn, "agents", frame))
            self.agent_status[lo:hi] = status
            self.agent_trust[lo:hi] = score
            self.agent_tier[lo:hi] = tier
            self.agent_discovered_s[lo:hi] = discovered
            self._trust_history(conn, rng, ids, rel, adh, frs, risk, discovered)
            self._status_changes(conn, ids, status, reviewed, discovered, q_at, q_by, q_reason)
            self.progress(f"agents {hi:,}/{self.n:,}")

    def _trust_history(
        self,
        conn: Any,
        rng: np.random.Generator,
        ids: np.ndarray,
        rel: np.ndarray,
        adh: np.ndarray,
        frs: np.ndarray,
        risk: np.ndarray,
        discovered: np.ndarray,
    ) -> None:
        """Weekly points plus the current one; earlier points wander around today's values."""
        span_s = self.days * 86400.0
        offsets = [span_s - w * 7 * 86400.0 for w in range(0, self.days // 7 + 1)]
        # A tenth of agents have been slipping lately: their older scores were higher.
        slipping = rng.random(len(ids)) < 0.1
        frames = []
        for w, t in enumerate(offsets):
            alive = discovered <= t
            if not alive.any():
                continue
            k = len(ids)
            bump = np.where(slipping, 0.05 * w, 0.0)
            r = np.clip(rel + bump + rng.normal(0, 0.02, k) * (w > 0), 0, 1)
            a = np.clip(adh + bump + rng.normal(0, 0.03, k) * (w > 0), 0, 1)
            f = np.clip(frs + rng.normal(0, 0.03, k) * (w > 0), 0, 1)
            score = 100 * (
                TRUST_WEIGHTS["reliability"] * r
                + TRUST_WEIGHTS["policy_adherence"] * a
                + TRUST_WEIGHTS["sync_freshness"] * f
                + TRUST_WEIGHTS["risk"] * (1 - risk)
            )
            frames.append(
                pd.DataFrame(
                    {
                        "agent_id": ids[alive],
                        "computed_at": self.ts_seconds(np.full(alive.sum(), t)),
                        "score": np.round(score[alive], 3),
                        "reliability": r[alive],
                        "policy_adherence": a[alive],
                        "sync_freshness": f[alive],
                        "risk_exposure": risk[alive],
                    }
                )
            )
        for frame in frames:
            self._count("agent_trust_history", copy_frame(conn, "agent_trust_history", frame))

    def _status_changes(
        self,
        conn: Any,
        ids: np.ndarray,
        status: np.ndarray,
        reviewed: np.ndarray,
        discovered: np.ndarray,
        q_at: np.ndarray,
        q_by: np.ndarray,
        q_reason: np.ndarray,
    ) -> None:
        span_s = self.days * 86400.0
        disc = pd.DataFrame(
            {
                "agent_id": ids,
                "from_status": None,
                "to_status": "quarantined",
                "changed_at": self.ts_seconds(discovered),
                "changed_by": "discovery",
                "reason": "new agent found by discovery",
            }
        )
        review_at = np.minimum(discovered + 3600 * 6, span_s)
        rev = pd.DataFrame(
            {
                "agent_id": ids[reviewed],
                "from_status": "quarantined",
                "to_status": "active",
                "changed_at": self.ts_seconds(review_at[reviewed]),
                "changed_by": "ops.review@example.com",
                "reason": "reviewed and approved",
            }
        )
        later = reviewed & (status != "active")
        later_at = np.where(np.isnan(q_at), np.minimum(review_at + 86400, span_s), q_at)
        after = pd.DataFrame(
            {
                "agent_id": ids[later],
                "from_status": "active",
                "to_status": status[later],
                "changed_at": self.ts_seconds(np.maximum(later_at[later], review_at[later] + 60)),
                "changed_by": np.where(q_by[later] == None, "ops.oncall@example.com", q_by[later]),  # noqa: E711
                "reason": np.where(q_reason[later] == None, "lifecycle change", q_reason[later]),  # noqa: E711
            }
        )
        for frame in (disc, rev, after):
            self._count("agent_status_changes", copy_frame(conn, "agent_status_changes", frame))

    # -- violations ------------------------------------------------------------------------
    def violations(self, conn: Any) -> None:
        rng = self.rng("violations")
        per_day = max(5.0, self.n * 0.03)
        total = int(per_day * self.days)
        minutes = rng.integers(0, self.minutes, total)
        # Incidents bring extra violations.
        extra = [
            rng.integers(i.start_min, i.start_min + i.length_min, int(per_day / 24))
            for i in self.incidents
        ]
        minutes = np.sort(np.concatenate([minutes, *extra]))
        k = len(minutes)
        occurred_s = minutes * 60.0 + rng.uniform(0, 60, k)
        severity = rng.choice(SEVERITIES, k, p=[0.5, 0.3, 0.15, 0.05])
        action = rng.choice(ACTIONS, k, p=[0.5, 0.3, 0.2])
        deadline_s = np.vectorize(SLA_HOURS.get)(severity) * 3600.0
        outcome = rng.random(k)
        delay = np.where(
            outcome < 0.88,
            rng.uniform(0.05, 0.95, k) * deadline_s,
            rng.uniform(1.05, 3.0, k) * deadline_s,
        )
        resolved = occurred_s + delay
        still_open = (outcome > 0.96) | (resolved > self.days * 86400.0)
        frame = pd.DataFrame(
            {
                "agent_id": rng.integers(1, self.n + 1, k),
                "policy_id": rng.choice(POLICIES, k),
                "severity": severity,
                "action": action,
                "occurred_at": self.ts_seconds(occurred_s),
                "resolved_at": self.ts_seconds(np.where(still_open, 0.0, resolved)).where(
                    ~still_open
                ),
            }
        )
        self._count("policy_violations", copy_frame(conn, "policy_violations", frame))
        cost = np.vectorize(lambda s: SEVERITY_COST_USD[s])(severity) * (action == "blocked")
        self.ra_minutes = minutes
        self.ra_cum = np.cumsum(cost)
        self.progress(f"policy violations {k:,}")

    # -- syncs -----------------------------------------------------------------------------
    def syncs(self, conn: Any) -> None:
        rng = self.rng("syncs")
        count = max(20, int(self.n * 0.5))
        agent = rng.integers(1, self.n + 1, count)
        source = rng.choice(SOURCES_ARR, count, p=SOURCE_WEIGHTS)
        lag = rng.exponential(18, count)
        stale = rng.random(count)
        lag = np.where(stale < 0.05, rng.uniform(120, 3600, count), lag)
        lag = np.where(stale < 0.01, rng.uniform(6 * 3600, 48 * 3600, count), lag)
        status = np.where(lag > 6 * 3600, "failed", np.where(lag > 60, "lagging", "ok"))
        span_s = self.days * 86400.0
        kinds = np.array(["crm-contacts", "tickets", "orders", "docs-index", "events", "billing"])
        frame = pd.DataFrame(
            {
                "id": np.arange(1, count + 1),
                "agent_id": agent,
                "name": np.char.add(
                    np.char.add(rng.choice(kinds, count), "-"), np.arange(1, count + 1).astype(str)
                ),
                "source": source,
                "last_success_at": self.ts_seconds(span_s - lag),
                "last_attempt_at": self.ts_seconds(
                    span_s - np.minimum(lag, rng.uniform(0, 30, count))
                ),
                "status": status,
                "records_synced": rng.integers(100, 5_000_000, count),
            }
        )
        self._count("data_sources", copy_frame(conn, "data_sources", frame))
        self.source_fresh_share = float((lag <= 60).mean())
        gaps = max(10, count // 40)
        g_src = rng.integers(1, count + 1, gaps)
        detected = rng.uniform(0, span_s, gaps)
        resolved = detected + rng.exponential(3 * 3600, gaps)
        still_open = (rng.random(gaps) < 0.3) | (resolved > span_s)
        gap_frame = pd.DataFrame(
            {
                "data_source_id": g_src,
                "source": source[g_src - 1],
                "target": frame["name"].to_numpy()[g_src - 1],
                "gap_type": rng.choice(
                    np.array(["missing_records", "stale_data", "ordering_issue", "webhook_drift"]),
                    gaps,
                    p=[0.35, 0.35, 0.15, 0.15],
                ),
                "severity": rng.choice(SEVERITIES, gaps, p=[0.4, 0.35, 0.18, 0.07]),
                "detected_at": self.ts_seconds(detected),
                "lag_ms": (rng.exponential(300, gaps) * 1000).astype(np.int64),
                "resolved_at": self.ts_seconds(np.where(still_open, 0, resolved)).where(
                    ~still_open
                ),
            }
        )
        self._count("sync_gaps", copy_frame(conn, "sync_gaps", gap_frame))
        # Per-minute lag samples per integration source, with occasional stalls.
        totals = pd.Series(source).value_counts()
        t = np.arange(self.minutes)
        stalls = [
            (
                int(rng.integers(0, self.minutes - 60)),
                int(rng.integers(20, 90)),
                str(rng.choice(SOURCES_ARR)),
            )
            for _ in range(max(2, self.days // 4))
        ]
        for day in range(self.days):
            sl = t[day * 1440 : (day + 1) * 1440]
            parts = []
            for src in SOURCES:
                n_src = int(totals.get(src, 0))
                avg = 12 + 6 * np.sin(sl / 1440 * 2 * np.pi) + rng.exponential(4, len(sl))
                mx = avg * rng.uniform(3, 8, len(sl))
                stale_n = np.round(n_src * np.clip(rng.normal(0.05, 0.01, len(sl)), 0, 1))
                for s0, length, ssrc in stalls:
                    if ssrc == src:
                        inside = (sl >= s0) & (sl < s0 + length)
                        ramp = (sl - s0 + 1) * 60.0
                        avg = np.where(inside, avg + ramp, avg)
                        mx = np.where(inside, mx + ramp * 2, mx)
                        stale_n = np.where(inside, n_src * 0.9, stale_n)
                parts.append(
                    pd.DataFrame(
                        {
                            "minute": self.ts(sl),
                            "source": src,
                            "sources_total": n_src,
                            "sources_stale": stale_n.astype(int),
                            "lag_avg_s": np.round(avg, 2),
                            "lag_max_s": np.round(mx, 2),
                        }
                    )
                )
            self._count("sync_lag_samples", copy_frame(conn, "sync_lag_samples", pd.concat(parts)))
        self.progress(f"data sources {count:,}, sync gaps {gaps:,}")

    # -- drift -----------------------------------------------------------------------------
    def drift(self, conn: Any) -> None:
        rng = self.rng("drift")
        span_s = self.days * 86400.0
        waves = [span_s * f for f in (0.2, 0.55, 0.9)]
        frames = []
        for w, at in enumerate(waves):
            k = max(3, int(self.n * 0.04))
            detected = at + rng.exponential(3 * 3600, k)
            resolved = detected + rng.exponential(2 * 86400 if w < 2 else 5 * 86400, k)
            still_open = resolved > span_s
            detected = np.minimum(detected, span_s - 1)
            frames.append(
                pd.DataFrame(
                    {
                        "agent_id": rng.integers(1, self.n + 1, k),
                        "kind": rng.choice(np.array(["config", "behavior", "performance"]), k),
                        "score": np.round(rng.uniform(30, 98, k), 1),
                        "detected_at": self.ts_seconds(detected),
                        "resolved_at": self.ts_seconds(np.where(still_open, 0, resolved)).where(
                            ~still_open
                        ),
                    }
                )
            )
        for frame in frames:
            self._count("drift_detections", copy_frame(conn, "drift_detections", frame))
        self.progress("drift detections")

    # -- request metrics -------------------------------------------------------------------
    def request_metrics(self, conn: Any) -> None:
        rng = self.rng("requests")
        for day in range(self.days):
            t = np.arange(day * 1440, (day + 1) * 1440)
            hour_of_day = ((t / 60.0) + self.start.hour) % 24
            diurnal = 0.55 + 0.45 * np.sin((hour_of_day - 8) / 24 * 2 * np.pi) ** 2 + 0.1
            parts = []
            for e, (method, route, base_rate, median_ms) in enumerate(ENDPOINTS):
                lam = base_rate * diurnal * (1 + 0.1 * rng.standard_normal(len(t))).clip(0.5)
                total = rng.poisson(lam)
                err_share = np.full(len(t), 0.002)
                lat = np.full(len(t), float(median_ms))
                for inc in self.incidents:
                    if e in inc.routes:
                        inside = (t >= inc.start_min) & (t < inc.start_min + inc.length_min)
                        err_share = np.where(
                            inside, np.maximum(err_share, inc.error_share), err_share
                        )
                        lat = np.where(inside, lat * inc.latency_factor, lat)
                n5 = rng.binomial(total, err_share)
                n4 = rng.binomial(total - n5, 0.02)
                n2 = total - n5 - n4
                for cls, counts, lat_factor in (
                    ("2xx", n2, 1.0),
                    ("4xx", n4, 0.4),
                    ("5xx", n5, 2.0),
                ):
                    keep = counts > 0
                    if not keep.any():
                        continue
                    c = counts[keep]
                    hist = _histogram(c, lat[keep] * lat_factor, 0.6)
                    frame = pd.DataFrame(hist, columns=list(BUCKET_COLUMNS))
                    frame.insert(0, "minute", self.ts(t[keep]).to_numpy())
                    frame.insert(1, "method", method)
                    frame.insert(2, "route", route)
                    frame.insert(3, "status_class", cls)
                    frame.insert(4, "request_count", c)
                    frame.insert(5, "error_count", c if cls == "5xx" else 0)
                    frame.insert(6, "latency_sum_ms", np.round(hist @ BUCKET_MID_MS, 1))
                    parts.append(frame)
            self._count(
                "request_metrics",
                copy_frame(conn, "request_metrics", pd.concat(parts, ignore_index=True)),
            )
            if day % 5 == 4 or day == self.days - 1:
                self.progress(f"request metrics day {day + 1}/{self.days}")

    # -- resources and health --------------------------------------------------------------
    def resources_and_health(self, conn: Any) -> None:
        rng = self.rng("resources")
        hot = [
            (int(rng.integers(0, self.minutes - 60)), int(rng.integers(20, 60)))
            for _ in range(max(2, self.days // 5))
        ]
        outages = [
            (
                int(rng.integers(0, self.minutes - 30)),
                int(rng.integers(3, 25)),
                COMPONENTS[i % len(COMPONENTS)],
            )
            for i in range(max(3, self.days // 3))
        ]
        for day in range(self.days):
            t = np.arange(day * 1440, (day + 1) * 1440)
            hour_of_day = ((t / 60.0) + self.start.hour) % 24
            load = 0.5 + 0.5 * np.sin((hour_of_day - 8) / 24 * 2 * np.pi) ** 2
            parts = []
            for i, inst in enumerate(INSTANCES):
                cpu = 25 + 35 * load + rng.normal(0, 4, len(t)) + i * 3
                for s0, length in hot:
                    cpu = np.where((t >= s0) & (t < s0 + length), cpu + 40, cpu)
                mem = 55 + 10 * load + rng.normal(0, 2, len(t)) + 0.2 * (t / 1440)
                disk = 48 + 12 * (t / max(1, self.minutes)) + i
                conns = np.round(12 + 20 * load + rng.normal(0, 3, len(t))).clip(1, 50)
                parts.append(
                    pd.DataFrame(
                        {
                            "minute": self.ts(t),
                            "instance": inst,
                            "cpu_pct": np.round(cpu.clip(0, 100), 2),
                            "memory_pct": np.round(mem.clip(0, 100), 2),
                            "disk_pct": np.round(disk.clip(0, 100), 2),
                            "db_connections": conns.astype(int),
                            "db_pool_size": 50,
                            "net_rx_bytes": (load * 4e6 + rng.exponential(5e5, len(t))).astype(
                                np.int64
                            ),
                            "net_tx_bytes": (load * 6e6 + rng.exponential(5e5, len(t))).astype(
                                np.int64
                            ),
                        }
                    )
                )
            self._count("resource_samples", copy_frame(conn, "resource_samples", pd.concat(parts)))
            checks = []
            for comp in COMPONENTS:
                status = np.full(len(t), "up", dtype=object)
                message = np.full(len(t), None, dtype=object)
                latency = rng.gamma(
                    2.0,
                    {
                        "orca_core": 12,
                        "postgresql": 2,
                        "redis": 0.6,
                        "otel_collector": 4,
                        "worker": 1,
                    }[comp],
                    len(t),
                )
                for s0, length, c in outages:
                    if c == comp:
                        inside = (t >= s0) & (t < s0 + length)
                        edge = inside & ((t == s0) | (t == s0 + length - 1))
                        status = np.where(inside, "down", status)
                        status = np.where(edge, "degraded", status)
                        message = np.where(inside, "connection refused", message)
                        message = np.where(edge, "slow responses", message)
                        latency = np.where(inside & ~edge, np.nan, latency)
                checks.append(
                    pd.DataFrame(
                        {
                            "checked_at": self.ts(t),
                            "component": comp,
                            "status": status,
                            "latency_ms": np.round(latency, 2),
                            "message": message,
                        }
                    )
                )
            self._count("health_checks", copy_frame(conn, "health_checks", pd.concat(checks)))
        self.progress("resource samples and health checks")

    # -- KPI snapshots ---------------------------------------------------------------------
    def kpi_snapshots(self, conn: Any) -> None:
        rng = self.rng("kpis")
        t = np.arange(0, self.minutes + 1, 5)
        phase = t / max(1, self.minutes)
        active = self.agent_status == "active"
        trust_now = float(self.agent_trust[active].mean()) if active.any() else 0.0
        # A slow slide over the last third of the period, plus noise and incident dips.
        slide = np.where(phase > 0.66, (phase - 0.66) * 9, 0.0)
        trust = trust_now + 2.5 - slide * 0.8 + rng.normal(0, 0.3, len(t))
        trust = trust - (trust[-1] - trust_now)
        drift = 6 + 3 * np.sin(phase * 6 * np.pi) ** 2 + rng.normal(0, 0.3, len(t))
        fresh = 100 * self.source_fresh_share + rng.normal(0, 0.8, len(t))
        sla = 93 + 3 * np.cos(phase * 4 * np.pi) + rng.normal(0, 0.5, len(t))
        idx = np.searchsorted(self.ra_minutes, t, side="right")
        ra = np.where(idx > 0, self.ra_cum[np.maximum(idx - 1, 0)], 0.0)
        n_active = int(active.sum())
        n_quar = int((self.agent_status == "quarantined").sum())
        born = np.searchsorted(np.sort(self.agent_discovered_s), t * 60.0, side="right")
        frame = pd.DataFrame(
            {
                "computed_at": self.ts(t),
                "origin": "seed",
                "trust_score": np.round(trust.clip(0, 100), 3),
                "reliability": np.round(
                    (0.94 - slide * 0.01 + rng.normal(0, 0.003, len(t))).clip(0, 1), 4
                ),
                "policy_adherence": np.round(
                    (0.9 - slide * 0.02 + rng.normal(0, 0.004, len(t))).clip(0, 1), 4
                ),
                "sync_freshness": np.round((fresh / 100).clip(0, 1), 4),
                "risk_exposure": np.round((0.38 + rng.normal(0, 0.003, len(t))).clip(0, 1), 4),
                "risk_avoided_usd_total": ra,
                "sync_freshness_pct": np.round(fresh.clip(0, 100), 2),
                "drift_rate_pct": np.round(drift.clip(0, 100), 2),
                "compliance_sla_pct": np.round(sla.clip(0, 100), 2),
                "active_agents": np.round(n_active * born / max(1, self.n)).astype(int),
                "total_agents": born,
                "quarantined_agents": n_quar,
            }
        )
        self._count("kpi_snapshots", copy_frame(conn, "kpi_snapshots", frame))


def _histogram(counts: np.ndarray, median_ms: np.ndarray, sigma: float) -> np.ndarray:
    """Split each row's request count over the 12 buckets of a log-normal latency.

    Expected counts are floored and the remainder goes to the modal bucket, so every row's
    buckets sum exactly to its request count (deterministic, no per-row sampling loop).
    """
    z = (LOG_BOUNDS[None, :] - np.log(median_ms)[:, None]) / sigma
    cdf = 0.5 * (1 + _erf(z / np.sqrt(2)))
    cdf = np.concatenate([cdf, np.ones((len(counts), 1))], axis=1)
    probs = np.diff(np.concatenate([np.zeros((len(counts), 1)), cdf], axis=1), axis=1)
    hist = np.floor(probs * counts[:, None]).astype(np.int64)
    rest = counts - hist.sum(axis=1)
    hist[np.arange(len(counts)), probs.argmax(axis=1)] += rest
    return np.asarray(hist, dtype=np.int64)


def _erf(x: np.ndarray) -> np.ndarray:
    """Vectorised erf (Abramowitz-Stegun 7.1.26, error < 1.5e-7): numpy has none built in."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return np.asarray(sign * (1 - poly * np.exp(-a * a)))


def seed_database(
    engine: Engine,
    *,
    agents: int,
    days: int,
    seed: int,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> SeedReport:
    """Fill an empty, migrated database; raise ValueError when it already holds agents."""
    if agents < 1 or days < 1:
        raise ValueError("agents and days must be at least 1")
    if days > 90:
        raise ValueError("at most 90 days of history can be simulated")
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    now = now.astimezone(UTC).replace(second=0, microsecond=0)
    started = time.perf_counter()
    with engine.connect() as probe:
        if probe.execute(text("SELECT EXISTS (SELECT 1 FROM agents)")).scalar_one():
            raise ValueError("the database already holds agents; seed only loads an empty database")
    seeder = _Seeder(engine, agents, days, seed, now, progress or (lambda _m: None))
    with Session(engine) as session, session.begin():
        ensure_partitions(
            session,
            first_day=seeder.start.date() - timedelta(days=1),
            last_day=now.date() + timedelta(days=3),
        )
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        seeder.agents(conn)
        seeder.violations(conn)
        seeder.syncs(conn)
        seeder.drift(conn)
        seeder.request_metrics(conn)
        seeder.resources_and_health(conn)
        seeder.kpi_snapshots(conn)
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()
    with Session(engine) as session, session.begin():
        for table in ("agents", "data_sources"):
            session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )
        written = refresh_rollups(session, since=seeder.start - timedelta(hours=1))
    for table, n in written.items():
        seeder.rows[table] = n
    with engine.connect() as conn2:
        conn2.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    seeder.progress("rollups and ANALYZE done")
    return SeedReport(dict(seeder.rows), time.perf_counter() - started)
