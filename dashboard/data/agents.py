"""The agent registry: totals, discovery, quarantine, keyset-paged search, one agent's detail."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from dashboard.data import totals
from dashboard.data.agent_filter import AgentFilter
from dashboard.data.cache import register
from dashboard.data.errors import InvalidQuery
from dashboard.data.keyset import BAD_CURSOR, Field, decode_cursor, encode_cursor
from dashboard.data.sql import BIN_ORIGIN, check_range, frame
from dashboard.domain.enums import (
    DiscoverySource,
    values,
)

DIMENSIONS = {
    "status": "status",
    "type": "type",
    "vendor": "vendor",
    "discovery_source": "discovery_source",
    "compliance_tier": "compliance_tier",
}
# sort key -> (column, nullable). Each has a (column, id) index, so every page is an index seek.
# owner's index is text_pattern_ops, so owner pages order and seek with the pattern operators
# ~<~ / ~>~ (byte order): the only ordering that index provides.
SORTS: dict[str, tuple[str, bool]] = {
    "name": ("name", False),
    "trust_score": ("trust_score", True),
    "discovered_at": ("discovered_at", False),
    "last_seen_at": ("last_seen_at", True),
    "status": ("status", False),
    "type": ("type", False),
    "vendor": ("vendor", False),
    "owner": ("owner", False),
}
MAX_PAGE = 1000
# Up to this many matches the page's total is counted exactly; beyond, it is the planner's.
ESTIMATE_EXACT_UP_TO = 10_000
SEARCH_COLUMNS = [
    "id",
    "name",
    "type",
    "vendor",
    "model",
    "status",
    "compliance_tier",
    "owner",
    "discovery_source",
    "trust_score",
    "discovered_at",
    "last_seen_at",
]
_PATTERN_OPS = frozenset({"owner"})
# Letters and digits only: what the 'simple' parser makes lexemes of; punctuation separates.
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_WORDS = 8
_ALL_SOURCES = list(values(DiscoverySource))


def count_agents_by(conn: Connection, *, dimension: str) -> pd.DataFrame:
    """Agents per value of one dimension (status, type, vendor, source, tier), most first."""
    column = DIMENSIONS.get(dimension)
    if column is None:
        raise InvalidQuery(
            f"cannot group agents by {dimension[:40]!r}; use one of {', '.join(DIMENSIONS)}"
        )
    # Trigger-kept totals (migration 0015): exact, and a few rows instead of every agent.
    kept = totals.read_totals(conn, dimension=column)
    return pd.DataFrame(
        {
            "value": pd.Series([t.value for t in kept], dtype="object"),
            "agents": pd.Series([t.agents for t in kept], dtype="int64"),
        }
    )


def list_discovery_rate(
    conn: Connection, *, start: datetime, end: datetime, bucket: timedelta
) -> pd.DataFrame:
    """Agents first discovered per bucket and source (ts, source, agents)."""
    check_range(start, end, bucket)
    df = frame(
        conn,
        """SELECT date_bin(CAST(:bucket AS interval), discovered_at, CAST(:origin AS timestamptz))
                  AS ts, discovery_source AS source, count(*) AS agents
           FROM agents WHERE discovered_at >= :start AND discovered_at < :end
           GROUP BY 1, 2 ORDER BY 1, 2""",
        {"start": start, "end": end, "bucket": bucket, "origin": BIN_ORIGIN},
    )
    df["agents"] = df["agents"].astype(int)
    return df


def list_quarantined_agents(conn: Connection, *, limit: int = 100) -> pd.DataFrame:
    """Quarantined agents, most recently quarantined first."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidQuery(f"limit must be between 1 and {MAX_PAGE}")
    return frame(
        conn,
        """SELECT id, name, type, vendor, owner, discovery_source, quarantined_at,
                  quarantine_reason, trust_score, reviewed_at
           FROM agents WHERE status = 'quarantined'
           ORDER BY quarantined_at DESC NULLS LAST, id DESC LIMIT :limit""",
        {"limit": limit},
    )


def _tsquery(text_query: str) -> str | None:
    """'invoice bo' -> 'invoice:* & bo:*': every word must start a word of the name.

    Only runs of letters and digits reach to_tsquery, so no tsquery operator or quote typed by
    the user can change the query's meaning; the string is still passed as a bound parameter.
    """
    words = [w[:64] for w in _WORD.findall(text_query.lower())][:MAX_WORDS]
    return " & ".join(f"{w}:*" for w in words) if words else None


