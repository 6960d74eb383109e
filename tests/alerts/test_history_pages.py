"""The all-alerts history pages through everything with the keyset cursor, under filters:
no row twice, none skipped (ties on ``at`` included), and a cursor only fits its filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from dashboard.data import alerts as store
from dashboard.data.errors import InvalidQuery

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _seed(engine: Engine, n: int) -> None:
    """``n`` escalation rows; every third pair shares its ``at`` (ties the id must break)."""
    with engine.begin() as conn:
        conn.execute(
            text(
                """INSERT INTO alert_history (at, kind, alert_key, rule_id, severity, to_state)
                   SELECT :t0 + make_interval(secs => (g / 2) * 60), 'escalated',
                          'k' || g, CASE WHEN g % 2 = 0 THEN 'service_down' ELSE 'disk_high' END,
                          CASE WHEN g % 2 = 0 THEN 'P1' ELSE 'warning' END, 'secondary'
                   FROM generate_series(1, :n) AS g"""
            ),
            {"t0": T0, "n": n},
        )


def _all_pages(engine: Engine, **filters: object) -> tuple[list[int], int]:
    ids: list[int] = []
    pages = 0
    cursor = None
    while True:
        with engine.connect() as conn:
            page = store.list_history_page(conn, cursor=cursor, limit=40, **filters)  # type: ignore[arg-type]
        pages += 1
        ids += [int(i) for i in page.rows["id"]]
        if page.next_cursor is None:
            return ids, pages
        cursor = page.next_cursor


def test_paging_reaches_every_row_once_newest_first(db: Engine) -> None:
    _seed(db, 1201)  # more than the old 500-row cut
    ids, pages = _all_pages(db, start=T0 - timedelta(days=1), end=T0 + timedelta(days=2))
    assert pages == 31 and len(ids) == 1201 == len(set(ids))
    with db.connect() as conn:
        expected = conn.execute(text("SELECT id FROM alert_history ORDER BY at DESC, id DESC"))
        assert ids == [int(i) for (i,) in expected]


def test_paging_keeps_the_filters(db: Engine) -> None:
    _seed(db, 201)
    ids, pages = _all_pages(db, rule_id="service_down", severity="P1")
    assert len(ids) == 100 == len(set(ids)) and pages == 3
    with db.connect() as conn:
        rules = conn.execute(
            text("SELECT DISTINCT rule_id FROM alert_history WHERE id = ANY(:ids)"), {"ids": ids}
        ).scalars()
        assert list(rules) == ["service_down"]


def test_a_cursor_fits_only_its_own_filters(db: Engine) -> None:
    _seed(db, 120)
    with db.connect() as conn:
        first = store.list_history_page(conn, rule_id="disk_high", limit=20)
        assert first.next_cursor is not None
        with pytest.raises(InvalidQuery):
            store.list_history_page(
                conn, rule_id="service_down", cursor=first.next_cursor, limit=20
            )
        with pytest.raises(InvalidQuery):
            store.list_history_page(conn, rule_id="disk_high", cursor="x" + first.next_cursor)
