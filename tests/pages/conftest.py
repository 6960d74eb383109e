"""Page tests run the real app (AppTest) against the seeded PostgreSQL and Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import streamlit as st
from sqlalchemy import Engine

from dashboard.settings import reset_settings
from dashboard.ui import loaders
from tests.conftest import SEED_NOW


def reset_app_state() -> None:
    reset_settings()
    loaders.reset_for_tests()
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture()
def app_env(seeded_engine: Engine, db_url: str, redis_url: str,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ORCA_DATABASE_URL", db_url)
    monkeypatch.setenv("ORCA_REDIS_URL", redis_url)
    monkeypatch.setenv("ORCA_FIXED_NOW", SEED_NOW.isoformat())
    reset_app_state()
    yield
    reset_app_state()
