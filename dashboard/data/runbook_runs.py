"""Reading runbook runs and their steps (written by dashboard.runbooks.engine), and the
reaper that fails a run whose executor died.

A run's steps execute in one process (the console's thread, the CLI, the bench). That process
renews ``runbook_runs.heartbeat_at`` every few seconds and holds the target lock in Redis with
the token kept in ``lock_token``. When it dies mid-run (killed, restarted, the pod evicted), the
heartbeat stops: :func:`reap_lost_runs` (the worker's leader every 15 s, and every start of a
run) marks such a run failed, "executor lost", its unfinished steps failed or skipped, puts that
on the run's incident timeline, and releases the target lock so the next run can start.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import redis
from sqlalchemy import Connection, select, text

from dashboard.data.incidents import record_timeline, record_timeline_open
from dashboard.db.runbook_models import RunbookRun, RunbookStep
from dashboard.integrations.redis_client import key

log = logging.getLogger(__name__)

MAX_RUNS = 200
# Compare-and-delete: only the holder's token releases the lock.
RELEASE_SCRIPT: Final = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)


def lock_key(target: str) -> str:
    """The Redis key of a target's run lock (one run per target across every replica)."""
    return key("runbook-lock", target)


def release_lock(client: redis.Redis, target: str, token: str) -> bool:
    """Release ``target``'s lock if ``token`` still holds it; False when it did not or Redis
    is down (the lock then expires by itself)."""
    try:
        return bool(client.eval(RELEASE_SCRIPT, 1, lock_key(target), token))
    except redis.RedisError:
        log.warning("could not release the lock of %s; it expires by itself", target)
        return False


def record_run_on_timeline(
    conn: Connection, *, incident_id: int | None, at: datetime, actor: str | None, text: str
) -> int:
    """A run's entry on its incident's timeline: the incident it was started for, else every
    open incident (issue 11: "lands on the open incident's timeline when there is one")."""
    if incident_id is not None:
        return record_timeline(
            conn, kind="runbook", at=at, actor=actor, text=text, incident_id=incident_id
        )
    return record_timeline_open(conn, kind="runbook", at=at, actor=actor, text=text)


@dataclass(frozen=True)
class LostRun:
    id: int
    title: str
    target: str
    incident_id: int | None
    last_heartbeat: datetime
    lock_released: bool


def reap_lost_runs(
    conn: Connection, client: redis.Redis | None, *, stale_after_s: float, now: datetime
) -> list[LostRun]:
    """Fail every running run whose executor's heartbeat is older than ``stale_after_s``.

    Rows are claimed ``FOR UPDATE SKIP LOCKED`` so two reapers (two workers, a worker and a
    console) never both fail one run. Each target lock is released with the run's own token
    (compare-and-delete), so a lock a newer run holds is never touched; ``client`` None leaves
    the locks to expire by themselves. In the caller's transaction.
    """
    cutoff = now - timedelta(seconds=stale_after_s)
    rows = conn.execute(
        text(
            """SELECT id, title, target, incident_id, lock_token,
                      coalesce(heartbeat_at, started_at) AS last_beat
               FROM runbook_runs
               WHERE state = 'running' AND coalesce(heartbeat_at, started_at) < :cutoff
               ORDER BY id
               FOR UPDATE SKIP LOCKED"""
        ),
        {"cutoff": cutoff},
    ).all()
    lost: list[LostRun] = []
    for r in rows:
        beat = r.last_beat.astimezone(UTC)
        why = (
            f"executor lost: no heartbeat since {beat:%Y-%m-%d %H:%M:%S} UTC "
            "(the process running the steps stopped); check the target before running again"
        )
        conn.execute(
            text(
                """UPDATE runbook_runs SET state = 'failed', failure = :why, finished_at = :now,
                          failed_step = (SELECT step_id FROM runbook_steps
                                         WHERE run_id = :id AND state = 'running'
                                         ORDER BY position LIMIT 1)
                   WHERE id = :id"""
            ),
            {"id": r.id, "why": why, "now": now},
        )
        conn.execute(
            text(
                """UPDATE runbook_steps SET
                       state = CASE WHEN state = 'running' THEN 'failed' ELSE 'skipped' END,
                       output = CASE WHEN state = 'running'
                                THEN output || E'\n' || :lost ELSE :skipped END,
                       finished_at = :now
                   WHERE run_id = :id AND state IN ('running', 'pending')"""
            ),
            {
                "id": r.id,
                "now": now,
                "lost": "executor lost while this step ran: its outcome is unknown",
                "skipped": "not run: the executor was lost",
            },
        )
        record_run_on_timeline(
            conn,
            incident_id=r.incident_id,
            at=now,
            actor="system",
            text=f"Runbook {r.title} on {r.target} failed (run #{r.id}): {why}",
        )
        released = (
            release_lock(client, r.target, r.lock_token)
            if client is not None and r.lock_token
            else False
        )
        log.warning("run %s (%s on %s): %s", r.id, r.title, r.target, why)
        lost.append(LostRun(r.id, r.title, r.target, r.incident_id, beat, released))
    return lost


