"""The project's vocabulary: every enum value of DOMAIN.md, spelled exactly once."""

from __future__ import annotations

from enum import StrEnum


class AgentStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DEPRECATED = "deprecated"
    QUARANTINED = "quarantined"


class AgentType(StrEnum):
    CHATBOT = "chatbot"
    COPILOT = "copilot"
    PIPELINE = "pipeline"
    SERVICE = "service"


class Vendor(StrEnum):
    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    AZURE = "azure"
    AWS = "aws"
    GOOGLE = "google"
    CUSTOM = "custom"


class ComplianceTier(StrEnum):
    NONE = "none"
    STANDARD = "standard"
    HIGH = "high"
    CRITICAL = "critical"


class DiscoverySource(StrEnum):
    MCP = "mcp"
    ZAPIER = "zapier"
    MAKE = "make"
    N8N = "n8n"
    AIRFLOW = "airflow"
    LAMBDA = "lambda"
    MANUAL = "manual"


class Severity(StrEnum):
    """Severity of a policy violation or a sync gap."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class ViolationAction(StrEnum):
    BLOCKED = "blocked"
    THROTTLED = "throttled"
    AUDITED = "audited"


class CheckStatus(StrEnum):
    """Status of one health check of one component."""

    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"


class OverallHealth(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


class GapType(StrEnum):
    MISSING_RECORDS = "missing_records"
    STALE_DATA = "stale_data"
    ORDERING_ISSUE = "ordering_issue"
    WEBHOOK_DRIFT = "webhook_drift"


class DriftKind(StrEnum):
    CONFIG = "config"
    BEHAVIOR = "behavior"
    PERFORMANCE = "performance"


class StatusClass(StrEnum):
    """HTTP status class of a request-metrics row; 5xx rows are errors."""

    S2XX = "2xx"
    S4XX = "4xx"
    S5XX = "5xx"


class Component(StrEnum):
    """Components whose health the console checks (guide: Monitoring)."""

    ORCA_CORE = "orca_core"
    POSTGRESQL = "postgresql"
    REDIS = "redis"
    OTEL_COLLECTOR = "otel_collector"
    WORKER = "worker"


class IncidentSeverity(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class IncidentPhase(StrEnum):
    DETECT = "detect"
    TRIAGE = "triage"
    COMMUNICATE = "communicate"
    INVESTIGATE = "investigate"
    MITIGATE = "mitigate"
    RESOLVE = "resolve"
    REVIEW = "review"


class AlertState(StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


COMPONENT_LABELS: dict[Component, str] = {
    Component.ORCA_CORE: "ORCA Core",
    Component.POSTGRESQL: "PostgreSQL",
    Component.REDIS: "Redis",
    Component.OTEL_COLLECTOR: "OpenTelemetry Collector",
    Component.WORKER: "Console worker",
}


def values(enum: type[StrEnum]) -> tuple[str, ...]:
    """All values of an enum, in declaration order (for CHECK constraints and allow-lists)."""
    return tuple(member.value for member in enum)
