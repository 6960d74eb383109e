"""The status header's rules: live results when fresh, stored checks otherwise, overall = worst."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from dashboard.data.live import LiveRead
from dashboard.data.live_status import summarize_status
from dashboard.domain.enums import COMPONENT_LABELS, Component
from dashboard.domain.status import ComponentState, board, is_fresh


def test_overall_is_the_worst_component_and_order_is_worst_first() -> None:
    states = [ComponentState("b", "up"), ComponentState("a", None), ComponentState("c", "down")]
    shown = board(states, source="x")
    assert [s.label for s in shown.components] == ["c", "b", "a"]
    assert (shown.overall, shown.overall_label) == ("down", "Down")
    assert board([], source="x").overall_label == "Unknown"
    assert is_fresh(299.0) and not is_fresh(300.0) and not is_fresh(None)


def test_fresh_live_results_win_and_stale_ones_fall_back_to_stored_checks() -> None:
    first = next(iter(Component))
    live = {first.value: {"status": "degraded", "latency_ms": 12, "message": "slow"}}
    asked: list[bool] = []

    def stored() -> pd.DataFrame:
        asked.append(True)
        return pd.DataFrame(
            {
                "component": [first.value, first.value],
                "status": ["up", "down"],
                "latency_ms": [1.0, float("nan")],
                "message": [None, "gone"],
                "checked_at": [datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)],
            }
        )

    fresh = summarize_status(LiveRead(live, 10.0), stored_checks=stored)
    assert not asked and fresh.source.startswith("live probes")
    assert fresh.components[0] == ComponentState(COMPONENT_LABELS[first], "degraded", 12.0, "slow")

    stale = summarize_status(LiveRead(live, 900.0, degraded=True), stored_checks=stored)
    assert asked and stale.source == "newest stored checks (live state unavailable)"
    assert stale.overall == "down" and stale.components[0].latency_ms is None

    nothing = summarize_status(LiveRead(None, None), stored_checks=lambda: None)
    assert nothing.overall is None and "worker" in nothing.source
    assert len(nothing.components) == len(list(Component))