def _where(filters: AgentFilter, params: dict[str, Any]) -> list[str]:
    clauses: list[str] = []
    for attr, column in (
        ("statuses", "status"),
        ("types", "type"),
        ("vendors", "vendor"),
        ("sources", "discovery_source"),
        ("tiers", "compliance_tier"),
    ):
        chosen = getattr(filters, attr)
        if chosen:
            params[attr] = list(chosen)
            clauses.append(f"{column} = ANY(:{attr})")
    if filters.owner:
        # Case-insensitive prefix; LIKE wildcards typed by the user are escaped to literals.
        escaped = (
            filters.owner.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        )
        params["owner_prefix"] = escaped + "%"
        clauses.append("lower(owner) LIKE :owner_prefix")
    if filters.name_query:
        q = filters.name_query
        tsq = _tsquery(q)
        if tsq is None:
            raise InvalidQuery("the search needs at least one letter or digit")
        # Any of: every word prefixes a word of the name (GIN on name_tsv), the exact external
        # id (the unique (discovery_source, external_id) index, probed once per source), or
        # the exact numeric id (primary key). The planner ORs the three index scans.
        params["tsq"] = tsq
        params["external_id"] = q
        params["all_sources"] = _ALL_SOURCES
        alternatives = [
            "name_tsv @@ to_tsquery('simple', :tsq)",
            "(discovery_source = ANY(:all_sources) AND external_id = :external_id)",
        ]
        if q.isdigit() and 0 < int(q) < 2**63:
            params["agent_id"] = int(q)
            alternatives.append("id = :agent_id")
        clauses.append("(" + " OR ".join(alternatives) + ")")
    if filters.trust_min is not None:
        params["trust_min"] = filters.trust_min
        clauses.append("trust_score >= :trust_min")
    if filters.trust_max is not None:
        params["trust_max"] = filters.trust_max
        clauses.append("trust_score <= :trust_max")
    return clauses


def count_agents(conn: Connection, *, filters: AgentFilter) -> int:
    """Exact number of agents matching ``filters`` (what a bulk action would touch)."""
    params: dict[str, Any] = {}
    where = _where(filters, params)
    sql = "SELECT count(*) FROM agents" + (" WHERE " + " AND ".join(where) if where else "")
    return int(conn.execute(text(sql), params).scalar_one())


@register
@dataclass(frozen=True)
class AgentPage:
    """One page of the registry.

    rows: at most page_size agents (columns SEARCH_COLUMNS); next_cursor: None on the last page;
    total_estimate: matching agents, exact up to ESTIMATE_EXACT_UP_TO, else the planner's
    estimate (show it as "about"), None if it could not be had.
    """

    rows: pd.DataFrame
    next_cursor: str | None
    total_estimate: int | None = None
    sort: str = "name"
    descending: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


_SEARCH_SCOPE = "agents.search"
_SORT_FIELDS = {
    "trust_score": Field.FLOAT,
    "discovered_at": Field.DATETIME,
    "last_seen_at": Field.DATETIME,
}


def _search_binding(filters: AgentFilter, sort: str, descending: bool) -> dict[str, Any]:
    """What a registry cursor is bound to: the sort, its direction and the filters."""
    return {"sort": sort, "desc": descending, "filters": filters.to_query_params()}


def _search_cursor(
    filters: AgentFilter, sort: str, descending: bool, *, last_id: int, value: Any
) -> str:
    return encode_cursor(
        scope=_SEARCH_SCOPE,
        binding=_search_binding(filters, sort, descending),
        position={"i": last_id, "n": value is None, "v": value},
    )


def _search_position(
    cursor: str, filters: AgentFilter, sort: str, descending: bool
) -> dict[str, Any]:
    """The (id, is-null, value) a registry cursor names, of the sort column's type."""
    column, nullable = SORTS[sort]
    position = decode_cursor(
        cursor,
        scope=_SEARCH_SCOPE,
        binding=_search_binding(filters, sort, descending),
        fields={"i": Field.ID, "n": Field.BOOL, "v": _SORT_FIELDS.get(column, Field.TEXT)},
        nullable=frozenset({"v"}),
    )
    if position["n"] != (position["v"] is None) or (position["n"] and not nullable):
        raise InvalidQuery(BAD_CURSOR)
    return position


