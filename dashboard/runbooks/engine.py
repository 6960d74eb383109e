"""Run a runbook: dry run, authorised start (lock + run row + audit in one transaction), then
the steps on a background thread with progress in PostgreSQL, evidence before and after.

The flow every caller (page, CLI, bench, tests) uses::

    plan = dry_run(spec, params)                      # lists exactly what will be done
    started = start_run(engine, redis, actor, spec.id, params, confirm=target_typed)
    # started.run_id is in runbook_runs; steps update runbook_steps as they go

One run per target at a time: a Redis lock ``orca:runbook-lock:<target>`` that every console
replica shares, taken inside the authorised transaction and held (renewed by the heartbeat)
until the run ends. A failing step (``on_fail = "stop"``) stops the run; the remaining
steps are marked skipped and the run says which step failed and why.

The process running the steps sends a heartbeat (``runbook_runs.heartbeat_at``) every sixth
of ``runbook_stale_after_s``. If it dies mid-run, :func:`reap_lost_runs` (the worker's leader,
and every start of a run) fails the run as "executor lost" and releases its target lock, so a
run never stays "running" for ever and the target is not blocked.

A run started from an incident (``incident_id``) is linked to it: its start, end or loss land
on that incident's timeline. A run started elsewhere lands on every open incident's.

Spans: ``runbook.run`` per run and ``runbook.step`` per step, with the runbook id, the step
and its outcome as attributes.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, cast

import redis
from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from dashboard import telemetry
from dashboard.actions.base import (
    ActionResult,
    Actor,
    announce_change,
    audit_change,
    run_authorised,
)
from dashboard.actions.incidents import INCIDENT_TOPICS
from dashboard.core.faults import list_faults
from dashboard.data.incidents import get_incident, record_timeline_open
from dashboard.data.runbook_runs import (
    LostRun,
    lock_key,
    record_run_on_timeline,
    release_lock,
)
from dashboard.data.runbook_runs import (
    reap_lost_runs as _reap,
)
from dashboard.db.runbook_models import RunbookRun, RunbookStep
from dashboard.integrations.redis_client import key
from dashboard.runbooks.checks import http_get
from dashboard.runbooks.executors import Executor, ExecutorError, make_executor
from dashboard.runbooks.spec import RunbookSpec, StepSpec, catalogue, render, validate_params
from dashboard.runbooks.steps import StepContext, StepOutcome, load_kinds
from dashboard.settings import Settings, get_settings

log = logging.getLogger(__name__)

MAX_OUTPUT: Final = 20_000
TOPICS: Final = ("runbooks",)
_RENEW = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
)


@dataclass(frozen=True)
class PlannedStep:
    position: int
    step_id: str
    title: str
    kind: str
    acts: bool
    line: str
    on_fail: str


@dataclass(frozen=True)
class Plan:
    """The dry run: what would be done, on which target, with which executor."""

    spec: RunbookSpec
    params: dict[str, Any]
    target: str
    executor: str
    steps: tuple[PlannedStep, ...]

    @property
    def needs_typed_confirmation(self) -> bool:
        return self.spec.dangerous

    def text(self) -> str:
        lines = [f"{self.spec.title} on {self.target} (executor: {self.executor})"]
        for s in self.steps:
            mark = "ACT " if s.acts else "check"
            lines.append(f"{s.position}. [{mark}] {s.title}: {s.line}")
        return "\n".join(lines)


@dataclass(frozen=True)
class Started:
    result: ActionResult
    run_id: int | None = None
    thread: threading.Thread | None = None


def executor_host() -> str:
    """Who runs the steps: host and process id (shown on a run lost with its process)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def heartbeat_interval_s(settings: Settings) -> float:
    return settings.runbook_stale_after_s / 6


