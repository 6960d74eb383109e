"""The outbox seam: enqueue in the caller's transaction, once per dedupe_key, even when racing."""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text

from dashboard.data.notifications import enqueue_notification, is_resolution


def _key() -> str:
    return f"test:{secrets.token_hex(6)}"


def _count(engine: Engine, key: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM notification_outbox WHERE dedupe_key = :k"), {"k": key}
            ).scalar_one()
        )


def _enqueue(conn, key: str, **extra: object) -> bool:  # type: ignore[no-untyped-def]
    fields: dict[str, object] = {
        "severity": "P1",
        "group_key": "rule:service_down",
        "subject": "Service Down firing",
        "body": "health non-200 for 2 minutes",
        "source": "alerts",
    }
    fields.update(extra)
    return enqueue_notification(conn, dedupe_key=key, **fields)  # type: ignore[arg-type]


def test_enqueue_once_per_dedupe_key(engine: Engine) -> None:
    key = _key()
    at = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
    with engine.begin() as conn:
        assert _enqueue(conn, key, at=at, link="/alerts?id=1") is True
        assert _enqueue(conn, key, at=at) is False
    with engine.begin() as conn:
        assert _enqueue(conn, key) is False
    assert _count(engine, key) == 1
    with engine.connect() as conn:
        row = (
            conn.execute(
                text("SELECT * FROM notification_outbox WHERE dedupe_key = :k"), {"k": key}
            )
            .mappings()
            .one()
        )
    assert row["status"] == "pending"
    assert row["audience"] == "oncall"
    assert row["created_at"] == at
    assert row["link"] == "/alerts?id=1"


def test_enqueue_rolls_back_with_the_callers_transaction(engine: Engine) -> None:
    key = _key()
    with pytest.raises(RuntimeError), engine.begin() as conn:
        assert _enqueue(conn, key)
        raise RuntimeError("the caller's change failed")
    assert _count(engine, key) == 0


def test_two_racing_transactions_enqueue_once(engine: Engine) -> None:
    key = _key()
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def worker() -> None:
        with engine.begin() as conn:
            barrier.wait()
            results.append(_enqueue(conn, key))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(results) == [False, True]
    assert _count(engine, key) == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("severity", "P9", "severity"),
        ("audience", "everyone", "audience"),
        ("at", datetime(2026, 12, 3, 6, 0), "time zone"),
        ("subject", " ", "subject"),
    ],
)
def test_bad_input_is_refused(engine: Engine, field: str, value: object, message: str) -> None:
    with engine.begin() as conn, pytest.raises(ValueError, match=message):
        _enqueue(conn, _key(), **{field: value})


def test_resolution_keys() -> None:
    assert is_resolution("alert:abc:resolved")
    assert not is_resolution("alert:abc:firing")