def _seek(column: str, descending: bool) -> str:
    """The keyset predicate "after (:cv, :ci)" in the sort's order, shaped to seek its index."""
    if column in _PATTERN_OPS:
        # Pattern operators: a range bound the text_pattern_ops index can start from, then the
        # tie on equal values broken by id.
        if descending:
            return f"{column} ~<=~ :cv AND ({column} ~<~ :cv OR id < :ci)"
        return f"{column} ~>=~ :cv AND ({column} ~>~ :cv OR id > :ci)"
    return f"({column}, id) {'<' if descending else '>'} (:cv, :ci)"


def _order(column: str, descending: bool) -> str:
    if column in _PATTERN_OPS:
        return f"{column} USING {'~>~' if descending else '~<~'}, id {'DESC' if descending else ''}"
    direction = "DESC" if descending else "ASC"
    return f"{column} {direction}, id {direction}"


def search_agents(
    conn: Connection,
    *,
    filters: AgentFilter,
    sort: str = "name",
    descending: bool = False,
    cursor: str | None = None,
    page_size: int = 50,
) -> AgentPage:
    """One keyset page of matching agents ordered by (sort column, id); no OFFSET, ever.

    Rows with a NULL sort value (no trust score yet, never seen) come after all others in both
    directions: the first query seeks the non-null rows through the (column, id) index, and
    once they run out a second one walks the NULL rows by id (primary key). Page 10,000 costs
    what page 1 costs. When the filters match fewer than ESTIMATE_EXACT_UP_TO agents, the
    matches are collected through the filters' indexes and ordered in memory instead. The
    cursor is opaque, MAC-checked and bound to the sort, direction and filters; a tampered or
    foreign one raises InvalidQuery. owner sorts in byte order (its index's operator class).
    Columns of ``rows``: id, name, type, vendor, model, status, compliance_tier, owner,
    discovery_source, trust_score, discovered_at, last_seen_at.
    """
    if sort not in SORTS:
        raise InvalidQuery(f"cannot sort by {sort[:40]!r}; use one of {', '.join(SORTS)}")
    if not isinstance(descending, bool):
        raise InvalidQuery("descending must be true or false")
    if (
        isinstance(page_size, bool)
        or not isinstance(page_size, int)
        or not 1 <= page_size <= MAX_PAGE
    ):
        raise InvalidQuery(f"page size must be between 1 and {MAX_PAGE}")
    column, nullable = SORTS[sort]
    state = _search_position(cursor, filters, sort, descending) if cursor else None
    params: dict[str, Any] = {}
    base = _where(filters, params)
    total = _estimate(conn, base, params)
    cols = ", ".join(SEARCH_COLUMNS)
    if base and total is not None and total < ESTIMATE_EXACT_UP_TO:
        # Few matches (a name search, a rare owner): collect them through the filters' own
        # indexes, then order and seek in memory; at most ESTIMATE_EXACT_UP_TO rows. Walking
        # the sort index instead could read most of the table before finding a page of them.
        select = (
            f"WITH m AS MATERIALIZED (SELECT {cols} FROM agents WHERE {' AND '.join(base)}) "
            f"SELECT {cols} FROM m"
        )
        base = []
    else:
        # Many matches (or none asked for): walk the sort column's index, filtering as it goes.
        select = f"SELECT {cols} FROM agents"
    rows: list[Any] = []
    in_nulls = bool(state and state["n"])
    if not in_nulls:
        where = [*base]
        if nullable:
            where.append(f"{column} IS NOT NULL")
        page_params = {**params, "limit": page_size + 1}
        if state:
            page_params["cv"], page_params["ci"] = state["v"], state["i"]
            where.append(_seek(column, descending))
        sql = (
            select
            + (" WHERE " + " AND ".join(where) if where else "")
            + f" ORDER BY {_order(column, descending)} LIMIT :limit"
        )
        rows = list(conn.execute(text(sql), page_params).mappings())
    if nullable and len(rows) <= page_size:
        where = [*base, f"{column} IS NULL"]
        null_params = {**params, "limit": page_size + 1 - len(rows)}
        if in_nulls and state:
            null_params["ci"] = state["i"]
            where.append(f"id {'<' if descending else '>'} :ci")
        order = "DESC" if descending else "ASC"
        sql = select + " WHERE " + " AND ".join(where) + f" ORDER BY id {order} LIMIT :limit"
        rows += list(conn.execute(text(sql), null_params).mappings())
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    next_cursor = None
    if has_more and rows:
        last = rows[-1]
        next_cursor = _search_cursor(
            filters, sort, descending, last_id=int(last["id"]), value=last[column]
        )
    df = pd.DataFrame([dict(r) for r in rows], columns=SEARCH_COLUMNS)
    for col in ("discovered_at", "last_seen_at"):
        df[col] = pd.to_datetime(df[col], utc=True)
    df["trust_score"] = df["trust_score"].astype(float)
    df["id"] = df["id"].astype("int64")
    return AgentPage(
        rows=df,
        next_cursor=next_cursor,
        total_estimate=total,
        sort=sort,
        descending=descending,
    )


