"""The audit log is append-only in the database: grants for orca_app, a trigger for everyone."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from dashboard.db.app_role import APP_ROLE, install_app_role
from dashboard.db.auth_store import AuditRecord, record_audit
from dashboard.db.engine import make_engine
from dashboard.db.migrate import downgrade, upgrade
from dashboard.settings import to_sqlalchemy_url
from tests.conftest import MakeDatabase


@pytest.fixture(scope="module")
def audit_db(make_database: MakeDatabase) -> Iterator[str]:
    with make_database("orca_audit") as db:
        yield db.url


@pytest.fixture(scope="module")
def owner_url(audit_db: str) -> str:
    """psycopg URL as the migrating (owner / superuser) login."""
    with psycopg.connect(audit_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO audit_log (actor, action, outcome, reason) "
            "VALUES ('seed', 'test.seed', 'ok', 'first row')"
        )
    return audit_db


STATEMENTS = {
    "update": "UPDATE audit_log SET reason = 'rewritten'",
    "update none": "UPDATE audit_log SET reason = 'x' WHERE false",
    "delete": "DELETE FROM audit_log",
    "truncate": "TRUNCATE audit_log",
}


@pytest.mark.parametrize("what", sorted(STATEMENTS))
def test_trigger_refuses_rewrites_even_for_the_owner(owner_url: str, what: str) -> None:
    with psycopg.connect(owner_url) as conn:
        is_super = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert is_super.fetchone() == (True,)  # the strongest login there is
        with pytest.raises(errors.InsufficientPrivilege, match="append-only"):
            conn.execute(STATEMENTS[what])


@pytest.mark.parametrize("what", sorted(STATEMENTS))
def test_app_role_has_no_update_delete_truncate(owner_url: str, what: str) -> None:
    with psycopg.connect(owner_url) as conn:
        conn.execute(f"SET ROLE {APP_ROLE}")
        with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
            conn.execute(STATEMENTS[what])


def test_app_role_can_append_and_read(owner_url: str) -> None:
    with psycopg.connect(owner_url) as conn:
        conn.execute(f"SET ROLE {APP_ROLE}")
        conn.execute(
            "INSERT INTO audit_log (actor, action, outcome) VALUES ('app', 'test.append', 'ok')"
        )
        count = conn.execute("SELECT count(*) FROM audit_log WHERE actor = 'app'").fetchone()
        assert count == (1,)
        # Ordinary tables stay writable for the app.
        conn.execute("UPDATE agents SET name = name WHERE false")
        conn.execute("DELETE FROM user_sessions WHERE false")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("UPDATE alembic_version SET version_num = version_num")
        conn.rollback()


def test_the_rows_survive(owner_url: str) -> None:
    with psycopg.connect(owner_url) as conn:
        row = conn.execute("SELECT reason FROM audit_log WHERE actor = 'seed'").fetchone()
        assert row == ("first row",)


def test_engine_switches_to_the_app_role(audit_db: str) -> None:
    engine: Engine = install_app_role(make_engine(to_sqlalchemy_url(audit_db)))
    install_app_role(engine)  # twice is harmless
    with engine.begin() as conn:
        assert conn.execute(text("SELECT current_user")).scalar_one() == APP_ROLE
        new_id = record_audit(
            conn, AuditRecord(actor="engine", action="test.engine", outcome="ok", before={"a": 1})
        )
        assert new_id > 0
    with engine.connect() as conn, pytest.raises(DBAPIError, match="permission denied"):
        conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": new_id})
    # The partition helpers run with their owner's rights, so the worker can still call them.
    with engine.begin() as conn:
        made = conn.execute(
            text(
                "SELECT orca_ensure_daily_partitions('health_checks', DATE '2019-01-01', DATE '2019-01-02')"
            )
        ).scalar_one()
        assert made == 2
        dropped = conn.execute(
            text("SELECT orca_drop_partitions_before('health_checks', DATE '2019-01-03')")
        ).scalar_one()
        assert dropped == 2
    engine.dispose()


def test_audit_action_and_outcome_are_checked(owner_url: str) -> None:
    with psycopg.connect(owner_url) as conn:
        with pytest.raises(errors.CheckViolation):
            conn.execute(
                "INSERT INTO audit_log (actor, action, outcome) VALUES ('x', 'a.b', 'maybe')"
            )
        conn.rollback()
        with pytest.raises(errors.CheckViolation):
            conn.execute(
                "INSERT INTO audit_log (actor, action, outcome) VALUES ('x', 'DROP TABLE', 'ok')"
            )


def test_downgrade_removes_everything_and_upgrade_restores(make_database: MakeDatabase) -> None:
    db = make_database("orca_audit_down")
    url, drop = db.url, db.drop
    try:
        downgrade(url, "0001")
        with psycopg.connect(url) as conn:
            tables = conn.execute(
                "SELECT count(*) FROM pg_tables WHERE tablename IN ('users', 'user_sessions', 'audit_log')"
            ).fetchone()
            assert tables == (0,)
            definer = conn.execute(
                "SELECT bool_or(prosecdef) FROM pg_proc WHERE proname LIKE 'orca_%partition%'"
            ).fetchone()
            assert definer == (False,)
            fn = conn.execute(
                "SELECT count(*) FROM pg_proc WHERE proname = 'orca_audit_log_append_only'"
            ).fetchone()
            assert fn == (0,)
        # The role is cluster-wide, its grants are not: here the console keeps its login user.
        engine = install_app_role(make_engine(to_sqlalchemy_url(url)))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar_one() != APP_ROLE
        engine.dispose()
        upgrade(url)
        with psycopg.connect(url) as conn:
            conn.execute(f"SET ROLE {APP_ROLE}")
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute("DELETE FROM audit_log")
    finally:
        drop()
