"""Policy violations: a few per hundred agents and day, more in business hours and incidents."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import numpy as np

from dashboard.domain import kpi
from dashboard.sim import vocab
from dashboard.sim.pgcopy import Column, CopyBatch, encode_binary
from dashboard.sim.plan import US, Plan, Timeline
from dashboard.sim.registry import RegistryState
from dashboard.sim.snapshots import KpiAccumulator

VIOLATIONS_PER_AGENT_DAY: Final = 0.03  # 3 a day per 100 agents (DOMAIN: review at >= 5/day)
_DEADLINE_US: Final = np.array(
    [int(kpi.SLA_DEADLINES[s].total_seconds()) * US for s in vocab.SEVERITIES]
)
_COST: Final = np.array([kpi.SEVERITY_COST_USD[s] for s in vocab.SEVERITIES])
_ACTION_P: Final = np.array([vocab.POLICY_ACTIONS[str(p)] for p in vocab.POLICIES])
_POLICY_BYTES: Final = np.array([str(p).encode() for p in vocab.POLICIES])
_SEVERITY_BYTES: Final = np.array([s.encode() for s in vocab.SEVERITIES])
_ACTION_BYTES: Final = np.array([a.encode() for a in vocab.ACTIONS])
_BLOCKED: Final = vocab.ACTIONS.index("blocked")


def incident_minutes(tl: Timeline, plan: Plan) -> np.ndarray:
    """Per minute of the period: 0 calm, 1 in a route incident, 2 in a major outage."""
    level = np.zeros(tl.minutes, dtype=np.int64)
    for inc in plan.incidents:
        lo, hi = max(0, inc.start_min), min(tl.minutes, inc.end_min)
        level[lo:hi] = np.maximum(level[lo:hi], 1 if inc.routes else 2)
    return level


def violations(
    tl: Timeline, plan: Plan, state: RegistryState, acc: KpiAccumulator
) -> Iterator[CopyBatch]:
    """One batch per day; fills Risk Avoided and Compliance SLA deltas into ``acc``."""
    weights = np.cumsum(state.violation_weight)
    trouble = incident_minutes(tl, plan)
    mean_load = float(tl.load(np.arange(7 * 1440)).mean())
    span_us = tl.span_s * US
    # The worker's snapshots judge the violations of the trailing trust window (24 h).
    window_us = int(kpi.TRUST_WINDOW.total_seconds()) * US
    for day in range(tl.days):
        rng = tl.rng("violations", day)
        m = np.arange(day * 1440, (day + 1) * 1440)
        alive = np.searchsorted(state.discovered_s, m * 60, side="right")
        boost = np.array([1.0, 3.0, 5.0])[trouble[m]]
        lam = alive * VIOLATIONS_PER_AGENT_DAY / 1440 * tl.load(m) / mean_load * boost
        count = rng.poisson(lam)
        k = int(count.sum())
        if k == 0:
            continue
        minute = np.repeat(m, count)
        hot = np.repeat(trouble[m] > 0, count)
        occurred = minute * 60 * US + rng.integers(0, 60 * US, k)
        n_alive = np.repeat(alive, count)
        target = rng.random(k) * weights[n_alive - 1]
        agent = np.minimum(np.searchsorted(weights, target, side="right"), n_alive - 1) + 1
        policy = rng.integers(0, len(vocab.POLICIES), k)
        u = rng.random(k)
        cum = np.cumsum(_ACTION_P[policy], axis=1)
        action = (u[:, None] > cum).sum(axis=1).clip(0, len(vocab.ACTIONS) - 1)
        severity = np.where(
            hot,
            rng.choice(4, k, p=[0.3, 0.3, 0.25, 0.15]),
            rng.choice(4, k, p=[0.5, 0.3, 0.15, 0.05]),
        )
        deadline = occurred + _DEADLINE_US[severity]
        outcome = rng.random(k)
        on_time = outcome < np.where(hot, 0.65, 0.86)
        late = ~on_time & (outcome < 0.95)
        frac = np.where(on_time, rng.uniform(0.05, 0.95, k), rng.uniform(1.05, 3.0, k))
        resolved = occurred + (frac * _DEADLINE_US[severity]).astype(np.int64)
        open_ = ~(on_time | late) | (resolved > span_us)
        met = on_time & ~open_
        acc.after("risk_avoided", occurred, np.where(action == _BLOCKED, _COST[severity], 0.0))
        # Judged at a snapshot: met once resolved in time, missed once past the deadline
        # unresolved (or resolved late); counted while it lies in the snapshot's window.
        leaves = acc.first_after(occurred + window_us)
        acc.during("sla_met", acc.first_at_or_after(resolved[met]), leaves[met])
        acc.during("sla_missed", acc.first_after(deadline[~met]), leaves[~met])
        yield encode_binary(
            "policy_violations",
            [
                Column("agent_id", "int8", agent),
                Column("policy_id", "text", _POLICY_BYTES[policy]),
                Column("severity", "text", _SEVERITY_BYTES[severity]),
                Column("action", "text", _ACTION_BYTES[action]),
                Column("occurred_at", "timestamptz", occurred),
                Column("resolved_at", "timestamptz", np.where(open_, 0, resolved), open_),
            ],
            base=tl.start,
        )
