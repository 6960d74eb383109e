"""Hostile names and hostile URL values on every page: no foreign link or image in any Markdown.

Everything Streamlit renders as Markdown is read back (text, captions, headings, alerts, metric
and widget labels and help): an unescaped ``](``, ``![``, ``<a``/``<img`` or a bare URL that
GFM would autolink means untrusted text reached Markdown as markup.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, text
from streamlit.testing.v1 import AppTest

from dashboard.integrations.redis_client import key
from dashboard.sim.vocab import HOSTILE_NAMES
from tests.pages.conftest import new_app

PHISH = "[Sign in again](https://evil.example/l) ![i](https://evil.example/t.png)"
NAMES = (*HOSTILE_NAMES, PHISH, '<a href="https://evil.example/">x</a>', "www.evil.example")
URL_VALUES = (
    PHISH,
    '<a href="https://evil.example/">x</a><img src=https://evil.example/t.png>',
    "https://evil.example/l",
    "\u202e[x](http://evil.example)",
)
# Every parameter a page reads from the URL (filters, range, paging, the agent to open).
URL_PARAMS = (
    "status",
    "type",
    "vendor",
    "source",
    "tier",
    "owner",
    "q",
    "trust_min",
    "trust_max",
    "sort",
    "desc",
    "size",
    "range",
    "start",
    "end",
    "refresh",
    "agent",
)
PAGES = (
    "pages/service_health.py",
    "pages/trust_kpis.py",
    "pages/agent_registry.py",
    "pages/review_queue.py",
    "pages/audit.py",
    "pages/drill.py",
)
MARKDOWN_TYPES = {"markdown", "title", "header", "subheader", "error", "warning", "info", "success"}
FOREIGN = [
    re.compile(r"(?<!\\)\]\s*\("),  # [text](url): a link or an image
    re.compile(r"(?<!\\)!\s*\["),  # ![alt]
    re.compile(r"(?<!\\)<\s*(a|img|iframe|script)\b", re.IGNORECASE),
    re.compile(r"(https?|javascript|ftp):(?!\u200b)", re.IGNORECASE),  # autolinked scheme
    re.compile(r"www\.(?!\u200b)", re.IGNORECASE),  # autolinked www.x.y
]


def _nodes(node: Any) -> Iterator[Any]:
    yield node
    for index in sorted(getattr(node, "children", None) or {}):
        yield from _nodes(node.children[index])


def markdown_texts(at: AppTest) -> list[str]:
    """Every string of the run that Streamlit renders as Markdown."""
    out: list[str] = []
    for root in (at.main, at.sidebar):
        for node in _nodes(root):
            kind = getattr(node, "type", "")
            if kind in MARKDOWN_TYPES:
                out.append(str(node.value))
            proto = getattr(node, "proto", None)
            for field in ("label", "help", "placeholder"):
                value = getattr(proto, field, None)
                if isinstance(value, str) and value:
                    out.append(value)
    return out


def assert_no_foreign_markup(at: AppTest) -> None:
    assert not at.exception, at.exception
    texts = markdown_texts(at)
    assert texts, "nothing was read back: the walk over the page is broken"
    for shown in texts:
        for pattern in FOREIGN:
            assert not pattern.search(shown), (pattern.pattern, shown)


@pytest.fixture()
def hostile_agents(seeded_engine: Engine, redis_url: str) -> Iterator[list[int]]:
    """Quarantined, never reviewed agents (the review queue) named with every hostile name."""
    ids: list[int] = []
    with seeded_engine.begin() as conn:
        for name in NAMES:
            ids.append(
                int(
                    conn.execute(
                        text(
                            """INSERT INTO agents (external_id, discovery_source, name, type,
                                   vendor, owner, discovered_at, status, quarantine_reason)
                               VALUES (:ext, 'mcp', :name, 'chatbot', 'openai', :name,
                                   :disc, 'quarantined', :name)
                               RETURNING id"""
                        ),
                        {
                            "ext": f"hostile-{secrets.token_hex(6)}",
                            "name": name,
                            "disc": datetime(1999, 1, 1, tzinfo=UTC),
                        },
                    ).scalar_one()
                )
            )
    yield ids
    with seeded_engine.begin() as conn:
        conn.execute(text("DELETE FROM agents WHERE id = ANY(:ids)"), {"ids": ids})
    client = redis.Redis.from_url(redis_url)
    try:
        for name in client.scan_iter(match=key("cache", "ui", "*")):
            client.delete(name)
    finally:
        client.close()


def test_the_check_sees_a_foreign_link() -> None:
    """The patterns catch what they must (else the tests below could not fail)."""
    for bad in (PHISH, "<a href=x>", "see https://evil.example", "www.evil.example", "![i]"):
        assert any(p.search(bad) for p in FOREIGN), bad
    from dashboard.ui.markup import plain

    for name in (*NAMES, *URL_VALUES):
        assert not any(p.search(plain(name)) for p in FOREIGN), name


@pytest.mark.parametrize("value", URL_VALUES)
@pytest.mark.parametrize("page", PAGES)
def test_hostile_url_values_show_no_foreign_link(
    app_env: None, hostile_agents: list[int], page: str, value: str
) -> None:
    at = new_app()
    at.switch_page(page)
    for name in URL_PARAMS:
        at.query_params[name] = value
    at.run()
    assert_no_foreign_markup(at)


def test_hostile_names_in_review_previews_and_agent_details(
    app_env: None, hostile_agents: list[int]
) -> None:
    at = new_app()
    at.switch_page("pages/review_queue.py").run()
    assert_no_foreign_markup(at)
    at.multiselect(key="review_queue.selected").set_value(hostile_agents[:10])
    at.button(key="review_queue.preview").click().run()
    assert any("Approve" in w.value for w in at.warning), [w.value for w in at.warning]
    assert_no_foreign_markup(at)
    for agent_id in hostile_agents:
        detail = new_app()
        detail.switch_page("pages/agent_registry.py")
        detail.query_params["agent"] = str(agent_id)
        detail.run()
        assert_no_foreign_markup(detail)
        detail.text_area(key="agent_detail.reason").input(PHISH)
        detail.button(key="agent_detail.preview").click().run()
        assert any("reason" in w.value for w in detail.warning)
        assert_no_foreign_markup(detail)


def test_hostile_names_in_registry_filters(app_env: None, hostile_agents: list[int]) -> None:
    """The name search and owner filter typed with hostile text, then the bulk preview."""
    at = new_app()
    at.switch_page("pages/agent_registry.py").run()
    at.text_input(key="agent_registry.q").input(PHISH)
    at.text_input(key="agent_registry.owner").input(PHISH)
    at.button[0].click().run()  # "Apply filters"
    assert_no_foreign_markup(at)
    at.session_state["agent_registry.bulk.open"] = True  # open the bulk control's expander
    at.run()
    at.text_area(key="agent_registry.bulk.reason").input(PHISH)
    at.button(key="agent_registry.bulk.preview").click().run()
    assert_no_foreign_markup(at)
