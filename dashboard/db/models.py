"""SQLAlchemy 2 typed models of the DOMAIN.md entities (ORM class singular, table plural).

The migration in ``migrations/versions`` is the source of truth for DDL (partitioning, generated
columns, CHECK constraints); these classes map the same tables for typed queries and inserts, and
``tests/data/test_models_match.py`` keeps the two in step.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TS = DateTime(timezone=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Agent(Base):
    """One AI agent known to ORCA Core. ``name`` and ``metadata_`` are untrusted input."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(Text)
    discovery_source: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(16))
    vendor: Mapped[str] = mapped_column(String(16))
    model: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="quarantined")
    compliance_tier: Mapped[str] = mapped_column(String(16), default="none")
    owner: Mapped[str] = mapped_column(Text)
    discovered_at: Mapped[datetime] = mapped_column(TS)
    last_seen_at: Mapped[datetime | None] = mapped_column(TS)
    trust_score: Mapped[float | None] = mapped_column(Float)
    quarantine_reason: Mapped[str | None] = mapped_column(Text)
    quarantined_by: Mapped[str | None] = mapped_column(Text)
    quarantined_at: Mapped[datetime | None] = mapped_column(TS)
    reviewed_at: Mapped[datetime | None] = mapped_column(TS)
    reviewed_by: Mapped[str | None] = mapped_column(Text)
    missing_since: Mapped[datetime | None] = mapped_column(TS)
    version: Mapped[int] = mapped_column(Integer, default=1)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, default=dict)
    updated_at: Mapped[datetime] = mapped_column(TS)


class AgentStatusChange(Base):
    """Status history of an agent: every transition with who and why."""

    __tablename__ = "agent_status_changes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[datetime] = mapped_column(TS)
    changed_by: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)


