"""The typed ORCA Core client: documented shapes parse, everything else is a typed error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from dashboard.integrations.http import run_with_deadline
from dashboard.integrations.orca_core import (
    CoreHTTPError,
    CoreUnavailable,
    MalformedResponse,
    OrcaCoreClient,
    decode_cursor,
    encode_cursor,
    gap_external_key,
)
from tests.core.support import PeerHandler, free_port, json_reply, peer, raw_reply

T = TypeVar("T")
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def agent(i: int, **over: Any) -> dict[str, Any]:
    row = {
        "id": i,
        "external_id": f"mcp-{i:08d}",
        "discovery_source": "mcp",
        "name": f"agent {i}",
        "type": "chatbot",
        "vendor": "openai",
        "model": "gpt-4o",
        "status": "active",
        "compliance_tier": "standard",
        "owner": "ana@example.com",
        "discovered_at": NOW.isoformat(),
        "last_seen_at": NOW.isoformat(),
        "trust_score": 81.5,
        "metadata": {"team": "ops"},
        "unknown_future_field": True,
    }
    row.update(over)
    return row


def call(base: str, fn: Callable[[OrcaCoreClient], Awaitable[T]]) -> T:
    async def go() -> T:
        async with OrcaCoreClient.open(base, connect_timeout_s=1, read_timeout_s=2) as core:
            return await fn(core)

    return run_with_deadline(go, 8)


def test_agents_page_parses_and_skips_bad_items() -> None:
    body = {
        "agents": [agent(1), agent(2, type="robot"), agent(3, trust_score=150), agent(4)],
        "total": 4,
        "next_cursor": None,
    }
    with peer({"/api/v1/agents": json_reply(200, body)}) as server:
        page = call(server.url, lambda c: c.list_agents(limit=10))
    assert [a.external_id for a in page.agents] == ["mcp-00000001", "mcp-00000004"]
    assert page.total == 4 and page.next_cursor is None
    assert len(page.invalid) == 2
    assert "item 1: type" in page.invalid[0]
    assert page.agents[0].metadata == {"team": "ops"}


@pytest.mark.parametrize(
    "reply",
    [
        raw_reply(200, b"<html>not json</html>"),
        raw_reply(200, b'{"agents": [1, 2'),
        json_reply(200, {"agents": "nope", "total": 1}),
        json_reply(200, {"agents": [], "total": -1}),
        json_reply(200, [1, 2, 3]),
    ],
)
def test_malformed_envelopes_raise_typed_errors(reply: Callable[[PeerHandler], None]) -> None:
    with peer({"/api/v1/agents": reply}) as server, pytest.raises(MalformedResponse):
        call(server.url, lambda c: c.list_agents())


def test_http_errors_and_no_answer() -> None:
    with peer({"/api/v1/trust": json_reply(404, {"error": "x"})}) as server:
        with pytest.raises(CoreHTTPError) as info:
            call(server.url, lambda c: c.trust())
        assert info.value.status_code == 404
    with pytest.raises(CoreUnavailable, match="connection refused"):
        call(f"http://127.0.0.1:{free_port()}", lambda c: c.trust())


def test_repeating_cursor_is_malformed() -> None:
    body = {"agents": [agent(1)], "total": 5, "next_cursor": "same"}
    with peer({"/api/v1/agents": json_reply(200, body)}) as server:

        async def walk(core: OrcaCoreClient) -> int:
            pages = 0
            async for _ in core.iter_agent_pages(limit=1):
                pages += 1
            return pages

        with pytest.raises(MalformedResponse, match="repeats"):
            call(server.url, walk)
        assert server.hits["/api/v1/agents"] == 2


def test_trust_score_and_gaps() -> None:
    trust = {
        "trust_score": 82.1,
        "risk_avoided_usd": 1000,
        "sync_freshness_percent": 97.0,
        "drift_rate_percent": 6.0,
        "compliance_sla_percent": 92.5,
        "period_start": (NOW - timedelta(days=30)).isoformat(),
        "period_end": NOW.isoformat(),
        "computed_at": NOW.isoformat(),
    }
    score = {
        "agent_id": 7,
        "score": 80,
        "reliability": 0.9,
        "policy_adherence": 0.8,
        "context_freshness": 1,
        "risk_exposure": 0.4,
        "computed_at": NOW.isoformat(),
    }
    gap = {
        "source": "zapier",
        "target": "crm-1",
        "gap_type": "stale_data",
        "severity": "high",
        "detected_at": NOW.isoformat(),
        "lag_ms": 5000,
    }
    gaps = {
        "gaps": [gap, {**gap, "severity": "awful"}],
        "count": 2,
        "sync_freshness_percent": 97,
        "drift_rate_percent": 6,
    }
    routes = {
        "/api/v1/trust": json_reply(200, trust),
        "/api/v1/trust/score/7": json_reply(200, score),
        "/api/v1/trust/sync-gaps": json_reply(200, gaps),
    }
    with peer(routes) as server:
        got = call(server.url, lambda c: c.trust())
        assert got.trust_score == 82.1 and got.computed_at == NOW
        assert call(server.url, lambda c: c.trust_score(7)).context_freshness == 1.0
        page = call(server.url, lambda c: c.sync_gaps())
    assert len(page.gaps) == 1 and len(page.invalid) == 1
    assert page.gaps[0].external_key == gap_external_key("zapier", "crm-1", "stale_data", NOW)
    nan_trust = {**trust, "trust_score": float("nan")}
    with (
        peer({"/api/v1/trust": json_reply(200, nan_trust)}) as server,
        pytest.raises(MalformedResponse),
    ):
        call(server.url, lambda c: c.trust())


def test_gap_key_is_stable_across_time_zones_and_cursor_round_trips() -> None:
    other_zone = NOW.astimezone(datetime.now().astimezone().tzinfo)
    assert gap_external_key("a", "b", "stale_data", NOW) == gap_external_key(
        "a", "b", "stale_data", other_zone
    )
    assert gap_external_key("a", "b", "stale_data", NOW).startswith("core:")
    assert decode_cursor(encode_cursor({"after": 42})) == {"after": 42}
    for bad in ("", "!!!", "bm9wZQ", "x" * 600):
        with pytest.raises(ValueError):
            decode_cursor(bad)
