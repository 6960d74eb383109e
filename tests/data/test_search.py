"""Registry search: keyset pages, cursors, hostile input and index use, on the seeded data."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Connection, Engine, event, text

from dashboard.data import agents, keyset
from dashboard.data.agent_filter import AgentFilter
from dashboard.data.errors import InvalidQuery

AF = AgentFilter


@pytest.fixture()
def conn(seeded_engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that is rolled back: tests may change agents freely."""
    with seeded_engine.connect() as c:
        outer = c.begin()
        yield c
        outer.rollback()


@pytest.fixture()
def tx(conn: Connection) -> Connection:
    return conn


def walk(conn: Connection, filters: AgentFilter, sort: str, desc: bool, size: int) -> list[int]:
    seen: list[int] = []
    cursor = None
    for _ in range(1000):
        page = agents.search_agents(
            conn, filters=filters, sort=sort, descending=desc, cursor=cursor, page_size=size
        )
        assert len(page.rows) <= size
        seen += page.rows["id"].tolist()
        cursor = page.next_cursor
        if cursor is None:
            return seen
        assert len(page.rows) == size  # only the last page is short
    raise AssertionError("pagination did not end")


def expected(conn: Connection, where: str, sort: str, desc: bool, **params: Any) -> list[int]:
    """The order the contract promises, computed in pandas: non-null values by (value, id)
    in the direction asked, then the NULL ones by id in the same direction."""
    df = pd.DataFrame(
        conn.execute(text(f"SELECT id, {sort} AS v FROM agents WHERE {where}"), params).all(),
        columns=["id", "v"],
    )
    nonnull = df[df["v"].notna()].sort_values(["v", "id"], ascending=not desc)
    nulls = df[df["v"].isna()].sort_values("id", ascending=not desc)
    return [int(i) for i in [*nonnull["id"], *nulls["id"]]]


@pytest.mark.parametrize(
    ("filters", "where"),
    [
        (AF(statuses=("active", "suspended")), "status IN ('active', 'suspended')"),
        (
            AF(vendors=("openai",), trust_min=40, trust_max=90),
            "vendor = 'openai' AND trust_score BETWEEN 40 AND 90",
        ),
        (
            AF(types=("pipeline", "service"), tiers=("high", "critical")),
            "type IN ('pipeline','service') AND compliance_tier IN ('high','critical')",
        ),
        (AF(sources=("mcp",), owner="A"), "discovery_source = 'mcp' AND lower(owner) LIKE 'a%'"),
    ],
)
@pytest.mark.parametrize("sort", ["trust_score", "last_seen_at", "vendor", "owner", "status"])
@pytest.mark.parametrize("desc", [False, True])
def test_walk_with_filters_and_nulls(
    tx: Connection, filters: AgentFilter, where: str, sort: str, desc: bool
) -> None:
    # Some NULLs in both nullable sort columns, so pages cross from values into NULLs.
    tx.execute(text("UPDATE agents SET trust_score = NULL WHERE id % 7 = 0"))
    tx.execute(text("UPDATE agents SET last_seen_at = NULL WHERE id % 5 = 0"))
    truth = expected(tx, where, sort, desc)
    assert truth, "the filter should match some agents"
    got = walk(tx, filters, sort, desc, size=13)
    assert got == truth
    assert agents.count_agents(tx, filters=filters) == len(truth)


def test_page_boundaries_land_inside_ties(tx: Connection) -> None:
    # Many equal values: the id tie-breaker alone separates the pages.
    tx.execute(text("UPDATE agents SET trust_score = 50 WHERE id % 2 = 0"))
    for desc in (False, True):
        assert walk(tx, AF(), "trust_score", desc, size=7) == expected(
            tx, "true", "trust_score", desc
        )