class AgentTrustHistory(Base):
    """Time-stamped trust score of one agent with its four components (each 0..1)."""

    __tablename__ = "agent_trust_history"

    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    computed_at: Mapped[datetime] = mapped_column(TS, primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    reliability: Mapped[float] = mapped_column(Float)
    policy_adherence: Mapped[float] = mapped_column(Float)
    sync_freshness: Mapped[float] = mapped_column(Float)
    risk_exposure: Mapped[float] = mapped_column(Float)


class PolicyViolation(Base):
    __tablename__ = "policy_violations"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    policy_id: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(TS)
    resolved_at: Mapped[datetime | None] = mapped_column(TS)


class DataSource(Base):
    """A data source an agent depends on; ``source`` is the integration that syncs it."""

    __tablename__ = "data_sources"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    last_success_at: Mapped[datetime | None] = mapped_column(TS)
    last_attempt_at: Mapped[datetime | None] = mapped_column(TS)
    status: Mapped[str] = mapped_column(String(16), default="ok")
    records_synced: Mapped[int] = mapped_column(BigInteger, default=0)


class SyncGap(Base):
    __tablename__ = "sync_gaps"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    data_source_id: Mapped[int | None] = mapped_column(
        ForeignKey("data_sources.id", ondelete="SET NULL")
    )
    source: Mapped[str] = mapped_column(Text)
    target: Mapped[str] = mapped_column(Text)
    gap_type: Mapped[str] = mapped_column(String(24))
    severity: Mapped[str] = mapped_column(String(16))
    detected_at: Mapped[datetime] = mapped_column(TS)
    lag_ms: Mapped[int] = mapped_column(BigInteger)
    resolved_at: Mapped[datetime | None] = mapped_column(TS)
    external_key: Mapped[str | None] = mapped_column(Text)


class DriftDetection(Base):
    __tablename__ = "drift_detections"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(Float)
    detected_at: Mapped[datetime] = mapped_column(TS)
    resolved_at: Mapped[datetime | None] = mapped_column(TS)


class _LatencyBuckets:
    """Non-cumulative latency histogram counts, bounds in dashboard.domain.histogram."""

    latency_sum_ms: Mapped[float] = mapped_column(Float, default=0.0)
    b5: Mapped[int] = mapped_column(BigInteger, default=0)
    b10: Mapped[int] = mapped_column(BigInteger, default=0)
    b25: Mapped[int] = mapped_column(BigInteger, default=0)
    b50: Mapped[int] = mapped_column(BigInteger, default=0)
    b100: Mapped[int] = mapped_column(BigInteger, default=0)
    b250: Mapped[int] = mapped_column(BigInteger, default=0)
    b500: Mapped[int] = mapped_column(BigInteger, default=0)
    b1000: Mapped[int] = mapped_column(BigInteger, default=0)
    b2500: Mapped[int] = mapped_column(BigInteger, default=0)
    b5000: Mapped[int] = mapped_column(BigInteger, default=0)
    b10000: Mapped[int] = mapped_column(BigInteger, default=0)
    binf: Mapped[int] = mapped_column(BigInteger, default=0)


class RequestMetric(_LatencyBuckets, Base):
    """ORCA Core's own API traffic per minute, endpoint and status class (partitioned by day)."""

    __tablename__ = "request_metrics"
    __table_args__ = {"postgresql_partition_by": "RANGE (minute)"}

    minute: Mapped[datetime] = mapped_column(TS, primary_key=True)
    method: Mapped[str] = mapped_column(String(8), primary_key=True)
    route: Mapped[str] = mapped_column(Text, primary_key=True)
    status_class: Mapped[str] = mapped_column(String(3), primary_key=True)
    request_count: Mapped[int] = mapped_column(BigInteger)
    error_count: Mapped[int] = mapped_column(BigInteger)


class RequestMetricHourly(_LatencyBuckets, Base):
    """1-hour rollup of request_metrics, kept current by the worker."""

    __tablename__ = "request_metrics_hourly"

    hour: Mapped[datetime] = mapped_column(TS, primary_key=True)
    method: Mapped[str] = mapped_column(String(8), primary_key=True)
    route: Mapped[str] = mapped_column(Text, primary_key=True)
    status_class: Mapped[str] = mapped_column(String(3), primary_key=True)
    request_count: Mapped[int] = mapped_column(BigInteger)
    error_count: Mapped[int] = mapped_column(BigInteger)


class ResourceSample(Base):
    """Per instance and minute resource usage (partitioned by day)."""

    __tablename__ = "resource_samples"
    __table_args__ = {"postgresql_partition_by": "RANGE (minute)"}

    minute: Mapped[datetime] = mapped_column(TS, primary_key=True)
    instance: Mapped[str] = mapped_column(Text, primary_key=True)
    cpu_pct: Mapped[float] = mapped_column(Float)
    memory_pct: Mapped[float] = mapped_column(Float)
    disk_pct: Mapped[float] = mapped_column(Float)
    db_connections: Mapped[int] = mapped_column(Integer)
    db_pool_size: Mapped[int] = mapped_column(Integer)
    net_rx_bytes: Mapped[int] = mapped_column(BigInteger)
    net_tx_bytes: Mapped[int] = mapped_column(BigInteger)


class ResourceSampleHourly(Base):
    __tablename__ = "resource_samples_hourly"

    hour: Mapped[datetime] = mapped_column(TS, primary_key=True)
    instance: Mapped[str] = mapped_column(Text, primary_key=True)
    samples: Mapped[int] = mapped_column(Integer)
    cpu_avg: Mapped[float] = mapped_column(Float)
    cpu_max: Mapped[float] = mapped_column(Float)
    memory_avg: Mapped[float] = mapped_column(Float)
    memory_max: Mapped[float] = mapped_column(Float)
    disk_max: Mapped[float] = mapped_column(Float)
    db_connections_max: Mapped[int] = mapped_column(Integer)
    db_pool_size: Mapped[int] = mapped_column(Integer)
    net_rx_bytes: Mapped[int] = mapped_column(BigInteger)
    net_tx_bytes: Mapped[int] = mapped_column(BigInteger)


class HealthCheck(Base):
    """One health check of one component (partitioned by day). Uptime = share of `up`."""

    __tablename__ = "health_checks"
    __table_args__ = {"postgresql_partition_by": "RANGE (checked_at)"}

    checked_at: Mapped[datetime] = mapped_column(TS, primary_key=True)
    component: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    latency_ms: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str | None] = mapped_column(Text)


