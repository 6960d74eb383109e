"""Per-agent trust rollups (hourly, daily): kept by the worker, read for "whose trust fell most".

A row of ``agent_trust_<grain>`` is one agent's last scoring in the bucket
``(bucket_end - grain, bucket_end]`` (UTC hours / days), its components then, the agent's score
just before the bucket (``prev_score``) and ``change = score - prev_score``. Split a range
``(start, end]`` on bucket edges and the changes of an agent's buckets inside it add up to
``score_after - score_before`` (each change starts where the previous one ended), so:

- an agent's before/after over the range are its first bucket's ``prev_score`` and its last
  bucket's ``score``, the same values the raw history gives (:func:`list_trust_falls`);
- an agent none of whose buckets is among the ``m`` steepest falls of each bucket has a total
  change of at least the sum of those buckets' ``m``-th falls, so the steepest falls per
  bucket (an index range each) bound everything not read, and reading deeper only until the
  bound clears the answer keeps the result exact (the threshold algorithm of Fagin et al.).

The watermark ``rollup_watermarks['agent_trust']`` says up to when the rollups hold the
history; callers use them only for ranges that end by then and fall back to the history.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

import pandas as pd
from sqlalchemy import Connection, text

from dashboard.data.sql import frame

WATERMARK = "agent_trust"
# grain -> (table, the PostgreSQL field for date_trunc, its length).
GRAINS: dict[str, tuple[str, str, timedelta]] = {
    "hourly": ("agent_trust_hourly", "hour", timedelta(hours=1)),
    "daily": ("agent_trust_daily", "day", timedelta(days=1)),
}
_COMPONENTS = "reliability, policy_adherence, sync_freshness, risk_exposure"
_ACTIVE = " AND a.status = 'active'"
# First depth of the per-bucket fall lists, how fast it grows, and where reading them stops
# paying off against one pass over the history (the caller then asks the history).
FIRST_DEPTH = 256
DEPTH_GROWTH = 8
MAX_CANDIDATES = 50_000
# Sums of float changes may differ from after - before in the last bits.
_EPSILON = 1e-9
#: The stored pools (migration 0014): the steepest falls of agents of any status per range.
POOL_SIZE = 200
#: Pools of ranges that ended longer ago than this are deleted (the pages ask the last hour's).
POOL_RETENTION = timedelta(days=2)


def _refresh_sql(grain: str) -> str:
    table, field, _ = GRAINS[grain]
    # Only constants are formatted in; times are bound. A bucket's prev_score is the close of
    # the agent's previous bucket in the window, or for its first one the latest score at or
    # before the window's start (one primary-key probe, only when needed: COALESCE is lazy).
    return f"""
        WITH closes AS (
            SELECT DISTINCT ON (x.agent_id, x.bucket_end) x.agent_id, x.bucket_end,
                   x.computed_at, x.score, {_COMPONENTS}
            FROM (SELECT h.*, date_trunc('{field}', h.computed_at - interval '1 microsecond',
                                         'UTC') + interval '1 {field}' AS bucket_end
                  FROM agent_trust_history h
                  WHERE h.computed_at > :lo AND h.computed_at <= :through) x
            ORDER BY x.agent_id, x.bucket_end, x.computed_at DESC),
        chained AS (
            SELECT c.*, lag(c.score) OVER (PARTITION BY c.agent_id ORDER BY c.bucket_end)
                       AS lag_score
            FROM closes c),
        written AS (
        INSERT INTO {table} AS t (agent_id, bucket_end, last_at, score, {_COMPONENTS},
                                  prev_score, change)
        SELECT c.agent_id, c.bucket_end, c.computed_at, c.score, {_COMPONENTS}, p.prev,
               c.score - p.prev
        FROM chained c
        CROSS JOIN LATERAL (SELECT COALESCE(c.lag_score, (
            SELECT h.score FROM agent_trust_history h
            WHERE h.agent_id = c.agent_id AND h.computed_at <= :lo
            ORDER BY h.computed_at DESC LIMIT 1)) AS prev) p
        ON CONFLICT (agent_id, bucket_end) DO UPDATE SET
            last_at = EXCLUDED.last_at, score = EXCLUDED.score,
            reliability = EXCLUDED.reliability, policy_adherence = EXCLUDED.policy_adherence,
            sync_freshness = EXCLUDED.sync_freshness, risk_exposure = EXCLUDED.risk_exposure,
            prev_score = EXCLUDED.prev_score, change = EXCLUDED.change
        -- Rows already as they are stay untouched: what is written is what changed.
        WHERE (t.last_at, t.score, t.reliability, t.policy_adherence, t.sync_freshness,
               t.risk_exposure, t.prev_score)
              IS DISTINCT FROM (EXCLUDED.last_at, EXCLUDED.score, EXCLUDED.reliability,
                                EXCLUDED.policy_adherence, EXCLUDED.sync_freshness,
                                EXCLUDED.risk_exposure, EXCLUDED.prev_score)
        RETURNING t.bucket_end)
        SELECT count(*) AS n, min(bucket_end) AS lo, max(bucket_end) AS hi
        FROM written"""  # noqa: S608


def _floor(moment: datetime, grain: str) -> datetime:
    moment = moment.astimezone(UTC)
    if grain == "hourly":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def refresh_trust_rollups(
    conn: Connection, *, since: datetime, through: datetime
) -> dict[str, int]:
    """Recompute every bucket holding history in (floor(since), through]; changed rows per
    table (a row already as the history says is left alone). Stored trust-fall pools whose
    range holds a changed bucket are deleted: the worker computes them again.

    Idempotent, like the metric rollups: late scorings for a bucket already rolled up are
    folded in by the next pass whose ``since`` reaches back to them. Moves the watermark to
    ``through`` (never backwards).
    """
    if since.tzinfo is None or through.tzinfo is None:
        raise ValueError("since and through must carry a time zone")
    written: dict[str, int] = {}
    for grain, (table, _, _) in GRAINS.items():
        n, lo, hi = conn.execute(
            text(_refresh_sql(grain)), {"lo": _floor(since, grain), "through": through}
        ).one()
        written[table] = int(n)
        if n:
            # A stored pool whose range holds a changed bucket no longer answers exactly.
            conn.execute(
                text("DELETE FROM trust_fall_pools WHERE start_at < :hi AND end_at >= :lo"),
                {"lo": lo, "hi": hi},
            )
    conn.execute(
        text("""INSERT INTO rollup_watermarks (name, through) VALUES (:n, :t)
                ON CONFLICT (name) DO UPDATE
                SET through = greatest(rollup_watermarks.through, EXCLUDED.through)"""),
        {"n": WATERMARK, "t": through},
    )
    return written


def rebuild_trust_rollups(conn: Connection) -> dict[str, int]:
    """Fill the rollups from the whole history (migration, seed); rows per table."""
    latest = conn.execute(text("SELECT max(computed_at) FROM agent_trust_history")).scalar_one()
    if latest is None:
        return {table: 0 for table, _, _ in GRAINS.values()}
    return refresh_trust_rollups(conn, since=datetime(1970, 1, 2, tzinfo=UTC), through=latest)


def get_watermark(conn: Connection) -> datetime | None:
    """Up to when the trust rollups hold the history (None: never rolled up)."""
    value = conn.execute(
        text("SELECT through FROM rollup_watermarks WHERE name = :n"), {"n": WATERMARK}
    ).scalar_one_or_none()
    return cast(datetime | None, value)


@dataclass(frozen=True)
class Segment:
    """Buckets of one grain whose ends lie in (after, until]."""

    grain: str
    ends: tuple[datetime, ...]


def split_range(start: datetime, end: datetime) -> list[Segment] | None:
    """(start, end] as hourly and daily buckets, or None when an edge is not on the hour."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if start != _floor(start, "hourly") or end != _floor(end, "hourly") or end <= start:
        return None
    hour, day = GRAINS["hourly"][2], GRAINS["daily"][2]

    def ends(grain: str, lo: datetime, hi: datetime, step: timedelta) -> Segment:
        out, t = [], lo + step
        while t <= hi:
            out.append(t)
            t += step
        return Segment(grain, tuple(out))

    first_day = _floor(start, "daily")
    first_day = first_day if first_day == start else first_day + day
    last_day = _floor(end, "daily")
    if first_day >= last_day:
        return [ends("hourly", start, end, hour)]
    return [
        ends("hourly", start, first_day, hour),
        ends("daily", first_day, last_day, day),
        ends("hourly", last_day, end, hour),
    ]


