"""Checklist periods and done / due / overdue, and the checklists file validates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.domain.checklists import ChecklistSpecError, item_state, parse_checklists, period_key

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)  # a Thursday in ISO week 49, Q4


def test_period_keys() -> None:
    assert period_key("daily", NOW) == "2026-12-03"
    assert period_key("weekly", NOW) == "2026-W49"
    assert period_key("monthly", NOW) == "2026-12"
    assert period_key("quarterly", NOW) == "2026-Q4"
    assert period_key("deployment", NOW, deployment="0.1.0") == "0.1.0"


@pytest.mark.parametrize(
    ("cadence", "ago", "state"),
    [
        ("daily", timedelta(hours=1), "done"),
        ("daily", timedelta(days=1), "due"),
        ("daily", timedelta(days=2), "overdue"),
        ("weekly", timedelta(days=3), "done"),  # Monday of this week
        ("weekly", timedelta(days=9), "due"),  # last week
        ("weekly", timedelta(days=11), "overdue"),
        ("monthly", timedelta(days=20), "due"),
        ("monthly", timedelta(days=40), "overdue"),
        ("quarterly", timedelta(days=30), "done"),  # early November: Q4
        ("quarterly", timedelta(days=70), "due"),  # late September: Q3, the previous quarter
        ("quarterly", timedelta(days=200), "overdue"),
    ],
)
def test_item_states(cadence: str, ago: timedelta, state: str) -> None:
    assert item_state(cadence, NOW - ago, NOW) == state


def test_never_done_is_overdue() -> None:
    assert item_state("quarterly", None, NOW) == "overdue"
    assert item_state("deployment", None, NOW) == "due"


def test_the_shipped_file_validates_and_bad_ones_are_refused() -> None:
    from dashboard.data.checklists import AUTO_CHECKS, load_checklists

    lists = load_checklists()
    assert [c.id for c in lists] == ["daily", "weekly", "monthly", "quarterly", "post_deploy"]
    assert all(i.auto in AUTO_CHECKS for c in lists for i in c.items if i.auto)
    with pytest.raises(ChecklistSpecError, match="unknown auto check"):
        parse_checklists(
            '[[checklists]]\nid="x"\ncadence="daily"\nitems=[{id="a", text="A", auto="nope"}]',
            known_auto=frozenset(),
        )
    with pytest.raises(ChecklistSpecError, match="cadence"):
        parse_checklists('[[checklists]]\nid="x"\ncadence="hourly"', known_auto=frozenset())
