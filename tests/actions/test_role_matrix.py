"""Role x action matrix: every page and every action, for every role, checked on the server.

The expected answers are written out here by hand (not derived from the permission table),
so a change of the table that grants too much or too little fails this test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine

from dashboard.actions import agents, audit, users
from dashboard.actions.agents import list_review_queue
from dashboard.actions.base import ActionDenied, ActionResult, Actor, cli_actor
from dashboard.domain.permissions import (
    ACTION_PERMISSIONS,
    PAGE_PERMISSIONS,
    Role,
    can_do,
    can_open,
    pages_for,
)
from tests.actions.conftest import LoggedIn, audit_rows, make_agent, make_user, unique

M, OP, C, A = Role.MANAGER, Role.OPERATOR, Role.ONCALL, Role.ADMIN
ROLES = (M, OP, C, A)

EXPECTED_PAGES: dict[str, set[Role]] = {
    "service_health": {M, OP, C, A},
    "trust_kpis": {M, OP, C, A},
    "agent_registry": {M, OP, C, A},
    "agent_detail": {M, OP, C, A},
    "review_queue": {OP, A},
    "audit": {M, OP, C, A},
    "users": {A},
    "drill": {A},
}

EXPECTED_ACTIONS: dict[str, set[Role]] = {
    "agent.quarantine": {OP, A},
    "agent.bulk_quarantine": {OP, A},
    "agent.release": {OP, A},
    "discovery.approve": {OP, A},
    "discovery.reject": {OP, A},
    "discovery.bulk_approve": {OP, A},
    "discovery.bulk_reject": {OP, A},
    "user.add": {A},
    "user.list": {A},
    "user.disable": {A},
    "user.enable": {A},
    "user.set_roles": {A},
    "user.reset_password": {A},
    "audit.export": {M, OP, C, A},
}

NEW_PASSWORD = "another long passphrase 42"


def _run(name: str, engine: Engine, actor: Actor) -> ActionResult:
    """Call the real action function for ``name`` against a fresh target."""
    if name == "agent.quarantine":
        return agents.quarantine_agent(engine, actor, make_agent(engine), "matrix")
    if name == "agent.release":
        return agents.release_agent(
            engine, actor, make_agent(engine, status="quarantined"), "matrix"
        )
    if name == "discovery.approve":
        agent = make_agent(engine, status="quarantined", reviewed=False)
        return agents.approve_discovery(engine, actor, agent)
    if name == "discovery.reject":
        agent = make_agent(engine, status="quarantined", reviewed=False)
        return agents.reject_discovery(engine, actor, agent)
    if name == "agent.bulk_quarantine":
        return agents.bulk_quarantine(engine, actor, [make_agent(engine)], "matrix")
    if name == "discovery.bulk_approve":
        agent = make_agent(engine, status="quarantined", reviewed=False)
        return agents.bulk_approve_discoveries(engine, actor, [agent])
    if name == "discovery.bulk_reject":
        agent = make_agent(engine, status="quarantined", reviewed=False)
        return agents.bulk_reject_discoveries(engine, actor, [agent])
    if name == "user.add":
        return users.add_user(
            engine, actor, unique("new"), password=NEW_PASSWORD, roles=["manager"]
        )
    if name == "user.disable":
        return users.disable_user(engine, actor, make_user(engine, M))
    if name == "user.enable":
        target = make_user(engine, M)
        assert users.disable_user(engine, cli_actor(), target).ok
        return users.enable_user(engine, actor, target)
    if name == "user.set_roles":
        return users.set_roles(engine, actor, make_user(engine, M), ["oncall"])
    if name == "user.reset_password":
        return users.reset_password(engine, actor, make_user(engine, M), NEW_PASSWORD)
    if name == "user.list":
        try:
            listed = users.list_users(engine, actor)
        except ActionDenied as exc:
            return ActionResult("denied", exc.message)
        return ActionResult("noop", f"{len(listed)} users")
    if name == "audit.export":
        try:
            audit.audit_csv(engine, actor)
        except ActionDenied as exc:
            return ActionResult("denied", exc.message)
        return ActionResult("noop", "exported")
    raise AssertionError(f"no runner for {name}")


def test_every_action_and_page_is_in_the_matrix() -> None:
    assert set(EXPECTED_ACTIONS) == set(ACTION_PERMISSIONS)
    assert set(EXPECTED_PAGES) == set(PAGE_PERMISSIONS)


@pytest.mark.parametrize("role", ROLES, ids=str)
@pytest.mark.parametrize("page", sorted(EXPECTED_PAGES))
def test_page_matrix(role: Role, page: str) -> None:
    assert can_open([role], page) == (role in EXPECTED_PAGES[page])
    assert (page in pages_for([role])) == (role in EXPECTED_PAGES[page])


@pytest.mark.parametrize("role", ROLES, ids=str)
@pytest.mark.parametrize("action", sorted(EXPECTED_ACTIONS))
def test_action_matrix(
    auth_engine: Engine, signed_in: Callable[..., LoggedIn], role: Role, action: str
) -> None:
    """The real action function allows exactly the expected roles; refusals are audited."""
    user = signed_in(role)
    expected = role in EXPECTED_ACTIONS[action]
    assert can_do([role], action) == expected
    result = _run(action, auth_engine, user.actor)
    if expected:
        assert result.outcome in ("changed", "noop"), result
        return
    assert result.outcome == "denied", result
    assert (
        result.message == "You are not allowed to do this. Ask an administrator if you need access."
    )
    denied = [r for r in audit_rows(auth_engine, actor=user.username) if r["outcome"] == "denied"]
    assert [r["action"] for r in denied] == [action]
    assert denied[0]["actor_roles"] == [role.value]
    assert "missing permission" in str(denied[0]["detail"])


FORGERIES: dict[str, Callable[[LoggedIn, LoggedIn], Any]] = {
    # Session state says admin, the database says manager.
    "escalated roles": lambda mgr, adm: replace(mgr.actor, roles=(A, OP)),
    # A manager's session presented under the admin's name.
    "borrowed name": lambda mgr, adm: replace(mgr.actor, username=adm.username, roles=(A,)),
    # The admin's name and roles with a made-up session.
    "made-up session": lambda mgr, adm: Actor(adm.username, (A,), session_id="0" * 64),
    # A local (CLI) actor without this process's proof.
    "no proof": lambda mgr, adm: Actor("cli:root", (A,), session_id=None),
    # A real CLI proof moved onto another name.
    "moved proof": lambda mgr, adm: replace(cli_actor(), username="cli:mallory"),
    # Not an Actor at all (e.g. a dict left in session state).
    "not an actor": lambda mgr, adm: {"username": adm.username, "roles": ["admin"]},
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
@pytest.mark.parametrize(
    "action", ["agent.quarantine", "agent.bulk_quarantine", "user.add", "user.list"]
)
def test_forged_actors_are_refused(
    auth_engine: Engine, signed_in: Callable[..., LoggedIn], forgery: str, action: str
) -> None:
    manager, admin = signed_in(M), signed_in(A)
    forged = FORGERIES[forgery](manager, admin)
    before = len(audit_rows(auth_engine, outcome="denied"))
    result = _run(action, auth_engine, forged)
    assert result.outcome == "denied", (forgery, result)
    assert len(audit_rows(auth_engine, outcome="denied")) == before + 1


def test_forged_actor_cannot_read_others_audit_or_the_review_queue(
    auth_engine: Engine, signed_in: Callable[..., LoggedIn]
) -> None:
    manager, admin = signed_in(M), signed_in(A)
    forged = replace(manager.actor, roles=(A,))
    page = audit.list_audit(auth_engine, forged, filters=audit.AuditFilter(actor=admin.username))
    assert page.own_only and page.rows.empty
    with pytest.raises(ActionDenied):
        list_review_queue(auth_engine, forged)
