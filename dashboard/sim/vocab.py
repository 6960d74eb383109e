"""Word lists and fixed shapes the simulator draws from (endpoints, instances, names)."""

from __future__ import annotations

import numpy as np

from dashboard.domain.enums import (
    AgentStatus,
    AgentType,
    ComplianceTier,
    DiscoverySource,
    DriftKind,
    GapType,
    Severity,
    Vendor,
    ViolationAction,
    values,
)

SOURCES = values(DiscoverySource)
SOURCE_WEIGHTS = (0.24, 0.18, 0.12, 0.14, 0.14, 0.12, 0.06)

# (method, route, requests per minute at peak-ish, median latency ms)
ENDPOINTS: tuple[tuple[str, str, float, float], ...] = (
    ("GET", "/health", 12, 4),
    ("GET", "/api/v1/agents", 40, 45),
    ("GET", "/api/v1/agents/{id}", 60, 18),
    ("POST", "/api/v1/agents", 4, 70),
    ("PATCH", "/api/v1/agents/{id}", 6, 55),
    ("DELETE", "/api/v1/agents/{id}", 0.5, 40),
    ("GET", "/api/v1/trust", 15, 120),
    ("GET", "/api/v1/trust/score/{agent_id}", 50, 35),
    ("GET", "/api/v1/trust/sync-gaps", 8, 90),
    ("POST", "/api/v1/policies/evaluate", 120, 22),
    ("GET", "/api/v1/policies", 5, 30),
    ("PUT", "/api/v1/policies/{id}", 0.8, 60),
    ("POST", "/api/v1/discovery/scan", 0.6, 900),
    ("GET", "/api/v1/discovery/sources", 2, 25),
    ("POST", "/api/v1/sync/{source}/trigger", 1.5, 300),
    ("GET", "/api/v1/sync/status", 10, 28),
    ("GET", "/api/v1/drift", 6, 75),
    ("POST", "/api/v1/agents/{id}/quarantine", 0.3, 65),
    ("GET", "/api/v1/violations", 9, 50),
    ("POST", "/api/v1/telemetry/ingest", 200, 8),
)

INSTANCES = ("orca-core-1", "orca-core-2", "orca-db-1")

NOUNS = np.array(
    [
        "invoice",
        "support",
        "sales",
        "lead",
        "ticket",
        "hr",
        "payroll",
        "docs",
        "search",
        "triage",
        "billing",
        "compliance",
        "security",
        "ops",
        "data",
        "report",
        "calendar",
        "inbox",
        "risk",
        "contract",
    ]
)
ROLES = np.array(
    [
        "bot",
        "assistant",
        "copilot",
        "agent",
        "pipeline",
        "router",
        "summarizer",
        "classifier",
        "extractor",
        "scheduler",
    ]
)
FIRST_NAMES = np.array(
    [
        "ana",
        "ben",
        "chen",
        "dara",
        "eli",
        "fatima",
        "gus",
        "hana",
        "ivan",
        "jo",
        "kofi",
        "lena",
        "mia",
        "noor",
        "oscar",
        "priya",
        "quinn",
        "raj",
        "sara",
        "tom",
    ]
)
LAST_NAMES = np.array(
    [
        "silva",
        "meyer",
        "wang",
        "okafor",
        "cohen",
        "haddad",
        "berg",
        "sato",
        "petrov",
        "nguyen",
        "mensah",
        "novak",
        "rossi",
        "khan",
        "lopez",
        "patel",
        "doyle",
        "singh",
        "larsen",
        "tanaka",
    ]
)
TEAMS = np.array(["finance", "support", "sales", "platform", "security", "people", "data"])
POLICIES = np.array(
    [
        "pii-egress",
        "rate-limit",
        "prompt-injection",
        "secrets-in-output",
        "unapproved-tool",
        "data-residency",
        "cost-cap",
        "model-allowlist",
    ]
)
MODELS: dict[str, tuple[str, ...]] = {
    "openai": ("gpt-4o", "gpt-4.1", "o3-mini"),
    "anthropic": ("claude-sonnet-4", "claude-haiku-4", "claude-opus-4"),
    "azure": ("azure-gpt-4o", "azure-gpt-4.1"),
    "aws": ("bedrock-titan", "bedrock-claude"),
    "google": ("gemini-2.5-pro", "gemini-2.5-flash"),
    "custom": ("in-house-llm", "fine-tuned-7b"),
}
# Agent names come from discovery and are untrusted: the demo data carries hostile ones so the
# console is always looked at with them.
HOSTILE_NAMES = (
    "<img src=x onerror=alert(1)>",
    '=HYPERLINK("http://evil.example","click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd",
    "-2+3 formula bot",
    "<script>alert('x')</script> helper",
    "'; DROP TABLE agents; --",
    "emoji 🤖 agent ünïcødé 名前",
    "very-long-name-" + "x" * 285,
    "**markdown** _agent_ [link](javascript:alert(1))",
    '=HYPERLINK("http://x")',
    "\\N",
    "tab\there\nnew line \\ back\\slash",
    "\u202eevil-rtl-override-bot",
    "NULL",
)

