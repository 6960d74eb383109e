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
from sqlalchemy import Connection, Engine, text

from dashboard.data.kpis import KpiSnapshotValues, record_kpi_snapshot
from dashboard.integrations.http import Deadline, run_with_deadline
from dashboard.integrations.orca_core import (
    GAP_KEY_PREFIX,
    MAX_PAGE_SIZE,
    CoreAgent,
    CoreUnavailable,
    MalformedResponse,
    OrcaCoreClient,
    OrcaCoreError,
    SyncGap,
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

AGENT_UPSERT: Final = """
WITH rows AS (
    SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
        external_id text, discovery_source text, name text, type text, vendor text, model text,
        compliance_tier text, owner text, discovered_at timestamptz, last_seen_at timestamptz,
        trust_score double precision, metadata jsonb)
), seen AS (
    INSERT INTO orca_sync_seen (discovery_source, external_id)
    SELECT discovery_source, external_id FROM rows
), up AS (
    INSERT INTO agents AS a (external_id, discovery_source, name, type, vendor, model, status,
        compliance_tier, owner, discovered_at, last_seen_at, trust_score, metadata,
        quarantine_reason, quarantined_by, quarantined_at, updated_at)
    SELECT external_id, discovery_source, name, type, vendor, model, 'quarantined',
        compliance_tier, owner, discovered_at, last_seen_at, trust_score,
        coalesce(metadata, '{}'::jsonb), 'new agent found by discovery', 'discovery', :now, :now
    FROM rows
    ON CONFLICT (discovery_source, external_id) DO UPDATE SET
        name = EXCLUDED.name, type = EXCLUDED.type, vendor = EXCLUDED.vendor,
        model = EXCLUDED.model, compliance_tier = EXCLUDED.compliance_tier,
        owner = EXCLUDED.owner,
        last_seen_at = coalesce(EXCLUDED.last_seen_at, a.last_seen_at),
        trust_score = coalesce(EXCLUDED.trust_score, a.trust_score),
        metadata = EXCLUDED.metadata, missing_since = NULL, updated_at = :now
    WHERE (a.name, a.type, a.vendor, a.model, a.compliance_tier, a.owner, a.last_seen_at,
           a.trust_score, a.metadata, a.missing_since)
        IS DISTINCT FROM
          (EXCLUDED.name, EXCLUDED.type, EXCLUDED.vendor, EXCLUDED.model,
           EXCLUDED.compliance_tier, EXCLUDED.owner,
           coalesce(EXCLUDED.last_seen_at, a.last_seen_at),
           coalesce(EXCLUDED.trust_score, a.trust_score), EXCLUDED.metadata, NULL::timestamptz)
    RETURNING a.id, (a.xmax = 0) AS inserted
), changes AS (
    INSERT INTO agent_status_changes (agent_id, from_status, to_status, changed_at, changed_by,
                                      reason)
    SELECT id, NULL, 'quarantined', :now, 'discovery', 'new agent found by discovery'
    FROM up WHERE inserted
)
SELECT count(*) FILTER (WHERE inserted) AS inserted,
       count(*) FILTER (WHERE NOT inserted) AS updated
FROM up"""

MARK_MISSING: Final = """
UPDATE agents a SET missing_since = :now, updated_at = :now
WHERE a.missing_since IS NULL AND NOT EXISTS (
    SELECT 1 FROM orca_sync_seen s
    WHERE s.discovery_source = a.discovery_source AND s.external_id = a.external_id)"""

GAP_UPSERT: Final = """
INSERT INTO sync_gaps AS g (source, target, gap_type, severity, detected_at, lag_ms,
                            external_key)
SELECT source, target, gap_type, severity, detected_at, lag_ms, external_key
FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
    source text, target text, gap_type text, severity text, detected_at timestamptz,
    lag_ms bigint, external_key text)
ON CONFLICT (external_key) DO UPDATE SET
    severity = EXCLUDED.severity, lag_ms = EXCLUDED.lag_ms, resolved_at = NULL
WHERE (g.severity, g.lag_ms, g.resolved_at)
      IS DISTINCT FROM (EXCLUDED.severity, EXCLUDED.lag_ms, NULL::timestamptz)"""

RESOLVE_GAPS: Final = """
UPDATE sync_gaps SET resolved_at = :now
WHERE resolved_at IS NULL AND external_key LIKE :prefix
  AND NOT (external_key = ANY(:keys))"""


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


def _agent_row(agent: CoreAgent) -> dict[str, Any]:
    return {
        "external_id": agent.external_id,
        "discovery_source": agent.discovery_source.value,
        "name": agent.name,
        "type": agent.type.value,
        "vendor": agent.vendor.value,
        "model": agent.model,
        "compliance_tier": agent.compliance_tier.value,
        "owner": agent.owner,
        "discovered_at": agent.discovered_at.isoformat(),
        "last_seen_at": None if agent.last_seen_at is None else agent.last_seen_at.isoformat(),
        "trust_score": agent.trust_score,
        "metadata": agent.metadata,
    }


def _gap_row(gap: SyncGap) -> dict[str, Any]:
    return {
        "source": gap.source,
        "target": gap.target,
        "gap_type": gap.gap_type.value,
        "severity": gap.severity.value,
        "detected_at": gap.detected_at.isoformat(),
        "lag_ms": gap.lag_ms,
        "external_key": gap.external_key,
    }


def upsert_agents(
    conn: Connection, agents: list[CoreAgent], *, now: datetime
) -> tuple[int, int, int]:
    """Upsert one page (needs the orca_sync_seen temp table); (new, updated, duplicates)."""
    unique: dict[tuple[str, str], CoreAgent] = {}
    for agent in agents:
        unique[agent.key] = agent  # a key twice in one page: the last one wins
    if not unique:
        return 0, 0, 0
    rows = json.dumps([_agent_row(a) for a in unique.values()], default=str)
    inserted, updated = conn.execute(text(AGENT_UPSERT), {"rows": rows, "now": now}).one()
    return int(inserted), int(updated), len(agents) - len(unique)


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
        conn.execute(
            text("""CREATE TEMP TABLE IF NOT EXISTS orca_sync_seen (
                        discovery_source text, external_id text) ON COMMIT DROP""")
        )
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
                new, updated, duplicates = upsert_agents(conn, page.agents, now=now)
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
        registry = int(conn.execute(text("SELECT count(*) FROM agents")).scalar_one())
        if complete and report.agents_seen == 0 and registry > 0:
            # An empty answer never empties the registry: more likely a broken Core than none.
            complete = False
            report.errors.append("empty agent listing ignored (the registry is not empty)")
        report.listing_complete = complete
        if complete:
            result = conn.execute(text(MARK_MISSING), {"now": now})
            report.agents_marked_missing = int(getattr(result, "rowcount", 0) or 0)


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
        counts: dict[str, int] = {
            str(status): int(n)
            for status, n in conn.execute(
                text("SELECT status, count(*) FROM agents GROUP BY status")
            ).all()
        }
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
    rows = {g.external_key: _gap_row(g) for g in page.gaps}
    with engine.begin() as conn:
        if rows:
            result = conn.execute(text(GAP_UPSERT), {"rows": json.dumps(list(rows.values()))})
            report.gaps_upserted = int(getattr(result, "rowcount", 0) or 0)
        # Gaps Core no longer lists are resolved, but only when the list is whole.
        if not page.invalid and page.count == len(page.gaps):
            result = conn.execute(
                text(RESOLVE_GAPS),
                {"now": now, "prefix": GAP_KEY_PREFIX + "%", "keys": list(rows)},
            )
            report.gaps_resolved = int(getattr(result, "rowcount", 0) or 0)


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


def read_sync_counters(redis_client: redis.Redis) -> dict[str, int]:
    """The running totals: runs, malformed_responses, failed_requests, skipped_items, ..."""
    raw = redis_client.hgetall(COUNTERS_KEY)
    return {k.decode(): int(v) for k, v in raw.items()}  # type: ignore[union-attr]


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
