"""Sign-in, lockout, sessions (idle, absolute, logout, disable), cookie key and demo users."""

from __future__ import annotations

import os
import stat
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from sqlalchemy import Engine, text

from dashboard.actions import passwords
from dashboard.actions.agents import quarantine_agent
from dashboard.actions.base import Actor, cli_actor, live_roles
from dashboard.actions.cookie_key import CookieKeyError, check_cookie_key
from dashboard.actions.demo_users import ensure_demo_users, print_demo_users_once
from dashboard.actions.passwords import password_problem, verify_password
from dashboard.actions.signin import (
    LOGIN_FAILED_MESSAGE,
    AuthenticationFailed,
    actor_from_session,
    authenticate,
    logout,
)
from dashboard.actions.users import disable_user, enable_user, reset_password
from dashboard.domain.permissions import Role
from dashboard.settings import Settings
from tests.actions.conftest import (
    PASSWORD,
    audit_rows,
    make_agent,
    make_user,
)

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _fails(engine: Engine, username: str, password: str, now: datetime | None = None) -> str:
    with pytest.raises(AuthenticationFailed) as info:
        authenticate(engine, username, password, now=now)
    return str(info.value)


def test_sign_in_creates_a_server_side_session(auth_engine: Engine) -> None:
    name = make_user(auth_engine, Role.OPERATOR, Role.ONCALL)
    token = authenticate(auth_engine, name.upper() + "  ", PASSWORD)  # names are case-insensitive
    actor = actor_from_session(auth_engine, token)
    assert actor is not None
    assert actor.username == name and actor.roles == (Role.OPERATOR, Role.ONCALL)
    assert actor.session_id is not None and token not in actor.session_id
    with auth_engine.connect() as conn:
        stored = conn.execute(
            text("SELECT id FROM user_sessions WHERE username = :u"), {"u": name}
        ).scalars()
        assert list(stored) == [actor.session_id]  # only the hash is stored
    assert [r["outcome"] for r in audit_rows(auth_engine, action="auth.login", actor=name)] == [
        "ok"
    ]


def test_same_message_for_unknown_wrong_and_locked(auth_engine: Engine) -> None:
    name = make_user(auth_engine, Role.MANAGER)
    unknown = _fails(auth_engine, "nobody-" + name, PASSWORD, now=T0)
    wrong = _fails(auth_engine, name, "wrong password!!", now=T0)
    for _ in range(4):
        _fails(auth_engine, name, "wrong password!!", now=T0)
    locked = _fails(auth_engine, name, PASSWORD, now=T0 + timedelta(minutes=1))
    assert unknown == wrong == locked == LOGIN_FAILED_MESSAGE
    assert _fails(auth_engine, "", "", now=T0) == LOGIN_FAILED_MESSAGE
    assert _fails(auth_engine, name, "x" * 100, now=T0) == LOGIN_FAILED_MESSAGE


def test_five_failures_in_five_minutes_lock_for_fifteen(auth_engine: Engine) -> None:
    name = make_user(auth_engine, Role.MANAGER)
    for i in range(5):
        _fails(auth_engine, name, f"wrong guess {i}", now=T0 + timedelta(seconds=30 * i))
    locks = audit_rows(auth_engine, action="auth.lock", actor=name)
    assert len(locks) == 1
    assert len(audit_rows(auth_engine, action="auth.failed_login", actor=name)) == 5
    # The right password is refused while locked, and the refusal is audited.
    _fails(auth_engine, name, PASSWORD, now=T0 + timedelta(minutes=14))
    failed = audit_rows(auth_engine, action="auth.failed_login", actor=name)
    assert failed[-1]["detail"] == "locked"
    # 15 minutes after the lock it works again.
    token = authenticate(
        auth_engine,
        name,
        PASSWORD,
        now=T0 + timedelta(minutes=2, seconds=1) + timedelta(minutes=15),
    )
    assert token


def test_failures_spread_over_more_than_five_minutes_do_not_lock(auth_engine: Engine) -> None:
    name = make_user(auth_engine, Role.MANAGER)
    for i in range(6):
        _fails(auth_engine, name, "wrong guess!!", now=T0 + timedelta(minutes=2 * i))
    assert audit_rows(auth_engine, action="auth.lock", actor=name) == []
    assert authenticate(auth_engine, name, PASSWORD, now=T0 + timedelta(minutes=11))


