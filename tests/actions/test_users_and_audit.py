"""User management (validation, last admin, audit) and reading the audit trail (own vs all, CSV)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from dashboard.actions.agents import quarantine_agent
from dashboard.actions.audit import AuditFilter, audit_csv, list_audit
from dashboard.actions.base import ActionDenied, Actor, cli_actor
from dashboard.actions.signin import AuthenticationFailed, authenticate
from dashboard.actions.users import (
    add_user,
    disable_user,
    list_users,
    reset_password,
    set_roles,
)
from dashboard.cli import main
from dashboard.domain.csv_export import neutralise_cell
from dashboard.domain.permissions import Role
from dashboard.settings import reset_settings
from tests.actions.conftest import LoggedIn, audit_rows, make_agent, make_user, unique

Login = Callable[..., LoggedIn]
GOOD = "a perfectly fine passphrase"


@pytest.mark.parametrize(
    ("username", "password", "roles", "fragment"),
    [
        ("x", GOOD, ["manager"], "user name"),
        ("1abc", GOOD, ["manager"], "user name"),
        ("bad name", GOOD, ["manager"], "user name"),
        ("okname", "short", ["manager"], "at least 12"),
        ("okname", GOOD, [], "at least one role"),
        ("okname", GOOD, ["root"], "Unknown role"),
        ("okname", "okname is my password", ["manager"], "user name"),
    ],
)
def test_add_user_validates(
    auth_engine: Engine, username: str, password: str, roles: list[str], fragment: str
) -> None:
    result = add_user(auth_engine, cli_actor(), username, password=password, roles=roles)
    assert result.outcome == "invalid" and fragment in result.message, result


def test_add_user_stores_bcrypt_and_audits_without_secrets(auth_engine: Engine) -> None:
    name = unique("new")
    result = add_user(
        auth_engine,
        cli_actor(),
        name,
        password=GOOD,
        roles="operator, oncall",
        display_name="New Person",
        email="new@example.com",
    )
    assert result.outcome == "changed"
    again = add_user(auth_engine, cli_actor(), name, password=GOOD, roles=["manager"])
    assert again.outcome == "invalid" and "already exists" in again.message
    info = {u.username: u for u in list_users(auth_engine, cli_actor())}[name]
    assert info.roles == (Role.OPERATOR, Role.ONCALL) and not info.disabled
    [row] = audit_rows(auth_engine, action="user.add", target_id=name)
    assert row["actor"] == cli_actor().username and row["actor_roles"] == ["admin"]
    assert row["after"]["roles"] == ["operator", "oncall"]
    assert GOOD not in str(row) and "$2" not in str(row)


def test_the_last_admin_cannot_be_removed(auth_engine: Engine) -> None:
    last = make_user(auth_engine, Role.ADMIN)
    others = [
        u.username
        for u in list_users(auth_engine, cli_actor())
        if Role.ADMIN in u.roles and not u.disabled and u.username != last
    ]
    for name in others:  # leave exactly one enabled admin in this database
        assert disable_user(auth_engine, cli_actor(), name).outcome == "changed"
    assert disable_user(auth_engine, cli_actor(), last).outcome == "invalid"
    assert set_roles(auth_engine, cli_actor(), last, ["manager"]).outcome == "invalid"
    second = make_user(auth_engine, Role.ADMIN)
    assert set_roles(auth_engine, cli_actor(), last, ["manager"]).outcome == "changed"
    assert disable_user(auth_engine, cli_actor(), second).outcome == "invalid"


def test_user_changes_report_noop_and_not_found(auth_engine: Engine) -> None:
    name = make_user(auth_engine, Role.MANAGER)
    assert set_roles(auth_engine, cli_actor(), name, ["manager"]).outcome == "noop"
    assert disable_user(auth_engine, cli_actor(), name).outcome == "changed"
    assert disable_user(auth_engine, cli_actor(), name).outcome == "noop"
    assert disable_user(auth_engine, cli_actor(), "ghost-" + name).outcome == "not_found"
    assert reset_password(auth_engine, cli_actor(), "ghost-" + name, GOOD).outcome == "not_found"
    assert reset_password(auth_engine, cli_actor(), name, "weak").outcome == "invalid"


# ----------------------------------------------------------------------------- audit reads


def test_admin_sees_everything_others_only_their_own(auth_engine: Engine, signed_in: Login) -> None:
    op, manager, admin = signed_in(Role.OPERATOR), signed_in(Role.MANAGER), signed_in(Role.ADMIN)
    agent = make_agent(auth_engine)
    assert quarantine_agent(auth_engine, op.actor, agent, '=HYPERLINK("x")').ok
    quarantine_agent(auth_engine, manager.actor, agent, "not allowed")  # denied + audited

    everything = list_audit(auth_engine, admin.actor, filters=AuditFilter(target_id=str(agent)))
    assert not everything.own_only
    assert sorted(everything.rows["actor"]) == sorted([op.username, manager.username])

    own = list_audit(auth_engine, manager.actor, filters=AuditFilter(target_id=str(agent)))
    assert own.own_only and list(own.rows["actor"]) == [manager.username]
    assert list(own.rows["outcome"]) == ["denied"]
    # Asking for someone else's rows gives none, never theirs.
    theirs = list_audit(auth_engine, manager.actor, filters=AuditFilter(actor=op.username))
    assert theirs.rows.empty

    by_action = list_audit(
        auth_engine, admin.actor, filters=AuditFilter(action="agent.", target_id=str(agent))
    )
    assert list(by_action.rows["action"]) == ["agent.quarantine", "agent.quarantine"]
    now = datetime.now(UTC)
    future = list_audit(
        auth_engine,
        admin.actor,
        filters=AuditFilter(since=now + timedelta(hours=1), until=now + timedelta(hours=2)),
    )
    assert future.rows.empty


def test_audit_pages_by_keyset(auth_engine: Engine, signed_in: Login) -> None:
    admin = signed_in(Role.ADMIN)
    first = list_audit(auth_engine, admin.actor, limit=3)
    assert len(first.rows) == 3 and first.next_cursor is not None
    second = list_audit(auth_engine, admin.actor, limit=3, cursor=first.next_cursor)
    assert max(second.rows["id"]) < min(first.rows["id"])


def test_audit_filter_validation() -> None:
    with pytest.raises(ValueError, match="time zone"):
        AuditFilter(since=datetime(2026, 1, 1))
    now = datetime.now(UTC)
    with pytest.raises(ValueError, match="after its start"):
        AuditFilter(since=now, until=now)
    assert AuditFilter(actor="  ").actor is None


def test_csv_export_neutralises_formulas_and_is_audited(
    auth_engine: Engine, signed_in: Login
) -> None:
    op = signed_in(Role.OPERATOR)
    agent = make_agent(auth_engine)
    quarantine_agent(auth_engine, op.actor, agent, "=cmd|' /C calc'!A0")
    data = audit_csv(auth_engine, op.actor, filters=AuditFilter(target_id=str(agent)))
    rows = list(csv.DictReader(io.StringIO(data)))
    assert len(rows) == 1
    assert rows[0]["reason"].startswith("'=cmd")
    exports = audit_rows(auth_engine, action="audit.export", actor=op.username)
    assert len(exports) == 1 and exports[0]["after"]["rows"] == 1
    for raw in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx"):
        assert neutralise_cell(raw).startswith("'")
    assert neutralise_cell("plain") == "plain" and neutralise_cell(None) == ""


def test_audit_read_needs_a_live_session(auth_engine: Engine) -> None:
    with pytest.raises(ActionDenied) as info:
        list_audit(auth_engine, Actor("someone", (Role.ADMIN,), session_id="f" * 64))
    assert info.value.session_ended


# ----------------------------------------------------------------------------- CLI


@pytest.fixture()
def cli_env(auth_db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ORCA_DATABASE_URL", auth_db_url)
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def test_cli_users_lifecycle(
    cli_env: None,
    auth_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = unique("cli")
    _stdin(monkeypatch, GOOD + "\n")
    assert main(["users", "add", name, "--roles", "operator", "--password-stdin"]) == 0
    assert f"User {name} added" in capsys.readouterr().out

    assert main(["users", "list"]) == 0
    listing = capsys.readouterr().out
    assert name in listing and "operator" in listing and "$2" not in listing

    assert main(["users", "set-roles", name, "--roles", "manager,oncall"]) == 0
    assert main(["users", "set-roles", name, "--roles", "wizard"]) == 1
    assert "Unknown role" in capsys.readouterr().err
    assert main(["users", "set-email", name, f"{name}@orca.test"]) == 0
    assert f"now has e-mail {name}@orca.test" in capsys.readouterr().out
    assert main(["users", "set-email", name, "nope"]) == 1
    assert main(["users", "list"]) == 0
    assert f"{name}@orca.test" in capsys.readouterr().out

    _stdin(monkeypatch, "a different passphrase\n")
    assert main(["users", "reset-password", name, "--password-stdin"]) == 0
    assert main(["users", "disable", name, "--reason", "left"]) == 0
    assert main(["users", "disable", name]) == 0  # already disabled: says so, succeeds
    assert "already disabled" in capsys.readouterr().out
    assert main(["users", "enable", name]) == 0
    assert main(["users", "disable", "ghost-" + name]) == 1
    assert main(["users", "unlock", name]) == 0  # not locked: says so, succeeds
    assert "is not locked" in capsys.readouterr().out
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            authenticate(auth_engine, name, "a wrong guess here")
    assert main(["users", "list"]) == 0
    assert "locked until" in capsys.readouterr().out
    assert main(["users", "unlock", name]) == 0
    assert f"User {name} unlocked" in capsys.readouterr().out

    actions = [r["action"] for r in audit_rows(auth_engine, target_id=name, outcome="ok")]
    assert actions == [
        "user.add",
        "user.set_roles",
        "user.set_email",
        "user.reset_password",
        "user.disable",
        "user.enable",
        "auth.lock",
        "user.unlock",
    ]
    changes = audit_rows(auth_engine, target_id=name, outcome="ok")
    assert all(str(r["actor"]).startswith("cli:") for r in changes if r["action"] != "auth.lock")


def test_cli_usage_errors(
    cli_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["users", "add", "someone"])  # --roles missing
    assert info.value.code == 2
    with pytest.raises(SystemExit):
        main(["users"])
    assert "usage:" in capsys.readouterr().err
    # No terminal and no --password-stdin: a plain usage error, nothing created.
    _stdin(monkeypatch, "")
    assert main(["users", "add", unique("p"), "--roles", "manager"]) == 2
    assert "--password-stdin" in capsys.readouterr().err
    _stdin(monkeypatch, "")
    assert main(["users", "add", unique("p"), "--roles", "manager", "--password-stdin"]) == 2
    _stdin(monkeypatch, "short\n")
    assert main(["users", "add", unique("p"), "--roles", "manager", "--password-stdin"]) == 1
    assert "at least 12" in capsys.readouterr().err
