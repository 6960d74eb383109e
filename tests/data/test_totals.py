"""The trigger-kept agent totals (migration 0015) equal a GROUP BY over every agent, after any
insert, update, delete or truncate, without making concurrent writers wait on each other."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import Connection, Engine, text

from dashboard.data import agents, kpis, totals


@pytest.fixture()
def tx(seeded_engine: Engine) -> Iterator[Connection]:
    with seeded_engine.connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()


def _counted(conn: Connection, dim: str) -> dict[str | None, int]:
    rows = conn.execute(text(f"SELECT {dim}::text, count(*) FROM agents GROUP BY 1"))
    return {r[0]: int(r[1]) for r in rows}


def _kept(conn: Connection, dim: str) -> dict[str | None, int]:
    return {t.value: t.agents for t in totals.read_totals(conn, dimension=dim)}


def _assert_exact(conn: Connection) -> None:
    for dim in totals.DIMENSIONS:
        assert _kept(conn, dim) == _counted(conn, dim), dim
    mean = conn.execute(
        text("SELECT avg(trust_score) FROM agents WHERE status = 'active'")
    ).scalar_one()
    got = kpis._trust_now(conn)
    assert (got is None) == (mean is None)
    if mean is not None:
        assert got == pytest.approx(float(mean), rel=1e-12)


def _insert(conn: Connection, n: int, status: str = "active", vendor: str = "openai") -> list[int]:
    rows = conn.execute(
        text(
            """INSERT INTO agents (external_id, discovery_source, name, type, vendor, owner,
                   discovered_at, status, trust_score)
               SELECT :p || g, 'mcp', 'totals ' || g, 'chatbot', :vendor, 'o@example.com',
                      now(), :status, 40 + g
               FROM generate_series(1, :n) g RETURNING id"""
        ),
        {"p": uuid.uuid4().hex, "n": n, "status": status, "vendor": vendor},
    )
    return [int(r.id) for r in rows]


def test_totals_follow_every_kind_of_change(tx: Connection) -> None:
    _assert_exact(tx)
    ids = _insert(tx, 25)
    _insert(tx, 3, status="quarantined", vendor="custom")
    _assert_exact(tx)
    tx.execute(text("UPDATE agents SET status = 'quarantined' WHERE id = ANY(:i)"), {"i": ids[:5]})
    tx.execute(text("UPDATE agents SET trust_score = NULL WHERE id = ANY(:i)"), {"i": ids[5:8]})
    tx.execute(text("UPDATE agents SET trust_score = 99.5 WHERE id = ANY(:i)"), {"i": ids[8:12]})
    tx.execute(
        text("UPDATE agents SET type = 'service', compliance_tier = 'high' WHERE id = ANY(:i)"),
        {"i": ids[12:14]},
    )
    tx.execute(text("UPDATE agents SET last_seen_at = now()"))  # counts nothing, changes nothing
    _assert_exact(tx)
    tx.execute(text("DELETE FROM agents WHERE id = ANY(:i)"), {"i": ids[14:]})
    _assert_exact(tx)
    # The pages' readers give the same numbers.
    by_status = agents.count_agents_by(tx, dimension="status")
    assert dict(zip(by_status["value"], by_status["agents"], strict=True)) == _counted(tx, "status")
    assert list(by_status["agents"]) == sorted(by_status["agents"], reverse=True)
    summary_counts = kpis._status_counts(tx)
    assert summary_counts == {k: v for k, v in _counted(tx, "status").items() if k}
    # Folding keeps the numbers and leaves one row per dimension and value.
    removed = totals.compact_totals(tx)
    assert removed > 0
    _assert_exact(tx)
    rows = tx.execute(
        text(
            "SELECT count(*) = count(DISTINCT (dimension, coalesce(value, '\x01'))) "
            "FROM agent_total_deltas"
        )
    ).scalar_one()
    assert rows is True


def test_truncate_and_rebuild(tx: Connection) -> None:
    tx.execute(text("TRUNCATE agents CASCADE"))
    assert all(not totals.read_totals(tx, dimension=d) for d in totals.DIMENSIONS)
    assert kpis._trust_now(tx) is None
    _insert(tx, 4)
    _assert_exact(tx)
    tx.execute(text("DELETE FROM agent_total_deltas"))  # lost: a rebuild recounts
    totals.rebuild_totals(tx)
    _assert_exact(tx)


def test_unknown_dimension_is_refused(tx: Connection) -> None:
    with pytest.raises(ValueError, match="not 'owner'"):
        totals.read_totals(tx, dimension="owner")


def test_concurrent_writers_do_not_wait_and_folding_loses_nothing(seeded_engine: Engine) -> None:
    with seeded_engine.connect() as setup:
        ids = _insert(setup, 2)
        setup.commit()
    first, second = seeded_engine.connect(), seeded_engine.connect()
    try:
        first.execute(text("UPDATE agents SET status = 'suspended' WHERE id = :i"), {"i": ids[0]})
        # Another transaction changes another agent while the first is open: no counter row
        # to wait for (it would hit the lock timeout), and a fold meanwhile keeps both.
        second.execute(text("SET LOCAL lock_timeout = '2s'"))
        second.execute(text("UPDATE agents SET status = 'suspended' WHERE id = :i"), {"i": ids[1]})
        second.commit()
        with seeded_engine.begin() as folder:
            totals.compact_totals(folder)
        first.commit()
        with seeded_engine.connect() as check:
            _assert_exact(check)
    finally:
        first.close()
        second.close()
        with seeded_engine.begin() as cleanup:
            cleanup.execute(text("DELETE FROM agents WHERE id = ANY(:i)"), {"i": ids})


# -- data sources per integration source ----------------------------------------------------

_BY_SOURCE = """SELECT source, count(*) AS data_sources,
                  count(*) FILTER (WHERE last_success_at IS NULL OR last_success_at
                                   < CAST(:now AS timestamptz) - make_interval(secs => :slo))
                      AS stale,
                  avg(extract(epoch FROM (CAST(:now AS timestamptz) - last_success_at)))
                      AS lag_avg_s,
                  max(extract(epoch FROM (CAST(:now AS timestamptz) - last_success_at)))
                      AS lag_max_s
           FROM data_sources GROUP BY source"""


def _assert_sources_exact(conn: Connection, now: datetime, slo: int = 900) -> None:
    want = {
        r.source: r
        for r in conn.execute(text(_BY_SOURCE), {"now": now, "slo": slo})  # every row, scanned
    }
    got = kpis.list_sync_lag_by_source(conn, now=now, slo_s=slo).set_index("source")
    assert set(got.index) == set(want)
    for source, row in want.items():
        assert int(got.loc[source, "data_sources"]) == int(row.data_sources), source
        assert int(got.loc[source, "stale"]) == int(row.stale), source
        for col in ("lag_avg_s", "lag_max_s"):
            raw = row._mapping[col]
            expected = None if raw is None else max(0.0, float(raw))
            value = got.loc[source, col]
            if expected is None:
                assert pd.isna(value), (source, col)
            else:
                assert float(value) == pytest.approx(expected, rel=1e-9, abs=1e-6), (source, col)
    total = sum(int(r.data_sources) for r in want.values())
    stale = sum(int(r.stale) for r in want.values())
    assert kpis._freshness_pct(conn, now, slo) == pytest.approx(100.0 * (total - stale) / total)


def test_source_totals_follow_every_kind_of_change(tx: Connection) -> None:
    now = tx.execute(text("SELECT max(last_success_at) FROM data_sources")).scalar_one()
    _assert_sources_exact(tx, now)
    _assert_sources_exact(tx, now + timedelta(hours=3))  # everything stale by then
    ids = [
        int(r.id)
        for r in tx.execute(
            text(
                """INSERT INTO data_sources (name, source, last_success_at)
                   SELECT 'totals ' || g, CASE WHEN g % 2 = 0 THEN 'zapier' ELSE 'manual' END,
                          CASE WHEN g % 3 = 0 THEN NULL
                               ELSE CAST(:now AS timestamptz) - g * interval '7 minutes' END
                   FROM generate_series(1, 30) g RETURNING id"""
            ),
            {"now": now},
        )
    ]
    _assert_sources_exact(tx, now)
    tx.execute(
        text("UPDATE data_sources SET last_success_at = :now WHERE id = ANY(:i)"),
        {"now": now, "i": ids[:10]},
    )
    tx.execute(
        text("UPDATE data_sources SET last_success_at = NULL WHERE id = ANY(:i)"), {"i": ids[10:12]}
    )
    tx.execute(text("UPDATE data_sources SET source = 'n8n' WHERE id = ANY(:i)"), {"i": ids[12:15]})
    tx.execute(text("UPDATE data_sources SET records_synced = records_synced + 1"))
    _assert_sources_exact(tx, now)
    tx.execute(text("DELETE FROM data_sources WHERE id = ANY(:i)"), {"i": ids[20:]})
    _assert_sources_exact(tx, now)
    totals.compact_totals(tx)
    _assert_sources_exact(tx, now)
    tx.execute(text("DELETE FROM data_source_total_deltas"))
    totals.rebuild_totals(tx)
    _assert_sources_exact(tx, now)
    tx.execute(text("TRUNCATE data_sources CASCADE"))
    assert totals.read_source_totals(tx) == []
    assert kpis._freshness_pct(tx, now, 900) == 100.0