# Agent names look like "invoice-triage-bot-0042": noun, task, role, zero-padded id.
TASKS = np.array(
    [
        "triage",
        "sync",
        "review",
        "summary",
        "routing",
        "intake",
        "audit",
        "lookup",
        "draft",
        "match",
        "extract",
        "monitor",
        "approval",
        "enrich",
        "dispatch",
        "forecast",
    ]
)
AGENT_TYPES = values(AgentType)
AGENT_TYPE_WEIGHTS = (0.35, 0.25, 0.25, 0.15)
VENDORS = values(Vendor)
VENDOR_WEIGHTS = (0.30, 0.24, 0.16, 0.12, 0.10, 0.08)
TIERS = values(ComplianceTier)
TIER_WEIGHTS = (0.18, 0.45, 0.27, 0.10)
STATUSES = values(AgentStatus)  # codes 0..3: active, suspended, deprecated, quarantined
SEVERITIES = values(Severity)
ACTIONS = values(ViolationAction)
GAP_TYPES = values(GapType)
DRIFT_KINDS = values(DriftKind)
# Integrations that sync data (manual agents have no connector of their own).
INTEGRATIONS = tuple(s for s in SOURCES if s != DiscoverySource.MANUAL)
REGIONS = ("eu-west-1", "us-east-1", "us-west-2", "ap-south-1")
EMAIL_DOMAIN = "example.com"
REVIEWERS = ("ana.silva@example.com", "kofi.mensah@example.com", "priya.patel@example.com")
ONCALL = ("oncall-primary@example.com", "raj.singh@example.com", "lena.berg@example.com")
# What the systems behind each integration's data sources are called.
SOURCE_SYSTEMS = np.array(
    [
        "hubspot.contacts",
        "zendesk.tickets",
        "stripe.charges",
        "gdrive.docs",
        "snowflake.orders",
        "s3.events",
        "slack.messages",
        "jira.issues",
        "postgres.customers",
        "salesforce.leads",
        "workday.employees",
        "netsuite.invoices",
    ]
)
# How operators' actions on agents read in the status history.
OPS_QUARANTINE_REASONS = (
    "policy violations above threshold",
    "suspected credential leak in tool output",
    "unapproved tool call to an external API",
    "behavior drift score above 90",
)
SUSPEND_REASONS = (
    "owner on leave; paused on request",
    "cost cap exceeded",
    "pending re-certification",
)
DEPRECATE_REASONS = (
    "replaced by a newer version",
    "workflow retired",
    "not found by discovery for 14 days",
)
REJECT_REASONS = (
    "rejected in review: duplicate of an existing agent",
    "rejected in review: no accountable owner",
)
# Which action a policy usually takes.
POLICY_ACTIONS: dict[str, tuple[float, float, float]] = {
    "pii-egress": (0.85, 0.05, 0.10),
    "rate-limit": (0.10, 0.85, 0.05),
    "prompt-injection": (0.80, 0.05, 0.15),
    "secrets-in-output": (0.90, 0.00, 0.10),
    "unapproved-tool": (0.55, 0.10, 0.35),
    "data-residency": (0.60, 0.05, 0.35),
    "cost-cap": (0.15, 0.75, 0.10),
    "model-allowlist": (0.40, 0.05, 0.55),
}
# Client errors per endpoint (share of requests answered 4xx); the rest defaults to 1.5 %.
CLIENT_ERROR_SHARE: dict[str, float] = {
    "/api/v1/agents/{id}": 0.04,
    "/api/v1/trust/score/{agent_id}": 0.03,
    "/api/v1/policies/evaluate": 0.01,
    "/api/v1/telemetry/ingest": 0.005,
    "/health": 0.0,
}
