"""The Users and My account pages through the real app (AppTest): admins manage, others are refused."""

from __future__ import annotations

import pytest
import redis
from sqlalchemy import Engine, text
from streamlit.testing.v1 import AppTest

from dashboard.actions import auth, signin
from dashboard.actions.auth import LOGIN_FAILED_MESSAGE, AuthenticationFailed
from dashboard.domain.permissions import Role
from dashboard.integrations.redis_client import key
from tests.pages.conftest import PASSWORD, make_user, new_app, sign_in

HOSTILE = "[phish](https://evil.example/l) \u202etxt.exe"


def _users_page(token: str) -> AppTest:
    at = new_app(token).run()
    assert not at.exception, at.exception
    at.switch_page("pages/users.py")
    return at.run()


def _everything(at: AppTest) -> str:
    parts = [*at.error, *at.warning, *at.info, *at.success, *at.markdown, *at.caption, *at.code]
    return " ".join(str(e.value) for e in parts)


def _state(engine: Engine, name: str) -> tuple[bool, list[str]]:
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT disabled, roles FROM users WHERE username = :u"), {"u": name}
        ).one()
    return bool(row[0]), list(row[1])


def test_admin_adds_a_user_and_sees_the_one_time_password_once(
    app_env: None, seeded_engine: Engine
) -> None:
    at = _users_page(sign_in(seeded_engine, Role.ADMIN))
    assert at.title[0].value == "Users"
    name = f"newbie{len(at.button)}x"
    at.text_input(key="users.new_name").set_value(name)
    at.text_input(key="users.new_display").set_value(HOSTILE)
    at.multiselect(key="users.new_roles").set_value(["operator"])
    at.button(key="FormSubmitter:users.add-Add user").click().run()
    assert not at.exception, at.exception
    assert any(f"User {name} added" in s.value.replace("\\", "") for s in at.success)
    [shown] = [c.value for c in at.code]
    assert auth.authenticate(seeded_engine, name, shown)  # the password works ...
    at.run()  # ... and is gone on the next run
    assert not at.code
    assert shown not in _everything(at)
    # The hostile display name reaches the table as text, its bidi control marked.
    table = at.dataframe[0].value
    row = table[table["user"] == name].iloc[0]
    assert row["name"] == "[phish](https://evil.example/l) ?txt.exe"
    assert row["roles"] == "operator" and row["last sign-in"] != "never"


def test_admin_disables_resets_and_enables_through_confirmations(
    app_env: None, seeded_engine: Engine
) -> None:
    target = make_user(seeded_engine, Role.MANAGER)
    at = _users_page(sign_in(seeded_engine, Role.ADMIN))
    at.selectbox(key="users.chosen").set_value(target).run()
    at.button(key="users.disable.preview").click().run()
    assert any("Disable" in w.value for w in at.warning)
    assert _state(seeded_engine, target)[0] is False  # nothing yet: a preview only
    at.button(key="users.disable.confirm").click().run()
    assert not at.exception, at.exception
    assert _state(seeded_engine, target)[0] is True
    at.button(key="users.enable").click().run()
    assert _state(seeded_engine, target)[0] is False

    at.button(key="users.reset.preview").click().run()
    at.button(key="users.reset.confirm").click().run()
    [fresh] = [c.value for c in at.code]
    with pytest.raises(AuthenticationFailed):
        auth.authenticate(seeded_engine, target, PASSWORD)
    assert auth.authenticate(seeded_engine, target, fresh)

    at.multiselect(key=f"users.role_pick.{target}").set_value(["manager", "oncall"]).run()
    at.button(key="users.roles.preview").click().run()
    at.button(key="users.roles.confirm").click().run()
    assert _state(seeded_engine, target)[1] == ["manager", "oncall"]


def test_admin_sets_a_managers_email_audited(app_env: None, seeded_engine: Engine) -> None:
    target = make_user(seeded_engine, Role.MANAGER)
    at = _users_page(sign_in(seeded_engine, Role.ADMIN))
    at.selectbox(key="users.chosen").set_value(target).run()
    at.text_input(key=f"users.email.{target}").set_value("not an address").run()
    at.button(key="users.save_email").click().run()
    assert not at.exception, at.exception
    assert "does not look right" in _everything(at)
    at.text_input(key=f"users.email.{target}").set_value(f"{target}@orca.test").run()
    at.button(key="users.save_email").click().run()
    assert not at.exception, at.exception
    with seeded_engine.connect() as conn:
        mail = conn.execute(
            text("SELECT email FROM users WHERE username = :u"), {"u": target}
        ).scalar_one()
        audited = conn.execute(
            text(
                "SELECT count(*) FROM audit_log WHERE action = 'user.set_email'"
                " AND target_id = :u AND outcome = 'ok'"
            ),
            {"u": target},
        ).scalar_one()
    assert mail == f"{target}@orca.test" and audited == 1
    table = at.dataframe[0].value
    assert table[table["user"] == target].iloc[0]["e-mail"] == f"{target}@orca.test"


