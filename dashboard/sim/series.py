"""Per-minute time series: API traffic with latency histograms, resources, health, sync lag."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import numpy as np

from dashboard.domain.histogram import BUCKET_BOUNDS_MS, BUCKET_COLUMNS
from dashboard.sim import vocab
from dashboard.sim.pgcopy import Column, CopyBatch, encode_binary
from dashboard.sim.plan import COMPONENTS, MINUTE, US, Plan, Timeline

# Representative latency of each bucket for latency_sum_ms (the +Inf bucket counts as 15 s).
BUCKET_MID_MS: Final = np.array(
    [2.5, 7.5, 17.5, 37.5, 75, 175, 375, 750, 1750, 3750, 7500, 15000.0]
)
LOG_BOUNDS: Final = np.log(np.array(BUCKET_BOUNDS_MS[:-1], dtype=float))
DEMO_AGENTS: Final = 3000  # traffic rates in vocab.ENDPOINTS are for a registry this size
POOL_SIZE: Final = 50
TAIL_SHARE: Final = 0.03  # slow requests (cold caches, retries) at TAIL_FACTOR x the median
TAIL_FACTOR: Final = 8.0
SERVER_ERROR_SHARE: Final = 0.002
_COMPONENT_LATENCY_MS: Final = {
    "orca_core": 14.0,
    "postgresql": 1.6,
    "redis": 0.4,
    "otel_collector": 2.5,
    "worker": 1.2,
}


def _erf(x: np.ndarray) -> np.ndarray:
    """Vectorised erf (Abramowitz-Stegun 7.1.26, error < 1.5e-7): numpy has none built in."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return np.asarray(sign * (1 - poly * np.exp(-a * a)))


def bucket_probabilities(median_ms: np.ndarray, sigma: float) -> np.ndarray:
    """Share of requests per bucket for a log-normal latency with a slow tail, one row each."""

    def cdf(med: np.ndarray) -> np.ndarray:
        z = (LOG_BOUNDS[None, :] - np.log(med)[:, None]) / (sigma * np.sqrt(2.0))
        return np.asarray(0.5 * (1.0 + _erf(z)))

    c = (1 - TAIL_SHARE) * cdf(median_ms) + TAIL_SHARE * cdf(median_ms * TAIL_FACTOR)
    c = np.concatenate([np.zeros((len(median_ms), 1)), c, np.ones((len(median_ms), 1))], axis=1)
    p = np.clip(np.diff(c, axis=1), 0.0, None)
    return np.asarray(p / p.sum(axis=1, keepdims=True))


def traffic_factor(agents: int) -> float:
    """Request rates grow with the registry, sub-linearly (caches, batching)."""
    return float(max(1.0, agents / DEMO_AGENTS) ** 0.5)