@dataclass(frozen=True)
class RunRow:
    """One run as the history and the detail view show it."""

    id: int
    runbook_id: str
    title: str
    target: str
    params: dict[str, Any]
    executor: str
    actor: str
    state: str
    failed_step: str | None
    failure: str | None
    health_before: dict[str, Any] | None
    health_after: dict[str, Any] | None
    incident_id: int | None
    heartbeat_at: datetime | None
    started_at: datetime
    finished_at: datetime | None

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class StepRow:
    position: int
    step_id: str
    kind: str
    title: str
    acts: bool
    planned: str
    state: str
    output: str
    evidence: dict[str, Any] | None
    started_at: datetime | None
    finished_at: datetime | None


_RUN_COLUMNS = (
    RunbookRun.id,
    RunbookRun.runbook_id,
    RunbookRun.title,
    RunbookRun.target,
    RunbookRun.params,
    RunbookRun.executor,
    RunbookRun.actor,
    RunbookRun.state,
    RunbookRun.failed_step,
    RunbookRun.failure,
    RunbookRun.health_before,
    RunbookRun.health_after,
    RunbookRun.incident_id,
    RunbookRun.heartbeat_at,
    RunbookRun.started_at,
    RunbookRun.finished_at,
)


def list_runs(
    conn: Connection,
    *,
    limit: int = 50,
    runbook_id: str | None = None,
    before_id: int | None = None,
    incident_id: int | None = None,
) -> list[RunRow]:
    """Newest first (keyset on id), at most ``limit`` (<= 200); ``incident_id``: the runs
    started for that incident."""
    query = select(*_RUN_COLUMNS).order_by(RunbookRun.id.desc()).limit(min(limit, MAX_RUNS))
    if runbook_id is not None:
        query = query.where(RunbookRun.runbook_id == runbook_id)
    if incident_id is not None:
        query = query.where(RunbookRun.incident_id == incident_id)
    if before_id is not None:
        query = query.where(RunbookRun.id < before_id)
    return [RunRow(**r._mapping) for r in conn.execute(query)]


def get_run(conn: Connection, run_id: int) -> RunRow | None:
    row = conn.execute(select(*_RUN_COLUMNS).where(RunbookRun.id == run_id)).first()
    return RunRow(**row._mapping) if row is not None else None


def list_steps(conn: Connection, run_id: int) -> list[StepRow]:
    query = (
        select(
            RunbookStep.position,
            RunbookStep.step_id,
            RunbookStep.kind,
            RunbookStep.title,
            RunbookStep.acts,
            RunbookStep.planned,
            RunbookStep.state,
            RunbookStep.output,
            RunbookStep.evidence,
            RunbookStep.started_at,
            RunbookStep.finished_at,
        )
        .where(RunbookStep.run_id == run_id)
        .order_by(RunbookStep.position)
    )
    return [StepRow(**r._mapping) for r in conn.execute(query)]


def count_running(conn: Connection) -> int:
    return len(
        conn.execute(select(RunbookRun.id).where(RunbookRun.state == "running").limit(50)).all()
    )
