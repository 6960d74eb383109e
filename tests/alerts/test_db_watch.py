"""Database Unreachable fires and pages while PostgreSQL is hung, from two workers at once.

A real local TCP proxy sits in front of a throwaway database on the suite's server; frozen,
it is a PostgreSQL that accepts connections and never answers (a SIGSTOPped or partitioned
server), closed it is one that is gone. The page goes to a real local HTTP receiver. Once
PostgreSQL answers again, the outage is written there: history, delivery log, incident,
and the resolution, which the delivery job sends as usual. One page, one resolution.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, text

from dashboard.data import alerts as alerts_store
from dashboard.data import notify_store
from dashboard.data.alert_rules import load_rules
from dashboard.db.engine import make_engine
from dashboard.settings import to_sqlalchemy_url
from dashboard.worker import db_watch
from dashboard.worker.db_watch import DbWatch
from dashboard.worker.notify import run_notify_cycle
from tests.conftest import MakeDatabase
from tests.harness import FreezingProxy, database_upstream, proxied_database_url
from tests.notify.conftest import Clock, fast_settings, rows
from tests.notify.peers import http_peer

RULE = {r.id: r for r in load_rules()}[db_watch.RULE_ID]


@dataclass
class Outage:
    direct: Engine  # straight to the server: what the test reads
    proxied: Engine  # through the proxy: what the workers use
    proxied_url: str
    proxy: FreezingProxy


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def outage(make_database: MakeDatabase, redis_client: redis.Redis) -> Iterator[Outage]:
    redis_client.delete(db_watch.LEASE, db_watch.STATE, db_watch.ROUTES, alerts_store.STATES_KEY)
    with (
        make_database("orca_dbwatch") as database,
        FreezingProxy(database_upstream(database.url)) as proxy,
    ):
        url = proxied_database_url(database.url, proxy)
        via = make_engine(to_sqlalchemy_url(url), connect_timeout_s=2, statement_timeout_ms=3000)
        try:
            yield Outage(database.engine(), via, url, proxy)
        finally:
            via.dispose()
    redis_client.delete(db_watch.LEASE, db_watch.STATE, db_watch.ROUTES)


def _watcher(o: Outage, client: redis.Redis, clock: Clock, owner: str) -> DbWatch:
    return DbWatch(
        client,
        o.proxied,
        RULE,
        database_url=o.proxied_url,
        settings=fast_settings(alert_interval_s=5.0),
        clock=clock,
        owner=owner,
    )


def _pager_hook(o: Outage, url: str, clock: Clock) -> None:
    """A webhook contact point for on-call pages (secret sealed as the console stores it)."""
    with o.direct.begin() as conn:
        notify_store.insert_contact_point(
            conn,
            name="pager-hook",
            kind="webhook",
            audiences=["oncall"],
            config={},
            secret=url,
            secret_hint="••••",
            by="test",
            now=clock(),
        )


def _raw(client: redis.Redis, name: str) -> bytes:
    value = client.get(name)
    return value if isinstance(value, bytes) else b""


def _history(engine: Engine) -> list[tuple[str, str]]:
    return [
        (str(r["from_state"]), str(r["to_state"]))
        for r in rows(engine, "SELECT * FROM alert_history WHERE kind = 'transition' ORDER BY at")
    ]


def test_a_hung_postgresql_pages_once_from_two_workers_and_is_recorded_after(
    outage: Outage, redis_client: redis.Redis, clock: Clock
) -> None:
    with http_peer() as hook:
        _pager_hook(outage, hook.url + "/hook/zzDbWatchToken", clock)
        one = _watcher(outage, redis_client, clock, "worker-1")
        two = _watcher(outage, redis_client, clock, "worker-2")

        # PostgreSQL up: one watcher holds the lease and caches the routes (sealed secret).
        first, second = one.tick(), two.tick()
        assert (first.holder, first.database, second.holder) == (True, "up", False)
        cached = _raw(redis_client, db_watch.ROUTES)
        assert cached and b"zzDbWatchToken" not in cached
        assert b"enc:v1:" in cached

        # PostgreSQL hangs: the holder fires and pages directly; the other does nothing.
        outage.proxy.freeze()
        clock.advance(5)
        fired = one.tick()
        assert (fired.database, fired.state, fired.sent) == ("down", "firing", 1), fired
        assert not two.tick().holder
        clock.advance(5)
        assert one.tick().sent == 0, "the page is not sent again"
        assert len(hook.received) == 1
        page: dict[str, Any] = hook.received[0]
        assert page["severity"] == "P1" and page["event"] == "trigger"
        assert "Database Unreachable" in page["subject"]
        state = one.read_state()
        assert state is not None
        key = state["alert_key"]
        assert page["alerts"] == [{"alert_key": key, "event": "trigger"}]
        # The pages and the header strip see it in the live snapshot, PostgreSQL or not.
        firing = alerts_store.list_firing(redis_client)
        assert [(a.rule_id, a.severity, a.alert_key) for a in firing] == [
            (db_watch.RULE_ID, "P1", key)
        ]
        assert alerts_store.count_firing_by_severity(redis_client)["P1"] == 1

        # The holder stops (its lease runs out): the other takes over and does not page again.
        redis_client.delete(db_watch.LEASE)
        clock.advance(5)
        took = two.tick()
        assert (took.holder, took.state, took.sent) == (True, "firing", 0)
        stale = one.tick()
        assert not stale.holder, "the old holder's lease is gone"
        one.lease = "1:worker-1"  # even with its old fencing token it cannot write
        assert not one._write(db_watch.STATE, {"state": "ok"})
        assert len(hook.received) == 1

        # PostgreSQL answers again: the outage is written there once, the Redis state goes.
        outage.proxy.thaw()
        clock.advance(5)
        back = two.tick()
        assert (back.database, back.recorded, back.state) == ("up", True, "ok"), back
        assert redis_client.get(db_watch.STATE) is None
        assert alerts_store.list_firing(redis_client) == []
        assert _history(outage.direct) == [("ok", "firing"), ("firing", "resolved")]
        outbox = rows(outage.direct, "SELECT * FROM notification_outbox ORDER BY id")
        assert [(o["dedupe_key"], o["status"]) for o in outbox] == [
            (f"{key}:firing", "dispatched"),
            (f"{key}:resolved", "pending"),
        ]
        log = notify_store.list_delivery_log(outage.direct.connect())
        assert list(log["ok"]) == [True] and list(log["contact_point"]) == ["pager-hook"]
        incident = rows(outage.direct, "SELECT severity FROM incidents WHERE alert_key = :k", k=key)
        assert [i["severity"] for i in incident] == ["P1"]
        clock.advance(5)
        assert not two.tick().recorded, "nothing is recorded twice"

        # The delivery job sends the resolution; nothing else goes out.
        run_notify_cycle(outage.direct, clock=clock, settings=fast_settings())
        assert [m["event"] for m in hook.received] == ["trigger", "resolve"]


def test_a_stopped_postgresql_fires_too_and_waits_for_a_cached_route(
    outage: Outage, redis_client: redis.Redis, clock: Clock
) -> None:
    one = _watcher(outage, redis_client, clock, "worker-1")
    assert one.tick().database == "up"  # no contact point yet: nothing to page through
    outage.proxy.close()  # connections refused from now on
    clock.advance(5)
    down = one.tick()
    assert (down.database, down.state, down.sent) == ("down", "firing", 0)
    assert "no cached contact point for P1 on-call pages" in down.problems
    state = one.read_state()
    assert state is not None
    assert datetime.fromisoformat(state["since"]) == clock(), "down since the first failed probe"
    # A contact point appears once PostgreSQL is back; the page waits for the next outage.
    assert state["sends"] == {}


def test_a_silence_set_while_postgresql_was_up_holds_the_page(
    outage: Outage, redis_client: redis.Redis, clock: Clock
) -> None:
    with http_peer() as hook:
        _pager_hook(outage, hook.url + "/hook", clock)
        with outage.direct.begin() as conn:
            conn.execute(
                text(
                    """INSERT INTO alert_silences (rule_id, labels, comment, created_by,
                           created_at, ends_at) VALUES (:r, NULL, 'db maintenance', 'tester',
                           :now, :ends)"""
                ),
                {"r": db_watch.RULE_ID, "now": clock(), "ends": clock() + timedelta(hours=2)},
            )
        one = _watcher(outage, redis_client, clock, "worker-1")
        assert one.tick().database == "up"
        outage.proxy.close()
        clock.advance(5)
        down = one.tick()
        assert (down.state, down.sent) == ("firing", 0)
        assert any("silenced until" in p for p in down.problems)
        assert hook.received == []
