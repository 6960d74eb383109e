"""What an admin does on the Users page and every user on their own: the rules behind the clicks.

Self-disable and last-admin refusals from a signed-in admin's session, unlock, one's own password
change (others' sessions end, this one stays), the last sign-in column, and the per-client limit
on failed sign-ins (same message as a wrong password, audited).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import redis
from sqlalchemy import Engine

from dashboard.actions import signin
from dashboard.actions.base import cli_actor
from dashboard.actions.signin import (
    LOGIN_FAILED_MESSAGE,
    AuthenticationFailed,
    ClientLimit,
    actor_from_session,
    authenticate,
)
from dashboard.actions.users import (
    WRONG_CURRENT_PASSWORD,
    change_own_password,
    disable_user,
    list_users,
    set_roles,
    unlock_user,
)
from dashboard.data.login_limits import clear_client
from dashboard.domain.permissions import Role
from tests.actions.conftest import PASSWORD, LoggedIn, audit_rows, login, make_user, unique

NEW = "a brand new passphrase 77"


def _only_admin(engine: Engine, keep: str) -> None:
    """Leave ``keep`` as the one enabled admin of this database."""
    for u in list_users(engine, cli_actor()):
        if Role.ADMIN in u.roles and not u.disabled and u.username != keep:
            assert disable_user(engine, cli_actor(), u.username).outcome == "changed"


def test_an_admin_cannot_disable_themself(
    auth_engine: Engine, signed_in: Callable[..., LoggedIn]
) -> None:
    admin = signed_in(Role.ADMIN)
    signed_in(Role.ADMIN)  # another admin exists: the refusal is about "self", not "last"
    result = disable_user(auth_engine, admin.actor, admin.username)
    assert result.outcome == "invalid"
    assert result.message == (
        "You cannot disable your own account; ask another administrator to do it."
    )
    assert actor_from_session(auth_engine, admin.token) is not None


def test_the_last_admin_is_kept_from_the_browser_too(auth_engine: Engine) -> None:
    admin = login(auth_engine, Role.ADMIN)
    _only_admin(auth_engine, admin.username)
    demoted = set_roles(auth_engine, admin.actor, admin.username, ["manager"])
    assert demoted.outcome == "invalid"
    assert "last enabled administrator" in demoted.message
    assert disable_user(auth_engine, cli_actor(), admin.username).outcome == "invalid"
    # With a second admin, the first may step down (and is no longer an admin after).
    login(auth_engine, Role.ADMIN)
    assert set_roles(auth_engine, admin.actor, admin.username, ["manager"]).outcome == "changed"
    assert disable_user(auth_engine, admin.actor, unique("x")).outcome == "denied"


def test_unlock_lifts_the_lock_and_is_audited(
    auth_engine: Engine, signed_in: Callable[..., LoggedIn]
) -> None:
    admin = signed_in(Role.ADMIN)
    name = make_user(auth_engine, Role.MANAGER)
    assert unlock_user(auth_engine, admin.actor, name).outcome == "noop"
    for i in range(5):
        with pytest.raises(AuthenticationFailed):
            authenticate(auth_engine, name, f"wrong guess {i}")
    locked = {u.username: u for u in list_users(auth_engine, admin.actor)}[name]
    assert locked.locked(datetime.now(UTC))
    with pytest.raises(AuthenticationFailed):
        authenticate(auth_engine, name, PASSWORD)
    result = unlock_user(auth_engine, admin.actor, name)
    assert result.outcome == "changed", result
    assert authenticate(auth_engine, name, PASSWORD)
    rows = audit_rows(auth_engine, action="user.unlock", target_id=name)
    assert [r["actor"] for r in rows] == [admin.username]
    assert rows[0]["after"] == {"locked_until": None, "failed_logins": 0}


def test_list_shows_the_last_sign_in(auth_engine: Engine) -> None:
    never = make_user(auth_engine, Role.MANAGER)
    user = login(auth_engine, Role.OPERATOR)
    shown = {u.username: u for u in list_users(auth_engine, cli_actor())}
    assert shown[never].last_sign_in is None
    last = shown[user.username].last_sign_in
    assert last is not None and datetime.now(UTC) - last < timedelta(minutes=1)


def test_changing_ones_own_password_ends_the_other_sessions_only(auth_engine: Engine) -> None:
    here = login(auth_engine, Role.MANAGER)
    elsewhere = authenticate(auth_engine, here.username, PASSWORD)
    result = change_own_password(auth_engine, here.actor, current=PASSWORD, new=NEW)
    assert result.outcome == "changed", result
    assert "1 other session(s) ended" in result.message
    assert actor_from_session(auth_engine, here.token) is not None
    assert actor_from_session(auth_engine, elsewhere) is None
    with pytest.raises(AuthenticationFailed):
        authenticate(auth_engine, here.username, PASSWORD)
    assert authenticate(auth_engine, here.username, NEW)
    rows = audit_rows(auth_engine, action="user.change_password", actor=here.username)
    assert [r["outcome"] for r in rows] == ["ok"]
    assert NEW not in str(rows) and PASSWORD not in str(rows)


def test_changing_ones_own_password_needs_the_current_one(auth_engine: Engine) -> None:
    user = login(auth_engine, Role.ONCALL)
    wrong = change_own_password(auth_engine, user.actor, current="not " + PASSWORD, new=NEW)
    assert (wrong.outcome, wrong.message) == ("invalid", WRONG_CURRENT_PASSWORD)
    weak = change_own_password(auth_engine, user.actor, current=PASSWORD, new="short")
    assert weak.outcome == "invalid" and "12 characters" in weak.message
    same = change_own_password(auth_engine, user.actor, current=PASSWORD, new=PASSWORD)
    assert same.outcome == "invalid"
    # The wrong guess counted toward the lock, as at sign-in.
    failed = audit_rows(auth_engine, action="auth.failed_login", actor=user.username)
    assert [r["detail"] for r in failed] == ["password"]
    assert authenticate(auth_engine, user.username, PASSWORD)  # nothing changed
    # The CLI has no "own" password: it resets someone's.
    assert change_own_password(auth_engine, cli_actor(), current="x", new=NEW).outcome == "invalid"


def test_a_guessing_client_is_blocked_with_the_same_words(
    auth_engine: Engine, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signin, "MAX_CLIENT_FAILURES", 6)
    address = f"203.0.113.{datetime.now(UTC).microsecond % 250}"
    attacker = ClientLimit(redis_client, address)
    victims = [make_user(auth_engine, Role.ADMIN) for _ in range(3)]
    messages = set()
    for i in range(6):  # two wrong guesses per account: no account reaches its own lock
        with pytest.raises(AuthenticationFailed) as info:
            authenticate(auth_engine, victims[i % 3], f"guess {i}", client=attacker)
        messages.add(info.value.message)
    # Blocked now: even the right password from this address is refused, in the same words.
    with pytest.raises(AuthenticationFailed) as info:
        authenticate(auth_engine, victims[0], PASSWORD, client=attacker)
    messages.add(info.value.message)
    assert messages == {LOGIN_FAILED_MESSAGE}
    # Another address signs the same user in: the accounts are not locked.
    assert authenticate(
        auth_engine, victims[0], PASSWORD, client=ClientLimit(redis_client, "198.51.100.7")
    )
    blocks = audit_rows(auth_engine, action="auth.client_block", target_id=address)
    assert len(blocks) == 1 and blocks[0]["target_type"] == "client"
    refused = audit_rows(auth_engine, action="auth.failed_login", actor=victims[0])
    assert refused[-1]["detail"] == f"client blocked, client {address}"
    # The block ends after its time (or when lifted).
    later = datetime.now(UTC) + signin.CLIENT_BLOCK + timedelta(seconds=1)
    assert authenticate(auth_engine, victims[0], PASSWORD, client=attacker, now=later)
    assert clear_client(redis_client, address)


def test_a_dead_redis_does_not_stop_sign_in(auth_engine: Engine) -> None:
    name = make_user(auth_engine, Role.MANAGER)
    nowhere = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    assert authenticate(auth_engine, name, PASSWORD, client=ClientLimit(nowhere, "192.0.2.1"))
