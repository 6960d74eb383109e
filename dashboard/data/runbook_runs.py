"""Reading runbook runs and their steps (written by dashboard.runbooks.engine)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from dashboard.db.runbook_models import RunbookRun, RunbookStep

MAX_RUNS = 200


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
    RunbookRun.started_at,
    RunbookRun.finished_at,
)


def list_runs(
    conn: Connection,
    *,
    limit: int = 50,
    runbook_id: str | None = None,
    before_id: int | None = None,
) -> list[RunRow]:
    """Newest first (keyset on id), at most ``limit`` (<= 200)."""
    query = select(*_RUN_COLUMNS).order_by(RunbookRun.id.desc()).limit(min(limit, MAX_RUNS))
    if runbook_id is not None:
        query = query.where(RunbookRun.runbook_id == runbook_id)
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
