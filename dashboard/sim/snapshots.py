"""KPI snapshots every 5 minutes, replayed exactly from the generated rows.

Each generator reports the moments at which a KPI's inputs change (an agent becomes active,
a trust score moves, a drift opens, a violation passes its deadline ...) as deltas; a
cumulative sum over the 5-minute grid then gives, at every snapshot, the same value the
console's own KPI queries give on the seeded rows at that moment (for the last snapshot,
at ``now``, exactly the live value).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from dashboard.sim.pgcopy import Column, CopyBatch, encode_binary
from dashboard.sim.plan import SNAPSHOT_STEP_S, US, Timeline

STEP_US: Final = SNAPSHOT_STEP_S * US
SERIES: Final = (
    "trust",
    "reliability",
    "adherence",
    "freshness",
    "risk",
    "active",
    "quarantined",
    "total",
    "drifting",
    "risk_avoided",
    "sla_met",
    "sla_missed",
)


class KpiAccumulator:
    """Deltas of every KPI input on the 5-minute grid (index j = time j x 5 min)."""

    def __init__(self, tl: Timeline) -> None:
        self.tl = tl
        self.n = tl.snapshots
        self.deltas = {name: np.zeros(self.n + 1) for name in SERIES}

    @staticmethod
    def first_at_or_after(t_us: np.ndarray) -> np.ndarray:
        """Index of the first snapshot taken at or after ``t_us``."""
        return np.asarray(-(-np.asarray(t_us, dtype=np.int64) // STEP_US))

    @staticmethod
    def first_after(t_us: np.ndarray) -> np.ndarray:
        """Index of the first snapshot taken strictly after ``t_us``."""
        return np.asarray(np.asarray(t_us, dtype=np.int64) // STEP_US + 1)

    def at_or_after(self, series: str, t_us: np.ndarray, weights: np.ndarray | float) -> None:
        """Counted in every snapshot taken at or after ``t_us`` (a value as of that moment)."""
        self._add(series, self.first_at_or_after(t_us), weights)

    def after(self, series: str, t_us: np.ndarray, weights: np.ndarray | float) -> None:
        """Counted in every snapshot taken strictly after ``t_us`` (e.g. ``occurred_at < now``)."""
        self._add(series, self.first_after(t_us), weights)

    def during(self, series: str, first: np.ndarray, stop: np.ndarray) -> None:
        """Counted once in snapshots first..stop-1 (nothing where stop <= first)."""
        keep = stop > first
        self._add(series, first[keep], 1.0)
        self._add(series, stop[keep], -1.0)

    def _add(self, series: str, bins: np.ndarray, weights: np.ndarray | float) -> None:
        if bins.size == 0:
            return
        w = np.broadcast_to(np.asarray(weights, dtype=np.float64), bins.shape)
        keep = bins <= self.n
        self.deltas[series] += np.bincount(
            np.clip(bins[keep], 0, self.n), weights=w[keep], minlength=self.n + 1
        )

    def level(self, series: str) -> np.ndarray:
        return np.asarray(np.cumsum(self.deltas[series])[: self.n])


def snapshot_batch(
    acc: KpiAccumulator,
    *,
    stale_sources: np.ndarray,
    total_sources: int,
) -> CopyBatch:
    """The kpi_snapshots rows (origin 'seed'); stale_sources: stale count at each snapshot."""
    tl = acc.tl
    active = np.rint(acc.level("active")).astype(np.int64)
    has_active = active > 0
    safe = np.maximum(active, 1)

    def mean(series: str) -> np.ndarray:
        return np.asarray(acc.level(series) / safe)

    met = acc.level("sla_met")
    missed = acc.level("sla_missed")
    counted = met + missed
    sla = np.where(counted > 0.5, 100.0 * met / np.maximum(counted, 1.0), 100.0)
    drifting = np.rint(acc.level("drifting"))
    freshness_pct = (
        np.full(acc.n, 100.0)
        if total_sources == 0
        else 100.0 * (total_sources - stale_sources) / total_sources
    )
    times = np.arange(acc.n, dtype=np.int64) * STEP_US
    no_trust = ~has_active
    columns = [
        Column("computed_at", "timestamptz", times),
        Column("origin", "text", np.full(acc.n, b"seed")),
        Column("trust_score", "float8", np.clip(mean("trust"), 0, 100), no_trust),
        Column("reliability", "float8", np.clip(mean("reliability"), 0, 1), no_trust),
        Column("policy_adherence", "float8", np.clip(mean("adherence"), 0, 1), no_trust),
        Column("sync_freshness", "float8", np.clip(mean("freshness"), 0, 1), no_trust),
        Column("risk_exposure", "float8", np.clip(mean("risk"), 0, 1), no_trust),
        Column("risk_avoided_usd_total", "float8", np.rint(acc.level("risk_avoided"))),
        Column("sync_freshness_pct", "float8", freshness_pct),
        Column(
            "drift_rate_pct",
            "float8",
            np.where(has_active, 100.0 * np.minimum(drifting, active) / safe, 0.0),
        ),
        Column("compliance_sla_pct", "float8", sla),
        Column("active_agents", "int4", active),
        Column("total_agents", "int4", np.rint(acc.level("total")).astype(np.int64)),
        Column("quarantined_agents", "int4", np.rint(acc.level("quarantined")).astype(np.int64)),
    ]
    return encode_binary("kpi_snapshots", columns, base=tl.start)
