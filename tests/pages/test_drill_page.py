"""The Drill page: admins start and stop a stand-in fault; others are refused the page."""

from __future__ import annotations

import redis
from sqlalchemy import Engine

from dashboard.core.faults import clear_fault, list_faults
from dashboard.domain.permissions import Role
from tests.pages.conftest import new_app, sign_in


def test_admin_starts_and_stops_a_drill(
    app_env: None, seeded_engine: Engine, redis_url: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    clear_fault(client)
    at = new_app(sign_in(seeded_engine, Role.ADMIN))
    at.switch_page("pages/drill.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Incident drill"
    at.selectbox(key="drill.fault").set_value("health_down")
    at.selectbox(key="drill.duration").set_value("5m")
    at.button(key="drill.start").click().run()
    assert not at.exception, at.exception
    active = list_faults(client)
    assert [f.name for f in active] == ["health_down"]
    assert any("health_down runs until" in s.value for s in at.success)
    at.button(key="drill.stop.health_down").click().run()
    assert list_faults(client) == []


def test_oncall_is_refused_the_drill_page(app_env: None, seeded_engine: Engine) -> None:
    at = new_app(sign_in(seeded_engine, Role.ONCALL))
    at.switch_page("pages/drill.py").run()
    assert not at.exception
    assert any("don't have access" in e.value for e in at.error)
    assert not [b for b in at.button if b.key == "drill.start"]
