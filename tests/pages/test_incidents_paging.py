"""The Incidents page pages closed incidents with the shared keyset pager (no 200-row cap)."""

from __future__ import annotations

import redis
from sqlalchemy import Engine, text
from streamlit.testing.v1 import AppTest

from dashboard.actions.incidents import INCIDENT_TOPICS
from dashboard.data.cache import bump_topics
from dashboard.domain.permissions import Role
from tests.incidents.test_closed_paging import closed_incidents
from tests.pages.conftest import new_app, sign_in


def _closed_frame_ids(at: AppTest) -> list[int]:
    frames = [d.value for d in at.dataframe if "Closed by" in d.value.columns]
    assert len(frames) == 1
    return [int(v) for v in frames[0]["Id"]]


def test_the_incidents_page_pages_closed_incidents(
    app_env: None, seeded_engine: Engine, redis_url: str
) -> None:
    closed_incidents(seeded_engine, 30)
    bump_topics(redis.Redis.from_url(redis_url), INCIDENT_TOPICS)  # as the close action does
    with seeded_engine.connect() as conn:
        total = conn.execute(
            text("SELECT count(*) FROM incidents WHERE closed_at IS NOT NULL")
        ).scalar_one()
    at = new_app(sign_in(seeded_engine, Role.MANAGER))
    at.switch_page("pages/incidents.py").run()
    assert not at.exception, at.exception
    seen = _closed_frame_ids(at)
    assert len(seen) == 25
    assert at.button(key="incidents.closed_pager.prev").disabled
    while not at.button(key="incidents.closed_pager.next").disabled:
        at.button(key="incidents.closed_pager.next").click().run()
        assert not at.exception, at.exception
        seen += _closed_frame_ids(at)
    assert len(seen) == len(set(seen)) == total
    pages = -(-total // 25)
    assert any(f"page {pages}," in e.label for e in at.expander), [e.label for e in at.expander]
    at.button(key="incidents.closed_pager.prev").click().run()
    assert _closed_frame_ids(at) == seen[:25]
