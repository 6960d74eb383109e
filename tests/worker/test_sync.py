"""ORCA Core sync: the stand-in over the seeded database is Core; the console is a fresh
database. Malformed and partial answers are skipped and counted, never stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
import redis
from sqlalchemy import Engine, text

from dashboard.core.server import CoreStandIn
from dashboard.data.cache import topic_key
from dashboard.worker.sync import COUNTERS_KEY, SyncJob, SyncReport, run_sync
from tests.conftest import SEED_AGENTS, MakeDatabase
from tests.core.support import PeerHandler, free_port, json_reply, peer, raw_reply

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def core(readonly_core: CoreStandIn) -> CoreStandIn:
    return readonly_core


@pytest.fixture()
def console(make_database: MakeDatabase) -> Iterator[Engine]:
    with make_database("orca_console") as db:
        yield db.engine(pool_size=5)


def sync(console: Engine, client: redis.Redis | None, url: str, **kw: Any) -> SyncReport:
    return run_sync(
        console,
        client,
        core_url=url,
        connect_timeout_s=1,
        read_timeout_s=3,
        deadline_s=kw.pop("deadline_s", 10),
        now=kw.pop("now", NOW),
        **kw,
    )


def add_agent(console: Engine, external_id: str, source: str, **over: Any) -> None:
    row = {
        "e": external_id,
        "s": source,
        "name": "console-side name",
        "status": "active",
        "missing": None,
        **over,
    }
    with console.begin() as conn:
        conn.execute(
            text("""INSERT INTO agents (external_id, discovery_source, name, type, vendor, status,
                        owner, discovered_at, reviewed_at, reviewed_by, missing_since)
                    VALUES (:e, :s, :name, 'service', 'custom', :status, 'x@example.com',
                        now() - interval '90 days', now() - interval '80 days', 'ops', :missing)"""),
            row,
        )


def agent_row(console: Engine, external_id: str) -> dict[str, Any]:
    with console.connect() as conn:
        return dict(
            conn.execute(text("SELECT * FROM agents WHERE external_id = :e"), {"e": external_id})
            .mappings()
            .one()
        )


def core_keys(seeded: Engine, n: int) -> list[tuple[str, str]]:
    with seeded.connect() as conn:
        return [
            (r.external_id, r.discovery_source)
            for r in conn.execute(
                text("SELECT external_id, discovery_source FROM agents ORDER BY id LIMIT :n"),
                {"n": n},
            )
        ]


def test_sync_from_the_stand_in(
    core: CoreStandIn, console: Engine, seeded_engine: Engine, redis_client: redis.Redis
) -> None:
    (known_id, known_src), (back_id, back_src) = core_keys(seeded_engine, 2)
    add_agent(console, known_id, known_src)  # reviewed and active in the console
    add_agent(console, back_id, back_src, missing=NOW - timedelta(days=2))  # had vanished
    add_agent(console, "gone-1", "manual")  # Core no longer lists it

    generation = agents_generation(redis_client)
    report = sync(console, redis_client, core.url, page_size=100)
    assert report.errors == []
    assert report.listing_complete and report.agent_pages == 4
    # New, changed and missing agents committed: every replica's agent views are stale now.
    assert agents_generation(redis_client) == generation + 1
    assert report.agents_seen == SEED_AGENTS
    assert report.agents_new == SEED_AGENTS - 2
    assert report.agents_updated == 2
    assert report.agents_marked_missing == 1
    assert report.trust_stored

    known = agent_row(console, known_id)
    assert known["status"] == "active"  # the console owns status
    assert known["name"] != "console-side name"  # Core's name wins
    assert known["version"] == 1 and known["missing_since"] is None
    assert agent_row(console, back_id)["missing_since"] is None  # seen again: cleared
    assert agent_row(console, "gone-1")["missing_since"] == NOW
    with console.connect() as conn:
        statuses: dict[str, int] = dict(
            conn.execute(
                text("""SELECT status, count(*) FROM agents
                        WHERE quarantined_by = 'discovery' AND reviewed_at IS NULL GROUP BY 1""")
            ).all()
        )
        assert statuses == {"quarantined": SEED_AGENTS - 2}
        assert (
            conn.execute(
                text("SELECT count(*) FROM agent_status_changes WHERE changed_by = 'discovery'")
            ).scalar_one()
            == SEED_AGENTS - 2
        )
        snap = conn.execute(
            text("SELECT trust_score, total_agents FROM kpi_snapshots WHERE origin = 'core'")
        ).one()
        assert snap.trust_score is not None and snap.total_agents == SEED_AGENTS + 1
        with seeded_engine.connect() as core_conn:
            open_gaps = core_conn.execute(
                text("SELECT count(*) FROM sync_gaps WHERE resolved_at IS NULL")
            ).scalar_one()
        assert (
            conn.execute(
                text("SELECT count(*) FROM sync_gaps WHERE external_key LIKE 'core:%'")
            ).scalar_one()
            == open_gaps
            == report.gaps_upserted
        )

    # Again: nothing changes, nothing is written twice.
    again = sync(console, redis_client, core.url, now=NOW + timedelta(minutes=1))
    assert (again.agents_new, again.agents_updated, again.agents_marked_missing) == (0, 0, 0)
    assert again.gaps_upserted == 0 and again.gaps_resolved == 0
    assert agent_row(console, "gone-1")["missing_since"] == NOW  # first sighting kept
    assert sync_counters(redis_client)["runs"] == 2
    # ... and no agent view is made stale by a sync that changed nothing.
    assert agents_generation(redis_client) == generation + 1


def agents_generation(redis_client: redis.Redis) -> int:
    """The agents cache topic's generation (bumped when agents changed)."""
    raw = cast(bytes | None, redis_client.get(topic_key("agents")))
    return int(raw or 0)


