"""What each kind of user sees with PostgreSQL or Redis down, exactly as the README says.

README, "When PostgreSQL or Redis is down": with PostgreSQL down or frozen nobody gets past the
session check (signed in or not, every role alike): one plain message, no pages, no stack
trace, and the same session carries on by itself once PostgreSQL answers again (within 5 s).
With Redis down, sign-in and every page work from PostgreSQL with a warning.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from dashboard.domain.permissions import Role
from tests.harness import FreezingProxy, database_upstream, proxied_database_url
from tests.pages.conftest import APP, PASSWORD, make_user, new_app, reset_app_state, sign_in

SIGN_IN_CHECK = "PostgreSQL is unreachable, so sign-in cannot be checked right now."
DB_DOWN_MEMORY_S = 5.0  # loaders remember "down" this long before asking again


def _titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


@pytest.mark.parametrize("role", [Role.MANAGER, Role.OPERATOR, Role.ONCALL, Role.ADMIN])
def test_postgresql_frozen_stops_every_role_at_the_session_check_then_recovers(
    app_env: None,
    seeded_engine: Engine,
    db_url: str,
    role: Role,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = sign_in(seeded_engine, role)
    with FreezingProxy(database_upstream(db_url)) as proxy:
        monkeypatch.setenv("ORCA_DATABASE_URL", proxied_database_url(db_url, proxy))
        reset_app_state()
        at = new_app(token)
        at.run()
        assert "Service Health" in _titles(at), _errors(at)

        proxy.freeze()
        at.run()
        assert not at.exception, at.exception
        assert any(SIGN_IN_CHECK in e for e in _errors(at)), _errors(at)
        assert "Service Health" not in _titles(at)  # no page, no last-known data
        assert not at.metric

        proxy.thaw()
        time.sleep(DB_DOWN_MEMORY_S + 0.5)
        at.run()  # the same browser session, no new sign-in
        assert not at.exception, at.exception
        assert "Service Health" in _titles(at), _errors(at)


def test_postgresql_down_shows_the_form_and_says_why_sign_in_fails(
    app_env: None, seeded_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = make_user(seeded_engine, Role.MANAGER)
    monkeypatch.setenv("ORCA_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/orca")
    reset_app_state()
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert "Sign in to the ORCA Ops Console" in _titles(at)
    at.text_input(key="auth.username").input(name)
    at.text_input(key="auth.password").input(PASSWORD)
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert not at.exception, at.exception
    assert any(SIGN_IN_CHECK in e for e in _errors(at)), _errors(at)


def test_redis_down_signs_in_and_serves_pages_from_postgresql(
    app_env: None, seeded_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = make_user(seeded_engine, Role.OPERATOR)
    monkeypatch.setenv("ORCA_REDIS_URL", "redis://127.0.0.1:1/0")
    reset_app_state()
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.text_input(key="auth.username").input(name)
    at.text_input(key="auth.password").input(PASSWORD)
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert not at.exception, at.exception
    assert "Service Health" in _titles(at), _errors(at)
    at.switch_page("pages/agent_registry.py").run()
    assert not at.exception, at.exception
    assert any("Redis is unreachable" in w.value for w in at.warning)
    assert "Quarantined" in {m.label for m in at.metric}
