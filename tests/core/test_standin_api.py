"""The stand-in serves DOMAIN.md's ORCA Core API over the seeded database, read-only."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine, text

from dashboard.core.server import CoreStandIn
from dashboard.integrations.orca_core import (
    CoreAgent,
    CoreHealth,
    SyncGap,
    TrustKpis,
    TrustScore,
)
from tests.conftest import SEED_AGENTS


def get(core: CoreStandIn, path: str, **params: str) -> httpx.Response:
    return httpx.get(core.url + path, params=params, timeout=5)


def test_health_is_healthy_with_its_checks(readonly_core: CoreStandIn) -> None:
    resp = get(readonly_core, "/health")
    assert resp.status_code == 200
    health = CoreHealth.model_validate(resp.json())
    assert health.status == "healthy"
    assert {c.name for c in health.checks} == {"database", "redis"}


def test_agents_page_with_an_opaque_cursor(
    readonly_core: CoreStandIn, seeded_engine: Engine
) -> None:
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": "150", **({"cursor": cursor} if cursor else {})}
        body = get(readonly_core, "/api/v1/agents", **params).json()
        assert body["total"] == SEED_AGENTS
        seen.extend(CoreAgent.model_validate(a).id for a in body["agents"])  # type: ignore[misc]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == SEED_AGENTS
    with seeded_engine.connect() as conn:
        active = conn.execute(text("SELECT count(*) FROM agents WHERE status = 'active'")).scalar()
    body = get(
        readonly_core, "/api/v1/agents", status="active", vendor="openai", limit="500"
    ).json()
    assert body["total"] <= active
    assert {a["status"] for a in body["agents"]} == {"active"}
    assert {a["vendor"] for a in body["agents"]} == {"openai"}
    assert body["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "501"}, "limit must be between 1 and 500"),
        ({"limit": "ten"}, "limit must be a whole number"),
        ({"status": "deleted"}, "invalid status"),
        ({"type": "robot"}, "invalid type"),
        ({"cursor": "not-a-cursor"}, "invalid cursor"),
    ],
)
def test_bad_agent_filters_are_400(
    readonly_core: CoreStandIn, params: dict[str, str], message: str
) -> None:
    resp = get(readonly_core, "/api/v1/agents", **params)
    assert resp.status_code == 400
    assert message in resp.json()["error"]


def test_trust_score_and_sync_gaps(readonly_core: CoreStandIn, seeded_engine: Engine) -> None:
    trust = TrustKpis.model_validate(get(readonly_core, "/api/v1/trust").json())
    assert trust.trust_score is not None and 0 < trust.trust_score <= 100
    score = TrustScore.model_validate(get(readonly_core, "/api/v1/trust/score/1").json())
    assert score.agent_id == 1
    assert get(readonly_core, "/api/v1/trust/score/abc").status_code == 400
    assert get(readonly_core, "/api/v1/trust/score/999999").status_code == 404
    body = get(readonly_core, "/api/v1/trust/sync-gaps").json()
    gaps = [SyncGap.model_validate(g) for g in body["gaps"]]
    with seeded_engine.connect() as conn:
        open_gaps = conn.execute(
            text("SELECT count(*) FROM sync_gaps WHERE resolved_at IS NULL")
        ).scalar()
    assert body["count"] == len(gaps) == open_gaps
    high = get(readonly_core, "/api/v1/trust/sync-gaps", severity="high").json()
    assert all(g["severity"] == "high" for g in high["gaps"])
    assert get(readonly_core, "/api/v1/trust/sync-gaps", severity="huge").status_code == 400


def test_unknown_paths_and_methods(readonly_core: CoreStandIn) -> None:
    assert get(readonly_core, "/api/v2/agents").status_code == 404
    assert httpx.post(readonly_core.url + "/api/v1/agents", timeout=5).status_code == 405


def test_served_requests_are_recorded_by_route(readonly_core: CoreStandIn) -> None:
    readonly_core.recorder.drain()
    get(readonly_core, "/api/v1/trust/score/2")
    get(readonly_core, "/api/v1/trust/score/abc")
    data = readonly_core.recorder.drain()
    assert data[("GET", "/api/v1/trust/score/{agent_id}", "2xx")][0] == 1
    assert data[("GET", "/api/v1/trust/score/{agent_id}", "4xx")][0] == 1
