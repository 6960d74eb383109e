"""Word lists and fixed shapes the simulator draws from (endpoints, instances, names)."""

from __future__ import annotations

import numpy as np

SOURCES = ("mcp", "zapier", "make", "n8n", "airflow", "lambda", "manual")
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

ADJECTIVES = np.array(
    [
        "swift",
        "quiet",
        "bold",
        "clever",
        "steady",
        "bright",
        "lucid",
        "nimble",
        "brisk",
        "calm",
        "keen",
        "sharp",
        "amber",
        "azure",
        "cobalt",
        "crimson",
        "golden",
        "silver",
        "jade",
        "coral",
    ]
)
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
)