def test_admin_cannot_disable_themself_from_the_page(app_env: None, seeded_engine: Engine) -> None:
    token = sign_in(seeded_engine, Role.ADMIN)
    me = auth.actor_from_session(seeded_engine, token)
    assert me is not None
    at = _users_page(token)
    at.selectbox(key="users.chosen").set_value(me.username).run()
    at.button(key="users.disable.preview").click().run()
    at.button(key="users.disable.confirm").click().run()
    assert any("cannot disable your own account" in e.value for e in at.error)
    assert _state(seeded_engine, me.username)[0] is False


@pytest.mark.parametrize("role", [Role.MANAGER, Role.OPERATOR, Role.ONCALL], ids=str)
def test_other_roles_are_refused_the_users_page(
    app_env: None, seeded_engine: Engine, role: Role
) -> None:
    at = new_app(sign_in(seeded_engine, role)).run()
    links = [str(getattr(p, "label", "")) for p in at.get("page_link")]
    assert "Users" not in links and "My account" in links
    at.switch_page("pages/users.py").run()
    assert not at.exception
    assert any("don't have access" in e.value for e in at.error)
    assert not at.dataframe and not [b for b in at.button if str(b.key).startswith("users.")]


def test_everyone_changes_their_own_password(app_env: None, seeded_engine: Engine) -> None:
    name = make_user(seeded_engine, Role.MANAGER)
    token = auth.authenticate(seeded_engine, name, PASSWORD)
    other = auth.authenticate(seeded_engine, name, PASSWORD)
    at = new_app(token).run()
    at.switch_page("pages/account.py").run()
    assert at.title[0].value == "My account"
    new = "my own new passphrase 9"
    at.text_input(key="account.current").set_value("wrong " + PASSWORD)
    at.text_input(key="account.new").set_value(new)
    at.text_input(key="account.repeat").set_value(new)
    at.button(key="FormSubmitter:account.password-Change password").click().run()
    assert any("current password is not right" in e.value for e in at.error)
    at.text_input(key="account.current").set_value(PASSWORD)
    at.text_input(key="account.new").set_value(new)
    at.text_input(key="account.repeat").set_value(new)
    at.button(key="FormSubmitter:account.password-Change password").click().run()
    assert not at.exception, at.exception
    assert any("password is changed" in s.value for s in at.success)
    assert auth.actor_from_session(seeded_engine, token) is not None
    assert auth.actor_from_session(seeded_engine, other) is None
    assert auth.authenticate(seeded_engine, name, new)


def test_admin_unlocks_a_locked_user(app_env: None, seeded_engine: Engine) -> None:
    target = make_user(seeded_engine, Role.OPERATOR)
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            auth.authenticate(seeded_engine, target, "a wrong guess here")
    at = _users_page(sign_in(seeded_engine, Role.ADMIN))
    table = at.dataframe[0].value
    assert table[table["user"] == target].iloc[0]["state"].startswith("locked until")
    at.selectbox(key="users.chosen").set_value(target).run()
    at.button(key="users.unlock").click().run()
    assert any(f"User {target} unlocked" in s.value for s in at.success)
    assert not [b for b in at.button if b.key == "users.unlock"]
    assert auth.authenticate(seeded_engine, target, PASSWORD)


def test_the_sign_in_form_counts_failures_per_client(
    app_env: None, seeded_engine: Engine, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The form passes the client address: after 3 failures the right password is refused too."""
    monkeypatch.setattr(signin, "MAX_CLIENT_FAILURES", 3)
    client = redis.Redis.from_url(redis_url)
    names = [make_user(seeded_engine, Role.MANAGER) for _ in range(3)]
    at = new_app(token="").run()
    try:
        for name in names:  # one wrong guess per account: no account lock
            at.text_input(key="auth.username").input(name)
            at.text_input(key="auth.password").input("a wrong guess here")
            at.button(key="FormSubmitter:auth.login-Sign in").click().run()
        at.text_input(key="auth.username").input(names[0])
        at.text_input(key="auth.password").input(PASSWORD)
        at.button(key="FormSubmitter:auth.login-Sign in").click().run()
        assert [e.value for e in at.error] == [LOGIN_FAILED_MESSAGE]
        assert "auth.token" not in at.session_state
    finally:
        blocks = list(client.scan_iter(match=key("login_block", "*")))
        for name in [*blocks, *client.scan_iter(match=key("login_failures", "*"))]:
            client.delete(name)  # this test's address must not stay blocked for others
        client.close()
    assert len(blocks) == 1
