"""Two console replicas on one PostgreSQL and Redis: an action on one shows on the other's next view.

Replica B's registry is viewed first, so its shared-cache entries are warm. A change written
straight into the database (no action) stays invisible on B for the cache's lifetime, which
proves the cache is really in the way; a quarantine through replica A's page, then a release and
a review-queue approval through the actions, each show on B's very next view.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from dashboard.actions.agents import approve_discovery, release_agent
from dashboard.actions.base import system_actor
from dashboard.domain.permissions import Role
from dashboard.sim.seed import seed_database
from tests.conftest import SEED_NOW, MakeDatabase
from tests.e2e.browser import wait_until_loaded
from tests.e2e.conftest import RunningConsole, make_login, sign_in, start_console
from tests.harness import ThrowawayDatabase

pytestmark = pytest.mark.e2e
TILES = ("All agents", "Active", "Quarantined")


@pytest.fixture(scope="module")
def replica_db(make_database: MakeDatabase) -> Iterator[ThrowawayDatabase]:
    """A database of its own: this module changes agent states other tests count."""
    db = make_database("orca_replicas")
    seed_database(db.engine(), agents=60, days=1, seed=11, now=SEED_NOW)
    yield db
    db.drop()


@pytest.fixture(scope="module")
def replicas(
    replica_db: ThrowawayDatabase, redis_url: str
) -> Iterator[tuple[RunningConsole, RunningConsole]]:
    a = start_console(replica_db.url, redis_url, name="replica-a")
    try:
        b = start_console(replica_db.url, redis_url, name="replica-b")
    except BaseException:
        a.process.stop()
        raise
    yield a, b
    a.process.stop()
    b.process.stop()


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT status, count(*) FROM agents GROUP BY status")).all()
    return {str(s): int(n) for s, n in rows}


def _tiles(page: Any, base: str) -> dict[str, int]:
    """The registry's status tiles as replica ``base`` shows them now (a fresh page view)."""
    page.goto(base + "/agent_registry")
    wait_until_loaded(page)
    seen: dict[str, int] = {}
    for tile in page.locator('[data-testid="stMetric"]').all():
        label = tile.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        value = tile.locator('[data-testid="stMetricValue"]').inner_text().strip()
        if label in TILES:
            seen[label] = int(re.sub(r"[^0-9]", "", value))
    assert set(seen) == set(TILES), seen
    return seen


def _expected(counts: dict[str, int]) -> dict[str, int]:
    return {
        "All agents": sum(counts.values()),
        "Active": counts.get("active", 0),
        "Quarantined": counts.get("quarantined", 0),
    }


def _pick(engine: Engine, where: str) -> int:
    with engine.connect() as conn:
        sql = f"SELECT id FROM agents WHERE {where} ORDER BY id LIMIT 1"
        return int(conn.execute(text(sql)).scalar_one())


def test_an_action_on_one_replica_shows_on_the_other(
    replicas: tuple[RunningConsole, RunningConsole],
    replica_db: ThrowawayDatabase,
    browser: Any,
) -> None:
    a, b = replicas
    engine = replica_db.engine()
    login = make_login(engine, Role.OPERATOR)
    on_a = browser.new_context(viewport={"width": 1400, "height": 2000}).new_page()
    on_b = browser.new_context(viewport={"width": 1400, "height": 2000}).new_page()
    sign_in(on_a, a.url, login)
    sign_in(on_b, b.url, login)

    before = _counts(engine)
    assert _tiles(on_b, b.url) == _expected(before)  # B's cache is warm from here on

    # A change behind the console's back (no action): B keeps answering from its cache.
    # This is what the test would see for every action if actions did not version the cache.
    sneaky = _pick(engine, "status = 'active'")
    with engine.begin() as conn:
        conn.execute(text("UPDATE agents SET status = 'deprecated' WHERE id = :id"), {"id": sneaky})
    assert _tiles(on_b, b.url) == _expected(before), "the registry counts were not cached"

    # Quarantine one agent through replica A's own page (staged: reason, preview, confirm).
    target = _pick(engine, "status = 'active'")
    on_a.goto(f"{a.url}/agent_registry?agent={target}")
    wait_until_loaded(on_a)
    reason = on_a.get_by_label("Reason (required, kept in the audit trail)")
    reason.fill("replica test")
    reason.press("Control+Enter")
    on_a.get_by_role("button", name="Preview quarantine").click()
    on_a.get_by_role("button", name="Confirm quarantine").click()
    on_a.get_by_text(f"Agent #{target} quarantined.").wait_for(timeout=30_000)
    after_quarantine = _counts(engine)
    assert after_quarantine.get("quarantined", 0) == before.get("quarantined", 0) + 1
    assert _tiles(on_b, b.url) == _expected(after_quarantine)

    # Release it, and approve a discovery from the review queue, through the actions.
    actor = system_actor("test:replicas")
    assert release_agent(engine, actor, target, "back to work").outcome == "changed"
    assert _tiles(on_b, b.url) == _expected(_counts(engine))
    waiting = _pick(engine, "status = 'quarantined' AND reviewed_at IS NULL")
    assert approve_discovery(engine, actor, waiting).outcome == "changed"
    final = _counts(engine)
    assert final.get("quarantined", 0) == after_quarantine.get("quarantined", 0) - 2
    assert _tiles(on_b, b.url) == _expected(final)
    on_b.goto(b.url + "/review_queue")
    wait_until_loaded(on_b)
    with engine.connect() as conn:
        awaiting = conn.execute(
            text("SELECT count(*) FROM agents WHERE status = 'quarantined' AND reviewed_at IS NULL")
        ).scalar_one()
    assert on_b.get_by_text(f"{awaiting:,} agents await review").count() == 1