def test_success_resets_the_failure_count(auth_engine: Engine) -> None:
    name = make_user(auth_engine, Role.MANAGER)
    for _ in range(4):
        _fails(auth_engine, name, "wrong guess!!", now=T0)
    authenticate(auth_engine, name, PASSWORD, now=T0)
    for _ in range(4):
        _fails(auth_engine, name, "wrong guess!!", now=T0)
    assert audit_rows(auth_engine, action="auth.lock", actor=name) == []


def test_failures_take_the_same_time(auth_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unknown user, wrong password and locked account all cost one bcrypt check of one cost.

    What makes them alike is counted, not timed: each kind runs bcrypt exactly once, on a hash
    of the same work factor. The wall clock only backs that up, with a bound generous enough
    for a loaded 2-core machine (round-robin, so noise hits the three kinds alike; wrong
    passwords rotate over three users so none of them gets locked on the way).
    """
    monkeypatch.setattr(passwords, "BCRYPT_ROUNDS", 10)
    wrong_users = [make_user(auth_engine, Role.MANAGER) for _ in range(3)]
    locked = make_user(auth_engine, Role.MANAGER)
    for _ in range(5):
        _fails(auth_engine, locked, "wrong guess!!")
    _fails(auth_engine, "nobody-at-all", PASSWORD)  # warm-up (builds the dummy hash)
    checks: list[str] = []
    real_checkpw = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        checks.append(hashed.decode("ascii", "replace")[:7])  # "$2b$10$": scheme and cost
        return real_checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    samples: dict[str, list[float]] = {"unknown": [], "wrong": [], "locked": []}
    costs: dict[str, set[str]] = {kind: set() for kind in samples}
    for i in range(5):
        for kind, (username, password) in {
            "unknown": ("nobody-at-all", PASSWORD),
            "wrong": (wrong_users[i % 3], "wrong guess!!"),
            "locked": (locked, PASSWORD),
        }.items():
            checks.clear()
            started = time.perf_counter()
            _fails(auth_engine, username, password)
            samples[kind].append(time.perf_counter() - started)
            assert len(checks) == 1, (kind, checks)  # exactly one bcrypt check each
            costs[kind].update(checks)
    assert costs == {kind: {"$2b$10$"} for kind in samples}, costs
    medians = {kind: statistics.median(values) for kind, values in samples.items()}
    fastest, slowest = min(medians.values()), max(medians.values())
    assert fastest > 0.01, "bcrypt ran"
    assert slowest < 3 * fastest + 0.1, medians


def test_idle_timeout_is_thirty_minutes(auth_engine: Engine) -> None:
    name = make_user(auth_engine, Role.MANAGER)
    token = authenticate(auth_engine, name, PASSWORD, now=T0)
    assert actor_from_session(auth_engine, token, now=T0 + timedelta(minutes=20)) is not None
    assert actor_from_session(auth_engine, token, now=T0 + timedelta(minutes=49)) is not None
    assert actor_from_session(auth_engine, token, now=T0 + timedelta(minutes=80)) is None
    # Once dead it stays dead, even "earlier".
    assert actor_from_session(auth_engine, token, now=T0 + timedelta(minutes=50)) is None


def test_absolute_timeout_is_twelve_hours(auth_engine: Engine) -> None:
    name = make_user(auth_engine, Role.MANAGER)
    token = authenticate(auth_engine, name, PASSWORD, now=T0)
    moment = T0
    while moment < T0 + timedelta(hours=11, minutes=40):
        moment += timedelta(minutes=20)
        assert actor_from_session(auth_engine, token, now=moment) is not None, moment
    assert actor_from_session(auth_engine, token, now=T0 + timedelta(hours=12)) is None


def test_logout_ends_the_session_and_a_replayed_token_is_refused(
    auth_engine: Engine,
) -> None:
    name = make_user(auth_engine, Role.OPERATOR)
    token = authenticate(auth_engine, name, PASSWORD)
    actor = actor_from_session(auth_engine, token)
    assert actor is not None
    assert logout(auth_engine, token) is True
    assert actor_from_session(auth_engine, token) is None
    assert logout(auth_engine, token) is False
    # An Actor built before the logout is refused by actions too.
    result = quarantine_agent(auth_engine, actor, make_agent(auth_engine), "after logout")
    assert result.outcome == "denied" and "Sign in again" in result.message
    assert len(audit_rows(auth_engine, action="auth.logout", actor=name)) == 1


def test_disabling_a_user_ends_their_sessions(auth_engine: Engine) -> None:
    name = make_user(auth_engine, Role.OPERATOR)
    first = authenticate(auth_engine, name, PASSWORD)
    second = authenticate(auth_engine, name, PASSWORD)
    actor = actor_from_session(auth_engine, first)
    assert actor is not None
    result = disable_user(auth_engine, cli_actor(), name, reason="left the company")
    assert result.outcome == "changed" and "2 session(s) ended" in result.message
    assert actor_from_session(auth_engine, first) is None
    assert actor_from_session(auth_engine, second) is None
    assert quarantine_agent(auth_engine, actor, make_agent(auth_engine), "x").outcome == "denied"
    assert _fails(auth_engine, name, PASSWORD) == LOGIN_FAILED_MESSAGE
    assert enable_user(auth_engine, cli_actor(), name).outcome == "changed"
    assert actor_from_session(auth_engine, first) is None  # old sessions stay ended
    assert authenticate(auth_engine, name, PASSWORD)


def test_password_reset_ends_sessions_and_unlocks(auth_engine: Engine) -> None:
    name = make_user(auth_engine, Role.MANAGER)
    token = authenticate(auth_engine, name, PASSWORD)
    for _ in range(5):
        _fails(auth_engine, name, "wrong guess!!")
    new = "a brand new passphrase"
    assert reset_password(auth_engine, cli_actor(), name, new).outcome == "changed"
    assert actor_from_session(auth_engine, token) is None
    _fails(auth_engine, name, PASSWORD)
    assert authenticate(auth_engine, name, new)


@pytest.mark.parametrize("token", [None, "", "short", "x" * 500, 12345, "A" * 43])
def test_odd_tokens_are_refused(auth_engine: Engine, token: object) -> None:
    assert actor_from_session(auth_engine, token) is None  # type: ignore[arg-type]
    assert logout(auth_engine, token) is False  # type: ignore[arg-type]


def test_a_tampered_token_is_refused(auth_engine: Engine) -> None:
    name = make_user(auth_engine, Role.ADMIN)
    token = authenticate(auth_engine, name, PASSWORD)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert actor_from_session(auth_engine, tampered) is None
    assert actor_from_session(auth_engine, token) is not None


def test_roles_come_from_the_database_on_every_load(auth_engine: Engine) -> None:
    from dashboard.actions.users import set_roles

    name = make_user(auth_engine, Role.OPERATOR)
    token = authenticate(auth_engine, name, PASSWORD)
    actor = actor_from_session(auth_engine, token)
    assert actor is not None
    assert set_roles(auth_engine, cli_actor(), name, ["manager"]).outcome == "changed"
    # The stale Actor still says operator; the action asks the database.
    assert quarantine_agent(auth_engine, actor, make_agent(auth_engine), "x").outcome == "denied"
    fresh = actor_from_session(auth_engine, token)
    assert fresh is not None and fresh.roles == (Role.MANAGER,)


def test_one_session_check_for_pages_and_actions(auth_engine: Engine) -> None:
    """A page load and authorize read the same live roles (the database's, not the Actor's)."""
    name = make_user(auth_engine, Role.MANAGER)
    token = authenticate(auth_engine, name, PASSWORD)
    with auth_engine.begin() as conn:
        conn.execute(
            text("UPDATE users SET roles = ARRAY['oncall', 'operator'] WHERE username = :u"),
            {"u": name},
        )
    actor = actor_from_session(auth_engine, token)
    assert actor is not None and actor.roles == (Role.OPERATOR, Role.ONCALL)
    with auth_engine.connect() as conn:
        assert live_roles(conn, actor) == (Role.OPERATOR, Role.ONCALL)
    assert quarantine_agent(auth_engine, actor, make_agent(auth_engine), "x").outcome == "changed"


def test_password_rules() -> None:
    assert password_problem("short") is not None
    assert password_problem("aaaaaaaaaaaaaaaa") is not None
    assert password_problem("alice-secret-2026", username="alice") is not None
    assert password_problem("é" * 40) is not None  # 80 bytes: more than bcrypt reads
    assert password_problem("correct horse battery staple") is None
    assert verify_password("anything", None) is False
    assert verify_password("anything", "not-a-bcrypt-hash") is False


# ----------------------------------------------------------------------------- cookie key


def _settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, state_dir=tmp_path, **values)


def test_production_refuses_a_missing_or_weak_cookie_key(tmp_path: Path) -> None:
    with pytest.raises(CookieKeyError, match="ORCA_COOKIE_KEY is not set"):
        check_cookie_key(_settings(tmp_path, env="production"))
    with pytest.raises(CookieKeyError, match="ORCA_COOKIE_KEY is not set"):
        check_cookie_key(_settings(tmp_path, env="production", cookie_key="   "))
    with pytest.raises(CookieKeyError, match="too weak"):
        check_cookie_key(_settings(tmp_path, env="production", cookie_key="changeme"))
    with pytest.raises(CookieKeyError, match="too weak"):
        check_cookie_key(_settings(tmp_path, env="production", cookie_key="ab" * 20))
    strong = "Zx81_kq-PL0m2vNn7cW3rTy5uI9oA4sDf6gHj"
    assert check_cookie_key(_settings(tmp_path, env="production", cookie_key=strong)) == strong
    assert not (tmp_path / "cookie_key").exists()  # production never invents a key


def test_development_creates_and_keeps_a_random_key(tmp_path: Path) -> None:
    first = check_cookie_key(_settings(tmp_path))
    second = check_cookie_key(_settings(tmp_path))
    assert first == second and len(first) >= 32
    mode = stat.S_IMODE(os.stat(tmp_path / "cookie_key").st_mode)
    assert mode == 0o600
    other = tmp_path / "other"
    assert check_cookie_key(_settings(other)) != first
    with pytest.raises(CookieKeyError, match="too weak"):
        check_cookie_key(_settings(tmp_path, cookie_key="weak"))


# ----------------------------------------------------------------------------- demo users


def test_demo_users_only_in_development_and_only_once(
    empty_users_engine: Engine, tmp_path: Path
) -> None:
    engine = empty_users_engine
    assert ensure_demo_users(engine, _settings(tmp_path, env="production")) == []
    lines: list[str] = []
    printed = print_demo_users_once(engine, _settings(tmp_path, env="production"), lines.append)
    assert printed == 0 and "users add NAME --roles admin" in lines[0]

    lines.clear()
    assert print_demo_users_once(engine, _settings(tmp_path), lines.append) == 4
    text_out = "\n".join(lines)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT username, roles FROM users ORDER BY username")).all()
    assert {(u, tuple(r)) for u, r in rows} == {
        ("manager", ("manager",)),
        ("operator", ("operator",)),
        ("oncall", ("oncall",)),
        ("admin", ("admin",)),
    }
    # Each printed password signs its user in.
    for line in lines[1:5]:
        username, password = line.split()[:2]
        assert username in text_out
        token = authenticate(engine, username, password)
        actor = actor_from_session(engine, token)
        assert actor is not None and actor.roles == (Role(username),)
    assert ensure_demo_users(engine, _settings(tmp_path)) == []  # never twice
    # Made by users.add_user, so audited like any other new user.
    added = audit_rows(engine, action="user.add")
    assert sorted(r["target_id"] for r in added) == ["admin", "manager", "oncall", "operator"]
    assert {r["actor"] for r in added} == {"system:demo-users"}


def test_cli_actor_is_a_local_admin_with_a_proof() -> None:
    actor = cli_actor()
    assert actor.username.startswith("cli:") and actor.session_id is None
    assert actor.roles == (Role.ADMIN,) and actor.proof
    assert actor.proof not in repr(actor)
    assert Actor(actor.username, actor.roles).proof == ""
