"""Fixtures of the alert tests: a fresh database per test (the alert job evaluates it all)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from dashboard.db.engine import make_engine
from dashboard.settings import to_sqlalchemy_url


@pytest.fixture()
def db(make_database: Any) -> Iterator[Engine]:
    database = make_database("orca_alerts")
    engine = make_engine(to_sqlalchemy_url(database.url))
    yield engine
    engine.dispose()
    database.drop()
