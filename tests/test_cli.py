"""The command line: usage on bad arguments, doctor's plain-words checks, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.cli import main
from dashboard.services import POLICIES, ServicesError, resolve_services
from dashboard.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "dashboard.cli", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_bad_arguments_give_usage_not_traceback() -> None:
    for args in (["frobnicate"], ["seed", "--agents", "many"], ["seed", "--agents", "0"], []):
        proc = _run(*args)
        assert proc.returncode == 2, args
        assert "usage:" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_bad_now_is_a_plain_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ORCA_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    rc = main(["seed", "--now", "yesterday-ish"])
    assert rc == 1
    assert "--now must be an ISO date-time" in capsys.readouterr().err


def test_doctor_passes_on_a_migrated_database(db_url: str, redis_url: str) -> None:
    proc = _run("doctor", env={"ORCA_DATABASE_URL": db_url, "ORCA_REDIS_URL": redis_url})
    assert "OK    postgresql" in proc.stdout
    assert "OK    migrations" in proc.stdout
    assert "OK    redis" in proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_doctor_fails_in_plain_words_when_servers_are_down(tmp_path: Path) -> None:
    proc = _run(
        "doctor",
        env={
            "ORCA_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/orca",
            "ORCA_REDIS_URL": "redis://127.0.0.1:1/0",
            "ORCA_STATE_DIR": str(tmp_path),
        },
    )
    assert proc.returncode == 1
    assert "FAIL  postgresql  cannot connect to PostgreSQL" in proc.stdout
    assert "FAIL  redis" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_doctor_rejects_a_bad_setting() -> None:
    proc = _run("doctor", env={"ORCA_PORT": "not-a-port"})
    assert proc.returncode == 2
    assert "ORCA_PORT" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- the server resolver: one table decides what each command may start -----------------------


class _FakeServer:
    """Stands in for EmbeddedPostgres / EmbeddedRedis: records start and stop."""

    started: list[str] = []
    stopped: list[str] = []

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.kind = "redis" if port is not None else "pg"

    def start(self) -> str:
        _FakeServer.started.append(self.kind)
        return "redis://fake:1/0" if self.kind == "redis" else "postgresql://fake/orca"

    def stop(self) -> None:
        _FakeServer.stopped.append(self.kind)


@pytest.fixture
def fake_embedded(monkeypatch: pytest.MonkeyPatch) -> type[_FakeServer]:
    import dashboard.services as services

    _FakeServer.started, _FakeServer.stopped = [], []
    monkeypatch.setattr(services, "EmbeddedPostgres", _FakeServer)
    monkeypatch.setattr(services, "EmbeddedRedis", _FakeServer)
    # resolve_services exports what it found; keep that inside this test.
    monkeypatch.setenv("ORCA_DATABASE_URL", "")
    monkeypatch.setenv("ORCA_REDIS_URL", "")
    return _FakeServer


def _settings(tmp_path: Path, **kw: str | None) -> Settings:
    return Settings(state_dir=tmp_path, database_url=kw.get("db"), redis_url=kw.get("redis"))


def test_configured_servers_win_and_nothing_is_started(
    tmp_path: Path, fake_embedded: type[_FakeServer]
) -> None:
    for command in POLICIES:
        found = resolve_services(
            command, _settings(tmp_path, db="postgresql://db/x", redis="redis://r:1/0")
        )
        assert found.origin == "settings"
        found.stop()
    assert fake_embedded.started == []
    assert fake_embedded.stopped == []
    assert not (tmp_path / "embedded.json").exists()


def test_up_family_starts_both_and_records_them(
    tmp_path: Path, fake_embedded: type[_FakeServer]
) -> None:
    for command in ("up", "migrate", "seed", "worker", "bench"):
        found = resolve_services(command, _settings(tmp_path))
        assert (found.database, found.redis) == ("postgresql://fake/orca", "redis://fake:1/0")
        found.stop()
    assert fake_embedded.started == ["pg", "redis"] * 5
    assert sorted(fake_embedded.stopped) == sorted(fake_embedded.started)
    saved = json.loads((tmp_path / "embedded.json").read_text())
    assert saved == {"database_url": "postgresql://fake/orca", "redis_url": "redis://fake:1/0"}


def test_users_starts_only_postgresql(tmp_path: Path, fake_embedded: type[_FakeServer]) -> None:
    found = resolve_services("users", _settings(tmp_path))
    assert found.database == "postgresql://fake/orca"
    assert found.redis_url is None
    assert fake_embedded.started == ["pg"]


def test_doctor_never_starts_anything(tmp_path: Path, fake_embedded: type[_FakeServer]) -> None:
    found = resolve_services("doctor", _settings(tmp_path))
    assert (found.database_url, found.redis_url) == (None, None)
    with pytest.raises(ServicesError):
        _ = found.database
    # With a running `up` recorded, doctor checks those (alive or not: it reports).
    (tmp_path / "embedded.json").write_text(
        json.dumps({"database_url": "postgresql://up/orca", "redis_url": "redis://up:1/0"})
    )
    found = resolve_services("doctor", _settings(tmp_path))
    assert (found.database_url, found.redis_url) == ("postgresql://up/orca", "redis://up:1/0")
    assert "orca-dashboard up" in found.origin
    assert fake_embedded.started == []


def test_core_and_chaos_reuse_a_live_up_and_never_stop_it(
    tmp_path: Path, fake_embedded: type[_FakeServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    import dashboard.services as services

    (tmp_path / "embedded.json").write_text(
        json.dumps({"database_url": "postgresql://up/orca", "redis_url": "redis://up:1/0"})
    )
    monkeypatch.setattr(services, "redis_alive", lambda url: url == "redis://up:1/0")
    core = resolve_services("core", _settings(tmp_path))
    assert (core.database, core.redis) == ("postgresql://up/orca", "redis://up:1/0")
    chaos = resolve_services("chaos", _settings(tmp_path))
    assert (chaos.database_url, chaos.redis) == (None, "redis://up:1/0")
    core.stop()
    chaos.stop()
    assert fake_embedded.started == fake_embedded.stopped == []


def test_core_and_chaos_start_their_own_when_up_is_gone(
    tmp_path: Path, fake_embedded: type[_FakeServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    import dashboard.services as services

    (tmp_path / "embedded.json").write_text(
        json.dumps({"database_url": "postgresql://up/orca", "redis_url": "redis://up:1/0"})
    )
    monkeypatch.setattr(services, "redis_alive", lambda url: False)
    core = resolve_services("core", _settings(tmp_path))
    assert (core.database, core.redis) == ("postgresql://fake/orca", "redis://fake:1/0")
    core.stop()
    assert fake_embedded.started == ["pg", "redis"]
    chaos = resolve_services("chaos", _settings(tmp_path))  # drills need Redis only
    chaos.stop()
    assert fake_embedded.started == ["pg", "redis", "redis"]
    assert sorted(fake_embedded.stopped) == sorted(fake_embedded.started)


def test_every_command_module_is_in_the_one_dispatch_table() -> None:
    import importlib
    import pkgutil

    import dashboard.commands as pkg
    from dashboard.cli import COMMANDS

    modules = {f"{pkg.__name__}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__)}
    assert set(COMMANDS.values()) == modules
    for command, path in COMMANDS.items():
        module = importlib.import_module(path)
        assert command == module.COMMAND
        assert callable(module.add_parser) and callable(module.run)
        assert command in POLICIES  # every command gets its servers from the one resolver
