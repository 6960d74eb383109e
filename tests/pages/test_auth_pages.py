"""Sign-in, roles and the quarantine workflow through the real app (AppTest), against PostgreSQL."""

from __future__ import annotations

import ast
import csv
import io
import secrets
import tomllib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pytest
import redis
from sqlalchemy import Engine, text
from streamlit.testing.v1 import AppTest

from dashboard.actions.auth import LOGIN_FAILED_MESSAGE, logout
from dashboard.actions.base import Actor
from dashboard.domain.permissions import Role
from dashboard.integrations.redis_client import key
from dashboard.ui.auth import NO_ACCESS, cookie_value, token_from_cookie
from dashboard.ui.navigation import PAGES
from tests.pages.conftest import APP, PASSWORD, make_user, new_app, sign_in


@pytest.fixture()
def new_agent(seeded_engine: Engine, redis_url: str) -> Iterator[Callable[..., int]]:
    """Insert agents for one test and delete them afterwards (seeded counts stay as they were).

    The console's shared cache is emptied too, so no later test reads counts that included them.
    """
    made: list[int] = []

    def _make(
        *, status: str = "active", reviewed: bool = True, owner: str = "owner@example.com"
    ) -> int:
        with seeded_engine.begin() as conn:
            agent_id = int(
                conn.execute(
                    text(
                        """INSERT INTO agents (external_id, discovery_source, name, type, vendor,
                               owner, discovered_at, status, reviewed_at, reviewed_by)
                           VALUES (:ext, 'mcp', :name, 'chatbot', 'openai', :owner,
                               :disc, :status, :reviewed_at, :reviewed_by)
                           RETURNING id"""
                    ),
                    {
                        "ext": f"page-test-{secrets.token_hex(6)}",
                        "name": f"page test agent {secrets.token_hex(3)}",
                        "disc": datetime(2000, 1, 1, tzinfo=UTC),  # first in the review queue
                        "status": status,
                        "owner": owner,
                        "reviewed_at": datetime.now(UTC) if reviewed else None,
                        "reviewed_by": "seed" if reviewed else None,
                    },
                ).scalar_one()
            )
        made.append(agent_id)
        return agent_id

    yield _make
    with seeded_engine.begin() as conn:
        conn.execute(text("DELETE FROM agents WHERE id = ANY(:ids)"), {"ids": made})
    client = redis.Redis.from_url(redis_url)
    try:
        for name in client.scan_iter(match=key("cache", "ui", "*")):
            client.delete(name)
    finally:
        client.close()


def _status(engine: Engine, agent_id: int) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(
                text("SELECT status FROM agents WHERE id = :id"), {"id": agent_id}
            ).scalar()
        )


def _button(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == label)


def _open(token: str, page: str, **params: str) -> AppTest:
    """Open ``page`` the way a browser does: through the router (run once, then switch)."""
    at = new_app(token).run()
    assert not at.exception, at.exception
    at.switch_page(page)
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def _texts(at: AppTest) -> str:
    return " ".join(
        e.value for e in [*at.error, *at.warning, *at.info, *at.success, *at.markdown, *at.caption]
    )


def test_wrong_password_shows_the_generic_message_then_signs_in(
    app_env: None, seeded_engine: Engine
) -> None:
    name = make_user(seeded_engine, Role.MANAGER)
    at = new_app(token="").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Sign in to the ORCA Ops Console"
    at.text_input(key="auth.username").input(name)
    at.text_input(key="auth.password").input("not-the-password-at-all")
    _button(at, "Sign in").click().run()
    assert [e.value for e in at.error] == [LOGIN_FAILED_MESSAGE]
    assert "auth.token" not in at.session_state
    # An unknown user gets the very same words.
    at.text_input(key="auth.username").input("nobody-" + secrets.token_hex(3))
    at.text_input(key="auth.password").input(PASSWORD)
    _button(at, "Sign in").click().run()
    assert [e.value for e in at.error] == [LOGIN_FAILED_MESSAGE]
    at.text_input(key="auth.username").input(name)
    at.text_input(key="auth.password").input(PASSWORD)
    _button(at, "Sign in").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Service Health"
    assert not at.error
    # Only the token is kept; the password field was emptied.
    assert at.session_state["auth.password"] == ""


