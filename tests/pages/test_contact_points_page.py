"""Contact points page through the real app (AppTest): admins change, others read; no secret shows."""

from __future__ import annotations

from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from dashboard.domain.permissions import Role
from tests.pages.conftest import new_app, sign_in

SECRET_URL = "http://127.0.0.1:9/services/T9/B9/PageSecretTokenABCD"


def _page(token: str) -> AppTest:
    at = new_app(token).run()
    assert not at.exception, at.exception
    at.switch_page("pages/contact_points.py")
    at = at.run()
    assert not at.exception, at.exception
    return at


def _everything(at: AppTest) -> str:
    parts = [*at.error, *at.warning, *at.info, *at.success, *at.markdown, *at.caption, *at.code]
    texts = [str(e.value) for e in parts]
    texts += [str(t.value) for t in at.text_input]
    texts += [d.value.to_csv() for d in at.dataframe]
    return " ".join(texts)


def test_admin_adds_edits_and_the_secret_never_shows(app_env: None, seeded_engine: Engine) -> None:
    at = _page(sign_in(seeded_engine, Role.ADMIN))
    assert at.title[0].value == "Contact points"
    at.selectbox(key="contact_points.add_kind").set_value("Slack-compatible incoming webhook").run()
    at.text_input(key="contact_points.add.name").set_value("ops slack page-test")
    at.text_input(key="contact_points.add.secret").set_value(SECRET_URL)
    at.button(key="FormSubmitter:contact_points.add-Add contact point").click().run()
    assert not at.exception, at.exception
    assert any("added" in s.value for s in at.success), [s.value for s in at.error]
    at.run()
    table = at.dataframe[0].value
    row = table[table["name"] == "ops slack page-test"].iloc[0]
    assert row["secret"] == "••••ABCD"
    assert row["audiences"] == "broadcast"
    assert "PageSecretToken" not in _everything(at)

    # Edit it: the secret field starts blank (never filled from the database).
    at.selectbox(key="contact_points.chosen").set_value("ops slack page-test").run()
    secret_inputs = [t for t in at.text_input if t.key and t.key.endswith(".secret")]
    assert secret_inputs and all(not t.value for t in secret_inputs)
    assert "PageSecretToken" not in _everything(at)


def test_manager_reads_without_controls(app_env: None, seeded_engine: Engine) -> None:
    at = _page(sign_in(seeded_engine, Role.MANAGER))
    assert at.title[0].value == "Contact points"
    assert any("Read-only" in c.value for c in at.caption)
    keys = {b.key for b in at.button}
    assert not any(k and k.startswith("contact_points.") and "csv" not in k for k in keys), keys
    assert not [t for t in at.text_input if t.key and "secret" in t.key]
    assert "PageSecretToken" not in _everything(at)
