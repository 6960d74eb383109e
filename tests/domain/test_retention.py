"""Retention 7 daily / 4 weekly / 12 monthly over a simulated year of nightly backups."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from dashboard.domain.retention import RetentionPolicy, select_retained


def _expected(kept_days: set[date], now: datetime) -> set[date]:
    """The rule written out by hand for one backup per night at 02:00."""
    today = now.date()
    daily = {today - timedelta(days=i) for i in range(7)}
    monday = today - timedelta(days=today.weekday())
    weekly = {min(monday + timedelta(days=6) - timedelta(weeks=w), today) for w in range(4)}
    monthly: set[date] = set()
    y, m = today.year, today.month
    for _ in range(12):
        last = date(y + (m == 12), m % 12 + 1, 1) - timedelta(days=1)
        monthly.add(min(last, today))
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return (daily | weekly | monthly) & kept_days | {today}


def test_a_simulated_year_keeps_exactly_the_right_set() -> None:
    start = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
    alive: dict[int, datetime] = {}
    for n in range(365):
        at = start + timedelta(days=n)
        alive[n] = at
        decision = select_retained(alive.items(), now=at)
        for gone in decision.delete:
            del alive[gone]
        days = {t.date() for t in alive.values()}
        assert days == _expected(days, at), at
    final = sorted(t.date() for t in alive.values())
    # Dec 25-31 (7 nights: this week's newest and Sunday Dec 27 among them), the Sundays
    # Dec 20 and 13 (the other two of 4 weeks), and the 11 earlier month ends.
    assert final[-7:] == [date(2026, 12, 31) - timedelta(days=i) for i in range(6, -1, -1)]
    assert date(2026, 12, 20) in final and date(2026, 12, 13) in final  # Sundays: week ends
    assert date(2026, 11, 30) in final and date(2026, 1, 31) in final  # month ends
    assert date(2026, 1, 30) not in final and date(2026, 12, 21) not in final
    assert len(final) == 7 + 2 + 11
    # Applying once over the whole history decides the same.
    everything = {n: start + timedelta(days=n) for n in range(365)}
    once = select_retained(everything.items(), now=start + timedelta(days=364))
    assert set(once.keep) == set(alive)


def test_reasons_and_newest_always_kept() -> None:
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    old = now - timedelta(days=400)
    decision = select_retained([(1, old)], now=now)
    assert decision.keep == {1: ("newest",)} and decision.delete == ()
    two = select_retained([(1, old), (2, now - timedelta(hours=1))], now=now)
    assert two.delete == (1,) and "daily" in two.keep[2]


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        select_retained([(1, datetime(2026, 1, 1))], now=datetime.now(UTC))
    with pytest.raises(ValueError, match="negative"):
        RetentionPolicy(daily=-1)
