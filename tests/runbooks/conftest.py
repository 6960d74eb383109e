"""A real ORCA Core stand-in process under a real supervisor (the same ControlledProcess that
`orca-dashboard up` uses), so runbooks stop, start and roll back an actual process."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import Engine

from dashboard.actions.base import Actor, system_actor
from dashboard.core.control import ControlledProcess
from dashboard.domain.permissions import Role
from dashboard.runbooks.executors import ProcessExecutor
from dashboard.settings import PROJECT_ROOT, Settings
from tests.harness import free_port, wait_for


@dataclass
class Supervised:
    proc: ControlledProcess
    folder: Path
    settings: Settings
    executor: ProcessExecutor
    url: str

    def healthy(self) -> bool:
        try:
            return httpx.get(self.url + "/health", timeout=1, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False


@pytest.fixture()
def supervised_core(
    tmp_path: Path, db_url: str, redis_url: str, engine: Engine
) -> Iterator[Supervised]:
    port, collector = free_port(), free_port()
    folder = tmp_path / "control"
    env = {
        **os.environ,
        "ORCA_DATABASE_URL": db_url,
        "ORCA_REDIS_URL": redis_url,
        "ORCA_ENV": "development",
        "ORCA_OTLP_ENDPOINT": f"http://127.0.0.1:{collector}",
    }
    proc = ControlledProcess(
        "orca-core",
        [
            sys.executable,
            "-m",
            "dashboard.cli",
            "core",
            "--port",
            str(port),
            "--no-traffic",
            "--collector-port",
            str(collector),
        ],
        folder,
        cwd=PROJECT_ROOT,
        env=env,
    )
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            proc.supervise()
            stop.wait(0.1)

    proc.start()
    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=db_url,
        redis_url=redis_url,
        core_url=url,
        core_port=port,
        otel_health_url=f"http://127.0.0.1:{collector}/",
        otlp_endpoint=f"http://127.0.0.1:{collector}",
        state_dir=tmp_path,
    )
    sup = Supervised(proc, folder, settings, ProcessExecutor(settings, control_dir=folder), url)
    assert wait_for(sup.healthy, timeout_s=30), "the stand-in did not come up"
    yield sup
    stop.set()
    thread.join(timeout=5)
    proc.close()


@pytest.fixture()
def oncall() -> Actor:
    return system_actor("test:oncall", (Role.ONCALL,))


@pytest.fixture()
def clean_redis(redis_client: redis.Redis) -> redis.Redis:
    return redis_client