def _steepest(conn: Connection, segment: Segment, depth: int) -> pd.DataFrame:
    table = GRAINS[segment.grain][0]
    return frame(
        conn,
        f"""SELECT b.bucket_end, x.agent_id, x.change
            FROM unnest(CAST(:ends AS timestamptz[])) AS b(bucket_end)
            CROSS JOIN LATERAL (
                SELECT t.agent_id, t.change FROM {table} t
                WHERE t.bucket_end = b.bucket_end AND t.change < 0
                ORDER BY t.change, t.agent_id LIMIT :depth) x""",  # noqa: S608 - constant table
        {"ends": list(segment.ends), "depth": depth},
        columns=["bucket_end", "agent_id", "change"],
    )


def _exact(
    conn: Connection, segments: list[Segment], ids: list[int], limit: int, *, active_only: bool
) -> pd.DataFrame:
    parts: list[str] = []
    params: dict[str, object] = {"ids": ids, "limit": limit}
    for n, seg in enumerate(s for s in segments if s.ends):
        table, _, step = GRAINS[seg.grain]
        params[f"lo{n}"], params[f"hi{n}"] = seg.ends[0] - step, seg.ends[-1]
        # A primary-key range per candidate: the segment's buckets are contiguous.
        parts.append(
            f"SELECT t.agent_id, t.bucket_end, t.score, t.prev_score "  # noqa: S608
            f"FROM unnest(CAST(:ids AS bigint[])) AS i(agent_id) JOIN {table} t "
            f"ON t.agent_id = i.agent_id AND t.bucket_end > :lo{n} AND t.bucket_end <= :hi{n}"
        )
    return frame(
        conn,
        f"""WITH r AS ({" UNION ALL ".join(parts)}),
            firsts AS (SELECT DISTINCT ON (agent_id) agent_id, prev_score FROM r
                       ORDER BY agent_id, bucket_end ASC),
            lasts AS (SELECT DISTINCT ON (agent_id) agent_id, score FROM r
                      ORDER BY agent_id, bucket_end DESC)
            SELECT l.agent_id, a.name, f.prev_score AS score_before, l.score AS score_after,
                   l.score - f.prev_score AS delta
            FROM lasts l
            JOIN firsts f ON f.agent_id = l.agent_id
            JOIN agents a ON a.id = l.agent_id{_ACTIVE if active_only else ""}
            WHERE f.prev_score IS NOT NULL AND l.score < f.prev_score
            ORDER BY delta ASC, l.agent_id LIMIT :limit""",  # noqa: S608 - constant tables
        params,
        columns=["agent_id", "name", "score_before", "score_after", "delta"],
    )