def reap_lost_runs(
    engine: Engine,
    client: redis.Redis | None,
    *,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> list[LostRun]:
    """Fail the runs whose executor stopped sending heartbeats (see the module docstring)."""
    settings = settings or get_settings()
    with engine.begin() as conn:
        lost = _reap(
            conn,
            client,
            stale_after_s=settings.runbook_stale_after_s,
            now=now or datetime.now(UTC),
        )
    if lost:
        announce_change((*TOPICS, *INCIDENT_TOPICS))
    return lost


def context_names(settings: Settings, executor: Executor) -> dict[str, Any]:
    return {
        "core_url": settings.core_url.rstrip("/"),
        "otel_health_url": settings.otel_health_url,
        "otlp_endpoint": settings.otlp_endpoint,
        "executor": executor.name,
    }


def _names(spec: RunbookSpec, params: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, Any]:
    names = {**base, **params}
    names["target"] = str(render(spec.target, names))
    return names


def dry_run(
    spec: RunbookSpec,
    params: Mapping[str, Any],
    *,
    settings: Settings | None = None,
    executor: Executor | None = None,
) -> Plan:
    """Exactly what a run would do, step by step; runs nothing (ValueError on bad params)."""
    settings = settings or get_settings()
    executor = executor or make_executor(settings)
    clean = validate_params(spec, params)
    names = _names(spec, clean, context_names(settings, executor))
    kinds = load_kinds()
    ctx = _context(None, None, settings, executor, spec, clean, names)
    steps = []
    for i, step in enumerate(spec.steps, start=1):
        kind = kinds[step.kind]
        args = cast(dict[str, Any], render(step.args, names))
        try:
            line = kind.describe(ctx, args)
        except (ExecutorError, KeyError, ValueError) as exc:
            line = f"cannot be planned: {exc}"
        steps.append(PlannedStep(i, step.id, step.title, step.kind, kind.acts, line, step.on_fail))
    return Plan(spec, clean, names["target"], executor.name, tuple(steps))


def _context(
    engine: Engine | None,
    client: redis.Redis | None,
    settings: Settings,
    executor: Executor,
    spec: RunbookSpec,
    params: dict[str, Any],
    names: dict[str, Any],
) -> StepContext:
    return StepContext(
        engine=cast(Engine, engine),
        redis=cast(redis.Redis, client),
        settings=settings,
        executor=executor,
        spec=spec,
        params=params,
        names=names,
    )


# -- evidence -------------------------------------------------------------------------------
def health_snapshot(engine: Engine, client: redis.Redis, settings: Settings) -> dict[str, Any]:
    """The state worth keeping before and after a run: ORCA Core and collector health,
    PostgreSQL and Redis reachability, and the faults in force (drills)."""
    snap: dict[str, Any] = {"at": datetime.now(UTC).isoformat(timespec="seconds")}
    status, body, ms = http_get(settings.core_url.rstrip("/") + "/health")
    snap["orca_core"] = {"status": status, "latency_ms": round(ms, 1), "body": body[:200]}
    status, body, ms = http_get(settings.otel_health_url)
    snap["collector"] = {"status": status, "latency_ms": round(ms, 1)}
    try:
        with engine.connect() as conn:
            from sqlalchemy import text

            rows = conn.execute(
                text(
                    "SELECT coalesce(state, 'unknown') AS state, count(*) AS n "
                    "FROM pg_stat_activity WHERE datname = current_database() GROUP BY 1"
                )
            ).all()
        snap["postgresql"] = {"ok": True, "connections": {r.state: r.n for r in rows}}
    except SQLAlchemyError as exc:
        snap["postgresql"] = {"ok": False, "error": type(exc).__name__}
    try:
        client.ping()
        snap["redis"] = {"ok": True}
        snap["faults"] = sorted(f.name for f in list_faults(client))
        snap["export_errors_5s"] = _recent_export_errors(client, 5)
    except redis.RedisError as exc:
        snap["redis"] = {"ok": False, "error": type(exc).__name__}
        snap["faults"] = None
    return snap


def _recent_export_errors(client: redis.Redis, seconds: float) -> int:
    since = datetime.now(UTC).timestamp() - seconds
    count = 0
    for raw in cast(list[bytes], client.lrange(key("telemetry", "export_errors"), 0, 49)):
        try:
            if datetime.fromisoformat(json.loads(raw)["at"]).timestamp() >= since:
                count += 1
        except (ValueError, KeyError, TypeError):
            continue
    return count


def record_on_incident_timeline(
    conn: Connection, *, at: datetime, actor: str, text: str, incident_id: int | None = None
) -> int:
    """THE call site for issue 10's incident timeline, in the caller's transaction: the entry
    goes to the run's incident when it was started from one, else to every open incident."""
    if incident_id is None:
        return record_timeline_open(conn, kind="runbook", at=at, actor=actor, text=text)
    return record_run_on_timeline(conn, incident_id=incident_id, at=at, actor=actor, text=text)


# -- start ----------------------------------------------------------------------------------
def start_run(
    engine: Engine,
    client: redis.Redis,
    actor: Actor,
    runbook_id: str,
    params: Mapping[str, Any],
    *,
    confirm: str | None = None,
    settings: Settings | None = None,
    executor: Executor | None = None,
    background: bool = True,
    specs: Mapping[str, RunbookSpec] | None = None,
    incident_id: int | None = None,
) -> Started:
    """Authorise, lock the target, record the run (and its audit row), then run the steps.

    ``confirm`` must be the target's name for a high-danger runbook. With ``background``
    the steps run on a daemon thread (``Started.thread``); otherwise before this returns.
    ``incident_id`` links the run to that (open) incident and its timeline.
    """
    settings = settings or get_settings()
    spec = (specs or catalogue()).get(runbook_id)
    if spec is None:
        return Started(ActionResult("not_found", f"There is no runbook {runbook_id[:60]!r}."))
    try:
        executor = executor or make_executor(settings)
        plan = dry_run(spec, params, settings=settings, executor=executor)
    except (ValueError, ExecutorError) as exc:
        return Started(ActionResult("invalid", f"{exc} Nothing was run."))
    if plan.needs_typed_confirmation and (confirm or "").strip() != plan.target:
        return Started(ActionResult("invalid", f"Type {plan.target} to confirm; nothing was run."))
    try:  # a run left by a dead executor must not block this target for its lock's TTL
        reap_lost_runs(engine, client, settings=settings)
    except (SQLAlchemyError, redis.RedisError) as exc:
        log.warning("lost runs not reaped: %s", type(exc).__name__)
    token = uuid.uuid4().hex
    holder: dict[str, int] = {}
    lock = lock_key(plan.target)

    def body(conn: Connection, roles: Any) -> ActionResult:
        if incident_id is not None:
            incident = get_incident(conn, incident_id=incident_id)
            if incident is None or not incident.is_open:
                state = "does not exist" if incident is None else "is closed"
                return ActionResult("invalid", f"Incident #{incident_id} {state}; nothing was run.")
        try:
            got = client.set(lock, token, nx=True, px=settings.runbook_lock_ttl_s * 1000)
        except redis.RedisError:
            return ActionResult(
                "error",
                "Redis, which keeps runs from overlapping, did not answer; nothing was run.",
            )
        if not got:
            running = conn.execute(
                select(RunbookRun.id, RunbookRun.actor, RunbookRun.title)
                .where(RunbookRun.target == plan.target, RunbookRun.state == "running")
                .order_by(RunbookRun.id.desc())
                .limit(1)
            ).first()
            who = f" (run #{running.id}, {running.title}, by {running.actor})" if running else ""
            return ActionResult(
                "conflict",
                f"A run on {plan.target} is already in progress{who}; wait for it to finish.",
            )
        # A run left 'running' by a console that stopped cannot hold the lock any more.
        conn.execute(
            update(RunbookRun)
            .where(RunbookRun.target == plan.target, RunbookRun.state == "running")
            .values(
                state="failed",
                failure="abandoned: the console running it stopped",
                finished_at=datetime.now(UTC),
            )
        )
        run_id = conn.execute(
            insert(RunbookRun)
            .values(
                runbook_id=spec.id,
                title=spec.title,
                target=plan.target,
                params=plan.params,
                executor=plan.executor,
                actor=actor.username,
                state="running",
                plan=[s.__dict__ for s in plan.steps],
                started_at=datetime.now(UTC),
                heartbeat_at=datetime.now(UTC),
                executor_host=executor_host(),
                lock_token=token,
                incident_id=incident_id,
            )
            .returning(RunbookRun.id)
        ).scalar_one()
        conn.execute(
            insert(RunbookStep),
            [
                {
                    "run_id": run_id,
                    "position": s.position,
                    "step_id": s.step_id,
                    "kind": s.kind,
                    "title": s.title,
                    "acts": s.acts,
                    "planned": s.line[:2000],
                    "state": "pending",
                }
                for s in plan.steps
            ],
        )
        audit_change(
            conn,
            actor,
            roles,
            spec.action,
            target=("runbook_target", plan.target),
            after={"run_id": run_id, "runbook": spec.id, "params": plan.params},
            detail=f"run #{run_id}: {spec.title} via {plan.executor}",
        )
        record_on_incident_timeline(
            conn,
            at=datetime.now(UTC),
            actor=actor.username,
            text=f"Runbook {spec.title} started on {plan.target} (run #{run_id})",
            incident_id=incident_id,
        )
        holder["run_id"] = run_id
        return ActionResult("changed", f"Run #{run_id} of {spec.title} on {plan.target} started.")

    result = run_authorised(
        engine,
        actor,
        spec.action,
        body,
        target=("runbook_target", plan.target),
        topics=(*TOPICS, *INCIDENT_TOPICS),
    )
    run_id = holder.get("run_id")
    if result.outcome != "changed" or run_id is None:
        if run_id is not None or result.outcome == "error":
            release_lock(client, plan.target, token)
        return Started(result)
    job = _Job(engine, client, settings, executor, spec, plan, run_id, lock, token, actor.username)
    job.incident_id = incident_id
    if not background:
        job.run()
        return Started(result, run_id)
    thread = threading.Thread(target=job.run, name=f"runbook-{run_id}", daemon=True)
    thread.start()
    return Started(result, run_id, thread)


class _Job:
    """The steps of one started run (on its own thread)."""

    def __init__(
        self,
        engine: Engine,
        client: redis.Redis,
        settings: Settings,
        executor: Executor,
        spec: RunbookSpec,
        plan: Plan,
        run_id: int,
        lock: str,
        token: str,
        actor: str,
    ) -> None:
        self.engine, self.client, self.settings = engine, client, settings
        self.executor, self.spec, self.plan = executor, spec, plan
        self.run_id, self.lock, self.token, self.actor = run_id, lock, token, actor
        self.incident_id: int | None = None
        self._stop_beat = threading.Event()

    def _step_update(self, position: int, **values: Any) -> None:
        if "output" in values:
            values["output"] = str(values["output"])[-MAX_OUTPUT:]
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    update(RunbookStep)
                    .where(RunbookStep.run_id == self.run_id, RunbookStep.position == position)
                    .values(**values)
                )
        except SQLAlchemyError:
            log.exception("run %s: could not record step %s", self.run_id, position)

    def _run_update(self, **values: Any) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    update(RunbookRun).where(RunbookRun.id == self.run_id).values(**values)
                )
        except SQLAlchemyError:
            log.exception("run %s: could not record the run", self.run_id)

    def _renew(self) -> None:
        try:
            self.client.eval(
                _RENEW, 1, self.lock, self.token, self.settings.runbook_lock_ttl_s * 1000
            )
        except redis.RedisError:
            log.warning("run %s: lock not renewed", self.run_id)

    def _progress(self, position: int) -> Callable[[str], None]:
        last = [0.0]

        def progress(text: str) -> None:
            if time.monotonic() - last[0] >= 0.5:  # at most two writes a second
                last[0] = time.monotonic()
                self._step_update(position, output=text)

        return progress

    def _beat(self) -> None:
        """Heartbeat: the run's row and the target lock, until the run ends."""
        every = heartbeat_interval_s(self.settings)
        while not self._stop_beat.wait(every):
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        update(RunbookRun)
                        .where(RunbookRun.id == self.run_id, RunbookRun.state == "running")
                        .values(heartbeat_at=datetime.now(UTC))
                    )
            except SQLAlchemyError:
                log.warning("run %s: heartbeat not recorded", self.run_id)
            self._renew()

    def run(self) -> None:
        beat = threading.Thread(target=self._beat, name=f"runbook-{self.run_id}-beat", daemon=True)
        beat.start()
        try:
            attrs: dict[str, str | int | float | bool] = {
                "orca.runbook.id": self.spec.id,
                "orca.runbook.run_id": self.run_id,
                "orca.runbook.target": self.plan.target,
                "orca.runbook.executor": str(self.executor.name),
            }
            with telemetry.span("runbook.run", **attrs) as current:
                state = self._run()
                current.set_attribute("orca.runbook.outcome", state)
        finally:
            self._stop_beat.set()
            beat.join(timeout=5)
            release_lock(self.client, self.plan.target, self.token)

    def _step(self, step: StepSpec, ctx: StepContext, args: dict[str, Any]) -> StepOutcome:
        with telemetry.span("runbook.step", **self._step_attrs(step)) as current:
            try:
                outcome = load_kinds()[step.kind].run(ctx, args)
            except Exception as exc:  # a broken step fails the run; it never kills the thread
                log.exception("run %s step %s crashed", self.run_id, step.id)
                outcome = StepOutcome(
                    False, f"the step failed unexpectedly: {type(exc).__name__}: {exc}"[:500]
                )
                current.set_attribute("orca.runbook.step_crashed", True)
            current.set_attribute("orca.runbook.outcome", "ok" if outcome.ok else "failed")
            return outcome

    def _skip(self, step: StepSpec) -> None:
        with telemetry.span("runbook.step", **self._step_attrs(step)) as current:
            current.set_attribute("orca.runbook.outcome", "skipped")

    def _step_attrs(self, step: StepSpec) -> dict[str, str | int | float | bool]:
        return {
            "orca.runbook.id": self.spec.id,
            "orca.runbook.run_id": self.run_id,
            "orca.runbook.step": step.id,
            "orca.runbook.step_title": step.title,
            "orca.runbook.step_kind": step.kind,
        }

    def _run(self) -> str:
        settings, spec = self.settings, self.spec
        names = _names(spec, self.plan.params, context_names(settings, self.executor))
        ctx = _context(
            self.engine, self.client, settings, self.executor, spec, self.plan.params, names
        )
        self._run_update(health_before=health_snapshot(self.engine, self.client, settings))
        failed: tuple[str, str] | None = None
        for planned, step in zip(self.plan.steps, spec.steps, strict=True):
            if failed is not None:
                self._step_update(
                    planned.position, state="skipped", output="not run: an earlier step failed"
                )
                self._skip(step)
                continue
            started = datetime.now(UTC)
            self._step_update(planned.position, state="running", started_at=started)
            ctx.progress = self._progress(planned.position)
            args = cast(dict[str, Any], render(step.args, names))
            outcome = self._step(step, ctx, args)
            self._step_update(
                planned.position,
                state="ok" if outcome.ok else "failed",
                output=outcome.output,
                evidence=json.loads(json.dumps(dict(outcome.evidence), default=str)),
                finished_at=datetime.now(UTC),
            )
            self._renew()
            if not outcome.ok and step.on_fail == "stop":
                first_line = (outcome.output.strip().splitlines() or ["no output"])[0][:300]
                failed = (step.id, f"{step.title} failed: {first_line}")
        after = health_snapshot(self.engine, self.client, settings)
        state = "failed" if failed else "succeeded"
        try:
            with self.engine.begin() as conn:
                # Only a run still running ends here: one a reaper failed stays failed.
                ended = conn.execute(
                    update(RunbookRun)
                    .where(RunbookRun.id == self.run_id, RunbookRun.state == "running")
                    .values(
                        state=state,
                        health_after=after,
                        failed_step=failed[0] if failed else None,
                        failure=failed[1] if failed else None,
                        finished_at=datetime.now(UTC),
                    )
                ).rowcount
                if ended:
                    record_on_incident_timeline(
                        conn,
                        at=datetime.now(UTC),
                        actor=self.actor,
                        text=f"Runbook {spec.title} on {self.plan.target} {state} "
                        f"(run #{self.run_id})" + (f": {failed[1]}" if failed else ""),
                        incident_id=self.incident_id,
                    )
        except SQLAlchemyError:
            log.exception("run %s: its end was not recorded", self.run_id)
        announce_change((*TOPICS, *INCIDENT_TOPICS))
        return state


def wait_for(run_id: int, engine: Engine, *, timeout_s: float, poll_s: float = 0.2) -> str:
    """The run's final state, waiting up to ``timeout_s`` (tests and the bench)."""
    until = time.monotonic() + timeout_s
    state = "running"
    while time.monotonic() < until:
        with engine.connect() as conn:
            state = conn.execute(
                select(RunbookRun.state).where(RunbookRun.id == run_id)
            ).scalar_one()
        if state != "running":
            return state
        time.sleep(poll_s)
    return state