def test_tampered_session_state_grants_nothing(app_env: None, seeded_engine: Engine) -> None:
    at = new_app(token="")
    at.session_state["auth.actor"] = Actor("admin", (Role.ADMIN,), session_id="f" * 64)
    at.session_state["auth.token"] = "x" * 43  # no such session
    at.switch_page("pages/audit.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Sign in to the ORCA Ops Console"


def test_signed_cookie_round_trip_and_tampering() -> None:
    key = "k" * 8 + secrets.token_urlsafe(32)
    value = cookie_value(key, "tok-" + "a" * 40)
    assert token_from_cookie(key, value) == "tok-" + "a" * 40
    assert token_from_cookie(key, value[:-1] + ("A" if value[-1] != "A" else "B")) is None
    assert token_from_cookie("other-" + key, value) is None
    assert token_from_cookie(key, None) is None


def test_manager_sees_no_quarantine_control_and_is_refused_the_review_queue(
    app_env: None, seeded_engine: Engine, new_agent: Callable[..., int]
) -> None:
    token = sign_in(seeded_engine, Role.MANAGER)
    agent_id = new_agent()
    at = _open(token, "pages/agent_registry.py", agent=str(agent_id))
    assert not at.exception, at.exception
    assert at.title[0].value == "Agent detail"
    assert not [t for t in at.text_area if t.key == "agent_detail.reason"]
    assert not [b for b in at.button if "quarantine" in b.label.lower()]
    refused = new_app(token).run()
    menu = [p.proto.label for p in refused.get("page_link")]
    assert "Agent Registry" in menu and "Review Queue" not in menu
    refused.switch_page("pages/review_queue.py").run()
    assert not refused.exception, refused.exception
    assert NO_ACCESS in [e.value for e in refused.error]
    assert not [t for t in refused.title if "Review" in t.value]
    with seeded_engine.connect() as conn:
        denied = conn.execute(
            text(
                "SELECT count(*) FROM audit_log WHERE action = 'page.open' "
                "AND outcome = 'denied' AND target_id = 'review_queue'"
            )
        ).scalar_one()
    assert denied >= 1


def test_operator_quarantines_then_releases_from_the_detail_view(
    app_env: None, seeded_engine: Engine, new_agent: Callable[..., int]
) -> None:
    token = sign_in(seeded_engine, Role.OPERATOR)
    agent_id = new_agent()
    at = _open(token, "pages/agent_registry.py", agent=str(agent_id))
    assert not at.exception, at.exception
    # A reason is required: previewing without one changes nothing and says so.
    at.button(key="agent_detail.preview").click().run()
    assert "A reason is required." in [e.value for e in at.error]
    at.text_area(key="agent_detail.reason").input("leaks customer data to a test endpoint")
    at.button(key="agent_detail.preview").click().run()
    assert any("leaks customer data" in w.value for w in at.warning)
    assert _status(seeded_engine, agent_id) == "active"  # the preview changes nothing
    at.button(key="agent_detail.confirm").click().run()
    assert not at.exception, at.exception
    assert _status(seeded_engine, agent_id) == "quarantined"
    assert f"Agent #{agent_id} quarantined." in [s.value for s in at.success]
    assert any(m.label == "Status" and m.value == "quarantined" for m in at.metric)
    # The control turns into Release for a quarantined agent.
    at.text_area(key="agent_detail.reason").input("false alarm, endpoint was ours")
    at.button(key="agent_detail.preview").click().run()
    at.button(key="agent_detail.confirm").click().run()
    assert _status(seeded_engine, agent_id) == "active"
    assert f"Agent #{agent_id} released." in [s.value for s in at.success]

    audit = _open(token, "pages/audit.py")
    assert not audit.exception, audit.exception
    df = audit.dataframe[0].value
    mine = df[df["target_id"] == str(agent_id)]
    assert set(mine["action"]) == {"agent.quarantine", "agent.release"}
    assert "your own actions" in _texts(audit)
    audit.button(key="audit.prepare").click().run()
    assert not audit.exception, audit.exception
    exported = list(csv.reader(io.StringIO(audit.session_state["audit.csv"])))
    assert exported[0][:3] == ["id", "at", "actor"]


def test_operator_reviews_a_discovery_and_logout_ends_the_session(
    app_env: None, seeded_engine: Engine, new_agent: Callable[..., int]
) -> None:
    token = sign_in(seeded_engine, Role.OPERATOR)
    agent_id = new_agent(status="quarantined", reviewed=False)
    at = _open(token, "pages/review_queue.py")
    assert not at.exception, at.exception
    assert at.title[0].value == "Discovery Review Queue"
    assert int(at.dataframe[0].value["id"].iloc[0]) == agent_id  # oldest first
    at.multiselect(key="review_queue.selected").select(agent_id)
    at.radio(key="review_queue.decision").set_value("reject")
    at.button(key="review_queue.preview").click().run()
    at.button(key="review_queue.confirm").click().run()
    assert not at.exception, at.exception
    assert _status(seeded_engine, agent_id) == "deprecated"
    assert f"Agent #{agent_id} rejected." in [s.value for s in at.success]
    home = new_app(token).run()
    home.button(key="auth.logout").click().run()
    assert home.title[0].value == "Sign in to the ORCA Ops Console"
    replay = new_app(token)
    replay.run()
    assert replay.title[0].value == "Sign in to the ORCA Ops Console"
    logout(seeded_engine, token)  # idempotent


def test_bulk_quarantine_of_a_filter_asks_for_the_count_above_ten(
    app_env: None, seeded_engine: Engine, new_agent: Callable[..., int]
) -> None:
    owner = f"bulk-{secrets.token_hex(4)}@example.com"
    ids = [new_agent(owner=owner) for _ in range(11)]
    token = sign_in(seeded_engine, Role.OPERATOR)
    at = _open(token, "pages/agent_registry.py", owner=owner)
    assert not at.exception, at.exception
    # The control is built only once its expander is open (components.lazy_expander).
    assert not [t for t in at.text_area if t.key == "agent_registry.bulk.reason"]
    at.session_state["agent_registry.bulk.open"] = True
    at.run()
    at.text_area(key="agent_registry.bulk.reason").input("compromised owner account")
    at.button(key="agent_registry.bulk.preview").click().run()
    assert any("quarantine the 11 agents" in w.value for w in at.warning)
    at.button(key="agent_registry.bulk.confirm").click().run()  # count not typed
    assert "Type 11 to confirm; nothing was changed." in [e.value for e in at.error]
    assert {_status(seeded_engine, i) for i in ids} == {"active"}
    at.text_input(key="agent_registry.bulk.typed").input("11")
    at.button(key="agent_registry.bulk.confirm").click().run()
    assert not at.exception, at.exception
    assert {_status(seeded_engine, i) for i in ids} == {"quarantined"}
    assert "11 of 11 selected agents quarantined." in [s.value for s in at.success]


def test_a_signed_out_first_visitor_sees_no_page_names(
    app_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also under a plain `streamlit run`: the pages/-folder sidebar is hidden by config.

    AppTest starts like a fresh `streamlit run` process (the pages/ folder mode not yet
    decided), so the first run goes through Streamlit's pages-folder navigation; every
    navigation it sends must be hidden, and nothing on the page may name a page.
    """
    import streamlit.commands.navigation as navigation

    sent: list[str] = []
    real = navigation._navigation

    def recording(
        pages: Any, *, position: Literal["sidebar", "hidden", "top"], expanded: bool
    ) -> Any:
        sent.append(position)
        return real(pages, position=position, expanded=expanded)

    monkeypatch.setattr(navigation, "_navigation", recording)
    at = new_app(token="")
    at.run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Sign in to the ORCA Ops Console"]
    assert sent and set(sent) == {"hidden"}, sent
    assert at.get("page_link") == []
    shown = " ".join([_texts(at), *(t.value for t in at.title), *(b.label for b in at.button)])
    for spec in PAGES:
        assert spec.title not in shown, spec.title
    with open(Path(APP).parent / ".streamlit" / "config.toml", "rb") as fh:
        assert tomllib.load(fh)["client"]["showSidebarNavigation"] is False


def test_only_st_compat_touches_streamlit_internals() -> None:
    """Private Streamlit (and component) names live in dashboard/ui/st_compat.py only."""
    root = Path(APP).parent
    offenders = []
    for path in [*root.glob("dashboard/**/*.py"), *root.glob("pages/*.py"), Path(APP)]:
        if path.name == "st_compat.py":
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                top = node.module.split(".")[0]
                private = any(a.name.startswith("_") for a in node.names)
                if top in {"streamlit", "extra_streamlit_components"} and (
                    node.module != "streamlit" or private
                ):
                    offenders.append(f"{path.relative_to(root)}: {node.module}")
    assert offenders == []
