"""Faults in Redis: validated on the way in, shared by CLI and stand-in, ending by themselves."""

from __future__ import annotations

from datetime import timedelta
from typing import cast

import pytest
import redis

from dashboard.cli import main
from dashboard.core.faults import (
    FAULTS,
    FaultView,
    clear_fault,
    fault_key,
    inject_fault,
    list_faults,
    parse_duration,
    validate_params,
)
from tests.harness import wait_for


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("10m", 600), ("1h", 3600), ("1.5m", 90), ("45", 45), ("24h", 86400)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [("10x", "cannot read the duration"), ("0s", "at least 1 second"), ("25h", "at most 24 hours")],
)
def test_bad_durations(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


def test_params_are_validated_with_defaults() -> None:
    assert validate_params("error_spike", {"rate": 0.5})["routes"][0] == "/api/v1/agents"
    assert validate_params("latency_spike", None)["ms"] == 1500
    with pytest.raises(ValueError, match="unknown fault 'meteor'"):
        validate_params("meteor", None)
    with pytest.raises(ValueError, match="takes no parameter 'rate'"):
        validate_params("health_down", {"rate": 1})
    with pytest.raises(ValueError, match="unknown route '/nope'"):
        validate_params("error_spike", {"routes": ["/nope"]})
    with pytest.raises(ValueError, match="rate must be between"):
        validate_params("error_spike", {"rate": 2})
    with pytest.raises(ValueError, match="connections must be between"):
        validate_params("db_connection_leak", {"connections": 1000})
    with pytest.raises(ValueError, match="unknown source 'email'"):
        validate_params("sync_stall", {"sources": ["email"]})


def test_inject_list_clear_and_expiry(redis_client: redis.Redis) -> None:
    fault = inject_fault(redis_client, "health_down", "1s", by="ops@example.com")
    assert fault.remaining_s == 1
    inject_fault(redis_client, "error_spike", "10m", {"rate": 0.5, "routes": ["/api/v1/trust"]})
    active = {f.name: f for f in list_faults(redis_client)}
    assert set(active) == {"health_down", "error_spike"}
    assert active["error_spike"].params == {"routes": ["/api/v1/trust"], "rate": 0.5}
    assert active["health_down"].by == "ops@example.com"
    assert 0 < cast(int, redis_client.pttl(fault_key("health_down"))) <= 1000
    # Let Redis end it in a millisecond rather than sleeping out its second: the fault's end
    # is the key's own expiry (PX), which is what this checks.
    redis_client.pexpire(fault_key("health_down"), 1)
    assert wait_for(lambda: not redis_client.exists(fault_key("health_down")), timeout_s=5)
    assert [f.name for f in list_faults(redis_client)] == ["error_spike"]  # ended by itself
    assert clear_fault(redis_client, "error_spike") == ["error_spike"]
    assert clear_fault(redis_client) == []
    with pytest.raises(ValueError):
        clear_fault(redis_client, "meteor")


def test_fault_view_survives_a_dead_redis() -> None:
    view = FaultView(redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2))
    assert view.active() == {}
    assert view.last_error is not None


def test_every_fault_has_a_summary() -> None:
    assert set(FAULTS) == {
        "error_spike",
        "latency_spike",
        "health_down",
        "health_hang",
        "crash",
        "trust_collapse",
        "sync_stall",
        "drift_wave",
        "db_connection_leak",
        "collector_down",
    }
    assert all(spec.summary for spec in FAULTS.values())


def test_chaos_command(redis_client: redis.Redis, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chaos", "error_spike", "--for", "30s", "--rate", "0.5"]) == 0
    assert "error_spike active for 30s" in capsys.readouterr().out
    assert main(["chaos", "list"]) == 0
    assert "rate=0.5" in capsys.readouterr().out
    assert main(["chaos", "meteor", "--for", "1m"]) == 2
    assert "unknown fault 'meteor'" in capsys.readouterr().err
    assert main(["chaos", "health_down", "--for", "2d"]) == 2
    assert main(["chaos", "clear"]) == 0
    assert "cleared: error_spike" in capsys.readouterr().out
    assert list_faults(redis_client) == []
