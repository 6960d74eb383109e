"""The per-agent trust rollups answer "whose trust fell most" exactly as the raw history does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import Connection, Engine, text

from dashboard.data import kpis, trust_rollups
from tests.conftest import SEED_NOW

H = timedelta(hours=1)


@pytest.fixture()
def tx(seeded_engine: Engine) -> Iterator[Connection]:
    with seeded_engine.connect() as conn:
        outer = conn.begin()
        # As the seed left it (a worker test of this run may have rolled the watermark on).
        conn.execute(text("UPDATE rollup_watermarks SET through = :t"), {"t": SEED_NOW})
        yield conn
        outer.rollback()


RANGES = [
    (SEED_NOW - 24 * H, SEED_NOW),
    (SEED_NOW - 48 * H, SEED_NOW),
    (SEED_NOW - 72 * H, SEED_NOW - 5 * H),  # across day edges, ending in the past
    (SEED_NOW - 3 * H, SEED_NOW - H),  # inside one day
    (datetime(2026, 11, 18, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)),  # whole days
]


def _both(conn: Connection, start: datetime, end: datetime, limit: int) -> pd.DataFrame:
    new = trust_rollups.list_trust_falls(conn, start=start, end=end, limit=limit)
    assert new is not None, "an hour-aligned range within the watermark uses the rollups"
    old = kpis.list_trust_falls_from_history(conn, start=start, end=end, limit=limit)
    pd.testing.assert_frame_equal(new.reset_index(drop=True), old.reset_index(drop=True))
    return new


@pytest.mark.parametrize(("start", "end"), RANGES)
@pytest.mark.parametrize("first_depth", [256, 2])
def test_same_answer_as_the_history(
    tx: Connection,
    start: datetime,
    end: datetime,
    first_depth: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A depth of 2 forces several rounds of reading deeper before the bound clears.
    monkeypatch.setattr(trust_rollups, "FIRST_DEPTH", first_depth)
    monkeypatch.setattr(trust_rollups, "MAX_CANDIDATES", 10**9)
    for limit in (1, 20, 200):
        _both(tx, start, end, limit)


def test_the_seed_fills_the_rollups_and_the_watermark(tx: Connection) -> None:
    assert trust_rollups.get_watermark(tx) == SEED_NOW
    raw = tx.execute(text("SELECT count(*) FROM agent_trust_history")).scalar_one()
    hourly = tx.execute(text("SELECT count(*) FROM agent_trust_hourly")).scalar_one()
    daily = tx.execute(text("SELECT count(*) FROM agent_trust_daily")).scalar_one()
    assert 0 < daily <= hourly <= raw


def test_unaligned_or_unrolled_ranges_ask_the_history(tx: Connection) -> None:
    odd = trust_rollups.list_trust_falls(
        tx, start=SEED_NOW - 24 * H + timedelta(minutes=5), end=SEED_NOW, limit=20
    )
    assert odd is None
    assert trust_rollups.list_trust_falls(tx, start=SEED_NOW, end=SEED_NOW + H, limit=5) is None
    # The drivers give the history's answer either way.
    drivers = kpis.summarize_trust_drivers(tx, start=SEED_NOW - 24 * H, end=SEED_NOW)
    old = kpis.list_trust_falls_from_history(tx, start=SEED_NOW - 24 * H, end=SEED_NOW, limit=20)
    pd.testing.assert_frame_equal(drivers.agents, old)


def test_worker_refresh_folds_new_scores_in(tx: Connection) -> None:
    agent = tx.execute(
        text("SELECT id FROM agents WHERE status = 'active' ORDER BY id LIMIT 1")
    ).scalar_one()
    later = SEED_NOW + 30 * timedelta(minutes=1)
    # A collapse half an hour after the seed's now: the steepest fall of the next hour.
    tx.execute(
        text("INSERT INTO agent_trust_history VALUES (:a, :t, 0.5, 0, 0, 0, 1)"),
        {"a": agent, "t": later},
    )
    start, end = SEED_NOW - 24 * H, SEED_NOW + H
    assert trust_rollups.list_trust_falls(tx, start=start, end=end, limit=5) is None
    written = trust_rollups.refresh_trust_rollups(tx, since=later - 2 * H, through=end)
    assert written["agent_trust_hourly"] > 0 and written["agent_trust_daily"] > 0
    assert trust_rollups.get_watermark(tx) == end
    falls = _both(tx, start, end, 5)
    assert int(falls["agent_id"].iloc[0]) == agent
    assert float(falls["score_after"].iloc[0]) == 0.5
    # Idempotent: a second pass over the same hours changes nothing.
    trust_rollups.refresh_trust_rollups(tx, since=later - 2 * H, through=end)
    _both(tx, start, end, 5)


@pytest.mark.parametrize("active_only", [True, False])
def test_any_status_falls_agree_between_rollups_and_history(
    tx: Connection, active_only: bool
) -> None:
    start, end = SEED_NOW - 48 * H, SEED_NOW
    new = trust_rollups.list_trust_falls(
        tx, start=start, end=end, limit=200, active_only=active_only
    )
    old = kpis.list_trust_falls_from_history(
        tx, start=start, end=end, limit=200, active_only=active_only
    )
    assert new is not None
    pd.testing.assert_frame_equal(new.reset_index(drop=True), old.reset_index(drop=True))


def test_active_falls_from_the_pool_follow_quarantines_exactly(tx: Connection) -> None:
    """The page's two steps (an hourly pool of any status, then who is active now) give the
    exact active answer, before and after quarantines, without recomputing the pool."""
    start, end = SEED_NOW - 24 * H, SEED_NOW
    # A pool smaller than the falling agents (the test seed has about a hundred), so full.
    pool = kpis.summarize_trust_drivers(tx, start=start, end=end, limit=40, active_only=False)
    assert len(pool.agents) == 40

    def shown() -> pd.DataFrame:
        ids = tuple(int(i) for i in pool.agents["agent_id"])
        active = kpis.list_active_agent_ids(tx, ids=ids)
        kept = kpis.keep_active_falls(pool, active=active, pool_size=40, limit=20)
        assert kept is not None
        return kept.agents

    def exact() -> pd.DataFrame:
        return kpis.summarize_trust_drivers(tx, start=start, end=end, limit=20).agents

    pd.testing.assert_frame_equal(shown(), exact())
    # Quarantine the five steepest active fallers: the next view drops them, exactly.
    steepest = [int(i) for i in exact()["agent_id"].head(5)]
    tx.execute(
        text("UPDATE agents SET status = 'quarantined' WHERE id = ANY(:ids)"), {"ids": steepest}
    )
    after = shown()
    assert not set(steepest) & set(after["agent_id"])
    pd.testing.assert_frame_equal(after, exact())


def test_a_pool_emptied_by_quarantines_asks_exactly(tx: Connection) -> None:
    pool = kpis.summarize_trust_drivers(
        tx, start=SEED_NOW - 24 * H, end=SEED_NOW, limit=30, active_only=False
    )
    assert len(pool.agents) == 30
    few = tuple(int(i) for i in pool.agents["agent_id"].head(3))
    # Only 3 of a full pool of 30 are active: the 20 steepest active may lie beyond it.
    assert kpis.keep_active_falls(pool, active=few, pool_size=30, limit=20) is None
    # A pool that holds every falling agent (fewer rows than its size) is always exact.
    short = kpis.keep_active_falls(pool, active=few, pool_size=31, limit=20)
    assert short is not None and list(short.agents["agent_id"]) == list(few)


# -- stored trust-fall pools (migration 0014) ---------------------------------------------------

PRESET_SPANS = (H, 6 * H, 24 * H, 7 * 24 * H, 30 * 24 * H)


def _pool_count(conn: Connection) -> int:
    return int(conn.execute(text("SELECT count(*) FROM trust_fall_pools")).scalar_one())


def test_the_seed_stores_the_presets_pools_and_they_answer_as_the_history(
    tx: Connection,
) -> None:
    for span in PRESET_SPANS:
        start = SEED_NOW - span
        assert trust_rollups.get_fall_pool_computed_at(tx, start=start, end=SEED_NOW) is not None
        for active_only in (True, False):
            for limit in (1, 20, 200):
                stored = trust_rollups.read_fall_pool(
                    tx, start=start, end=SEED_NOW, limit=limit, active_only=active_only
                )
                assert stored is not None
                old = kpis.list_trust_falls_from_history(
                    tx, start=start, end=SEED_NOW, limit=limit, active_only=active_only
                )
                pd.testing.assert_frame_equal(stored, old)


def test_a_pool_follows_quarantines_and_renames_without_recomputing(tx: Connection) -> None:
    start = SEED_NOW - 24 * H
    before = trust_rollups.read_fall_pool(tx, start=start, end=SEED_NOW, limit=20, active_only=True)
    assert before is not None and len(before) >= 5
    at = trust_rollups.get_fall_pool_computed_at(tx, start=start, end=SEED_NOW)
    steepest = [int(i) for i in before["agent_id"].head(3)]
    tx.execute(
        text("UPDATE agents SET status = 'quarantined' WHERE id = ANY(:ids)"), {"ids": steepest}
    )
    tx.execute(
        text("UPDATE agents SET name = 'renamed <b>x</b>' WHERE id = :i"), {"i": steepest[0]}
    )
    after = trust_rollups.read_fall_pool(tx, start=start, end=SEED_NOW, limit=20, active_only=True)
    old = kpis.list_trust_falls_from_history(tx, start=start, end=SEED_NOW, limit=20)
    assert after is not None and not set(steepest) & set(after["agent_id"])
    pd.testing.assert_frame_equal(after, old)
    every = trust_rollups.read_fall_pool(tx, start=start, end=SEED_NOW, limit=20, active_only=False)
    assert every is not None
    names = dict(zip(every["agent_id"], every["name"], strict=True))
    assert names[steepest[0]] == "renamed <b>x</b>"
    assert trust_rollups.get_fall_pool_computed_at(tx, start=start, end=SEED_NOW) == at


def test_a_full_pool_with_too_few_active_agents_does_not_answer(tx: Connection) -> None:
    start = SEED_NOW - 24 * H
    falls = kpis.list_trust_falls_from_history(
        tx, start=start, end=SEED_NOW, limit=200, active_only=False
    )
    # A pool of 10 (full: more agents fell) whose agents are all quarantined but one.
    trust_rollups.store_fall_pool(
        tx, start=start, end=SEED_NOW, falls=falls, pool_size=10, computed_at=SEED_NOW
    )
    ids = [int(i) for i in falls["agent_id"].head(10)]
    tx.execute(
        text("UPDATE agents SET status = 'quarantined' WHERE id = ANY(:ids)"), {"ids": ids[1:]}
    )
    assert (
        trust_rollups.read_fall_pool(tx, start=start, end=SEED_NOW, limit=5, active_only=True)
        is None
    )
    assert (
        trust_rollups.read_fall_pool(tx, start=start, end=SEED_NOW, limit=20, active_only=False)
        is None
    ), "a pool smaller than the limit cannot answer"
    # The drivers then compute, exactly.
    drivers = kpis.summarize_trust_drivers(tx, start=start, end=SEED_NOW, limit=5)
    old = kpis.list_trust_falls_from_history(tx, start=start, end=SEED_NOW, limit=5)
    pd.testing.assert_frame_equal(drivers.agents, old)


def test_a_late_scoring_drops_the_pools_it_changes_and_the_worker_computes_them_again(
    tx: Connection,
) -> None:
    eleven = SEED_NOW - H
    agent = tx.execute(
        text(
            """SELECT a.id FROM agents a WHERE a.status = 'active' AND NOT EXISTS (
                   SELECT 1 FROM agent_trust_history h
                   WHERE h.agent_id = a.id AND h.computed_at = :t)
               ORDER BY a.id LIMIT 1"""
        ),
        {"t": eleven},
    ).scalar_one()
    untouched = (SEED_NOW - 30 * 24 * H, SEED_NOW - 24 * H)  # ended before the late row
    trust_rollups.store_fall_pool(
        tx,
        start=untouched[0],
        end=untouched[1],
        falls=trust_rollups.frame_empty(),
        pool_size=200,
        computed_at=SEED_NOW,
    )
    # Idempotent refresh: nothing changed, every pool stays.
    kept = _pool_count(tx)
    written = trust_rollups.refresh_trust_rollups(tx, since=SEED_NOW - 2 * H, through=SEED_NOW)
    assert written == {"agent_trust_hourly": 0, "agent_trust_daily": 0}
    assert _pool_count(tx) == kept
    # A collapse scored at 11:00, arriving late: it closes the hour to 11:00 and starts the
    # last hour lower, so every preset pool (each holds the last hour) is stale.
    tx.execute(
        text("INSERT INTO agent_trust_history VALUES (:a, :t, 0.25, 0, 0, 0, 1)"),
        {"a": agent, "t": eleven},
    )
    written = trust_rollups.refresh_trust_rollups(tx, since=SEED_NOW - 2 * H, through=SEED_NOW)
    assert written["agent_trust_hourly"] >= 2
    for span in PRESET_SPANS:
        assert (
            trust_rollups.get_fall_pool_computed_at(tx, start=SEED_NOW - span, end=SEED_NOW) is None
        ), span
    assert trust_rollups.get_fall_pool_computed_at(tx, start=untouched[0], end=untouched[1])
    later = SEED_NOW + 5 * timedelta(minutes=1)
    done = kpis.refresh_fall_pools(tx, end=SEED_NOW, spans=PRESET_SPANS, now=later)
    assert "kept" not in done.values()
    for span in PRESET_SPANS:
        for active_only in (True, False):
            stored = trust_rollups.read_fall_pool(
                tx, start=SEED_NOW - span, end=SEED_NOW, limit=200, active_only=active_only
            )
            old = kpis.list_trust_falls_from_history(
                tx, start=SEED_NOW - span, end=SEED_NOW, limit=200, active_only=active_only
            )
            assert stored is not None
            pd.testing.assert_frame_equal(stored, old)
    # A second pass keeps them; a range past the watermark waits for the rollups.
    again = kpis.refresh_fall_pools(tx, end=SEED_NOW, spans=PRESET_SPANS, now=later)
    assert set(again.values()) == {"kept"}
    ahead = kpis.refresh_fall_pools(tx, end=SEED_NOW + H, spans=(H,), now=later)
    assert ahead == {"1h": "not rolled up yet"}


def test_pools_of_ranges_long_ended_are_deleted(tx: Connection) -> None:
    old_end = SEED_NOW - 3 * 24 * H
    trust_rollups.store_fall_pool(
        tx,
        start=old_end - H,
        end=old_end,
        falls=trust_rollups.frame_empty(),
        pool_size=200,
        computed_at=old_end,
    )
    kpis.refresh_fall_pools(tx, end=SEED_NOW, spans=(H,), now=SEED_NOW)
    assert trust_rollups.get_fall_pool_computed_at(tx, start=old_end - H, end=old_end) is None
    assert trust_rollups.get_fall_pool_computed_at(tx, start=SEED_NOW - H, end=SEED_NOW)
