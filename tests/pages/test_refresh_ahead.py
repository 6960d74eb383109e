"""Refresh-ahead: after one worker pass every default-range panel is in Redis with a fresh TTL,
and a page load on the default range computes nothing itself (every panel is a cache hit)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis
from sqlalchemy import Engine

from dashboard.data import panels
from dashboard.data.cache import AGENT_TOPICS, SharedCache, bump_topics, panel_key
from dashboard.settings import get_settings
from dashboard.worker.main import Worker
from tests.conftest import SEED_NOW
from tests.pages.conftest import new_app

PAGES = ("pages/service_health.py", "pages/trust_kpis.py", "pages/agent_registry.py")


def _entries(client: redis.Redis) -> set[bytes]:
    return set(client.scan_iter(match=f"orca:cache:{panels.CACHE_NAMESPACE}:*", count=1000))


def _specs(cache: SharedCache) -> list[panels.PanelSpec]:
    """The default panels and, after a pass, the panels that follow them (asked with their
    value, as the Trust KPIs page asks which agents of the drivers pool are active)."""
    database = str(get_settings().database_url)
    specs = panels.default_panels(SEED_NOW)
    for spec in list(specs):
        if spec.follow is not None:
            following = spec.follow(cache.peek(panels.entry_name(cache, spec, database)))
            assert following is not None, spec.name
            specs.append(following)
    return specs


def _expected_names(cache: SharedCache) -> set[str]:
    database = str(get_settings().database_url)
    return {panel_key(s.name, s.kwargs, database) for s in _specs(cache)}


def test_worker_pass_fills_every_default_panel(
    app_env: None, seeded_engine: Engine, redis_client: redis.Redis
) -> None:
    worker = Worker(seeded_engine)
    counts = worker.job_refresh_ahead()
    cache = SharedCache(redis_client, namespace=panels.CACHE_NAMESPACE)
    names = _expected_names(cache)
    assert any(s.name == "trust_drivers_active" for s in _specs(cache))
    assert counts == {"refreshed": len(names), "fresh": 0, "failed": 0}
    specs = {
        panels.entry_name(cache, s, str(get_settings().database_url)): s for s in _specs(cache)
    }
    for name, spec in specs.items():
        left = cache.ttl_left_s(name)
        assert left is not None and 0 < left <= spec.ttl_s, spec.name
    # A second pass right away finds them all fresh and computes nothing. (Its lead is cut to
    # half a second so that a slow first pass on a loaded machine does not bring the 10 s
    # entries inside the usual 6 s lead: that renewal would be right, just not this test.)
    again = panels.refresh_ahead(
        seeded_engine,
        cache,
        database=str(get_settings().database_url),
        at=datetime.now(UTC),
        fixed_now=get_settings().fixed_now,
        lead_s=0.5,
    )
    assert again == {"refreshed": 0, "fresh": len(names), "failed": 0}


@pytest.mark.parametrize("page", PAGES)
def test_a_default_page_load_after_a_pass_is_all_hits(
    app_env: None, seeded_engine: Engine, redis_client: redis.Redis, page: str
) -> None:
    Worker(seeded_engine).job_refresh_ahead()
    before = _entries(redis_client)
    cache = SharedCache(redis_client, namespace=panels.CACHE_NAMESPACE)
    assert len(before) == len(_expected_names(cache))
    at = new_app()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    assert not [e.value for e in at.error]
    # Every panel the page read was already there: it stored no entry of its own (one of the
    # 10 s entries may expire meanwhile on a slow machine).
    assert _entries(redis_client) - before == set()


def test_entries_about_to_expire_are_renewed(
    seeded_engine: Engine, app_env: None, redis_client: redis.Redis
) -> None:
    cache = SharedCache(redis_client, namespace=panels.CACHE_NAMESPACE)
    database = str(get_settings().database_url)
    at = datetime.now(UTC)
    panels.refresh_ahead(seeded_engine, cache, database=database, at=at, fixed_now=SEED_NOW)
    spec = next(s for s in panels.default_panels(SEED_NOW) if s.name == "kpi_summary")
    name = panels.entry_name(cache, spec, database)
    redis_client.pexpire(f"orca:cache:{panels.CACHE_NAMESPACE}:{name}", 1000)
    counts = panels.refresh_ahead(
        seeded_engine, cache, database=database, at=at, fixed_now=SEED_NOW
    )
    assert counts["refreshed"] >= 1
    left = cache.ttl_left_s(name)
    assert left is not None and left > spec.ttl_s - 5


def test_the_next_clock_step_is_filled_before_it_starts(
    seeded_engine: Engine, app_env: None, redis_client: redis.Redis
) -> None:
    cache = SharedCache(redis_client, namespace=panels.CACHE_NAMESPACE)
    database = str(get_settings().database_url)
    # Three seconds before a step boundary of the real (unpinned) clock.
    at = datetime(2026, 11, 20, 11, 59, 57, tzinfo=UTC)
    panels.refresh_ahead(seeded_engine, cache, database=database, at=at, lead_s=5)
    for now in (panels.console_now(at), SEED_NOW):
        for s in panels.default_panels(now):
            assert cache.ttl_left_s(panels.entry_name(cache, s, database)) is not None, s.name


def test_after_an_agent_change_the_pass_fills_the_new_generation(
    app_env: None, seeded_engine: Engine, redis_client: redis.Redis
) -> None:
    worker = Worker(seeded_engine)
    worker.job_refresh_ahead()
    cache = SharedCache(redis_client, namespace=panels.CACHE_NAMESPACE)
    database = str(get_settings().database_url)
    pool = next(s for s in panels.default_panels(SEED_NOW) if s.name == "trust_drivers_pool")
    pool_ttl = cache.ttl_left_s(panels.entry_name(cache, pool, database))
    # What a quarantine does right after its commit: the agents panels' old entries are dead.
    assert bump_topics(redis_client, AGENT_TOPICS)
    tagged = [s for s in _specs(cache) if set(s.topics) & set(AGENT_TOPICS)]
    assert {s.name for s in tagged} >= {
        "agents_by_status",
        "quarantined",
        "kpi_summary",
        "trust_drivers_active",
    }
    counts = worker.job_refresh_ahead()
    assert isinstance(counts, dict) and counts["refreshed"] == len(tagged), counts
    # The trust-history pool behind the drivers is not recomputed for an agent change: only
    # the cheap "which of them are active" lookup is.
    left = cache.ttl_left_s(panels.entry_name(cache, pool, database))
    assert pool_ttl is not None and left is not None and left <= pool_ttl
    before = _entries(redis_client)
    for page in ("pages/agent_registry.py", "pages/trust_kpis.py"):
        at = new_app()
        at.switch_page(page)
        at.run()
        assert not at.exception, at.exception
    # The pages read the new generation's entries the worker had just stored: they write
    # none of their own (a 10 s entry may expire meanwhile on a slow machine; that is fine).
    assert _entries(redis_client) - before == set()