def test_page_one_rows_and_estimate(tx: Connection) -> None:
    page = agents.search_agents(tx, filters=AF(statuses=("active",)), sort="name", page_size=10)
    assert list(page.rows.columns) == agents.SEARCH_COLUMNS
    assert len(page.rows) == 10 and page.next_cursor
    active = tx.execute(text("SELECT count(*) FROM agents WHERE status = 'active'")).scalar_one()
    assert page.total_estimate == active  # exact below ESTIMATE_EXACT_UP_TO, on every page
    nxt = agents.search_agents(
        tx, filters=AF(statuses=("active",)), sort="name", cursor=page.next_cursor, page_size=10
    )
    assert nxt.total_estimate == active
    # The session is still usable after the EXPLAIN (it runs in a savepoint).
    assert tx.execute(text("SELECT 1")).scalar_one() == 1
    with pytest.raises(InvalidQuery, match="page size"):
        agents.search_agents(tx, filters=AF(), page_size=1001)
    assert len(agents.search_agents(tx, filters=AF(), page_size=1000).rows) == 400


def test_search_words_ids_and_external_ids(tx: Connection) -> None:
    tx.execute(
        text(
            "INSERT INTO agents (external_id, discovery_source, name, type, vendor, owner, "
            "discovered_at) VALUES ('ZX-9', 'manual', 'Invoice-Reconciler helper_bot', "
            "'service', 'custom', 'Zed.Upper@Example.com', now()) RETURNING id"
        )
    )
    new_id = tx.execute(text("SELECT id FROM agents WHERE external_id = 'ZX-9'")).scalar_one()

    def ids(**kw: Any) -> list[int]:
        return agents.search_agents(tx, filters=AF(**kw), page_size=1000).rows["id"].tolist()

    assert new_id in ids(name_query="invoice reconc")  # word prefixes, any case
    assert new_id in ids(name_query="RECONCILER, invoice!")  # punctuation separates words
    assert new_id in ids(name_query="helper bot")  # underscore separates words too
    assert new_id not in ids(name_query="invoice zebra")  # every word must match
    assert ids(name_query="ZX-9") == [new_id]  # exact external id
    assert ids(name_query=str(new_id)) == [new_id]  # exact id
    assert new_id in ids(owner="zed.UP")  # owner: case-insensitive prefix
    assert new_id not in ids(owner="upper")  # a prefix, not a substring
    one_ext = tx.execute(text("SELECT id, external_id FROM agents WHERE id = 5")).one()
    assert ids(name_query=one_ext.external_id) == [5]
    # LIKE wildcards are literals: no owner starts with % or _.
    assert agents.count_agents(tx, filters=AF(owner="%")) == 0
    assert agents.count_agents(tx, filters=AF(owner="_")) == 0
    with pytest.raises(InvalidQuery, match="letter or digit"):
        agents.search_agents(tx, filters=AF(name_query="!!! ---"))


def test_hostile_values_are_bound_not_run(tx: Connection) -> None:
    hostile = "'; DROP TABLE agents; --"
    for f in (AF(name_query=hostile), AF(owner=hostile), AF(name_query="a:* | !b & (c")):
        page = agents.search_agents(tx, filters=f)
        assert agents.count_agents(tx, filters=f) == len(page.rows)
    assert tx.execute(text("SELECT count(*) FROM agents")).scalar_one() == 400
    with pytest.raises(InvalidQuery, match="unknown status"):
        AF.from_query_params({"status": hostile})
    with pytest.raises(InvalidQuery, match="cannot sort"):
        agents.search_agents(tx, filters=AF(), sort=hostile)
    with pytest.raises(InvalidQuery, match="cannot group"):
        agents.count_agents_by(tx, dimension=hostile)
    with pytest.raises(InvalidQuery, match="NUL"):
        AF(owner="a\x00b")


def _forge(payload: dict[str, Any]) -> str:
    """A cursor with a valid MAC over any payload: what a key holder could make."""
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(body).decode().rstrip("=") + "." + keyset._mac(body)