def list_trust_falls(
    conn: Connection, *, start: datetime, end: datetime, limit: int, active_only: bool = True
) -> pd.DataFrame | None:
    """The active agents (every agent with ``active_only=False``) whose latest score in
    (start, end] fell furthest below their latest score at or before start, from the rollups;
    None when they cannot answer exactly (an edge off the hour, a range past the watermark, or
    falls too even to bound cheaply).

    Columns: agent_id, name, score_before, score_after, delta (most negative first, then id).
    """
    segments = split_range(start, end)
    watermark = get_watermark(conn)
    if segments is None or watermark is None or end > watermark:
        return None
    # Each bucket's list is read to its own depth: a bucket whose falls are all read is done,
    # one that may hold more is read DEPTH_GROWTH times deeper in the next round.
    depth = {(seg.grain, e): FIRST_DEPTH for seg in segments for e in seg.ends}
    seen: dict[tuple[str, datetime], pd.DataFrame] = {}
    due = set(depth)
    while sum(depth[k] for k in due) <= MAX_CANDIDATES:
        for seg in segments:
            for d in sorted({depth[(seg.grain, e)] for e in seg.ends if (seg.grain, e) in due}):
                group = tuple(
                    e for e in seg.ends if (seg.grain, e) in due and depth[(seg.grain, e)] == d
                )
                rows = _steepest(conn, Segment(seg.grain, group), d)
                by_end = {_utc(k): g for k, g in rows.groupby("bucket_end")}
                for e in group:
                    seen[(seg.grain, e)] = by_end.get(e, rows.iloc[0:0])
        # Unread falls of a bucket read to its depth are no steeper than its last one read.
        due = {k for k, rows in seen.items() if len(rows) >= depth[k]}
        bound = sum(float(seen[k]["change"].max()) for k in due)
        ids = sorted({int(a) for rows in seen.values() for a in rows["agent_id"]})
        if not ids:
            return frame_empty()
        result = _exact(conn, segments, ids, limit, active_only=active_only)
        if not due or (len(result) == limit and float(result["delta"].iloc[-1]) < bound - _EPSILON):
            return result
        for k in due:
            depth[k] *= DEPTH_GROWTH
    return None


