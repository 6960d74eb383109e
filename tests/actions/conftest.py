"""Fixtures for the action tests: their own migrated database, users per role, fresh agents.

The actions change agents, users and the audit log, so they run in a database of their own
(not the shared seeded one) and never disturb other tests' counts.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, text

from dashboard.actions import passwords
from dashboard.actions.base import Actor, system_actor
from dashboard.actions.sessions import session_id_of
from dashboard.actions.signin import authenticate
from dashboard.actions.users import add_user
from dashboard.db import auth_models  # noqa: F401  (registers the tables on Base.metadata)
from dashboard.db.app_role import install_app_role
from dashboard.db.engine import make_engine
from dashboard.domain.permissions import Role
from dashboard.settings import to_sqlalchemy_url
from tests.conftest import MakeDatabase

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def auth_db_url(make_database: MakeDatabase) -> Iterator[str]:
    with make_database("orca_auth") as db:
        yield db.url


@pytest.fixture(scope="session")
def auth_engine(auth_db_url: str) -> Engine:
    """The console's way of connecting: SET ROLE orca_app on every pooled connection."""
    engine = make_engine(to_sqlalchemy_url(auth_db_url), pool_size=20)
    return install_app_role(engine)


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """bcrypt at its minimum cost, so the suite is quick (timing tests raise it again)."""
    monkeypatch.setattr(passwords, "BCRYPT_ROUNDS", 4)


def unique(prefix: str = "u") -> str:
    return f"{prefix}{secrets.token_hex(4)}"


@dataclass(frozen=True)
class LoggedIn:
    username: str
    token: str
    actor: Actor


def make_user(engine: Engine, *roles: Role | str, password: str = PASSWORD) -> str:
    name = unique("user")
    result = add_user(
        engine,
        system_actor("test:setup"),
        name,
        password=password,
        roles=list(roles) or ["manager"],
    )
    assert result.outcome == "changed", result
    return name


def login(engine: Engine, *roles: Role | str, now: datetime | None = None) -> LoggedIn:
    """A user with ``roles`` signed in through the real sign-in path."""
    name = make_user(engine, *roles)
    token = authenticate(engine, name, PASSWORD, now=now)
    actor = Actor(
        username=name,
        roles=tuple(Role(r) for r in roles),
        session_id=session_id_of(token),
    )
    return LoggedIn(name, token, actor)


@pytest.fixture()
def signed_in(auth_engine: Engine) -> Callable[..., LoggedIn]:
    def _make(*roles: Role | str) -> LoggedIn:
        return login(auth_engine, *roles)

    return _make


def make_agent(
    engine: Engine,
    *,
    status: str = "active",
    reviewed: bool = True,
    name: str | None = None,
    discovered_at: datetime | None = None,
) -> int:
    with engine.begin() as conn:
        return int(
            conn.execute(
                text(
                    """INSERT INTO agents (external_id, discovery_source, name, type, vendor, owner,
                           discovered_at, status, reviewed_at, reviewed_by)
                       VALUES (:ext, 'mcp', :name, 'chatbot', 'openai', 'owner@example.com',
                           :disc, :status, :reviewed_at, :reviewed_by)
                       RETURNING id"""
                ),
                {
                    "ext": unique("ext"),
                    "name": name or unique("agent "),
                    "disc": discovered_at or datetime.now(UTC),
                    "status": status,
                    "reviewed_at": datetime.now(UTC) if reviewed else None,
                    "reviewed_by": "seed" if reviewed else None,
                },
            ).scalar_one()
        )


def agent_row(engine: Engine, agent_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM agents WHERE id = :id"), {"id": agent_id})
        return dict(row.mappings().one())


def audit_rows(engine: Engine, **where: object) -> list[dict[str, Any]]:
    clauses = " AND ".join(f"{k} = :{k}" for k in where) or "true"
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT * FROM audit_log WHERE {clauses} ORDER BY id"), dict(where)
        )
        return [dict(r) for r in rows.mappings()]


def status_changes(engine: Engine, agent_id: int) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT * FROM agent_status_changes WHERE agent_id = :id ORDER BY id"),
            {"id": agent_id},
        )
        return [dict(r) for r in rows.mappings()]


@pytest.fixture()
def empty_users_engine(make_database: MakeDatabase) -> Iterator[Engine]:
    """A migrated database with no user at all (what `up` finds the first time)."""
    with make_database("orca_demo") as db:
        yield install_app_role(db.engine())