def request_metrics(
    tl: Timeline, plan: Plan, *, agents: int, alive_share: np.ndarray
) -> Iterator[tuple[CopyBatch, np.ndarray]]:
    """Per day: the request_metrics rows and the requests served per minute (for net bytes)."""
    factor = traffic_factor(agents)
    for day in range(tl.days):
        rng = tl.rng("requests", day)
        t = np.arange(day * 1440, (day + 1) * 1440)
        load = tl.load(t) * (0.7 + 0.3 * alive_share[t])
        served = np.zeros(len(t), dtype=np.int64)
        cols: dict[str, list[np.ndarray]] = {}
        for e, (_method, route, rate, median_ms) in enumerate(vocab.ENDPOINTS):
            lam = rate * factor * load * np.clip(1 + 0.08 * rng.standard_normal(len(t)), 0.5, None)
            total = rng.poisson(lam)
            err5 = np.full(len(t), SERVER_ERROR_SHARE / (4 if route == "/health" else 1))
            slow = np.ones(len(t))
            for inc in plan.incidents:
                if inc.routes and e not in inc.routes:
                    continue
                inside = (t >= inc.start_min) & (t < inc.end_min)
                err5 = np.where(inside, np.maximum(err5, inc.error_share), err5)
                slow = np.where(inside, slow * inc.latency_factor, slow)
            n5 = rng.binomial(total, err5)
            n4 = rng.binomial(total - n5, vocab.CLIENT_ERROR_SHARE.get(route, 0.015))
            n2 = total - n5 - n4
            served += total
            base = median_ms * (0.9 + 0.25 * load) * np.exp(0.05 * rng.standard_normal(len(t)))
            for cls, counts, med in (
                (b"2xx", n2, base * slow),
                (b"4xx", n4, base * 0.4),
                (b"5xx", n5, np.maximum(base * slow * 3.0, 50.0)),
            ):
                keep = counts > 0
                if not keep.any():
                    continue
                c = counts[keep]
                hist = rng.multinomial(c, bucket_probabilities(med[keep], 0.55 + 0.01 * (e % 5)))
                cols.setdefault("minute", []).append(t[keep])
                cols.setdefault("route_index", []).append(np.full(len(c), e))
                cols.setdefault("class", []).append(np.full(len(c), cls))
                cols.setdefault("count", []).append(c)
                cols.setdefault("errors", []).append(c if cls == b"5xx" else np.zeros_like(c))
                cols.setdefault("sum", []).append(np.round(hist @ BUCKET_MID_MS, 1))
                cols.setdefault("hist", []).append(hist)
        merged = {k: np.concatenate(v) for k, v in cols.items()}
        route_index = merged["route_index"]
        methods = np.array([m.encode() for m, _, _, _ in vocab.ENDPOINTS])
        routes = np.array([r.encode() for _, r, _, _ in vocab.ENDPOINTS])
        hist = merged["hist"]
        columns = [
            Column("minute", "timestamptz", merged["minute"] * MINUTE * US),
            Column("method", "text", methods[route_index]),
            Column("route", "text", routes[route_index]),
            Column("status_class", "text", merged["class"]),
            Column("request_count", "int8", merged["count"]),
            Column("error_count", "int8", merged["errors"]),
            Column("latency_sum_ms", "float8", merged["sum"]),
        ] + [Column(name, "int8", hist[:, i]) for i, name in enumerate(BUCKET_COLUMNS)]
        yield encode_binary("request_metrics", columns, base=tl.start), served


