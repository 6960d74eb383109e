"""Quarantine, release and discovery review: idempotent, version-guarded, audited, atomic."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import cast

import psycopg
import pytest
from sqlalchemy import Connection, Engine, text

import dashboard.actions.agents as agents_mod
from dashboard.actions.agents import (
    approve_discovery,
    bulk_approve_discoveries,
    bulk_quarantine,
    bulk_reject_discoveries,
    count_bulk_targets,
    list_review_queue,
    needs_typed_confirmation,
    quarantine_agent,
    reject_discovery,
    release_agent,
)
from dashboard.actions.base import ActionDenied, ActionResult
from dashboard.data.agent_filter import AgentFilter
from dashboard.data.errors import InvalidQuery
from dashboard.domain.permissions import Role
from tests.actions.conftest import (
    LoggedIn,
    agent_row,
    audit_rows,
    make_agent,
    status_changes,
    unique,
)

Login = Callable[..., LoggedIn]


def test_quarantine_then_repeat_is_a_noop(auth_engine: Engine, signed_in: Login) -> None:
    op = signed_in(Role.OPERATOR)
    agent = make_agent(auth_engine)
    before = agent_row(auth_engine, agent)

    first = quarantine_agent(auth_engine, op.actor, agent, "  leaking customer data  ")
    assert first.outcome == "changed" and first.count == 1
    row = agent_row(auth_engine, agent)
    assert row["status"] == "quarantined"
    assert row["version"] == before["version"] + 1
    assert row["quarantine_reason"] == "leaking customer data"
    assert row["quarantined_by"] == op.username
    assert row["quarantined_at"] is not None

    again = quarantine_agent(auth_engine, op.actor, agent, "again")
    assert again.outcome == "noop"
    assert "already quarantined" in again.message
    assert agent_row(auth_engine, agent)["version"] == row["version"]

    history = status_changes(auth_engine, agent)
    assert [(h["from_status"], h["to_status"]) for h in history] == [("active", "quarantined")]
    assert history[0]["changed_by"] == op.username
    audit = audit_rows(auth_engine, action="agent.quarantine", target_id=str(agent))
    assert len(audit) == 1
    entry = audit[0]
    assert entry["outcome"] == "ok"
    assert entry["actor"] == op.username and entry["actor_roles"] == ["operator"]
    assert entry["reason"] == "leaking customer data"
    assert entry["before"] == {"status": "active", "version": before["version"]}
    assert entry["after"] == {"status": "quarantined", "version": before["version"] + 1}


def test_release_returns_to_active_and_clears_quarantine(
    auth_engine: Engine, signed_in: Login
) -> None:
    op = signed_in(Role.OPERATOR)
    agent = make_agent(auth_engine)
    assert quarantine_agent(auth_engine, op.actor, agent, "suspicious").outcome == "changed"
    released = release_agent(auth_engine, op.actor, agent, "false alarm")
    assert released.outcome == "changed"
    row = agent_row(auth_engine, agent)
    assert row["status"] == "active"
    assert row["quarantine_reason"] is None and row["quarantined_by"] is None
    again = release_agent(auth_engine, op.actor, agent, "false alarm")
    assert again.outcome == "noop" and "not quarantined" in again.message
    assert len(audit_rows(auth_engine, action="agent.release", target_id=str(agent))) == 1


@pytest.mark.parametrize(
    "reason",
    [None, "", "   ", "x" * 1001, 42],
)
def test_a_reason_is_required_and_bounded(
    auth_engine: Engine, signed_in: Login, reason: object
) -> None:
    op = signed_in(Role.OPERATOR)
    agent = make_agent(auth_engine)
    result = quarantine_agent(auth_engine, op.actor, agent, reason)  # type: ignore[arg-type]
    assert result.outcome == "invalid"
    assert agent_row(auth_engine, agent)["status"] == "active"
    assert release_agent(auth_engine, op.actor, agent, reason).outcome == "invalid"  # type: ignore[arg-type]


def test_reason_of_exactly_1000_characters_is_accepted(
    auth_engine: Engine, signed_in: Login
) -> None:
    op = signed_in(Role.OPERATOR)
    agent = make_agent(auth_engine)
    assert quarantine_agent(auth_engine, op.actor, agent, "r" * 1000).outcome == "changed"


def test_unknown_and_malformed_agents(auth_engine: Engine, signed_in: Login) -> None:
    op = signed_in(Role.OPERATOR)
    assert quarantine_agent(auth_engine, op.actor, 2**62, "why").outcome == "not_found"
    assert quarantine_agent(auth_engine, op.actor, -3, "why").outcome == "invalid"
    assert quarantine_agent(auth_engine, op.actor, "7", "why").outcome == "invalid"  # type: ignore[arg-type]


def test_stale_expected_version_is_a_conflict(auth_engine: Engine, signed_in: Login) -> None:
    """Two operators looking at version v: the second one's action must not silently apply."""
    alice, bob = signed_in(Role.OPERATOR), signed_in(Role.OPERATOR)
    agent = make_agent(auth_engine)
    seen = int(agent_row(auth_engine, agent)["version"])
    assert quarantine_agent(auth_engine, alice.actor, agent, "a", expected_version=seen).ok
    assert release_agent(auth_engine, alice.actor, agent, "b").outcome == "changed"
    # Bob still looks at version `seen`: the agent is active again but has moved on.
    late = quarantine_agent(auth_engine, bob.actor, agent, "c", expected_version=seen)
    assert late.outcome == "conflict"
    assert "Reload" in late.message
    assert agent_row(auth_engine, agent)["status"] == "active"
    # A stale version on an agent already in the target state is just a no-op.
    assert quarantine_agent(auth_engine, alice.actor, agent, "d").outcome == "changed"
    assert quarantine_agent(auth_engine, bob.actor, agent, "e", expected_version=seen).outcome == (
        "noop"
    )


