"""Closed incidents are keyset paged (dashboard.data.keyset): every incident once, newest
closed first, a signed cursor bound to the page size, a hand-edited one refused plainly."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from dashboard.data.errors import InvalidQuery
from dashboard.data.incidents import declare_incident, page_closed_incidents

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def closed_incidents(engine: Engine, n: int, *, same_minute: int = 0) -> list[int]:
    """``n`` closed incidents, one closed per minute, the last ``same_minute`` of them at one
    instant (the id breaks the tie). Returns their ids, newest closed first."""
    made: list[tuple[datetime, int]] = []
    tag = secrets.token_hex(3)
    with engine.begin() as conn:
        for k in range(n):
            closed = T0 + timedelta(minutes=min(k, n - same_minute) if same_minute else k)
            iid, _ = declare_incident(
                conn, title=f"old {tag} {k}", severity="P3", at=T0 - timedelta(hours=1), actor="t"
            )
            conn.execute(
                text("UPDATE incidents SET closed_at = :c, closed_by = 't' WHERE id = :i"),
                {"c": closed, "i": iid},
            )
            made.append((closed, iid))
    return [i for _, i in sorted(made, reverse=True)]


def _all_pages(engine: Engine, size: int) -> list[list[int]]:
    pages: list[list[int]] = []
    cursor = None
    with engine.connect() as conn:
        while True:
            page = page_closed_incidents(conn, size=size, cursor=cursor)
            pages.append([i.id for i in page.incidents])
            if page.next_cursor is None:
                return pages
            cursor = page.next_cursor


def test_pages_cover_every_closed_incident_once_newest_first(clean: Engine) -> None:
    expected = closed_incidents(clean, 57, same_minute=5)
    with clean.begin() as conn:  # an open one is never among the closed
        declare_incident(conn, title="still open", severity="P1", at=T0, actor="t")
    pages = _all_pages(clean, 25)
    assert [len(p) for p in pages] == [25, 25, 7]
    assert [i for p in pages for i in p] == expected


def test_a_cursor_is_bound_to_its_page_size_and_signed(clean: Engine) -> None:
    closed_incidents(clean, 30)
    with clean.connect() as conn:
        cursor = page_closed_incidents(conn, size=10).next_cursor
        assert cursor is not None
        with pytest.raises(InvalidQuery, match="start again from the first page"):
            page_closed_incidents(conn, size=20, cursor=cursor)
        body, mac = cursor.split(".")
        with pytest.raises(InvalidQuery):
            page_closed_incidents(conn, size=10, cursor=body[:-2] + "AA." + mac)
