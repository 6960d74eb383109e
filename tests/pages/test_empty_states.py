"""Every page on an empty database: each list says in words that it is empty, none is blank."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, text
from streamlit.testing.v1 import AppTest

from dashboard.domain.permissions import Role
from tests.conftest import MakeDatabase
from tests.pages.conftest import console_env, new_app, reset_app_state, sign_in

HEADINGS = ("title", "header", "subheader")
# Database 7 of the suite's Redis, emptied first: no other test's probe results or drills.
EMPTY_REDIS_DB = 7


@pytest.fixture()
def empty_console(
    make_database: MakeDatabase, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Engine]]:
    """A migrated database with one signed-in user and nothing else: (token, engine)."""
    db = make_database("orca_empty")
    engine: Engine = db.engine()
    url = redis_url.rsplit("/", 1)[0] + f"/{EMPTY_REDIS_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    console_env(monkeypatch, db.url, url)
    token = sign_in(engine, *Role)
    reset_app_state()
    yield token, engine
    reset_app_state()
    db.drop()


def _flat(node: Any) -> Iterator[Any]:
    """The page's elements in the order they are drawn (blocks opened depth first)."""
    children = getattr(node, "children", None)
    if children is None:
        yield node
        return
    for index in sorted(children):
        yield from _flat(children[index])


def _run(token: str, page: str, state: dict[str, object] | None = None, **params: str) -> AppTest:
    at = new_app(token)
    at.switch_page(page)
    for name, value in params.items():
        at.query_params[name] = value
    for key, setting in (state or {}).items():
        at.session_state[key] = setting
    at.run()
    assert not at.exception, at.exception
    return at


PAGES: dict[str, tuple[str, dict[str, str], tuple[str, ...]]] = {
    "service_health": (
        "pages/service_health.py",
        {},
        (
            "No requests were recorded in this range.",
            "No health checks in the last 30 days",
            "No health check ran in the last 30 minutes",
        ),
    ),
    "trust_kpis": (
        "pages/trust_kpis.py",
        {},
        (
            "No trust snapshots in this period.",
            "No sync source has reported.",
            "No open sync gaps.",
        ),
    ),
    "agent_registry": (
        "pages/agent_registry.py",
        {},
        ("No agent matches these filters.", "No agent is quarantined."),
    ),
    "review_queue": ("pages/review_queue.py", {}, ("No discovered agent awaits review.",)),
    "drill": ("pages/drill.py", {}, ("No drill is running.", "No probe results yet")),
    "audit": ("pages/audit.py", {}, ()),
}


# Lists inside collapsed expanders are built only when opened (components.lazy_expander).
OPENED: dict[str, dict[str, object]] = {"agent_registry": {"agent_registry.quarantined.open": True}}


@pytest.mark.parametrize("name", list(PAGES))
def test_every_list_says_when_it_is_empty(empty_console: tuple[str, Engine], name: str) -> None:
    page, params, expected = PAGES[name]
    at = _run(empty_console[0], page, OPENED.get(name), **params)
    said = " ".join(i.value for i in at.info)
    for words in expected:
        assert words in said, (words, said)
    # No table is drawn without rows: an empty one is replaced by its sentence.
    assert all(len(df.value) > 0 for df in at.dataframe), name
    # No heading stands over nothing: the next element of the page is not another heading.
    drawn = [e for e in _flat(at.main) if getattr(e, "type", None) != "empty"]
    for here, after in zip(drawn, [*drawn[1:], None], strict=True):
        if here.type in HEADINGS[1:]:
            assert after is not None and after.type not in HEADINGS, (name, here.value)


def test_agent_detail_of_a_new_agent_says_each_list_is_empty(
    empty_console: tuple[str, Engine],
) -> None:
    """An agent with no history: its charts and tables each say so instead of drawing blank."""
    token, engine = empty_console
    with engine.begin() as conn:
        agent_id = conn.execute(
            text(
                """INSERT INTO agents (external_id, discovery_source, name, type, vendor, owner,
                       discovered_at, status)
                   VALUES ('empty-1', 'mcp', 'lonely-bot', 'chatbot', 'openai', 'o@example.com',
                       now(), 'active') RETURNING id"""
            )
        ).scalar_one()
    at = _run(token, "pages/agent_registry.py", agent=str(agent_id))
    said = " ".join(i.value for i in at.info)
    for words in (
        "No status change recorded.",
        "No policy violation recorded.",
        "No data source synced yet.",
        "No drift detected.",
        "No trust score recorded for this agent yet.",
    ):
        assert words in said, (words, said)
    assert all(len(df.value) > 0 for df in at.dataframe)
