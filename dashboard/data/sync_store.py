"""The ORCA Core sync's writes: agents upserted by source key, missing marks, sync gaps."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, text

from dashboard.integrations.orca_core import GAP_KEY_PREFIX, CoreAgent, SyncGap

_AGENT_UPSERT: Final = """
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

_MARK_MISSING: Final = """
UPDATE agents a SET missing_since = :now, updated_at = :now
WHERE a.missing_since IS NULL AND NOT EXISTS (
    SELECT 1 FROM orca_sync_seen s
    WHERE s.discovery_source = a.discovery_source AND s.external_id = a.external_id)"""

_GAP_UPSERT: Final = """
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

_RESOLVE_GAPS: Final = """
UPDATE sync_gaps SET resolved_at = :now
WHERE resolved_at IS NULL AND external_key LIKE :prefix
  AND NOT (external_key = ANY(:keys))"""


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


def start_seen_set(conn: Connection) -> None:
    """The temp table of keys seen in this sync (dropped at commit); upserts fill it."""
    conn.execute(
        text("""CREATE TEMP TABLE IF NOT EXISTS orca_sync_seen (
                    discovery_source text, external_id text) ON COMMIT DROP""")
    )


def upsert_synced_agents(
    conn: Connection, *, agents: list[CoreAgent], now: datetime
) -> tuple[int, int, int]:
    """Upsert one page (after start_seen_set); (new, updated, duplicates in the page)."""
    unique: dict[tuple[str, str], CoreAgent] = {}
    for agent in agents:
        unique[agent.key] = agent  # a key twice in one page: the last one wins
    if not unique:
        return 0, 0, 0
    rows = json.dumps([_agent_row(a) for a in unique.values()], default=str)
    inserted, updated = conn.execute(text(_AGENT_UPSERT), {"rows": rows, "now": now}).one()
    return int(inserted), int(updated), len(agents) - len(unique)


def mark_unseen_agents_missing(conn: Connection, *, now: datetime) -> int:
    """Mark every agent this sync did not see (call only after a complete listing)."""
    result = conn.execute(text(_MARK_MISSING), {"now": now})
    return int(getattr(result, "rowcount", 0) or 0)


def count_agents_by_status(conn: Connection) -> dict[str, int]:
    rows = conn.execute(text("SELECT status, count(*) FROM agents GROUP BY status")).all()
    return {str(status): int(n) for status, n in rows}


def upsert_sync_gaps(conn: Connection, *, gaps: list[SyncGap]) -> int:
    """Insert new gaps, update changed ones (reopening resolved); the rows changed."""
    rows = {g.external_key: _gap_row(g) for g in gaps}
    if not rows:
        return 0
    result = conn.execute(text(_GAP_UPSERT), {"rows": json.dumps(list(rows.values()))})
    return int(getattr(result, "rowcount", 0) or 0)


def resolve_unlisted_gaps(conn: Connection, *, listed: list[str], now: datetime) -> int:
    """Resolve Core's open gaps that a whole listing no longer names; the rows resolved."""
    result = conn.execute(
        text(_RESOLVE_GAPS),
        {"now": now, "prefix": GAP_KEY_PREFIX + "%", "keys": sorted(set(listed))},
    )
    return int(getattr(result, "rowcount", 0) or 0)
