"""The seeding period and its scripted events: incidents, outages, stalls, drift waves.

Everything random comes from named streams derived from the seed (and a chunk number where
data is generated in chunks), so the same seed and ``now`` give the same rows, and adding a
stream or resizing a chunk of one kind changes no other kind.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import numpy as np

MINUTE: Final = 60
HOUR: Final = 3600
DAY: Final = 86_400
US: Final = 1_000_000  # microseconds per second
SNAPSHOT_STEP_S: Final = 300  # kpi_snapshots every 5 minutes

COMPONENTS: Final = ("orca_core", "postgresql", "redis", "otel_collector", "worker")


@dataclass(frozen=True)
class Incident:
    """A window of trouble on the ORCA Core API, in minutes from the period's start.

    error_share: share of 5xx on the affected routes (0: none); latency_factor: how much
    slower they answer; routes: indexes into vocab.ENDPOINTS (empty: every route, an outage).
    """

    start_min: int
    length_min: int
    routes: tuple[int, ...]
    error_share: float
    latency_factor: float

    @property
    def end_min(self) -> int:
        return self.start_min + self.length_min


@dataclass(frozen=True)
class Outage:
    """A component's health checks failing: down in the middle, degraded at the edges."""

    component: str
    start_min: int
    length_min: int
    message_down: str
    message_degraded: str


@dataclass(frozen=True)
class Stall:
    """A sync stall: most data sources of one integration stop syncing for a while."""

    source: str
    start_min: int
    length_min: int
    share: float


@dataclass(frozen=True)
class DriftWave:
    """Many agents drifting at once (a bad rollout upstream), resolved over hours."""

    at_s: int
    share: float
    kind: str
    resolve_mean_s: float


@dataclass(frozen=True)
class HotSpell:
    """An instance running hot (CPU) or leaking DB connections for a while."""

    instance: int
    start_min: int
    length_min: int
    kind: str  # "cpu" or "connections"


class Timeline:
    """The period [now - days, now] and the random streams of one seeding run."""

    def __init__(self, *, now: datetime, days: int, seed: int) -> None:
        self.now = now
        self.days = days
        self.seed = seed
        self.start = now - timedelta(days=days)
        self.span_s = days * DAY
        self.minutes = days * 1440
        self.snapshots = self.span_s // SNAPSHOT_STEP_S + 1  # both ends included
        self.start_hour = self.start.hour + self.start.minute / 60

    def rng(self, stream: str, chunk: int = 0) -> np.random.Generator:
        """An independent, reproducible random stream per data kind (and chunk)."""
        return np.random.default_rng([self.seed, zlib.crc32(stream.encode()), chunk])

    def hour_of_day(self, minutes: np.ndarray) -> np.ndarray:
        return np.asarray((minutes / 60.0 + self.start_hour) % 24.0)

    def weekday(self, minutes: np.ndarray) -> np.ndarray:
        """0 = Monday ... 6 = Sunday, for minute offsets from the start."""
        first = self.start.weekday() + self.start_hour / 24.0
        return np.asarray(np.floor(first + minutes / 1440.0).astype(np.int64) % 7)

    def load(self, minutes: np.ndarray) -> np.ndarray:
        """Traffic level 0.25..1.1: business hours (peak ~14:00 UTC), quieter weekends."""
        hour = self.hour_of_day(minutes)
        daily = 0.3 + 0.7 * np.exp(-(((hour - 14.0 + 12.0) % 24.0 - 12.0) ** 2) / (2 * 4.0**2))
        weekend = np.where(self.weekday(minutes) >= 5, 0.6, 1.0)
        return np.asarray(daily * weekend + 0.05)


@dataclass(frozen=True)
class Plan:
    """Every scripted event of the period, fixed before any row is generated."""

    incidents: tuple[Incident, ...]
    outages: tuple[Outage, ...]
    stalls: tuple[Stall, ...]
    drift_waves: tuple[DriftWave, ...]
    hot_spells: tuple[HotSpell, ...]