def test_fifty_concurrent_quarantines_make_one_transition(
    auth_engine: Engine, signed_in: Login
) -> None:
    operators = [signed_in(Role.OPERATOR) for _ in range(5)]
    agent = make_agent(auth_engine)
    start = threading.Barrier(50)

    def attempt(i: int) -> ActionResult:
        start.wait(timeout=30)
        return quarantine_agent(auth_engine, operators[i % 5].actor, agent, f"race {i}")

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(attempt, range(50)))

    assert len(results) == 50  # every caller was answered
    outcomes = sorted(r.outcome for r in results)
    assert outcomes.count("changed") == 1, outcomes
    assert outcomes.count("noop") == 49, outcomes
    assert len(status_changes(auth_engine, agent)) == 1
    ok_rows = audit_rows(auth_engine, action="agent.quarantine", target_id=str(agent))
    assert len(ok_rows) == 1 and ok_rows[0]["outcome"] == "ok"
    assert agent_row(auth_engine, agent)["version"] == 2


def test_failure_before_commit_leaves_no_change_and_no_audit(
    auth_engine: Engine, signed_in: Login, monkeypatch: pytest.MonkeyPatch
) -> None:
    op = signed_in(Role.OPERATOR)
    agent = make_agent(auth_engine)

    def crash(conn: Connection) -> None:
        # The change and its audit row are written but not committed yet.
        seen = conn.execute(text("SELECT status FROM agents WHERE id = :id"), {"id": agent})
        assert seen.scalar_one() == "quarantined"
        raise RuntimeError("process died")

    monkeypatch.setattr(agents_mod, "_before_commit", crash)
    with pytest.raises(RuntimeError, match="process died"):
        quarantine_agent(auth_engine, op.actor, agent, "doomed")
    assert agent_row(auth_engine, agent)["status"] == "active"
    assert status_changes(auth_engine, agent) == []
    assert audit_rows(auth_engine, target_id=str(agent)) == []


