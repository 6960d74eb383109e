"""Worker job: sync the registry, trust KPIs and sync gaps from ORCA Core's API.

Agents are upserted by (discovery_source, external_id): new ones land ``quarantined`` and
unreviewed; known ones keep their console-side status (the console owns status changes) and
take Core's name, type, vendor, model, owner, tier, last_seen_at, trust score and metadata.
Only a complete listing marks absent agents missing (missing_since), and seeing an agent again
clears the mark. Malformed or partial answers are logged, counted in Redis and skipped: what
is stored is never replaced by a bad answer.

The network part is async under one deadline (a dripping Core cannot hold the job), and the
worker runs the job on a background thread so the probes keep their schedule meanwhile.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import redis
from sqlalchemy import Engine

from dashboard.data import sync_store
from dashboard.data.cache import AGENT_TOPICS, bump_topics
from dashboard.data.kpis import KpiSnapshotValues, record_kpi_snapshot
from dashboard.integrations.http import Deadline, run_with_deadline
from dashboard.integrations.orca_core import (
    MAX_PAGE_SIZE,
    CoreUnavailable,
    MalformedResponse,
    OrcaCoreClient,
    OrcaCoreError,
    TrustKpis,
)
from dashboard.integrations.redis_client import key
from dashboard.settings import Settings, get_settings

log = logging.getLogger(__name__)

COUNTERS_KEY: Final = key("sync", "counters")
LAST_KEY: Final = key("sync", "last")
LAST_TTL_S: Final = 86_400
#: Sync requests may be slower than probes (a page of 500 agents): read timeout x this.
READ_TIMEOUT_FACTOR: Final = 5.0
MAX_DEADLINE_S: Final = 120.0


@dataclass
class SyncReport:
    """What one sync did; ``errors`` in plain words."""

    started_at: datetime
    agents_seen: int = 0
    agents_new: int = 0
    agents_updated: int = 0
    agents_marked_missing: int = 0
    agents_skipped: int = 0
    agent_pages: int = 0
    listing_complete: bool = False
    trust_stored: bool = False
    gaps_seen: int = 0
    gaps_upserted: int = 0
    gaps_resolved: int = 0
    gaps_skipped: int = 0
    malformed_responses: int = 0
    failed_requests: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        return data

    def failure(self, exc: OrcaCoreError) -> None:
        if isinstance(exc, MalformedResponse):
            self.malformed_responses += 1
        else:
            self.failed_requests += 1
        self.errors.append(str(exc)[:300])
        log.warning("ORCA Core sync: %s", exc)


async def _sync_agents(
    core: OrcaCoreClient,
    engine: Engine,
    report: SyncReport,
    *,
    now: datetime,
    deadline: Deadline,
    page_size: int,
) -> None:
    with engine.begin() as conn:
        sync_store.start_seen_set(conn)
        complete = True
        reported_total: int | None = None
        try:
            async for page in core.iter_agent_pages(limit=page_size, deadline=deadline):
                report.agent_pages += 1
                if reported_total is None:
                    reported_total = page.total
                if page.invalid:
                    complete = False
                    report.agents_skipped += len(page.invalid)
                    log.warning(
                        "ORCA Core sync: %s malformed agent(s) skipped on page %s: %s",
                        len(page.invalid),
                        report.agent_pages,
                        "; ".join(page.invalid[:3]),
                    )
                new, updated, duplicates = sync_store.upsert_synced_agents(
                    conn, agents=page.agents, now=now
                )
                report.agents_seen += len(page.agents) - duplicates
                report.agents_new += new
                report.agents_updated += updated
        except OrcaCoreError as exc:
            complete = False
            report.failure(exc)
        if complete and reported_total is not None and report.agents_seen < reported_total:
            complete = False
            report.errors.append(
                f"listing ended after {report.agents_seen} of {reported_total} agents"
            )
        registry = sum(sync_store.count_agents_by_status(conn).values())
        if complete and report.agents_seen == 0 and registry > 0:
            # An empty answer never empties the registry: more likely a broken Core than none.
            complete = False
            report.errors.append("empty agent listing ignored (the registry is not empty)")
        report.listing_complete = complete
        if complete:
            report.agents_marked_missing = sync_store.mark_unseen_agents_missing(conn, now=now)


async def _fetch_trust(
    core: OrcaCoreClient, report: SyncReport, *, deadline: Deadline
) -> TrustKpis | None:
    try:
        return await core.trust(deadline=deadline)
    except OrcaCoreError as exc:
        report.failure(exc)
        return None


def _store_trust(engine: Engine, report: SyncReport, trust: TrustKpis) -> None:
    """A kpi_snapshots row of origin 'core' (registry counts as the console sees them)."""
    with engine.begin() as conn:
        counts = sync_store.count_agents_by_status(conn)
        snapshot = KpiSnapshotValues(
            computed_at=trust.computed_at,
            trust_score=trust.trust_score,
            reliability=None,
            policy_adherence=None,
            sync_freshness=None,
            risk_exposure=None,
            risk_avoided_usd_total=trust.risk_avoided_usd,
            sync_freshness_pct=trust.sync_freshness_percent,
            drift_rate_pct=trust.drift_rate_percent,
            compliance_sla_pct=trust.compliance_sla_percent,
            active_agents=int(counts.get("active", 0)),
            total_agents=int(sum(counts.values())),
            quarantined_agents=int(counts.get("quarantined", 0)),
        )
        record_kpi_snapshot(conn, snapshot=snapshot, origin="core")
    report.trust_stored = True


async def _sync_gaps(
    core: OrcaCoreClient, engine: Engine, report: SyncReport, *, now: datetime, deadline: Deadline
) -> None:
    try:
        page = await core.sync_gaps(deadline=deadline)
    except OrcaCoreError as exc:
        report.failure(exc)
        return
    report.gaps_seen = len(page.gaps)
    if page.invalid:
        report.gaps_skipped += len(page.invalid)
        log.warning(
            "ORCA Core sync: %s malformed gap(s) skipped: %s",
            len(page.invalid),
            "; ".join(page.invalid[:3]),
        )
    with engine.begin() as conn:
        report.gaps_upserted = sync_store.upsert_sync_gaps(conn, gaps=page.gaps)
        # Gaps Core no longer lists are resolved, but only when the list is whole.
        if not page.invalid and page.count == len(page.gaps):
            report.gaps_resolved = sync_store.resolve_unlisted_gaps(
                conn, listed=[g.external_key for g in page.gaps], now=now
            )


def _record(redis_client: redis.Redis | None, report: SyncReport) -> None:
    if redis_client is None:
        return
    try:
        pipe = redis_client.pipeline()
        pipe.hincrby(COUNTERS_KEY, "runs", 1)
        for name in ("malformed_responses", "failed_requests"):
            if getattr(report, name):
                pipe.hincrby(COUNTERS_KEY, name, getattr(report, name))
        if report.agents_skipped or report.gaps_skipped:
            pipe.hincrby(COUNTERS_KEY, "skipped_items", report.agents_skipped + report.gaps_skipped)
        if not report.listing_complete:
            pipe.hincrby(COUNTERS_KEY, "incomplete_listings", 1)
        pipe.set(LAST_KEY, json.dumps(report.to_json()), ex=LAST_TTL_S)
        pipe.execute()
    except (redis.RedisError, OSError) as exc:
        log.warning("sync counters not written to Redis: %s", type(exc).__name__)


def sync_deadline_s(settings: Settings) -> float:
    return max(5.0, min(MAX_DEADLINE_S, 0.8 * settings.sync_interval_s))


def run_sync(
    engine: Engine,
    redis_client: redis.Redis | None,
    *,
    core_url: str,
    connect_timeout_s: float,
    read_timeout_s: float,
    deadline_s: float,
    page_size: int = MAX_PAGE_SIZE,
    now: datetime | None = None,
) -> SyncReport:
    """One full sync (trust, sync gaps, agents) under ``deadline_s`` of network time."""
    now = now or datetime.now(UTC)
    report = SyncReport(started_at=now)

    async def _all() -> None:
        deadline = Deadline(deadline_s)
        async with OrcaCoreClient.open(
            core_url,
            connect_timeout_s=connect_timeout_s,
            read_timeout_s=read_timeout_s,
            default_deadline_s=deadline_s,
        ) as core:
            # Trust first (small), stored last: its counts then reflect this sync's registry.
            trust = await _fetch_trust(core, report, deadline=deadline)
            await _sync_gaps(core, engine, report, now=now, deadline=deadline)
            await _sync_agents(
                core, engine, report, now=now, deadline=deadline, page_size=page_size
            )
            if (report.agents_new or report.agents_marked_missing) and redis_client is not None:
                # Committed: every replica's counts by status, quarantined list and review
                # queue must show new (quarantined) and vanished agents now, not when their
                # entries expire (the topics an operator's quarantine bumps). Changed names
                # and scores alone bump nothing: they age out within a sync interval, and a
                # bump on every sync would recompute the Trust drivers at each one.
                bump_topics(redis_client, AGENT_TOPICS)
            if trust is not None:
                _store_trust(engine, report, trust)

    try:
        # The network deadline ends every request; the margin covers the database writes.
        run_with_deadline(_all, deadline_s + 30.0)
    except TimeoutError:
        report.failure(CoreUnavailable("sync", f"gave up after {deadline_s + 30:.0f} s"))
    _record(redis_client, report)
    log.info(
        "ORCA Core sync: %s agents (%s new, %s updated, %s marked missing%s), %s gaps, trust %s",
        report.agents_seen,
        report.agents_new,
        report.agents_updated,
        report.agents_marked_missing,
        "" if report.listing_complete else ", listing incomplete",
        report.gaps_seen,
        "stored" if report.trust_stored else "not stored",
    )
    return report


def run_sync_from_settings(
    engine: Engine, redis_client: redis.Redis | None, *, settings: Settings | None = None
) -> SyncReport:
    settings = settings or get_settings()
    return run_sync(
        engine,
        redis_client,
        core_url=settings.core_url,
        connect_timeout_s=settings.probe_connect_timeout_s,
        read_timeout_s=settings.probe_read_timeout_s * READ_TIMEOUT_FACTOR,
        deadline_s=sync_deadline_s(settings),
    )


class SyncJob:
    """The worker's sync job: runs on a background thread so it never delays the probes.

    Each call starts a sync unless one is still running, and reports the last finished one:
    it raises when that sync met malformed answers or crashed, so the worker's heartbeat shows
    ``sync`` failing (an unreachable Core is the orca_core probe's to report).
    """

    def __init__(self, engine: Engine, redis_client: redis.Redis | None) -> None:
        self.engine = engine
        self.redis = redis_client
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.last: SyncReport | None = None
        self.last_crash: str | None = None
        self.first_wait_s = 15.0
        self.wait_s = 2.0
        self._calls = 0

    def _run(self) -> None:
        try:
            self.last = run_sync_from_settings(self.engine, self.redis)
            self.last_crash = None
        except Exception as exc:  # e.g. PostgreSQL down: reported by the next call
            self.last_crash = f"{type(exc).__name__}: {exc}"[:300]
            log.warning("ORCA Core sync failed: %s", self.last_crash)

    def __call__(self) -> str:
        with self._lock:
            running = self._thread is not None and self._thread.is_alive()
            if not running:
                self._thread = threading.Thread(target=self._run, name="orca-sync", daemon=True)
                self._thread.start()
                # A quick sync finishes inline (and `worker --once` gets its result); a slow
                # one goes on in the background while the loop moves on.
                self._thread.join(self.first_wait_s if self._calls == 0 else self.wait_s)
            self._calls += 1
            running = self._thread is not None and self._thread.is_alive()
        if self.last_crash is not None:
            raise RuntimeError(self.last_crash)
        last = self.last
        if last is not None and (
            last.malformed_responses or last.agents_skipped or last.gaps_skipped
        ):
            raise RuntimeError("; ".join(last.errors)[:300] or "malformed items skipped")
        # No answer at all is not this job's failure: the orca_core probe reports it.
        return "running" if running else "done"