def make_plan(tl: Timeline, *, endpoints: int, sources: tuple[str, ...]) -> Plan:
    """Deterministic trouble: error bursts, latency spikes, one outage per ~10 days, etc."""
    rng = tl.rng("plan")
    m = tl.minutes
    incidents: list[Incident] = []
    outages: list[Outage] = []
    # One major outage per ~10 days (at least one): every route fails for 6-12 minutes, so the
    # guide's P1 rules (error rate > 5 % for > 5 min, /health non-200 for > 2 min) fire.
    majors = max(1, tl.days // 10)
    for k in range(majors):
        lo = int(m * (k + 0.3) / majors)
        hi = max(lo + 1, int(m * (k + 0.8) / majors) - 30)
        start = int(rng.integers(lo, hi))
        length = int(rng.integers(6, 13))
        incidents.append(Incident(start, length, (), float(rng.uniform(0.25, 0.6)), 4.0))
        outages.append(
            Outage(
                "orca_core",
                start + 1,
                length - 1,
                "HTTP 503 from /health: upstream connection pool exhausted",
                "slow /health: 2.8 s",
            )
        )
        outages.append(
            Outage(
                "postgresql",
                start,
                max(3, length - 3),
                "connection refused: too many clients already",
                "query latency above 500 ms",
            )
        )
    # Smaller error bursts and latency spikes on a few routes, ~1 per day.
    for k in range(max(2, tl.days)):
        start = int(rng.integers(30, max(31, m - 90)))
        routes = tuple(
            sorted(
                int(r) for r in rng.choice(endpoints, size=int(rng.integers(1, 4)), replace=False)
            )
        )
        errors = k % 3 != 1
        incidents.append(
            Incident(
                start,
                int(rng.integers(8, 40)),
                routes,
                float(rng.uniform(0.08, 0.3)) if errors else 0.0,
                float(rng.uniform(1.5, 3.0)) if errors else float(rng.uniform(4.0, 12.0)),
            )
        )
    # The last hour always holds a small live incident, so a fresh demo has something to show.
    incidents.append(Incident(m - 40, 25, (1,), 0.07, 2.5))
    # Component outages apart from the major ones.
    extra = (
        ("redis", "READONLY You can't write against a read only replica", "latency 180 ms"),
        ("otel_collector", "connection refused on :13133", "exporter queue 90 % full"),
        ("worker", "no heartbeat for 120 s", "loop behind schedule by 45 s"),
        ("postgresql", "server closed the connection unexpectedly", "replication lag 14 s"),
    )
    for k in range(max(3, tl.days // 3)):
        comp, down, degraded = extra[k % len(extra)]
        outages.append(
            Outage(
                comp,
                int(rng.integers(0, max(1, m - 40))),
                int(rng.integers(3, 30)),
                down,
                degraded,
            )
        )
    stalls = tuple(
        Stall(
            str(rng.choice(np.array(sources))),
            int(rng.integers(0, max(1, m - 120))),
            int(rng.integers(20, 120)),
            float(rng.uniform(0.5, 0.9)),
        )
        for _ in range(max(2, tl.days // 3))
    )
    waves = tuple(
        DriftWave(
            int(tl.span_s * f + rng.integers(0, HOUR)),
            float(rng.uniform(0.15, 0.22)),
            ("config", "behavior", "performance")[i % 3],
            float(rng.uniform(10, 30) * HOUR),
        )
        for i, f in enumerate((0.45,) if tl.days < 10 else (0.2, 0.55, 0.85))
    )
    hot = tuple(
        HotSpell(
            int(rng.integers(0, 2)) if i % 3 else 2,
            int(rng.integers(0, max(1, m - 90))),
            int(rng.integers(20, 75)),
            "connections" if i % 4 == 3 else "cpu",
        )
        for i in range(max(3, tl.days // 2))
    )
    return Plan(tuple(incidents), tuple(outages), stalls, waves, hot)