def _estimate(conn: Connection, where: list[str], params: dict[str, Any]) -> int | None:
    """How many agents match: exact up to ESTIMATE_EXACT_UP_TO, else the planner's estimate.

    The capped count reads at most that many index entries, so it costs the same on every
    page and at any registry size; beyond it the planner's row estimate (instant, and as good
    as the statistics) is shown as "about". Both run in a savepoint: if either fails the page
    is still served, without an estimate, and the caller's transaction stays usable.
    """
    clause = " WHERE " + " AND ".join(where) if where else ""
    capped = f"SELECT count(*) FROM (SELECT 1 FROM agents{clause} LIMIT :cap) t"
    try:
        with conn.begin_nested():
            exact = int(
                conn.execute(text(capped), {**params, "cap": ESTIMATE_EXACT_UP_TO}).scalar_one()
            )
            if exact < ESTIMATE_EXACT_UP_TO:
                return exact
            plan = conn.execute(
                text(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM agents{clause}"), params
            ).scalar_one()
    except SQLAlchemyError:  # an estimate is a nicety; never fail a page over it
        return None
    data = plan if isinstance(plan, list) else json.loads(plan)
    return max(ESTIMATE_EXACT_UP_TO, int(data[0]["Plan"]["Plan Rows"]))


@register
@dataclass(frozen=True)
class AgentDetail:
    """Everything about one agent. ``agent`` values are raw: names and metadata are untrusted."""

    agent: dict[str, Any]
    status_history: pd.DataFrame
    trust_history: pd.DataFrame
    violations: pd.DataFrame
    data_sources: pd.DataFrame
    drift: pd.DataFrame


def get_agent_detail(
    conn: Connection, *, agent_id: int, now: datetime | None = None
) -> AgentDetail | None:
    if not isinstance(agent_id, int) or not 0 < agent_id < 2**63:
        raise InvalidQuery("an agent id is a positive whole number")
    row = (
        conn.execute(
            text("""SELECT id, external_id, discovery_source, name, type, vendor, model, status,
                       compliance_tier, owner, discovered_at, last_seen_at, trust_score,
                       quarantine_reason, quarantined_by, quarantined_at, reviewed_at,
                       reviewed_by, missing_since, version, metadata, updated_at
                FROM agents WHERE id = :id"""),
            {"id": agent_id},
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    p = {"id": agent_id, "now": now or datetime.now().astimezone()}
    return AgentDetail(
        agent=dict(row),
        status_history=frame(
            conn,
            """SELECT changed_at, from_status, to_status, changed_by, reason
            FROM agent_status_changes WHERE agent_id = :id ORDER BY changed_at DESC, id DESC LIMIT 200""",
            p,
        ),
        trust_history=frame(
            conn,
            """SELECT computed_at, score, reliability, policy_adherence,
            sync_freshness, risk_exposure FROM agent_trust_history WHERE agent_id = :id
            ORDER BY computed_at LIMIT 2000""",
            p,
        ),
        violations=frame(
            conn,
            """SELECT occurred_at, policy_id, severity, action, resolved_at
            FROM policy_violations WHERE agent_id = :id ORDER BY occurred_at DESC LIMIT 500""",
            p,
        ),
        data_sources=frame(
            conn,
            """SELECT name, source, status, last_success_at,
            extract(epoch FROM (CAST(:now AS timestamptz) - last_success_at))::float AS lag_s,
            records_synced FROM data_sources WHERE agent_id = :id ORDER BY name LIMIT 200""",
            p,
        ),
        drift=frame(
            conn,
            """SELECT detected_at, kind, score, resolved_at FROM drift_detections
            WHERE agent_id = :id ORDER BY detected_at DESC LIMIT 200""",
            p,
        ),
    )
