"""Page tests run the real app (AppTest) against the seeded PostgreSQL and Redis, signed in."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from dashboard.actions import auth, passwords
from dashboard.actions.base import system_actor
from dashboard.actions.users import add_user
from dashboard.domain.permissions import Role
from dashboard.settings import reset_settings
from dashboard.ui import loaders
from tests.conftest import SEED_NOW

APP = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")
PASSWORD = "page-tests-Pa55word!"
COOKIE_KEY = "page-tests-" + "k9Xq2Lm7Vb4Nc8Rt1Ys6Wd3Fg5Hj0Zp"
_tokens: dict[str, str] = {}


def reset_app_state() -> None:
    reset_settings()
    loaders.reset_for_tests()
    st.cache_resource.clear()
    st.cache_data.clear()


def make_user(engine: Engine, *roles: Role, password: str = PASSWORD) -> str:
    """A new user with ``roles`` (random name, so tests never collide)."""
    name = f"page{secrets.token_hex(4)}"
    result = add_user(
        engine, system_actor("test:pages"), name, password=password, roles=[r.value for r in roles]
    )
    assert result.outcome == "changed", result
    return name


def sign_in(engine: Engine, *roles: Role) -> str:
    """A live session token of a new user with ``roles``, through the real sign-in."""
    return auth.authenticate(engine, make_user(engine, *roles), PASSWORD)


def new_app(token: str | None = None) -> AppTest:
    """The console as AppTest, signed in as the all-roles test user unless ``token`` says else."""
    at = AppTest.from_file(APP, default_timeout=60)
    chosen = token if token is not None else _tokens.get("all")
    if chosen:
        at.session_state["auth.token"] = chosen
    return at


def console_env(monkeypatch: pytest.MonkeyPatch, db_url: str, redis_url: str) -> None:
    """The settings the app under AppTest reads: these servers, the seed's clock, a cookie key."""
    monkeypatch.setenv("ORCA_DATABASE_URL", db_url)
    monkeypatch.setenv("ORCA_REDIS_URL", redis_url)
    monkeypatch.setenv("ORCA_FIXED_NOW", SEED_NOW.isoformat())
    monkeypatch.setenv("ORCA_COOKIE_KEY", COOKIE_KEY)
    monkeypatch.setattr(passwords, "BCRYPT_ROUNDS", 4)


@pytest.fixture()
def app_env(
    seeded_engine: Engine, db_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    console_env(monkeypatch, db_url, redis_url)
    if auth.actor_from_session(seeded_engine, _tokens.get("all")) is None:
        _tokens["all"] = sign_in(seeded_engine, *Role)
    reset_app_state()
    yield
    reset_app_state()
