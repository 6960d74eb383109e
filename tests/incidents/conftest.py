"""Fixtures for incidents and on-call: a migrated database of their own (the rotation is a
single row, so these tests must not share it with the rest of the suite)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from tests.conftest import MakeDatabase


@pytest.fixture(scope="module")
def inc_engine(make_database: MakeDatabase) -> Iterator[Engine]:
    with make_database("orca_inc") as db:
        yield db.engine()


@pytest.fixture()
def clean(inc_engine: Engine) -> Engine:
    """The incident and on-call tables emptied before the test."""
    with inc_engine.begin() as conn:
        conn.execute(
            text(
                "TRUNCATE incidents, incident_alerts, incident_timeline, incident_postmortems, "
                "oncall_rotation, oncall_overrides RESTART IDENTITY CASCADE"
            )
        )
    return inc_engine