def test_cursors_are_checked(tx: Connection) -> None:
    f = AF(statuses=("active",))
    page = agents.search_agents(tx, filters=f, sort="trust_score", page_size=5)
    cursor = page.next_cursor
    assert cursor is not None
    body, mac = cursor.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))

    def rejected(c: str, **kw: Any) -> None:
        args: dict[str, Any] = {"filters": f, "sort": "trust_score", "cursor": c, **kw}
        with pytest.raises(InvalidQuery, match="page link"):
            agents.search_agents(tx, **args)

    # Edited payload with the old MAC, a MAC changed by one character, junk.
    edited = (
        base64.urlsafe_b64encode(
            json.dumps({**payload, "i": 1}, separators=(",", ":"), sort_keys=True).encode()
        )
        .decode()
        .rstrip("=")
    )
    rejected(f"{edited}.{mac}")
    rejected(f"{body}.{mac[:-1]}{'0' if mac[-1] != '0' else '1'}")
    for junk in ("", "x", "a.b.c", "%%%.zz", "." * 5, cursor + "x" * 3000):
        if junk:
            rejected(junk)
    # Valid MACs but another sort, direction, filter set or wrong types.
    rejected(cursor, sort="name")
    rejected(cursor, descending=True)
    rejected(cursor, filters=AF(statuses=("quarantined",)))
    for bad in (
        {"v": "fifty"},
        {"v": True},
        {"v": None},
        {"i": True},
        {"i": 2**70},
        {"i": -1},
        {"n": 1},
        {"k": 99},
        {"c": "audit"},
        {"extra": 1},
    ):
        rejected(_forge({**payload, **bad}))
    by_discovery = {"sort": "discovered_at", "desc": False, "filters": f.to_query_params()}
    moved = {**payload, "f": keyset.fingerprint("agents.search", by_discovery)}
    naive = _forge({**moved, "v": "2026-01-01T00:00:00"})
    rejected(naive, sort="discovered_at")
    aware = _forge({**moved, "v": "2026-01-01T00:00:00+00:00"})
    assert agents.search_agents(tx, filters=f, sort="discovered_at", cursor=aware, page_size=5)
    # The genuine cursor still works and continues after the first page.
    nxt = agents.search_agents(tx, filters=f, sort="trust_score", cursor=cursor, page_size=5)
    assert set(nxt.rows["id"]).isdisjoint(set(page.rows["id"]))


def test_filter_query_params_round_trip() -> None:
    f = AF(
        statuses=("active", "quarantined"),
        vendors=("openai",),
        owner="ana.",
        name_query="invoice bot",
        trust_min=33.333333333,
        trust_max=90,
    )
    params = f.to_query_params()
    assert all(isinstance(v, str) for v in params.values())
    assert AF.from_query_params(params) == f
    multi = AF.from_query_params({"status": ["active", "suspended"], "q": ["old", "new"]})
    assert multi.statuses == ("active", "suspended") and multi.name_query == "new"
    assert AF.from_query_params({"range": "24h", "sort": "name"}) == AF()
    for bad, match in (
        ({"trust_min": "nan"}, "number"),
        ({"trust_max": "101"}, "number"),
        ({"tier": "platinum"}, "unknown compliance tier"),
        ({"q": "x" * 201}, "200 characters"),
    ):
        with pytest.raises(InvalidQuery, match=match):
            AF.from_query_params(bad)


def _captured_sql(engine_or_conn: Connection, run: Any) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def grab(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT ID"):
            seen.append((statement, parameters))

    event.listen(engine_or_conn, "before_cursor_execute", grab)
    try:
        run()
    finally:
        event.remove(engine_or_conn, "before_cursor_execute", grab)
    return seen


@pytest.mark.parametrize(
    "sort", ["name", "trust_score", "discovered_at", "last_seen_at", "owner", "status", "vendor"]
)
@pytest.mark.parametrize("desc", [False, True])
def test_deep_pages_seek_an_index(conn: Connection, sort: str, desc: bool) -> None:
    """The page query of every sort can be answered by walking its (column, id) index from the
    cursor: with sequential scans and sorts priced out, the plan has neither."""
    s = conn  # the connection under test
    first = agents.search_agents(s, filters=AF(), sort=sort, descending=desc, page_size=150)
    assert first.next_cursor
    statements = _captured_sql(
        conn,
        lambda: agents.search_agents(
            s, filters=AF(), sort=sort, descending=desc, cursor=first.next_cursor, page_size=50
        ),
    )
    statement, parameters = statements[0]
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    conn.exec_driver_sql("SET LOCAL enable_sort = off")
    conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
    plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
    assert "Index" in plan, plan
    assert "Sort" not in plan and "Seq Scan" not in plan, plan
