"""Role x action matrix: every page and every action, for every role, checked on the server.

The matrix enumerates ACTION_PERMISSIONS itself, so an action added to the table is run for
every role at once (and fails loudly until it has a runner here). The expected answers are also
written out by hand (not derived from the permission table), so a change of the table that
grants too much or too little fails this test.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, text

from dashboard.actions import (
    agents,
    audit,
    checklists,
    contact_points,
    drills,
    incidents,
    oncall,
    reports,
    users,
)
from dashboard.actions import alerts as alert_actions
from dashboard.actions import backups as backup_actions
from dashboard.actions.agents import list_review_queue
from dashboard.actions.base import ActionDenied, ActionResult, Actor, cli_actor
from dashboard.actions.signin import MAX_FAILURES, AuthenticationFailed, authenticate
from dashboard.data import backups as backup_data
from dashboard.domain.permissions import (
    ACTION_PERMISSIONS,
    PAGE_PERMISSIONS,
    Role,
    allowed,
    can_do,
    can_open,
    pages_for,
)
from tests.actions.conftest import PASSWORD, LoggedIn, audit_rows, make_agent, make_user, unique
from tests.alerts.support import active_silence, firing_alert
from tests.notify.peers import http_peer

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
    "account": {M, OP, C, A},
    "drill": {A},
    "backups": {M, OP, C, A},
    "doctor": {M, OP, C, A},
    "checklists": {M, OP, C, A},
    "troubleshooting": {M, OP, C, A},
    "runbooks": {M, OP, C, A},
    "reports": {M, OP, C, A},
    "sla_review": {M, OP, C, A},
    "capacity": {M, OP, C, A},
    "contact_points": {M, OP, C, A},
    "incidents": {M, OP, C, A},
    "oncall": {M, OP, C, A},
    "alerts": {M, OP, C, A},
}

EXPECTED_ACTIONS: dict[str, set[Role]] = {
    "agent.quarantine": {OP, A},
    "agent.bulk_quarantine": {OP, A},
    "agent.release": {OP, A},
    "agent.bulk_release": {OP, A},
    "discovery.list": {OP, A},
    "discovery.approve": {OP, A},
    "discovery.reject": {OP, A},
    "discovery.bulk_approve": {OP, A},
    "discovery.bulk_reject": {OP, A},
    "user.add": {A},
    "user.list": {A},
    "user.disable": {A},
    "user.enable": {A},
    "user.set_roles": {A},
    "user.set_email": {A},
    "user.reset_password": {A},
    "user.unlock": {A},
    "user.change_password": {M, OP, C, A},
    "audit.list": {M, OP, C, A},
    "audit.export": {M, OP, C, A},
    "drill.start": {A},
    "drill.stop": {A},
    "backup.run": {C, A},
    "backup.restore": {C, A},
    "backup.drill": {C, A},
    "checklist.sign_off": {C, A},
    "runbook.service_restart": {C, A},
    "runbook.db_connections": {C, A},
    "runbook.high_error_rate": {C, A},
    "runbook.telemetry": {C, A},
    "report.generate": {M, OP, C, A},
    "contact_point.add": {A},
    "contact_point.edit": {A},
    "contact_point.disable": {A},
    "contact_point.enable": {A},
    "contact_point.test": {A},
    "incident.declare": {C, A},
    "incident.set_phase": {C, A},
    "incident.assign": {C, A},
    "incident.note": {C, A},
    "incident.status_update": {C, A},
    "incident.postmortem": {C, A},
    "incident.close": {C, A},
    "oncall.edit_rotation": {C, A},
    "oncall.override": {C, A},
    "oncall.cancel_override": {C, A},
    "alert.acknowledge": {C, A},
    "alert.silence": {C, A},
    "alert.unsilence": {C, A},
    "runbook.restore_backup": {C, A},
}

NEW_PASSWORD = "another long passphrase 42"
REPORT_DAY = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Ctx:
    """What a runner needs: the action database and, for drills, a clean Redis."""

    engine: Engine
    redis: Callable[[], redis.Redis]


def _read(call: Callable[[], object], done: str) -> ActionResult:
    """A read action as an ActionResult: its ActionDenied becomes a "denied" result."""
    try:
        call()
    except ActionDenied as exc:
        return ActionResult("denied", exc.message)
    return ActionResult("noop", done)


def _enable(ctx: Ctx, actor: Actor) -> ActionResult:
    target = make_user(ctx.engine, M)
    assert users.disable_user(ctx.engine, cli_actor(), target).ok
    return users.enable_user(ctx.engine, actor, target)


def _unlock(ctx: Ctx, actor: Actor) -> ActionResult:
    target = make_user(ctx.engine, M)
    for _ in range(MAX_FAILURES):
        with pytest.raises(AuthenticationFailed):
            authenticate(ctx.engine, target, "a wrong guess")
    return users.unlock_user(ctx.engine, actor, target)


def _unreviewed(ctx: Ctx) -> int:
    return make_agent(ctx.engine, status="quarantined", reviewed=False)


def _backup_settings(ctx: Ctx) -> Any:
    import tempfile

    from dashboard.settings import Settings

    url = str(ctx.engine.url.render_as_string(hide_password=False))
    where = Path(tempfile.mkdtemp(prefix="orca-matrix-"))
    return Settings(state_dir=where, backup_dir=where / "b", database_url=url)


def _backup_run(ctx: Ctx, actor: Actor) -> ActionResult:
    return backup_actions.backup_now(ctx.engine, actor, settings=_backup_settings(ctx))


def _a_backup(ctx: Ctx, settings: Any) -> int:
    done = backup_actions.backup_now(ctx.engine, cli_actor(), settings=settings)
    assert done.ok, done
    with ctx.engine.connect() as conn:
        found = backup_data.get_restorable_backup(conn)
    assert found is not None
    return found


def _backup_restore(ctx: Ctx, actor: Actor) -> ActionResult:
    settings = _backup_settings(ctx)
    result = backup_actions.restore_backup(
        ctx.engine, actor, _a_backup(ctx, settings), settings=settings
    )
    if result.ok:
        backup_data.drop_scratch_database(settings.database_url, result.message.split(":")[0])
    return result


def _backup_drill(ctx: Ctx, actor: Actor) -> ActionResult:
    settings = _backup_settings(ctx)
    return backup_actions.run_dr_drill(
        ctx.engine, actor, _a_backup(ctx, settings), settings=settings
    )


def _runbook(ctx: Ctx, actor: Actor, runbook_id: str, confirm: str | None) -> ActionResult:
    """A real run, on its own thread-less path, against nothing that answers: the run is
    authorised and recorded (or refused) like any other; its steps fail fast."""
    from dashboard.runbooks.engine import start_run
    from dashboard.runbooks.executors import ProcessExecutor
    from dashboard.settings import Settings

    folder = Path(tempfile.mkdtemp(prefix="matrix-runbook-"))
    settings = Settings(
        core_url="http://127.0.0.1:9",
        otel_health_url="http://127.0.0.1:9/",
        otlp_endpoint="http://127.0.0.1:9",
        state_dir=folder,
    )
    params: dict[str, object] = {"older_than_s": 86400} if runbook_id == "db_connections" else {}
    if runbook_id == "high_error_rate":
        params = {"watch_s": 10}
    if runbook_id == "restore_backup":  # no such backup: authorised, recorded, fails fast
        params = {"backup_id": 999_999_999, "target_database": "orca_restore_m"}
    started = start_run(
        ctx.engine,
        ctx.redis(),
        actor,
        runbook_id,
        params,
        confirm=confirm,
        settings=settings,
        executor=ProcessExecutor(settings, control_dir=folder),
        background=False,
    )
    return started.result


def _contact_point(ctx: Ctx, url: str = "http://127.0.0.1:9/hook") -> int:
    result = contact_points.add_contact_point(
        ctx.engine,
        cli_actor(),
        name=unique("cp"),
        kind="webhook",
        audiences=["oncall"],
        secret=url,
    )
    assert result.ok, result
    with ctx.engine.connect() as conn:
        return int(conn.execute(text("SELECT max(id) FROM contact_points")).scalar_one())


def _enable_contact_point(ctx: Ctx, actor: Actor) -> ActionResult:
    cp = _contact_point(ctx)
    assert contact_points.set_contact_point_enabled(ctx.engine, cli_actor(), cp, enabled=False).ok
    return contact_points.set_contact_point_enabled(ctx.engine, actor, cp, enabled=True)


def _test_contact_point(ctx: Ctx, actor: Actor) -> ActionResult:
    with http_peer() as peer:  # a real local endpoint: the test message must arrive
        result = contact_points.test_contact_point(
            ctx.engine, actor, _contact_point(ctx, peer.url + "/hook")
        )
        if result.ok:
            assert len(peer.received) == 1
        else:
            assert peer.received == []
    return result


def _incident(ctx: Ctx, severity: str = "P3") -> int:
    result = incidents.declare(
        ctx.engine, cli_actor(), title="matrix", severity=severity, request_key=unique("rk")
    )
    assert result.outcome == "changed", result
    with ctx.engine.connect() as conn:
        return int(conn.execute(text("SELECT max(id) FROM incidents")).scalar_one())


def _resolved(ctx: Ctx) -> int:
    iid = _incident(ctx)
    assert incidents.set_phase(ctx.engine, cli_actor(), iid, "resolve").ok
    return iid


def _override(ctx: Ctx, actor: Actor) -> ActionResult:
    start = datetime.now(UTC) + timedelta(days=secrets.randbelow(10_000) + 1)
    return oncall.add_override(
        ctx.engine,
        actor,
        role="primary",
        username=make_user(ctx.engine, C),
        starts_at=start,
        ends_at=start + timedelta(hours=4),
        reason="matrix",
    )


def _cancel_override(ctx: Ctx, actor: Actor) -> ActionResult:
    assert _override(ctx, cli_actor()).outcome == "changed"
    with ctx.engine.connect() as conn:
        oid = int(conn.execute(text("SELECT max(id) FROM oncall_overrides")).scalar_one())
    return oncall.cancel_override(ctx.engine, actor, oid)


def _rotation(ctx: Ctx, actor: Actor) -> ActionResult:
    return oncall.save_rotation(
        ctx.engine,
        actor,
        primary=[make_user(ctx.engine, C)],
        secondary=[],
        manager=[],
        handover_weekday=0,
        handover_hour=9,
        timezone="UTC",
        anchor=date(2026, 1, 5),
    )


Runner = Callable[[Ctx, Actor], ActionResult]

RUNNERS: dict[str, Runner] = {
    "agent.quarantine": lambda c, a: agents.quarantine_agent(
        c.engine, a, make_agent(c.engine), "matrix"
    ),
    "agent.bulk_quarantine": lambda c, a: agents.bulk_quarantine(
        c.engine, a, [make_agent(c.engine)], "matrix"
    ),
    "agent.release": lambda c, a: agents.release_agent(
        c.engine, a, make_agent(c.engine, status="quarantined"), "matrix"
    ),
    "agent.bulk_release": lambda c, a: agents.bulk_release(
        c.engine, a, [make_agent(c.engine, status="quarantined")], "matrix"
    ),
    "discovery.list": lambda c, a: _read(lambda: list_review_queue(c.engine, a), "listed"),
    "discovery.approve": lambda c, a: agents.approve_discovery(c.engine, a, _unreviewed(c)),
    "discovery.reject": lambda c, a: agents.reject_discovery(c.engine, a, _unreviewed(c)),
    "discovery.bulk_approve": lambda c, a: agents.bulk_approve_discoveries(
        c.engine, a, [_unreviewed(c)]
    ),
    "discovery.bulk_reject": lambda c, a: agents.bulk_reject_discoveries(
        c.engine, a, [_unreviewed(c)]
    ),
    "user.add": lambda c, a: users.add_user(
        c.engine, a, unique("new"), password=NEW_PASSWORD, roles=["manager"]
    ),
    "user.list": lambda c, a: _read(lambda: users.list_users(c.engine, a), "listed"),
    "user.disable": lambda c, a: users.disable_user(c.engine, a, make_user(c.engine, M)),
    "user.enable": _enable,
    "user.set_roles": lambda c, a: users.set_roles(c.engine, a, make_user(c.engine, M), ["oncall"]),
    "user.set_email": lambda c, a: users.set_email(
        c.engine, a, make_user(c.engine, M), "someone@orca.test"
    ),
    "user.reset_password": lambda c, a: users.reset_password(
        c.engine, a, make_user(c.engine, M), NEW_PASSWORD
    ),
    "user.unlock": _unlock,
    "user.change_password": lambda c, a: users.change_own_password(
        c.engine, a, current=PASSWORD, new=NEW_PASSWORD
    ),
    "audit.list": lambda c, a: _read(lambda: audit.list_audit(c.engine, a), "listed"),
    "audit.export": lambda c, a: _read(lambda: audit.audit_csv(c.engine, a), "exported"),
    "drill.start": lambda c, a: drills.start_drill(c.engine, c.redis(), a, "health_down", "1m"),
    "drill.stop": lambda c, a: drills.stop_drill(c.engine, c.redis(), a, "health_down"),
    "backup.run": lambda c, a: _backup_run(c, a),
    "backup.restore": lambda c, a: _backup_restore(c, a),
    "backup.drill": lambda c, a: _backup_drill(c, a),
    "checklist.sign_off": lambda c, a: checklists.sign_off(
        c.engine, a, "daily", "dashboard_anomalies", note="matrix"
    ),
    "runbook.service_restart": lambda c, a: _runbook(c, a, "service_restart", "orca-core"),
    "runbook.db_connections": lambda c, a: _runbook(c, a, "db_connections", None),
    "runbook.high_error_rate": lambda c, a: _runbook(c, a, "high_error_rate", "orca-core"),
    "runbook.telemetry": lambda c, a: _runbook(c, a, "telemetry", "telemetry"),
    "report.generate": lambda c, a: reports.generate_report_now(
        c.engine, a, kind="executive", start=REPORT_DAY, end=REPORT_DAY + timedelta(days=1)
    ),
    "contact_point.add": lambda c, a: contact_points.add_contact_point(
        c.engine,
        a,
        name=unique("cp"),
        kind="webhook",
        audiences=["oncall"],
        secret="http://127.0.0.1:9/hook",
    ),
    "contact_point.edit": lambda c, a: contact_points.edit_contact_point(
        c.engine,
        a,
        _contact_point(c),
        expected_version=1,
        name=unique("cp"),
        audiences=["broadcast"],
    ),
    "contact_point.disable": lambda c, a: contact_points.set_contact_point_enabled(
        c.engine, a, _contact_point(c), enabled=False, expected_version=1
    ),
    "contact_point.enable": _enable_contact_point,
    "contact_point.test": _test_contact_point,
    "incident.declare": lambda c, a: incidents.declare(
        c.engine, a, title="matrix", severity="P2", request_key=unique("rk")
    ),
    "incident.set_phase": lambda c, a: incidents.set_phase(c.engine, a, _incident(c), "triage"),
    "incident.assign": lambda c, a: incidents.assign(
        c.engine, a, _incident(c), commander=make_user(c.engine, C), comms_lead=None
    ),
    "incident.note": lambda c, a: incidents.add_note(
        c.engine, a, _incident(c), "matrix note", request_key=unique("rk")
    ),
    "incident.status_update": lambda c, a: incidents.post_status_update(
        c.engine, a, _incident(c), "matrix update", request_key=unique("rk")
    ),
    "incident.postmortem": lambda c, a: incidents.save_postmortem(
        c.engine, a, _incident(c), summary="s", impact="i", root_cause="c", action_items=[]
    ),
    "incident.close": lambda c, a: incidents.close(c.engine, a, _resolved(c)),
    "oncall.edit_rotation": _rotation,
    "oncall.override": _override,
    "oncall.cancel_override": _cancel_override,
    "alert.acknowledge": lambda c, a: alert_actions.acknowledge_alert(
        c.engine, a, firing_alert(c.engine), "matrix: looking"
    ),
    "alert.silence": lambda c, a: alert_actions.silence_alert(
        c.engine, a, "disk_high", None, "matrix: planned work", timedelta(hours=1)
    ),
    "alert.unsilence": lambda c, a: alert_actions.lift_silence(
        c.engine, a, active_silence(c.engine)
    ),
    "runbook.restore_backup": lambda c, a: _runbook(c, a, "restore_backup", "orca_restore_m"),
}
"""Action name -> a call of the real action function against a fresh target."""


def _run(name: str, ctx: Ctx, actor: Actor) -> ActionResult:
    runner = RUNNERS.get(name)
    if runner is None:
        raise AssertionError(f"no runner for {name}: add one to RUNNERS")
    return runner(ctx, actor)


@pytest.fixture()
def ctx(auth_engine: Engine, request: pytest.FixtureRequest) -> Ctx:
    """Redis is started (and flushed) only for the runners that ask for it."""
    return Ctx(auth_engine, lambda: request.getfixturevalue("redis_client"))


def test_every_action_and_page_is_in_the_matrix() -> None:
    assert set(EXPECTED_ACTIONS) == set(ACTION_PERMISSIONS)
    assert set(RUNNERS) == set(ACTION_PERMISSIONS)
    assert set(EXPECTED_PAGES) == set(PAGE_PERMISSIONS)


def test_an_action_without_a_runner_fails_loudly(ctx: Ctx) -> None:
    with pytest.raises(AssertionError, match=r"no runner for agent\.delete"):
        _run("agent.delete", ctx, cli_actor())


@pytest.mark.parametrize("role", ROLES, ids=str)
@pytest.mark.parametrize("page", sorted(EXPECTED_PAGES))
def test_page_matrix(role: Role, page: str) -> None:
    assert can_open([role], page) == (role in EXPECTED_PAGES[page])
    assert (page in pages_for([role])) == (role in EXPECTED_PAGES[page])


@pytest.mark.parametrize("role", ROLES, ids=str)
@pytest.mark.parametrize("action", sorted(ACTION_PERMISSIONS))
def test_action_matrix(
    ctx: Ctx, signed_in: Callable[..., LoggedIn], role: Role, action: str
) -> None:
    """The real action function allows exactly the roles the table grants; refusals are audited."""
    assert action in EXPECTED_ACTIONS, f"{action} is in ACTION_PERMISSIONS but not in the matrix"
    user = signed_in(role)
    expected = allowed([role], ACTION_PERMISSIONS[action])
    assert expected == (role in EXPECTED_ACTIONS[action])
    assert can_do([role], action) == expected
    result = _run(action, ctx, user.actor)
    if expected:
        assert result.outcome in ("changed", "noop"), result
        return
    assert result.outcome == "denied", result
    assert (
        result.message == "You are not allowed to do this. Ask an administrator if you need access."
    )
    denied = [r for r in audit_rows(ctx.engine, actor=user.username) if r["outcome"] == "denied"]
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
    "action",
    [
        "agent.quarantine",
        "agent.bulk_quarantine",
        "user.add",
        "user.list",
        "user.unlock",
        "drill.start",
    ],
)
def test_forged_actors_are_refused(
    auth_engine: Engine,
    ctx: Ctx,
    signed_in: Callable[..., LoggedIn],
    forgery: str,
    action: str,
) -> None:
    manager, admin = signed_in(M), signed_in(A)
    forged = FORGERIES[forgery](manager, admin)
    before = len(audit_rows(auth_engine, outcome="denied"))
    result = _run(action, ctx, forged)
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
