"""Totals kept by triggers: agents per dimension value with the trust sum per status, and
data sources per integration source with their last successes' sum.

Migration 0015's statement-level triggers on ``agents`` and ``data_sources`` append each
statement's net change to ``agent_total_deltas`` / ``data_source_total_deltas``; these
functions sum them (a few rows per value), fold them into one row per value (the worker, now
and then) and rebuild them from the tables (migration, seed). Exact: the same numbers as a
GROUP BY over every row, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

#: The dimensions the triggers count (dashboard.data.agents.DIMENSIONS' columns).
DIMENSIONS = ("status", "type", "vendor", "discovery_source", "compliance_tier")


@dataclass(frozen=True)
class Total:
    """Agents with one value of a dimension; for ``status`` also their trust scores' sum and
    how many have one (``trust_n``)."""

    value: str | None
    agents: int
    trust_sum: float
    trust_n: int


def read_totals(conn: Connection, *, dimension: str) -> list[Total]:
    """Every value of ``dimension`` with at least one agent, most agents first, then value."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"agent totals are kept for {', '.join(DIMENSIONS)}, not {dimension!r}")
    rows = conn.execute(
        text("""SELECT value, sum(agents) AS agents, sum(trust_sum) AS trust_sum,
                       sum(trust_n) AS trust_n
                FROM agent_total_deltas WHERE dimension = :d
                GROUP BY value HAVING sum(agents) <> 0
                ORDER BY sum(agents) DESC, value NULLS LAST"""),
        {"d": dimension},
    )
    return [
        Total(
            None if r.value is None else str(r.value),
            int(r.agents),
            float(r.trust_sum),
            int(r.trust_n),
        )
        for r in rows
    ]


@dataclass(frozen=True)
class SourceTotal:
    """Data sources of one integration source, those that ever succeeded, and the sum of
    their last successes in epoch seconds (so their mean lag at t is t - sum / succeeded)."""

    source: str
    sources: int
    succeeded: int
    success_epoch_sum: float


def read_source_totals(conn: Connection) -> list[SourceTotal]:
    """Every integration source with at least one data source, by name."""
    rows = conn.execute(
        text("""SELECT source, sum(sources) AS sources, sum(succeeded) AS succeeded,
                       sum(success_epoch_sum) AS success_epoch_sum
                FROM data_source_total_deltas
                GROUP BY source HAVING sum(sources) <> 0 ORDER BY source""")
    )
    return [
        SourceTotal(str(r.source), int(r.sources), int(r.succeeded), float(r.success_epoch_sum))
        for r in rows
    ]


def compact_totals(conn: Connection) -> int:
    """Fold every delta row into one per dimension and value (agents) and per source (data
    sources); how many rows it removed.

    One statement each: rows appended meanwhile by other transactions are not in its snapshot
    and stay as they are, so nothing is counted twice or lost.
    """
    removed_sources = conn.execute(
        text("""WITH moved AS (DELETE FROM data_source_total_deltas RETURNING *),
                     folded AS (
                         INSERT INTO data_source_total_deltas (source, sources, succeeded,
                                                               success_epoch_sum)
                         SELECT source, sum(sources), sum(succeeded), sum(success_epoch_sum)
                         FROM moved GROUP BY source
                         HAVING sum(sources) <> 0 OR sum(succeeded) <> 0
                             OR sum(success_epoch_sum) <> 0
                         RETURNING 1)
                SELECT (SELECT count(*) FROM moved) - (SELECT count(*) FROM folded)""")
    ).scalar_one()
    removed = conn.execute(
        text("""WITH moved AS (DELETE FROM agent_total_deltas RETURNING *),
                     folded AS (
                         INSERT INTO agent_total_deltas (dimension, value, agents, trust_sum,
                                                         trust_n)
                         SELECT dimension, value, sum(agents), sum(trust_sum), sum(trust_n)
                         FROM moved GROUP BY dimension, value
                         HAVING sum(agents) <> 0 OR sum(trust_sum) <> 0 OR sum(trust_n) <> 0
                         RETURNING 1)
                SELECT (SELECT count(*) FROM moved) - (SELECT count(*) FROM folded)""")
    ).scalar_one()
    return int(removed) + int(removed_sources)


def rebuild_totals(conn: Connection) -> None:
    """Recount from the agents and data sources themselves (migration, after a bulk load)."""
    conn.execute(text("DELETE FROM data_source_total_deltas"))
    conn.execute(
        text("""INSERT INTO data_source_total_deltas (source, sources, succeeded,
                                                      success_epoch_sum)
                SELECT source, count(*), count(last_success_at),
                       coalesce(sum(extract(epoch FROM last_success_at)), 0)
                FROM data_sources GROUP BY source""")
    )
    conn.execute(text("DELETE FROM agent_total_deltas"))
    parts = [
        f"SELECT '{dim}' AS dimension, {dim}::text AS value, count(*) AS agents, "  # noqa: S608
        + (
            "coalesce(sum(trust_score::numeric), 0) AS trust_sum, count(trust_score) AS trust_n"
            if dim == "status"
            else "0::numeric AS trust_sum, 0::bigint AS trust_n"
        )
        + f" FROM agents GROUP BY {dim}"
        for dim in DIMENSIONS
    ]
    conn.execute(
        text(
            "INSERT INTO agent_total_deltas (dimension, value, agents, trust_sum, trust_n) "
            + " UNION ALL ".join(parts)
        )
    )