def _windows(t: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    """Minutes since the start of the window each minute is in (-1 outside every window)."""
    out = np.full(len(t), -1, dtype=np.int64)
    for start, length in spans:
        inside = (t >= start) & (t < start + length)
        out = np.where(inside, t - start, out)
    return out


def resources(tl: Timeline, plan: Plan, *, day: int, served: np.ndarray) -> CopyBatch:
    """resource_samples of one day: two ORCA Core instances and the database host."""
    rng = tl.rng("resources", day)
    t = np.arange(day * 1440, (day + 1) * 1440)
    load = tl.load(t)
    parts: dict[str, list[np.ndarray]] = {}
    for i, instance in enumerate(vocab.INSTANCES):
        db = instance.startswith("orca-db")
        cpu = (12 if db else 18) + (35 if db else 45) * load + rng.normal(0, 3, len(t))
        cpu_spells = [
            (h.start_min, h.length_min)
            for h in plan.hot_spells
            if h.instance == i and h.kind == "cpu"
        ]
        cpu_hot = _windows(t, cpu_spells)
        cpu = np.where(cpu_hot >= 0, np.maximum(cpu, 84 + 8 * rng.random(len(t))), cpu)
        if i == 1:
            # A slow leak: memory climbs ~0.75 %/h until the instance is restarted every 40 h,
            # so it crosses 80 % (the guide's P2) for a few hours before each restart.
            since_restart = ((t + 600) / 60.0) % 40.0
            mem = 50 + 0.75 * since_restart + 3 * load + rng.normal(0, 0.8, len(t))
        else:
            mem = (70 if db else 58) + 8 * load + rng.normal(0, 1.2, len(t))
        growth = t / max(1, tl.minutes)
        disk = (62 + 10 * growth if db else 34 + 3 * growth + i) + rng.normal(0, 0.05, len(t))
        conns = 6 + 24 * load + rng.normal(0, 2.5, len(t))
        leak_spells = [
            (h.start_min, h.length_min)
            for h in plan.hot_spells
            if h.kind == "connections" and (h.instance == i or db)
        ]
        leak = _windows(t, leak_spells)
        conns = np.where(leak >= 0, np.minimum(POOL_SIZE, conns + 1.5 * leak), conns)
        share = 0.15 if db else 0.425
        rx = served * share * 2_400 + rng.exponential(40_000, len(t))
        tx = served * share * 6_500 + rng.exponential(60_000, len(t))
        parts.setdefault("minute", []).append(t)
        parts.setdefault("instance", []).append(np.full(len(t), instance.encode()))
        parts.setdefault("cpu", []).append(np.round(np.clip(cpu, 0, 100), 2))
        parts.setdefault("mem", []).append(np.round(np.clip(mem, 0, 100), 2))
        parts.setdefault("disk", []).append(np.round(np.clip(disk, 0, 100), 2))
        parts.setdefault("conns", []).append(np.clip(np.rint(conns), 0, POOL_SIZE).astype(np.int64))
        parts.setdefault("rx", []).append(rx.astype(np.int64))
        parts.setdefault("tx", []).append(tx.astype(np.int64))
    p = {k: np.concatenate(v) for k, v in parts.items()}
    return encode_binary(
        "resource_samples",
        [
            Column("minute", "timestamptz", p["minute"] * MINUTE * US),
            Column("instance", "text", p["instance"]),
            Column("cpu_pct", "float8", p["cpu"]),
            Column("memory_pct", "float8", p["mem"]),
            Column("disk_pct", "float8", p["disk"]),
            Column("db_connections", "int4", p["conns"]),
            Column("db_pool_size", "int4", np.full(len(p["conns"]), POOL_SIZE)),
            Column("net_rx_bytes", "int8", p["rx"]),
            Column("net_tx_bytes", "int8", p["tx"]),
        ],
        base=tl.start,
    )


def health_checks(tl: Timeline, plan: Plan, *, day: int) -> CopyBatch:
    """One check per component and minute; outages down in the middle, degraded at the edges."""
    rng = tl.rng("health", day)
    t = np.arange(day * 1440, (day + 1) * 1440)
    load = tl.load(t)
    parts: dict[str, list[np.ndarray]] = {}
    for comp in COMPONENTS:
        latency = rng.gamma(3.0, _COMPONENT_LATENCY_MS[comp] / 3.0, len(t)) * (0.8 + 0.4 * load)
        status = np.zeros(len(t), dtype=np.int64)  # 0 up, 1 degraded, 2 down
        message = np.full(len(t), b"", dtype="S120")
        blip = rng.random(len(t)) < 0.0015  # the odd slow answer
        status = np.where(blip, 1, status)
        latency = np.where(blip, latency * 25, latency)
        message = np.where(blip, b"slow response", message)
        for out in plan.outages:
            if out.component != comp:
                continue
            inside = (t >= out.start_min) & (t < out.start_min + out.length_min)
            edge = inside & ((t == out.start_min) | (t == out.start_min + out.length_min - 1))
            down = inside & ~edge
            status = np.where(edge, 1, np.where(down, 2, status))
            message = np.where(edge, out.message_degraded.encode(), message)
            message = np.where(down, out.message_down.encode(), message)
            latency = np.where(edge, latency * 40, latency)
        parts.setdefault("t", []).append(t)
        parts.setdefault("comp", []).append(np.full(len(t), comp.encode()))
        parts.setdefault("status", []).append(status)
        parts.setdefault("latency", []).append(np.round(latency, 3))
        parts.setdefault("message", []).append(message)
    p = {k: np.concatenate(v) for k, v in parts.items()}
    names = np.array([b"up", b"degraded", b"down"])
    return encode_binary(
        "health_checks",
        [
            Column("checked_at", "timestamptz", p["t"] * MINUTE * US),
            Column("component", "text", p["comp"]),
            Column("status", "text", names[p["status"]]),
            Column("latency_ms", "float8", p["latency"], p["status"] == 2),
            Column("message", "text", p["message"], p["status"] == 0),
        ],
        base=tl.start,
    )


class SyncModel:
    """Stale data sources per integration and minute, ending exactly at today's state.

    Two kinds of staleness: the sources stale now (exact: each went stale at its last
    success + 60 s and has stayed stale) and earlier episodes that have since recovered
    (a background share per integration, higher during stalls, fading out before now).
    """

    def __init__(
        self,
        tl: Timeline,
        plan: Plan,
        *,
        totals: np.ndarray,
        stale_type: np.ndarray,
        stale_start_ms: np.ndarray,
    ) -> None:
        self.tl = tl
        self.totals = totals
        rng = tl.rng("sync")
        m = tl.minutes + 1  # minute `minutes` is now
        t_ms = np.arange(m, dtype=np.int64) * 60_000
        # Recovered episodes fade out over the last half hour, where the sources stale now
        # (at most 30 min behind unless failed) take over: the series ends at today's count.
        taper = np.clip((tl.span_s - np.arange(m) * 60) / (30 * MINUTE), 0.0, 1.0)
        self.stale = np.zeros((len(totals), m))
        self.lag_avg = np.zeros((len(totals), m))
        self.lag_max = np.zeros((len(totals), m))
        minutes = np.arange(m)
        load = tl.load(minutes)
        for s, source in enumerate(vocab.INTEGRATIONS):
            n = int(totals[s])
            starts = np.sort(stale_start_ms[stale_type == s])
            prefix = np.concatenate([[0], np.cumsum(starts)])
            now_count = np.searchsorted(starts, t_ms, side="left")  # went stale before t
            now_lag_sum = now_count * (t_ms + 60_000) - prefix[now_count]
            first = starts[0] if len(starts) else 0
            now_max = np.where(now_count > 0, t_ms + 60_000 - first, 0) / 1000.0
            # Background episodes keep the stale share near today's (short lags come and go),
            # a smoothed random walk around it, pushed up during stalls.
            usual = (len(starts) / n) if n else 0.0
            noise = np.convolve(rng.standard_normal(m + 59), np.ones(60) / 60, mode="valid")
            share = np.clip(usual * (1 + 0.3 * np.sqrt(60) * noise), 0.0, None)
            ep_lag = 150.0 * (1 + 0.5 * load) + rng.exponential(60.0, m)
            for stall in plan.stalls:
                if stall.source != source:
                    continue
                into = minutes - stall.start_min
                inside = (into >= 0) & (into < stall.length_min)
                ramp = np.clip(into / 5.0, 0.0, 1.0)
                share = np.where(inside, np.maximum(share, stall.share * ramp), share)
                ep_lag = np.where(inside, np.maximum(ep_lag, (into + 1) * 60.0), ep_lag)
            bg = np.clip(np.rint(n * share - now_count) * taper, 0, n - now_count).astype(np.int64)
            fresh = n - now_count - bg
            fresh_lag = 12.0 + 8.0 * load + rng.normal(0, 1.0, m)
            total_lag = fresh * fresh_lag + bg * ep_lag + now_lag_sum / 1000.0
            self.stale[s] = now_count + bg
            self.lag_avg[s] = np.where(n > 0, total_lag / max(n, 1), 0.0)
            fresh_max = np.where(
                fresh > 0, np.minimum(59.0, fresh_lag * rng.uniform(2.5, 4.5, m)), 0
            )
            bg_max = np.where(bg > 0, ep_lag * rng.uniform(1.5, 3.0, m), 0.0)
            self.lag_max[s] = np.maximum.reduce([fresh_max, bg_max, now_max])

    def stale_total(self, minutes: np.ndarray) -> np.ndarray:
        return np.asarray(self.stale[:, minutes].sum(axis=0))

    def samples(self, *, day: int) -> CopyBatch:
        t = np.arange(day * 1440, (day + 1) * 1440)
        present = [s for s in range(len(self.totals)) if self.totals[s] > 0]
        k = len(present)
        kinds = np.array([s.encode() for s in vocab.INTEGRATIONS])
        return encode_binary(
            "sync_lag_samples",
            [
                Column("minute", "timestamptz", np.tile(t, k) * MINUTE * US),
                Column("source", "text", np.repeat(kinds[present], len(t))),
                Column("sources_total", "int4", np.repeat(self.totals[present], len(t))),
                Column("sources_stale", "int4", self.stale[present][:, t].ravel().astype(np.int64)),
                Column("lag_avg_s", "float8", np.round(self.lag_avg[present][:, t].ravel(), 2)),
                Column("lag_max_s", "float8", np.round(self.lag_max[present][:, t].ravel(), 2)),
            ],
            base=self.tl.start,
        )