def _utc(value: object) -> datetime:
    return pd.Timestamp(value).to_pydatetime().astimezone(UTC)  # type: ignore[arg-type]


def frame_empty() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "agent_id": pd.Series(dtype="int64"),
            "name": pd.Series(dtype="object"),
            "score_before": pd.Series(dtype="float64"),
            "score_after": pd.Series(dtype="float64"),
            "delta": pd.Series(dtype="float64"),
        }
    )


def store_fall_pool(
    conn: Connection,
    *,
    start: datetime,
    end: datetime,
    falls: pd.DataFrame,
    pool_size: int,
    computed_at: datetime,
) -> None:
    """Keep the steepest ``pool_size`` falls of (start, end] (any status, most negative first:
    the columns of :func:`list_trust_falls`); replaces an earlier pool of the same range."""
    head = falls.head(pool_size)
    rows = [
        [int(a), float(b), float(c), float(d)]
        for a, b, c, d in zip(
            head["agent_id"].tolist(),
            head["score_before"].tolist(),
            head["score_after"].tolist(),
            head["delta"].tolist(),
            strict=True,
        )
    ]
    conn.execute(
        text("""INSERT INTO trust_fall_pools (start_at, end_at, pool_size, computed_at, falls)
                VALUES (:s, :e, :n, :at, CAST(:falls AS jsonb))
                ON CONFLICT (start_at, end_at) DO UPDATE SET pool_size = EXCLUDED.pool_size,
                    computed_at = EXCLUDED.computed_at, falls = EXCLUDED.falls"""),
        {"s": start, "e": end, "n": pool_size, "at": computed_at, "falls": json.dumps(rows)},
    )


def get_fall_pool_computed_at(
    conn: Connection, *, start: datetime, end: datetime
) -> datetime | None:
    value = conn.execute(
        text("SELECT computed_at FROM trust_fall_pools WHERE start_at = :s AND end_at = :e"),
        {"s": start, "e": end},
    ).scalar_one_or_none()
    return cast(datetime | None, value)


def read_fall_pool(
    conn: Connection, *, start: datetime, end: datetime, limit: int, active_only: bool
) -> pd.DataFrame | None:
    """The answer of :func:`list_trust_falls` from a stored pool, or None when no pool of
    exactly (start, end] is kept, it is smaller than ``limit``, or (``active_only``) fewer
    than ``limit`` of its agents are active while it is full (the agents beyond it are
    unknown). Names and statuses are read now: a quarantine needs no new pool."""
    head = conn.execute(
        text("""SELECT pool_size, jsonb_array_length(falls) AS n FROM trust_fall_pools
                WHERE start_at = :s AND end_at = :e"""),
        {"s": start, "e": end},
    ).one_or_none()
    if head is None or int(head.pool_size) < limit:
        return None
    status = " AND a.status = 'active'" if active_only else ""
    df = frame(
        conn,
        f"""SELECT CAST(f.x->>0 AS bigint) AS agent_id, a.name,
                   CAST(f.x->>1 AS double precision) AS score_before,
                   CAST(f.x->>2 AS double precision) AS score_after,
                   CAST(f.x->>3 AS double precision) AS delta
            FROM trust_fall_pools p
            CROSS JOIN LATERAL jsonb_array_elements(p.falls) WITH ORDINALITY AS f(x, n)
            JOIN agents a ON a.id = CAST(f.x->>0 AS bigint){status}
            WHERE p.start_at = :s AND p.end_at = :e
            ORDER BY f.n LIMIT :limit""",  # noqa: S608 - the filter is a constant
        {"s": start, "e": end, "limit": limit},
        columns=["agent_id", "name", "score_before", "score_after", "delta"],
    )
    if len(df) < limit and int(head.n) >= int(head.pool_size):
        return None
    return df


def delete_fall_pools_before(conn: Connection, *, cutoff: datetime) -> int:
    result = conn.execute(
        text("DELETE FROM trust_fall_pools WHERE end_at < :cutoff"), {"cutoff": cutoff}
    )
    return int(getattr(result, "rowcount", 0) or 0)
