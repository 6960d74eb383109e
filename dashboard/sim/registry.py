"""Agents and what each one owns: status history, trust history, data sources, sync gaps, drift.

Agents are generated in chunks of AGENT_CHUNK with ids in discovery order (a quarter come
from an import of the previous registry at the period's start, the rest are discovered at a
growing rate). Every agent's story is a few events (discovered -> reviewed -> a lifecycle
change -> released) and its trust history has a point at each event plus periodic ones, the
last at ``now``, so agents.trust_score is exactly its latest history row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from dashboard.domain import kpi
from dashboard.sim import vocab
from dashboard.sim.pgcopy import (
    Column,
    CopyBatch,
    encode_binary,
    encode_text,
    text_field,
    text_numbers,
    text_timestamps,
)
from dashboard.sim.plan import DAY, HOUR, MINUTE, US, Plan, Timeline
from dashboard.sim.snapshots import KpiAccumulator

AGENT_CHUNK: Final = 20_000
IMPORT_SHARE: Final = 0.25  # imported from the previous registry at the period's start
REVIEW_MEDIAN_S: Final = 8 * HOUR
LIFECYCLE_MEAN_S: Final = 120 * DAY
SOURCE_SHARE: Final = 0.45  # agents that own data sources (1-3 each)
FAILED_AFTER_MS: Final = 2 * HOUR * 1000  # a source this far behind is 'failed', not 'lagging'
DRIFT_PER_DAY: Final = 0.02  # background drift detections per active agent and day
ACTIVE, SUSPENDED, DEPRECATED, QUARANTINED = 0, 1, 2, 3
_BIG: Final = np.iinfo(np.int64).max
_STATUS_BYTES: Final = np.array([s.encode() for s in vocab.STATUSES])
_TIER_RISK: Final = np.array([kpi.TIER_RISK[t] for t in vocab.TIERS])
_W: Final = kpi.TRUST_WEIGHTS


@dataclass
class RegistryState:
    """What later stages need to know about every agent and data source (a few bytes each)."""

    n: int
    discovered_s: np.ndarray  # seconds from the start, ascending with the id
    violation_weight: np.ndarray  # how likely each agent is to be the one violating a policy
    sources_per_integration: np.ndarray = field(
        default_factory=lambda: np.zeros(len(vocab.INTEGRATIONS), dtype=np.int64)
    )
    stale_type: list[np.ndarray] = field(default_factory=list)
    stale_start_ms: list[np.ndarray] = field(default_factory=list)
    data_sources: int = 0


def _off_minute(t: np.ndarray) -> np.ndarray:
    """Event times never fall on a whole minute, where the periodic trust points sit."""
    return np.asarray(t + (t % MINUTE == 0), dtype=np.int64)


def _bytes(values: np.ndarray | list[str]) -> np.ndarray:
    return np.char.encode(np.asarray(values, dtype=str), "utf-8")


def _pick(rng: np.random.Generator, options: tuple[str, ...], k: int) -> np.ndarray:
    return np.asarray(options, dtype=object)[rng.integers(0, len(options), k)]


def hostile_positions(n: int) -> dict[int, str]:
    """0-based agent positions of the hostile names: half among the oldest, half the newest."""
    out: dict[int, str] = {}
    for j, name in enumerate(vocab.HOSTILE_NAMES):
        pos = j * 7 if j % 2 == 0 else n - 1 - j * 3
        if 0 <= pos < n and pos not in out:
            out[pos] = name
    return out


def generate_chunk(
    tl: Timeline,
    plan: Plan,
    state: RegistryState,
    acc: KpiAccumulator,
    *,
    chunk: int,
    lo: int,
    hi: int,
) -> list[CopyBatch]:
    """Rows of agents lo+1..hi and everything they own; fills ``state`` and ``acc``.

    The steps draw from one random stream in this order (discovery, lifecycle, data sources,
    sync gaps, trust history, drift, agent attributes): reordering them changes what a seed
    gives.
    """
    rng = tl.rng("agents", chunk)
    ids = np.arange(lo + 1, hi + 1, dtype=np.int64)
    found = _discover(tl, rng, state, lo=lo, hi=hi)
    life = _lifecycle(tl, rng, found)
    batches = [_status_changes(tl, ids, life.ev_t, life.ev_s, life.ev_by, life.ev_why)]
    ds = _data_sources(tl, rng, state, ids, found.source, found.t0)
    batches.append(ds.batch)
    batches.append(_sync_gaps(tl, plan, rng, ds))
    trust = _trust_history(tl, rng, found, life, ds)
    state.violation_weight[lo:hi] = trust.violation_weight
    batches.append(_trust_batch(tl, ids, trust))
    _record_trust_kpis(acc, trust, found.t0)
    batches.append(_drift(tl, plan, rng, acc, ids, life.status, life.last_t))
    batches.insert(
        0,
        _agents_batch(
            tl,
            rng,
            ids,
            lo=lo,
            source=found.source,
            tier=found.tier,
            t0=found.t0,
            n=state.n,
            ev_t=life.ev_t,
            ev_by=life.ev_by,
            ev_why=life.ev_why,
            has1=life.has1,
            imported=found.imported,
            status=life.status,
            last=life.last,
            last_t=life.last_t,
            trust_now=trust.score[trust.final],
        ),
    )
    return batches


@dataclass(frozen=True)
class _Discovery:
    """When and how each agent of a chunk was found."""

    t0: np.ndarray  # seconds from the start
    imported: np.ndarray  # bool: from the previous registry at the start
    source: np.ndarray  # index into vocab.SOURCES
    tier: np.ndarray  # index into vocab.TIERS


def _discover(
    tl: Timeline, rng: np.random.Generator, state: RegistryState, *, lo: int, hi: int
) -> _Discovery:
    """An import at the start, then a discovery rate growing 4x over the period."""
    k, span = hi - lo, tl.span_s
    q = (np.arange(lo, hi) + rng.random(k)) / state.n
    imported = q < IMPORT_SHARE
    qq = np.clip((q - IMPORT_SHARE) / (1 - IMPORT_SHARE), 0.0, 1.0)
    x = (np.sqrt(1.0 + 15.0 * qq) - 1.0) / 3.0
    t0 = np.where(imported, 0, _off_minute(np.clip((x * span).astype(np.int64), 1, span - 1)))
    state.discovered_s[lo:hi] = t0
    source = rng.choice(len(vocab.SOURCES), k, p=vocab.SOURCE_WEIGHTS)
    tier = rng.choice(len(vocab.TIERS), k, p=vocab.TIER_WEIGHTS)
    return _Discovery(t0=t0, imported=imported, source=source, tier=tier)


@dataclass(frozen=True)
class _Lifecycle:
    """Up to four status events per agent (time -1: none) and where each agent ended."""

    ev_t: np.ndarray
    ev_s: np.ndarray
    ev_by: np.ndarray
    ev_why: np.ndarray
    has1: np.ndarray  # reviewed after discovery
    last: np.ndarray  # index of the last event
    status: np.ndarray
    last_t: np.ndarray


def _lifecycle(tl: Timeline, rng: np.random.Generator, found: _Discovery) -> _Lifecycle:
    """Import or discovery, review, an operational change, and sometimes a release."""
    t0, imported = found.t0, found.imported
    k, span = len(t0), tl.span_s
    rows = np.arange(k)
    src_names = np.asarray(vocab.SOURCES, dtype=object)[found.source]
    ev_t = np.full((k, 4), -1, dtype=np.int64)
    ev_s = np.full((k, 4), -1, dtype=np.int64)
    ev_by = np.full((k, 4), None, dtype=object)
    ev_why = np.full((k, 4), None, dtype=object)
    ev_t[:, 0] = t0
    ev_s[:, 0] = np.where(
        imported, rng.choice(3, k, p=[0.88, 0.06, 0.06]), QUARANTINED
    )  # imported: active / suspended / deprecated
    ev_by[:, 0] = np.where(imported, "registry-import", "discovery")
    ev_why[:, 0] = np.where(
        imported,
        "imported from the previous agent registry",
        np.char.add(
            np.char.add("new agent found by ", src_names.astype(str)),
            " discovery; awaiting review",
        ).astype(object),
    )
    delay = np.maximum(600, rng.lognormal(np.log(REVIEW_MEDIAN_S), 0.9, k)).astype(np.int64)
    t1 = _off_minute(t0 + delay)
    has1 = ~imported & (t1 < span)
    approve = rng.random(k) < 0.93
    ev_t[has1, 1] = t1[has1]
    ev_s[has1, 1] = np.where(approve, ACTIVE, DEPRECATED)[has1]
    ev_by[has1, 1] = _pick(rng, vocab.REVIEWERS, k)[has1]
    ev_why[has1, 1] = np.where(
        approve, "reviewed and approved", _pick(rng, vocab.REJECT_REASONS, k)
    )[has1]
    base = np.where(has1 & approve, t1, np.where(imported & (ev_s[:, 0] == ACTIVE), 0, -1))
    t2 = _off_minute(base + np.maximum(600, rng.exponential(LIFECYCLE_MEAN_S, k)).astype(np.int64))
    has2 = (base >= 0) & (t2 < span)
    s2 = rng.choice([SUSPENDED, DEPRECATED, QUARANTINED], k, p=[0.35, 0.25, 0.40])
    ev_t[has2, 2] = t2[has2]
    ev_s[has2, 2] = s2[has2]
    why2 = np.select(
        [s2 == SUSPENDED, s2 == DEPRECATED],
        [_pick(rng, vocab.SUSPEND_REASONS, k), _pick(rng, vocab.DEPRECATE_REASONS, k)],
        _pick(rng, vocab.OPS_QUARANTINE_REASONS, k),
    )
    ev_by[has2, 2] = _pick(rng, vocab.ONCALL, k)[has2]
    ev_why[has2, 2] = why2[has2]
    t3 = _off_minute(t2 + np.maximum(1800, rng.exponential(8 * HOUR, k)).astype(np.int64))
    has3 = has2 & (s2 == QUARANTINED) & (rng.random(k) < 0.35) & (t3 < span)
    ev_t[has3, 3] = t3[has3]
    ev_s[has3, 3] = ACTIVE
    ev_by[has3, 3] = _pick(rng, vocab.ONCALL, k)[has3]
    ev_why[has3, 3] = "released after investigation: false positive"
    last = np.select([has3, has2, has1], [3, 2, 1], 0)
    status = ev_s[rows, last]
    last_t = ev_t[rows, last]
    return _Lifecycle(
        ev_t=ev_t,
        ev_s=ev_s,
        ev_by=ev_by,
        ev_why=ev_why,
        has1=has1,
        last=last,
        status=status,
        last_t=last_t,
    )


@dataclass(frozen=True)
class _Trust:
    """Each agent's trust points (rows: agents, columns: points; ``valid`` marks the real ones)."""

    pts: np.ndarray
    valid: np.ndarray
    active: np.ndarray
    quarantined: np.ndarray
    score: np.ndarray
    reliability: np.ndarray
    adherence: np.ndarray
    freshness: np.ndarray
    risk: np.ndarray
    points: np.ndarray  # real points per agent
    final: tuple[np.ndarray, np.ndarray]  # index of each agent's point at now
    violation_weight: np.ndarray