def sync_counters(redis_client: redis.Redis) -> dict[str, int]:
    """The running totals the sync writes to Redis (runs, malformed_responses, ...)."""
    raw = redis_client.hgetall(COUNTERS_KEY)
    return {k.decode(): int(v) for k, v in raw.items()}  # type: ignore[union-attr]


def _agent(i: int, **over: Any) -> dict[str, Any]:
    return {
        "id": i,
        "external_id": f"ext-{i}",
        "discovery_source": "zapier",
        "name": f"core agent {i}",
        "type": "pipeline",
        "vendor": "aws",
        "owner": "o@example.com",
        "discovered_at": NOW.isoformat(),
        **over,
    }


def _pages(second: Any) -> Any:
    def reply(h: PeerHandler) -> None:
        if "cursor=" in h.path:
            second(h)
        else:
            h.send_json(200, {"agents": [_agent(1), _agent(2)], "total": 4, "next_cursor": "p2"})

    return reply


TRUST_OK = {
    "trust_score": 80.0,
    "risk_avoided_usd": 10.0,
    "sync_freshness_percent": 90.0,
    "drift_rate_percent": 5.0,
    "compliance_sla_percent": 95.0,
    "period_start": (NOW - timedelta(days=30)).isoformat(),
    "period_end": NOW.isoformat(),
    "computed_at": NOW.isoformat(),
}


@pytest.mark.parametrize(
    ("second_page", "malformed", "skipped"),
    [
        (raw_reply(200, b'{"agents": [{"id": 3'), 1, 0),  # cut off mid-answer
        (raw_reply(200, b"<html>proxy error</html>"), 1, 0),
        (json_reply(200, {"agents": {"a": 1}, "total": 4}), 1, 0),
        (json_reply(200, {"agents": [_agent(3, type="robot"), _agent(4)], "total": 4}), 0, 1),
    ],
)
def test_bad_second_page_is_skipped_counted_and_marks_nothing(
    console: Engine, redis_client: redis.Redis, second_page: Any, malformed: int, skipped: int
) -> None:
    add_agent(console, "ext-1", "zapier", name="before")
    add_agent(console, "ext-3", "zapier", name="third, untouched")
    add_agent(console, "elsewhere", "manual")
    routes = {
        "/api/v1/agents": _pages(second_page),
        "/api/v1/trust": json_reply(200, {**TRUST_OK, "trust_score": 150}),
        "/api/v1/trust/sync-gaps": raw_reply(200, b"[[["),
    }
    with console.begin() as conn:
        conn.execute(
            text("""INSERT INTO sync_gaps (source, target, gap_type, severity, detected_at,
                        lag_ms, external_key)
                    VALUES ('mcp', 't', 'stale_data', 'low', now(), 5, 'core:keep-me')""")
        )
    with peer(routes) as server:
        report = sync(console, redis_client, server.url)
    assert not report.listing_complete
    assert report.agents_marked_missing == 0
    assert report.malformed_responses == malformed + 2  # + trust + gaps
    assert report.agents_skipped == skipped
    assert not report.trust_stored
    assert agent_row(console, "ext-1")["name"] == "core agent 1"  # the good page is kept
    assert agent_row(console, "ext-3")["name"] == "third, untouched"
    assert agent_row(console, "elsewhere")["missing_since"] is None
    with console.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM kpi_snapshots")).scalar_one() == 0
        assert (
            conn.execute(
                text("SELECT resolved_at FROM sync_gaps WHERE external_key = 'core:keep-me'")
            ).scalar_one()
            is None
        )
    counters = sync_counters(redis_client)
    assert counters["malformed_responses"] == malformed + 2
    assert counters["incomplete_listings"] == 1
    assert counters.get("skipped_items", 0) == skipped
    last = json.loads(cast("bytes | None", redis_client.get("orca:sync:last")) or b"{}")
    assert last["listing_complete"] is False


def test_unreachable_or_dripping_core_changes_nothing(
    console: Engine, redis_client: redis.Redis
) -> None:
    add_agent(console, "ext-1", "zapier")
    report = sync(console, redis_client, f"http://127.0.0.1:{free_port()}")
    assert report.failed_requests == 3 and report.malformed_responses == 0
    assert agent_row(console, "ext-1")["missing_since"] is None

    def drip(h: PeerHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "1000")
        h.end_headers()
        for _ in range(100):
            h.wfile.write(b" ")
            h.wfile.flush()
            if h.server.stop_event.wait(0.2):
                return

    with peer({"*": drip}) as server:
        report = sync(console, None, server.url, deadline_s=1.5)
    assert report.failed_requests == 3
    assert all("timed out" in e for e in report.errors)


def test_sync_job_reports_malformed_answers(
    console: Engine, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    routes = {
        "/api/v1/agents": json_reply(200, {"agents": [], "total": "many"}),
        "/api/v1/trust": json_reply(200, TRUST_OK),
        "/api/v1/trust/sync-gaps": json_reply(
            200, {"gaps": [], "count": 0, "sync_freshness_percent": 100, "drift_rate_percent": 0}
        ),
    }
    with peer(routes) as server:
        monkeypatch.setenv("ORCA_CORE_URL", server.url)
        from dashboard.settings import reset_settings

        reset_settings()
        job = SyncJob(console, redis_client)
        with pytest.raises(RuntimeError, match="unexpected shape"):
            job()
        assert job.last is not None and job.last.trust_stored
    reset_settings()
