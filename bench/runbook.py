"""Bench: the Service Restart runbook from the button (start_run, what the Confirm button's
callback calls) to a healthy stand-in, against a real stand-in under the same supervisor
`orca-dashboard up` uses, with a health_down fault injected before each run."""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import redis
from sqlalchemy import Engine

from dashboard.actions.base import system_actor
from dashboard.core.control import ControlledProcess, read_status
from dashboard.core.faults import inject_fault
from dashboard.data.runbook_runs import list_steps
from dashboard.domain.permissions import Role
from dashboard.runbooks.engine import start_run, wait_for
from dashboard.runbooks.executors import ProcessExecutor
from dashboard.settings import PROJECT_ROOT, Settings


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/health", timeout=1, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def run_runbook_bench(
    engine: Engine,
    db_url: str,
    redis_url: str,
    *,
    runs: int,
    pct: Callable[[list[float], float], float],
    fmt: Callable[[float], str],
) -> None:
    import os

    root = Path(tempfile.mkdtemp(prefix="orca-bench-runbook-"))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "ORCA_DATABASE_URL": db_url, "ORCA_REDIS_URL": redis_url}
    cmd = [sys.executable, "-m", "dashboard.cli", "core", "--port", str(port), "--no-traffic"]
    proc = ControlledProcess("orca-core", cmd, root / "control", cwd=PROJECT_ROOT, env=env)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            proc.supervise()
            stop.wait(0.1)

    proc.start()
    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    settings = Settings(
        database_url=db_url,
        redis_url=redis_url,
        core_url=url,
        state_dir=root,
        otel_health_url=f"http://127.0.0.1:{_free_port()}/",
    )
    executor = ProcessExecutor(settings, control_dir=root / "control")
    actor = system_actor("bench:oncall", (Role.ONCALL,))
    to_healthy: list[float] = []
    to_done: list[float] = []
    per_step: dict[str, list[float]] = {}
    try:
        deadline = time.monotonic() + 60
        while not _healthy(url) and time.monotonic() < deadline:
            time.sleep(0.1)
        print("Service Restart runbook (button -> healthy stand-in, health_down injected)")
        for _ in range(runs):
            inject_fault(client, "health_down", "10m", by="bench")
            while _healthy(url):
                time.sleep(0.05)
            old_pid = (read_status(root / "control", "orca-core") or {}).get("pid")
            t0 = time.perf_counter()
            started = start_run(
                engine,
                client,
                actor,
                "service_restart",
                {"healthy_within_s": 60},
                confirm="orca-core",
                settings=settings,
                executor=executor,
            )
            assert started.run_id is not None, started.result.message
            while True:
                pid = (read_status(root / "control", "orca-core") or {}).get("pid")
                if pid and pid != old_pid and _healthy(url):
                    break
                time.sleep(0.02)
            to_healthy.append((time.perf_counter() - t0) * 1000)
            state = wait_for(started.run_id, engine, timeout_s=120, poll_s=0.05)
            to_done.append((time.perf_counter() - t0) * 1000)
            if state != "succeeded":
                print(f"  run #{started.run_id} {state}")
            with engine.connect() as conn:
                for step in list_steps(conn, started.run_id):
                    if step.started_at and step.finished_at:
                        took = (step.finished_at - step.started_at).total_seconds() * 1000
                        per_step.setdefault(step.step_id, []).append(took)
        print(
            f"  to healthy   p50 {fmt(pct(to_healthy, 50))}  p95 {fmt(pct(to_healthy, 95))}"
            f"  (n={len(to_healthy)})"
        )
        print(
            f"  run finished p50 {fmt(pct(to_done, 50))}  p95 {fmt(pct(to_done, 95))}"
            "  (all seven steps recorded, logs included)"
        )
        print("  per step p50: " + ", ".join(f"{k} {fmt(pct(v, 50))}" for k, v in per_step.items()))
        print()
    finally:
        stop.set()
        thread.join(timeout=5)
        proc.close()
        client.close()