def _trust_history(
    tl: Timeline, rng: np.random.Generator, found: _Discovery, life: _Lifecycle, ds: _Sources
) -> _Trust:
    """A point at every event and every cadence step, the last at now."""
    t0, tier, ev_t, ev_s = found.t0, found.tier, life.ev_t, life.ev_s
    k, span = len(t0), tl.span_s
    rows = np.arange(k)
    cadence = 7 * DAY if tl.days > 7 else DAY
    periodic = np.array([span - j * cadence for j in range(span // cadence + 1)], dtype=np.int64)
    periodic = periodic[periodic > 0]
    pts = np.concatenate([ev_t, np.broadcast_to(periodic, (k, len(periodic)))], axis=1)
    valid = np.concatenate([ev_t >= 0, periodic[None, :] > t0[:, None]], axis=1)
    pts = np.sort(np.where(valid, pts, _BIG), axis=1)
    valid = pts != _BIG
    st = np.full(pts.shape, -1, dtype=np.int64)
    for j in range(4):
        happened = (ev_t[:, j : j + 1] >= 0) & (ev_t[:, j : j + 1] <= pts)
        st = np.where(happened, ev_s[:, j : j + 1], st)
    active = valid & (st == ACTIVE)
    quarantined = valid & (st == QUARANTINED)
    traffic = active | quarantined
    frac = np.where(valid, pts, 0) / span
    trend = rng.choice(3, k, p=[0.75, 0.20, 0.05])  # steady / slipping lately / improving
    mult = np.select(
        [trend[:, None] == 1, trend[:, None] == 2],
        [0.25 + 0.75 * frac**2, 1.0 + 3.0 * (1.0 - frac)],
        1.0,
    )
    req_median = rng.lognormal(np.log(400), 1.0, k)
    # Most agents are reliable and compliant; a tail is flaky or keeps breaking policies.
    u = rng.random((2, k))
    err_now = np.select(
        [u[0] < 0.65, u[0] < 0.90],
        [rng.beta(1.2, 120, k), rng.beta(2, 25, k)],
        rng.beta(3, 6, k),
    )
    vrate_now = np.select(
        [u[1] < 0.50, u[1] < 0.80],
        [rng.beta(0.3, 3000, k), rng.beta(1.5, 120, k)],
        rng.beta(2, 50, k),
    )
    req = np.where(
        traffic, np.rint(req_median[:, None] * rng.lognormal(0.0, 0.25, pts.shape)), 0
    ).astype(np.int64)
    errors = rng.binomial(req, np.clip(err_now[:, None] * mult, 0, 1))
    viol = rng.binomial(req, np.clip(vrate_now[:, None] * mult, 0, 1))
    safe_req = np.maximum(req, 1)
    reliability = np.where(req > 0, (req - errors) / safe_req, kpi.NO_TRAFFIC_RELIABILITY)
    adherence = np.where(
        req > 0, np.maximum(0.0, 1.0 - kpi.VIOLATION_RATE_FACTOR * viol / safe_req), 1.0
    )
    stale = np.zeros(pts.shape)
    at_ms = np.where(valid, pts, 0) * 1000
    np.add.at(stale, ds.owner, ds.stale_start_ms[:, None] < at_ms[ds.owner])
    owned = np.bincount(ds.owner, minlength=k)[:, None]
    freshness = np.where(owned > 0, (owned - stale) / np.maximum(owned, 1), 1.0)
    risk = np.minimum(1.0, _TIER_RISK[tier][:, None] + kpi.QUARANTINE_RISK_PENALTY * quarantined)
    score = 100.0 * (
        _W["reliability"] * reliability
        + _W["policy_adherence"] * adherence
        + _W["sync_freshness"] * freshness
        + _W["risk"] * (1.0 - risk)
    )
    points = valid.sum(axis=1)
    final = (rows, points - 1)  # the point at now
    return _Trust(
        pts=pts,
        valid=valid,
        active=active,
        quarantined=quarantined,
        score=score,
        reliability=reliability,
        adherence=adherence,
        freshness=freshness,
        risk=risk,
        points=points,
        final=final,
        violation_weight=0.02 + (1.0 - adherence[final]),
    )


def _trust_batch(tl: Timeline, ids: np.ndarray, trust: _Trust) -> CopyBatch:
    valid = trust.valid
    return encode_binary(
        "agent_trust_history",
        [
            Column("agent_id", "int8", np.repeat(ids, trust.points)),
            Column("computed_at", "timestamptz", trust.pts[valid] * US),
            Column("score", "float8", trust.score[valid]),
            Column("reliability", "float8", trust.reliability[valid]),
            Column("policy_adherence", "float8", trust.adherence[valid]),
            Column("sync_freshness", "float8", trust.freshness[valid]),
            Column("risk_exposure", "float8", trust.risk[valid]),
        ],
        base=tl.start,
    )


def _record_trust_kpis(acc: KpiAccumulator, trust: _Trust, t0: np.ndarray) -> None:
    """KPI deltas: each point replaces the agent's previous contribution."""
    valid = trust.valid
    t_us = trust.pts[valid] * US
    for series, value in (
        ("trust", trust.score),
        ("reliability", trust.reliability),
        ("adherence", trust.adherence),
        ("freshness", trust.freshness),
        ("risk", trust.risk),
    ):
        contrib = np.where(trust.active, value, 0.0)
        delta = np.diff(contrib, axis=1, prepend=0.0)
        acc.at_or_after(series, t_us, delta[valid])
    for series, flag in (("active", trust.active), ("quarantined", trust.quarantined)):
        delta = np.diff(flag.astype(np.float64), axis=1, prepend=0.0)
        acc.at_or_after(series, t_us, delta[valid])
    acc.at_or_after("total", t0 * US, 1.0)


def _status_changes(
    tl: Timeline,
    ids: np.ndarray,
    ev_t: np.ndarray,
    ev_s: np.ndarray,
    ev_by: np.ndarray,
    ev_why: np.ndarray,
) -> CopyBatch:
    present = ev_t >= 0
    # The status before each slot: none, quarantined (review), active (lifecycle change),
    # quarantined (release); imported agents skip the review but were active all the same.
    prev = np.broadcast_to(np.array([-1, QUARANTINED, ACTIVE, QUARANTINED]), ev_t.shape)
    agent = np.broadcast_to(ids[:, None], ev_t.shape)[present]
    from_status = prev[present]
    return encode_binary(
        "agent_status_changes",
        [
            Column("agent_id", "int8", agent),
            Column(
                "from_status",
                "text",
                _STATUS_BYTES[np.maximum(from_status, 0)],
                from_status < 0,
            ),
            Column("to_status", "text", _STATUS_BYTES[ev_s[present]]),
            Column("changed_at", "timestamptz", ev_t[present] * US),
            Column("changed_by", "text", _bytes(list(ev_by[present]))),
            Column("reason", "text", _bytes(list(ev_why[present]))),
        ],
        base=tl.start,
    )


@dataclass(frozen=True)
class _Sources:
    batch: CopyBatch
    ids: np.ndarray
    owner: np.ndarray  # position of the owning agent in the chunk
    kind: np.ndarray  # index into vocab.INTEGRATIONS
    names: np.ndarray  # bytes
    lag_ms: np.ndarray
    stale_start_ms: np.ndarray  # moment the source's lag passed the freshness SLO


def _data_sources(
    tl: Timeline,
    rng: np.random.Generator,
    state: RegistryState,
    ids: np.ndarray,
    source: np.ndarray,
    t0: np.ndarray,
) -> _Sources:
    k = len(ids)
    count = np.where(rng.random(k) < SOURCE_SHARE, rng.choice([1, 2, 3], k, p=[0.5, 0.3, 0.2]), 0)
    ns = int(count.sum())
    owner = np.repeat(np.arange(k), count)
    rank = np.arange(ns) - np.repeat(np.cumsum(count) - count, count)
    integrations = len(vocab.INTEGRATIONS)
    own = source[owner]  # agent's discovery source (index into SOURCES; manual is last)
    kind = np.where(
        (own < integrations) & ((rank == 0) | (rng.random(ns) < 0.6)),
        own,
        rng.integers(0, integrations, ns),
    )
    first_id = state.data_sources + 1
    src_ids = np.arange(first_id, first_id + ns, dtype=np.int64)
    state.data_sources += ns
    names = np.char.add(
        np.char.add(vocab.SOURCE_SYSTEMS[rng.integers(0, len(vocab.SOURCE_SYSTEMS), ns)], "-"),
        src_ids.astype(str),
    )
    u = rng.random(ns)
    lag_s = np.select(
        [u < 0.005, u < 0.04],
        [rng.uniform(2 * HOUR, 30 * HOUR, ns), rng.uniform(90, 30 * MINUTE, ns)],
        rng.exponential(15.0, ns),
    )
    span_ms = tl.span_s * 1000
    lag_ms = np.minimum((lag_s * 1000).astype(np.int64), (tl.span_s - t0[owner]) * 1000)
    success_ms = span_ms - lag_ms
    attempt_ms = np.select(
        [lag_ms > FAILED_AFTER_MS, lag_ms > 60_000],
        [span_ms - rng.integers(0, 300_000, ns), span_ms - rng.integers(0, 60_000, ns)],
        success_ms,
    )
    attempt_ms = np.maximum(attempt_ms, success_ms)
    status = np.select(
        [lag_ms > FAILED_AFTER_MS, lag_ms > kpi.FRESHNESS_SLO_SECONDS * 1000],
        [b"failed", b"lagging"],
        b"ok",
    )
    stale_start = span_ms - lag_ms + kpi.FRESHNESS_SLO_SECONDS * 1000
    state.sources_per_integration += np.bincount(kind, minlength=integrations)
    stale_now = lag_ms > kpi.FRESHNESS_SLO_SECONDS * 1000
    state.stale_type.append(kind[stale_now])
    state.stale_start_ms.append(stale_start[stale_now])
    kind_bytes = np.array([s.encode() for s in vocab.INTEGRATIONS])
    name_bytes = _bytes(names)
    batch = encode_binary(
        "data_sources",
        [
            Column("id", "int8", src_ids),
            Column("agent_id", "int8", ids[owner]),
            Column("name", "text", name_bytes),
            Column("source", "text", kind_bytes[kind]),
            Column("last_success_at", "timestamptz", success_ms * 1000),
            Column("last_attempt_at", "timestamptz", attempt_ms * 1000),
            Column("status", "text", status),
            Column("records_synced", "int8", rng.lognormal(9.0, 2.0, ns).astype(np.int64)),
        ],
        base=tl.start,
    )
    return _Sources(batch, src_ids, owner, kind, name_bytes, lag_ms, stale_start)


def _gap_severity(lag_ms: np.ndarray) -> np.ndarray:
    return np.asarray(
        np.select(
            [lag_ms < 5 * 60_000, lag_ms < 15 * 60_000, lag_ms < 60 * 60_000],
            [b"low", b"medium", b"high"],
            b"critical",
        )
    )


def _sync_gaps(tl: Timeline, plan: Plan, rng: np.random.Generator, ds: _Sources) -> CopyBatch:
    """Open gaps on the sources that are stale now; resolved ones over the period."""
    ns = len(ds.ids)
    span_ms = tl.span_s * 1000
    parts: list[tuple[np.ndarray, ...]] = []  # (source index, type, detected, lag, resolved)
    # Open: every failed source, a third of the lagging ones.
    failed = ds.lag_ms > FAILED_AFTER_MS
    lagging = (ds.lag_ms > 60_000) & ~failed & (rng.random(ns) < 0.3)
    for mask, types, p in (
        (failed, (b"stale_data", b"missing_records", b"webhook_drift"), (0.5, 0.35, 0.15)),
        (lagging, (b"stale_data", b"ordering_issue", b"webhook_drift"), (0.6, 0.2, 0.2)),
    ):
        idx = np.flatnonzero(mask)
        success = span_ms - ds.lag_ms[idx]
        room = np.minimum(ds.lag_ms[idx] - 60_000, 600_000)
        detected = success + 60_000 + (rng.random(len(idx)) * room).astype(np.int64)
        parts.append(
            (
                idx,
                np.array(types)[rng.choice(3, len(idx), p=p)],
                detected,
                detected - success,
                np.full(len(idx), -1, dtype=np.int64),
            )
        )
    # Resolved over the period: a few per hundred sources and month.
    m = int(rng.poisson(ns * 0.04 * tl.days / 30)) if ns else 0
    if m:
        idx = rng.integers(0, ns, m)
        detected = rng.integers(0, max(1, span_ms - 2 * HOUR * 1000), m)
        lag = 60_000 + rng.exponential(240_000, m).astype(np.int64)
        resolved = np.minimum(
            detected + lag + rng.exponential(90 * 60_000, m).astype(np.int64), span_ms - 1000
        )
        parts.append(
            (
                idx,
                np.array([s.encode() for s in vocab.GAP_TYPES])[rng.integers(0, 4, m)],
                detected,
                lag,
                resolved,
            )
        )
    # Stalls: some of the stalled integration's sources report gaps while it lasts.
    for stall in plan.stalls:
        kind = vocab.INTEGRATIONS.index(stall.source)
        idx = np.flatnonzero((ds.kind == kind) & (rng.random(ns) < 0.03))
        if not len(idx):
            continue
        s0 = stall.start_min * 60_000
        length = stall.length_min * 60_000
        detected = (
            s0 + 5 * 60_000 + (rng.random(len(idx)) * max(1, length - 5 * 60_000)).astype(np.int64)
        )
        resolved = np.minimum(
            s0 + length + rng.exponential(20 * 60_000, len(idx)).astype(np.int64), span_ms - 1000
        )
        resolved = np.maximum(resolved, detected)
        parts.append(
            (
                idx,
                np.array([b"stale_data", b"missing_records"])[rng.integers(0, 2, len(idx))],
                detected,
                detected - s0,
                resolved,
            )
        )
    idx = np.concatenate([p[0] for p in parts])
    gap_type = np.concatenate([p[1] for p in parts])
    detected = np.concatenate([p[2] for p in parts])
    lag = np.concatenate([p[3] for p in parts])
    resolved = np.concatenate([p[4] for p in parts])
    kind_bytes = np.array([s.encode() for s in vocab.INTEGRATIONS])
    return encode_binary(
        "sync_gaps",
        [
            Column("data_source_id", "int8", ds.ids[idx]),
            Column("source", "text", kind_bytes[ds.kind[idx]]),
            Column("target", "text", ds.names[idx]),
            Column("gap_type", "text", gap_type),
            Column("severity", "text", _gap_severity(lag)),
            Column("detected_at", "timestamptz", detected * 1000),
            Column("lag_ms", "int8", lag),
            Column("resolved_at", "timestamptz", np.maximum(resolved, 0) * 1000, resolved < 0),
        ],
        base=tl.start,
    )


def _drift(
    tl: Timeline,
    plan: Plan,
    rng: np.random.Generator,
    acc: KpiAccumulator,
    ids: np.ndarray,
    status: np.ndarray,
    active_since: np.ndarray,
) -> CopyBatch:
    """At most one detection per agent, on agents active from the detection until now."""
    k = len(ids)
    span = tl.span_s
    eligible = status == ACTIVE
    detected = np.full(k, -1, dtype=np.int64)
    resolve_mean = np.zeros(k)
    kind = rng.integers(0, 3, k)
    score = rng.uniform(20, 80, k)
    for wave in plan.drift_waves:
        pick = (
            eligible & (detected < 0) & (active_since <= wave.at_s) & (rng.random(k) < wave.share)
        )
        at = np.minimum(wave.at_s + rng.exponential(90 * MINUTE, k).astype(np.int64), span - 1)
        detected = np.where(pick, at, detected)
        resolve_mean = np.where(pick, wave.resolve_mean_s, resolve_mean)
        main = vocab.DRIFT_KINDS.index(wave.kind)
        kind = np.where(pick & (rng.random(k) < 0.7), main, kind)
        score = np.where(pick, rng.uniform(55, 98, k), score)
    exposure = (span - active_since) / DAY
    trickle = (
        eligible
        & (detected < 0)
        & (rng.random(k) < np.minimum(0.9, DRIFT_PER_DAY * np.maximum(exposure, 0)))
    )
    at = active_since + (rng.random(k) * np.maximum(span - active_since, 1)).astype(np.int64)
    detected = np.where(trickle, np.minimum(at, span - 1), detected)
    resolve_mean = np.where(trickle, 3 * DAY, resolve_mean)
    chosen = detected >= 0
    d = detected[chosen]
    r = d + np.maximum(600, rng.exponential(resolve_mean[chosen])).astype(np.int64)
    open_ = r >= span
    acc.at_or_after("drifting", d * US, 1.0)
    acc.at_or_after("drifting", r[~open_] * US, -1.0)
    kinds = np.array([s.encode() for s in vocab.DRIFT_KINDS])
    return encode_binary(
        "drift_detections",
        [
            Column("agent_id", "int8", ids[chosen]),
            Column("kind", "text", kinds[kind[chosen]]),
            Column("score", "float8", np.round(score[chosen], 1)),
            Column("detected_at", "timestamptz", d * US),
            Column("resolved_at", "timestamptz", np.where(open_, 0, r) * US, open_),
        ],
        base=tl.start,
    )


def _agents_batch(
    tl: Timeline,
    rng: np.random.Generator,
    ids: np.ndarray,
    *,
    lo: int,
    source: np.ndarray,
    tier: np.ndarray,
    t0: np.ndarray,
    n: int,
    ev_t: np.ndarray,
    ev_by: np.ndarray,
    ev_why: np.ndarray,
    has1: np.ndarray,
    imported: np.ndarray,
    status: np.ndarray,
    last: np.ndarray,
    last_t: np.ndarray,
    trust_now: np.ndarray,
) -> CopyBatch:
    k = len(ids)
    span = tl.span_s
    rows = np.arange(k)
    src = np.asarray(vocab.SOURCES)[source]
    typ = np.asarray(vocab.AGENT_TYPES)[rng.choice(4, k, p=vocab.AGENT_TYPE_WEIGHTS)]
    vendor_idx = rng.choice(len(vocab.VENDORS), k, p=vocab.VENDOR_WEIGHTS)
    vendor = np.asarray(vocab.VENDORS)[vendor_idx]
    pick = rng.integers(0, 6, k)
    model = [vocab.MODELS[v][p % len(vocab.MODELS[v])] for v, p in zip(vendor, pick, strict=True)]
    noun = vocab.NOUNS[rng.integers(0, len(vocab.NOUNS), k)]
    task = vocab.TASKS[rng.integers(0, len(vocab.TASKS), k)]
    role = vocab.ROLES[rng.integers(0, len(vocab.ROLES), k)]
    names = [f"{a}-{b}-{c}-{i:04d}" for a, b, c, i in zip(noun, task, role, ids, strict=True)]
    team = vocab.TEAMS[rng.integers(0, len(vocab.TEAMS), k)]
    first = vocab.FIRST_NAMES[rng.integers(0, len(vocab.FIRST_NAMES), k)]
    last_name = vocab.LAST_NAMES[rng.integers(0, len(vocab.LAST_NAMES), k)]
    alias = rng.random(k) < 0.1
    owner = [
        f"team-{t}@{vocab.EMAIL_DOMAIN}" if a else f"{f}.{s}@{vocab.EMAIL_DOMAIN}"
        for t, a, f, s in zip(team, alias, first, last_name, strict=True)
    ]
    region = np.asarray(vocab.REGIONS)[rng.integers(0, len(vocab.REGIONS), k)]
    env = np.where(rng.random(k) < 0.8, "prod", "staging")
    external = [_external_id(s, int(i), str(r)) for s, i, r in zip(src, ids, region, strict=True)]
    metadata = [
        f'{{"team": "{t}", "region": "{r}", "environment": "{e}", "connector": "{s}", '
        f'"tags": ["{t}", "{n}"]}}'
        for t, r, e, s, n in zip(team, region, env, src, noun, strict=True)
    ]
    for pos, hostile in hostile_positions(n).items():
        if lo <= pos < lo + k:
            i = pos - lo
            names[i] = hostile
            metadata[i] = json.dumps(
                {
                    "team": str(team[i]),
                    "note": "<script>alert('meta')</script>",
                    "formula": "=1+2",
                    "emoji": "🤖",
                    "nested": {"name": hostile},
                },
                ensure_ascii=False,
            )
    final_q = status == QUARANTINED
    q_at = np.where(final_q, last_t, 0)  # discovery (never reviewed) or an operator
    nothing = np.full(k, None, dtype=object)
    q_reason = np.where(final_q, ev_why[rows, last], nothing)
    q_by = np.where(final_q, ev_by[rows, last], nothing)
    reviewed = has1 | imported
    reviewed_at = np.where(has1, ev_t[:, 1], 0)
    import_by = np.full(k, "registry-import", dtype=object)
    reviewed_by = np.where(has1, ev_by[:, 1], np.where(imported, import_by, nothing))
    # Last seen: recently while in service; at the change for those taken out of it.
    recent = span - rng.exponential(20 * MINUTE, k).astype(np.int64)
    in_service = (status == ACTIVE) | final_q
    seen = np.where(in_service, np.clip(recent, last_t, span), last_t)
    never_seen = imported & (last == 0) & (status != ACTIVE)
    missing = (
        (status == DEPRECATED)
        & (last == 2)
        & np.array([w == vocab.DEPRECATE_REASONS[-1] for w in ev_why[rows, last]], dtype=bool)
    )
    columns: dict[str, list[str]] = {
        "id": text_numbers(ids),
        "external_id": text_field(external, escape=True),
        "discovery_source": text_field(src),
        "name": text_field(names, escape=True),
        "type": text_field(typ),
        "vendor": text_field(vendor),
        "model": text_field(model),
        "status": text_field(np.asarray(vocab.STATUSES)[status]),
        "compliance_tier": text_field(np.asarray(vocab.TIERS)[tier]),
        "owner": text_field(owner),
        "discovered_at": text_timestamps(t0 * US, base=tl.start),
        "last_seen_at": text_timestamps(seen * US, base=tl.start, null=never_seen),
        "trust_score": text_numbers(trust_now),
        "quarantine_reason": text_field(q_reason),
        "quarantined_by": text_field(q_by),
        "quarantined_at": text_timestamps(q_at * US, base=tl.start, null=~final_q),
        "reviewed_at": text_timestamps(reviewed_at * US, base=tl.start, null=~reviewed),
        "reviewed_by": text_field(reviewed_by),
        "missing_since": text_timestamps(seen * US, base=tl.start, null=~missing),
        "version": ["1"] * k,
        "metadata": text_field(metadata, escape=True),
        "updated_at": text_timestamps(last_t * US, base=tl.start),
    }
    return encode_text("agents", columns)


def _external_id(source: str, agent_id: int, region: str) -> str:
    """What each integration calls the agent (unique per source, as the schema requires)."""
    if source == "mcp":
        return f"mcp://tools.internal/agents/{agent_id}"
    if source == "zapier":
        return f"zap_{agent_id:08x}"
    if source == "make":
        return f"scenario/{agent_id}"
    if source == "n8n":
        return f"wf_{agent_id}"
    if source == "airflow":
        return f"dag:agent_{agent_id}"
    if source == "lambda":
        return f"arn:aws:lambda:{region}:210987654321:function:agent-{agent_id}"
    return f"manual-{agent_id}"