class HealthCheckHourly(Base):
    __tablename__ = "health_checks_hourly"

    hour: Mapped[datetime] = mapped_column(TS, primary_key=True)
    component: Mapped[str] = mapped_column(String(32), primary_key=True)
    checks: Mapped[int] = mapped_column(Integer)
    up: Mapped[int] = mapped_column(Integer)
    degraded: Mapped[int] = mapped_column(Integer)
    down: Mapped[int] = mapped_column(Integer)
    latency_avg_ms: Mapped[float | None] = mapped_column(Float)
    latency_max_ms: Mapped[float | None] = mapped_column(Float)


class SyncLagSample(Base):
    """Per minute and integration source: how many data sources, how many stale, lag stats."""

    __tablename__ = "sync_lag_samples"
    __table_args__ = {"postgresql_partition_by": "RANGE (minute)"}

    minute: Mapped[datetime] = mapped_column(TS, primary_key=True)
    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    sources_total: Mapped[int] = mapped_column(Integer)
    sources_stale: Mapped[int] = mapped_column(Integer)
    lag_avg_s: Mapped[float] = mapped_column(Float)
    lag_max_s: Mapped[float] = mapped_column(Float)


class SyncLagSampleHourly(Base):
    __tablename__ = "sync_lag_samples_hourly"

    hour: Mapped[datetime] = mapped_column(TS, primary_key=True)
    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    samples: Mapped[int] = mapped_column(Integer)
    sources_total: Mapped[int] = mapped_column(Integer)
    sources_stale_avg: Mapped[float] = mapped_column(Float)
    lag_avg_s: Mapped[float] = mapped_column(Float)
    lag_max_s: Mapped[float] = mapped_column(Float)


class KpiSnapshot(Base):
    """System KPIs at one moment, so trends are cheap. Percentages 0..100, components 0..1."""

    __tablename__ = "kpi_snapshots"

    computed_at: Mapped[datetime] = mapped_column(TS, primary_key=True)
    trust_score: Mapped[float | None] = mapped_column(Float)
    reliability: Mapped[float | None] = mapped_column(Float)
    policy_adherence: Mapped[float | None] = mapped_column(Float)
    sync_freshness: Mapped[float | None] = mapped_column(Float)
    risk_exposure: Mapped[float | None] = mapped_column(Float)
    risk_avoided_usd_total: Mapped[float] = mapped_column(Float, default=0.0)
    sync_freshness_pct: Mapped[float | None] = mapped_column(Float)
    drift_rate_pct: Mapped[float | None] = mapped_column(Float)
    compliance_sla_pct: Mapped[float | None] = mapped_column(Float)
    active_agents: Mapped[int] = mapped_column(Integer, default=0)
    total_agents: Mapped[int] = mapped_column(Integer, default=0)
    quarantined_agents: Mapped[int] = mapped_column(Integer, default=0)
    origin: Mapped[str] = mapped_column(String(16), primary_key=True, default="worker")


# --- Reports (issue 13): stored reports and daily capacity samples (migration 0010) ---------
class Report(Base):
    """One generated report (executive, sla, capacity) with its PDF, CSV and XLSX."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[datetime] = mapped_column(TS)
    period_end: Mapped[datetime] = mapped_column(TS)
    title: Mapped[str] = mapped_column(Text)
    generated_at: Mapped[datetime] = mapped_column(TS)
    generated_by: Mapped[str] = mapped_column(Text)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    csv: Mapped[bytes] = mapped_column(LargeBinary)
    xlsx: Mapped[bytes] = mapped_column(LargeBinary)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class CapacitySample(Base):
    """One day's value of one capacity metric (subject: a table name, or "")."""

    __tablename__ = "capacity_samples"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    metric: Mapped[str] = mapped_column(String(40), primary_key=True)
    subject: Mapped[str] = mapped_column(Text, primary_key=True, default="")
    value: Mapped[float] = mapped_column(Float)