def test_backend_killed_between_change_and_commit(
    auth_engine: Engine, auth_db_url: str, signed_in: Login, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pg_terminate_backend on the action's own connection while its transaction is open."""
    op = signed_in(Role.OPERATOR)
    agent = make_agent(auth_engine)
    killed: list[int] = []

    def kill(conn: Connection) -> None:
        pid = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
        with psycopg.connect(auth_db_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
        killed.append(pid)

    monkeypatch.setattr(agents_mod, "_before_commit", kill)
    result = quarantine_agent(auth_engine, op.actor, agent, "doomed")
    assert killed, "the seam ran"
    assert result.outcome == "error"
    assert "nothing was changed" in result.message
    monkeypatch.setattr(agents_mod, "_before_commit", None)
    assert agent_row(auth_engine, agent)["status"] == "active"
    assert status_changes(auth_engine, agent) == []
    assert audit_rows(auth_engine, target_id=str(agent)) == []
    # The pool recovers: the next attempt goes through.
    assert quarantine_agent(auth_engine, op.actor, agent, "again").outcome == "changed"


# ----------------------------------------------------------------------------- bulk


def _named_agents(engine: Engine, count: int, **kw: object) -> tuple[str, list[int]]:
    word = unique("bulk")
    return word, [make_agent(engine, name=f"{word} agent {i}", **kw) for i in range(count)]  # type: ignore[arg-type]


def test_bulk_quarantine_of_a_filter_needs_the_typed_count(
    auth_engine: Engine, signed_in: Login
) -> None:
    op = signed_in(Role.OPERATOR)
    word, ids = _named_agents(auth_engine, 12)
    selection = AgentFilter(name_query=word)
    assert count_bulk_targets(auth_engine, selection) == 12
    assert needs_typed_confirmation(12) and not needs_typed_confirmation(10)

    missing = bulk_quarantine(auth_engine, op.actor, selection, "campaign")
    assert missing.outcome == "invalid" and "Type 12 to confirm" in missing.message
    wrong = bulk_quarantine(auth_engine, op.actor, selection, "campaign", confirm_count=11)
    assert wrong.outcome == "invalid" and "not 11" in wrong.message
    assert all(agent_row(auth_engine, i)["status"] == "active" for i in ids)

    # One of them is already quarantined: it counts as selected but is not changed again.
    assert quarantine_agent(auth_engine, op.actor, ids[0], "first").outcome == "changed"
    done = bulk_quarantine(auth_engine, op.actor, selection, "campaign", confirm_count=12)
    assert done.outcome == "changed" and done.count == 11
    assert "11 of 12" in done.message
    assert all(agent_row(auth_engine, i)["status"] == "quarantined" for i in ids)
    per_agent = [
        r
        for r in audit_rows(auth_engine, action="agent.quarantine")
        if int(str(r["target_id"])) in ids
    ]
    assert len(per_agent) == 12  # 1 single + 11 bulk
    summary = audit_rows(auth_engine, action="agent.bulk_quarantine", actor=op.username)
    assert len(summary) == 1
    assert summary[0]["after"]["matched"] == 12 and summary[0]["after"]["changed"] == 11

    repeat = bulk_quarantine(auth_engine, op.actor, selection, "campaign", confirm_count=12)
    assert repeat.outcome == "noop"


def test_bulk_of_ten_or_fewer_needs_no_typed_count(auth_engine: Engine, signed_in: Login) -> None:
    op = signed_in(Role.OPERATOR)
    _, ids = _named_agents(auth_engine, 10)
    result = bulk_quarantine(auth_engine, op.actor, ids, "small batch")
    assert result.outcome == "changed" and result.count == 10
    # A stated count must still match.
    _, more = _named_agents(auth_engine, 3)
    assert bulk_quarantine(auth_engine, op.actor, more, "x", confirm_count=4).outcome == "invalid"


def test_bulk_rejects_bad_selections(auth_engine: Engine, signed_in: Login) -> None:
    op = signed_in(Role.OPERATOR)
    assert bulk_quarantine(auth_engine, op.actor, [1, -2], "x").outcome == "invalid"
    assert bulk_quarantine(auth_engine, op.actor, "1,2", "x").outcome == "invalid"  # type: ignore[arg-type]
    assert bulk_quarantine(auth_engine, op.actor, [2**62], "x").outcome == "noop"
    assert bulk_quarantine(auth_engine, op.actor, [1], "").outcome == "invalid"
    none = AgentFilter(name_query=unique("nomatch"))
    assert bulk_quarantine(auth_engine, op.actor, none, "x").outcome == "noop"


def test_bulk_transaction_is_all_or_nothing(
    auth_engine: Engine, signed_in: Login, monkeypatch: pytest.MonkeyPatch
) -> None:
    op = signed_in(Role.OPERATOR)
    _, ids = _named_agents(auth_engine, 5)

    def crash(conn: Connection) -> None:
        raise RuntimeError("died before commit")

    monkeypatch.setattr(agents_mod, "_before_commit", crash)
    with pytest.raises(RuntimeError):
        bulk_quarantine(auth_engine, op.actor, ids, "doomed")
    assert all(agent_row(auth_engine, i)["status"] == "active" for i in ids)
    assert all(audit_rows(auth_engine, target_id=str(i)) == [] for i in ids)


# ----------------------------------------------------------------------------- review queue


def test_review_queue_oldest_first_and_approve_reject(
    auth_engine: Engine, signed_in: Login
) -> None:
    op = signed_in(Role.OPERATOR)
    base = datetime(2001, 1, 1, tzinfo=UTC)  # older than anything else in this database
    new = [
        make_agent(
            auth_engine, status="quarantined", reviewed=False, discovered_at=base + timedelta(i)
        )
        for i in range(4)
    ]
    page = list_review_queue(auth_engine, op.actor, limit=2)
    assert list(page.rows["id"]) == new[:2]
    assert page.total >= 4 and page.next_cursor is not None
    second = list_review_queue(auth_engine, op.actor, limit=2, cursor=page.next_cursor)
    assert list(second.rows["id"]) == new[2:4]
    with pytest.raises(InvalidQuery, match="page link"):
        list_review_queue(auth_engine, op.actor, limit=2, cursor=page.next_cursor[:-1] + "!")

    approved = approve_discovery(auth_engine, op.actor, new[0])
    assert approved.outcome == "changed"
    row = agent_row(auth_engine, new[0])
    assert row["status"] == "active" and row["reviewed_by"] == op.username
    assert approve_discovery(auth_engine, op.actor, new[0]).outcome == "noop"
    assert reject_discovery(auth_engine, op.actor, new[0]).outcome == "noop"

    rejected = reject_discovery(auth_engine, op.actor, new[1], "shadow IT")
    assert rejected.outcome == "changed"
    assert agent_row(auth_engine, new[1])["status"] == "deprecated"

    assert list(list_review_queue(auth_engine, op.actor, limit=2).rows["id"]) == new[2:4]
    # An agent quarantined by an operator is not a discovery awaiting review.
    active = make_agent(auth_engine)
    quarantine_agent(auth_engine, op.actor, active, "manual")
    assert approve_discovery(auth_engine, op.actor, active).outcome == "noop"

    assert bulk_approve_discoveries(auth_engine, op.actor, [new[2]]).count == 1
    assert bulk_reject_discoveries(auth_engine, op.actor, [new[3], new[2]]).count == 1
    assert agent_row(auth_engine, new[3])["status"] == "deprecated"
    assert agent_row(auth_engine, new[2])["status"] == "active"


def test_review_queue_needs_review_permission(auth_engine: Engine, signed_in: Login) -> None:
    manager = signed_in(Role.MANAGER)
    with pytest.raises(ActionDenied):
        list_review_queue(auth_engine, manager.actor)
    denied = audit_rows(auth_engine, actor=manager.username, action="discovery.list")
    assert [r["outcome"] for r in denied] == ["denied"]


def test_a_committed_change_bumps_the_agents_cache_topic(
    auth_engine: Engine, signed_in: Login, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every replica keys its agent panels on this counter: a change moves it, a noop or a
    refusal does not (nothing to show, so no cold recomputation for everyone)."""
    import redis

    from dashboard.data.cache import topic_key
    from dashboard.settings import reset_settings

    monkeypatch.setenv("ORCA_REDIS_URL", redis_url)
    reset_settings()
    client = redis.Redis.from_url(redis_url)

    def generation() -> int:
        raw = cast(bytes | None, client.get(topic_key("agents")))
        return int(raw or 0)

    op = signed_in(Role.OPERATOR)
    viewer = signed_in(Role.MANAGER)
    agent = make_agent(auth_engine)
    start = generation()
    assert quarantine_agent(auth_engine, op.actor, agent, "r").outcome == "changed"
    assert generation() == start + 1
    assert quarantine_agent(auth_engine, op.actor, agent, "r").outcome == "noop"
    assert quarantine_agent(auth_engine, viewer.actor, agent, "r").outcome == "denied"
    assert generation() == start + 1
    assert release_agent(auth_engine, op.actor, agent, "r").outcome == "changed"
    others = [make_agent(auth_engine) for _ in range(2)]
    assert bulk_quarantine(auth_engine, op.actor, others, "r").outcome == "changed"
    assert generation() == start + 3
