"""Runbook runs are traced: a ``runbook.run`` span per run and a ``runbook.step`` span per
step (children of it), with the runbook id, the step and its outcome as attributes."""

from __future__ import annotations

from pathlib import Path

import redis
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import Engine

from dashboard.actions.base import Actor
from dashboard.runbooks.engine import start_run
from dashboard.runbooks.executors import ProcessExecutor
from dashboard.runbooks.spec import parse_spec
from dashboard.settings import Settings


def test_a_run_and_each_step_get_a_span_with_their_outcome(
    spans: InMemorySpanExporter,
    engine: Engine,
    redis_client: redis.Redis,
    oncall: Actor,
    tmp_path: Path,
) -> None:
    spec = parse_spec(
        {
            "id": "traced_checks",
            "title": "Traced checks",
            "summary": "a check that fails and one it skips",
            "action": "runbook.db_connections",
            "danger": "low",
            "target": "traced-target",
            "steps": [
                {
                    "id": "connect",
                    "kind": "sql.check",
                    "title": "Connect",
                    "args": {"query": "connections_by_state"},
                },
                {
                    "id": "refused",
                    "kind": "http.check",
                    "title": "Nobody listens",
                    "args": {"url": "http://127.0.0.1:9/health"},
                },
                {
                    "id": "never",
                    "kind": "http.check",
                    "title": "Not reached",
                    "args": {"url": "http://127.0.0.1:9/health"},
                },
            ],
        }
    )
    settings = Settings(core_url="http://127.0.0.1:9", otel_health_url="http://127.0.0.1:9/")
    spans.clear()
    started = start_run(
        engine,
        redis_client,
        oncall,
        spec.id,
        {},
        settings=settings,
        executor=ProcessExecutor(settings, control_dir=tmp_path),
        background=False,
        specs={spec.id: spec},
    )
    assert started.result.outcome == "changed", started.result
    finished = spans.get_finished_spans()
    (run,) = [s for s in finished if s.name == "runbook.run"]
    steps = [s for s in finished if s.name == "runbook.step"]
    assert run.attributes is not None
    assert run.attributes["orca.runbook.id"] == "traced_checks"
    assert run.attributes["orca.runbook.run_id"] == started.run_id
    assert run.attributes["orca.runbook.outcome"] == "failed"
    got = [
        (
            s.attributes["orca.runbook.step"],
            s.attributes["orca.runbook.step_title"],
            s.attributes["orca.runbook.outcome"],
        )
        for s in steps
        if s.attributes is not None
    ]
    assert got == [
        ("connect", "Connect", "ok"),
        ("refused", "Nobody listens", "failed"),
        ("never", "Not reached", "skipped"),
    ]
    for s in steps:
        assert s.parent is not None and s.parent.span_id == run.context.span_id
        assert s.attributes is not None and s.attributes["orca.runbook.id"] == "traced_checks"
