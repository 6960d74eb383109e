"""Migrations: upgrade head on an empty database, downgrade one step and upgrade again; models match."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import inspect, text

from dashboard.db import (
    incident_models,  # noqa: F401  (registers the incident tables)
    notify_models,  # noqa: F401  (registers the notification tables)
)
from dashboard.db.engine import make_engine
from dashboard.db.migrate import current_revision, downgrade, head_revision, upgrade
from dashboard.db.models import Base
from tests.conftest import MakeDatabase


@pytest.fixture()
def empty_db(make_database: MakeDatabase) -> Iterator[str]:
    with make_database("orca_mig", migrate=False) as db:
        yield db.url


def test_upgrade_downgrade_upgrade(empty_db: str) -> None:
    engine = make_engine(empty_db)
    assert current_revision(engine) is None
    upgrade(empty_db)
    assert current_revision(engine) == head_revision()
    tables = set(inspect(engine).get_table_names())
    assert {"agents", "request_metrics", "kpi_snapshots", "sync_gaps"} <= tables

    downgrade(empty_db, "-1")
    assert current_revision(engine) != head_revision()
    upgrade(empty_db)
    assert current_revision(engine) == head_revision()


def test_models_match_migrated_schema(engine) -> None:  # type: ignore[no-untyped-def]
    """Every ORM column exists in the migrated table with the same nullability."""
    insp = inspect(engine)
    for table in Base.metadata.sorted_tables:
        db_cols = {c["name"]: c for c in insp.get_columns(table.name)}
        assert db_cols, f"table {table.name} missing from the database"
        for col in table.columns:
            assert col.name in db_cols, f"{table.name}.{col.name} missing from the database"
            if not col.primary_key:
                assert db_cols[col.name]["nullable"] == col.nullable, f"{table.name}.{col.name}"
        pk = set(insp.get_pk_constraint(table.name)["constrained_columns"])
        assert pk == {c.name for c in table.primary_key.columns}, table.name


def test_partition_functions(engine) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        made = conn.execute(
            text("SELECT orca_ensure_daily_partitions('health_checks', :a, :b)"),
            {"a": date(2020, 1, 1), "b": date(2020, 1, 3)},
        ).scalar_one()
        assert made == 3
        again = conn.execute(
            text("SELECT orca_ensure_daily_partitions('health_checks', :a, :b)"),
            {"a": date(2020, 1, 1), "b": date(2020, 1, 3)},
        ).scalar_one()
        assert again == 0
        dropped = conn.execute(
            text("SELECT orca_drop_partitions_before('health_checks', :c)"), {"c": date(2020, 1, 3)}
        ).scalar_one()
        assert dropped == 2
        with pytest.raises(Exception, match="not a partitioned"):
            conn.execute(
                text("SELECT orca_ensure_daily_partitions('agents', :a, :a)"),
                {"a": date(2020, 1, 1)},
            )
