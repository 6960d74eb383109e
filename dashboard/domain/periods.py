"""Report periods: calendar months and quarters in UTC, and the period before a period."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta


def month_start(day: date) -> datetime:
    return datetime(day.year, day.month, 1, tzinfo=UTC)


def add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + (moment.month - 1) + months
    return moment.replace(year=index // 12, month=index % 12 + 1, day=1)


def last_calendar_month(now: datetime) -> tuple[datetime, datetime]:
    """[first of last month, first of this month) in UTC: the default report period."""
    this = month_start(now.astimezone(UTC).date())
    return add_months(this, -1), this


def quarter_start(day: date) -> datetime:
    return datetime(day.year, 3 * ((day.month - 1) // 3) + 1, 1, tzinfo=UTC)


def last_quarter(now: datetime) -> tuple[datetime, datetime]:
    """[first day of the last full quarter, first day of this quarter) in UTC."""
    this = quarter_start(now.astimezone(UTC).date())
    return add_months(this, -3), this


def quarter_label(start: datetime) -> str:
    return f"{start.year} Q{(start.month - 1) // 3 + 1}"


def _is_month_start(moment: datetime) -> bool:
    return moment == month_start(moment.date())


def previous_period(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The period before [start, end): whole calendar months map to as many months before,
    any other range to the same length just before it."""
    if end <= start:
        raise ValueError("a period must end after it starts")
    if _is_month_start(start) and _is_month_start(end):
        months = (end.year - start.year) * 12 + end.month - start.month
        return add_months(start, -months), start
    return start - (end - start), start


def period_label(start: datetime, end: datetime) -> str:
    """ "November 2026" for a calendar month, else "2026-11-03 – 2026-11-10" (end exclusive)."""
    if _is_month_start(start) and add_months(start, 1) == end:
        return start.strftime("%B %Y")
    if _is_month_start(start) and add_months(start, 3) == end and start.month % 3 == 1:
        return quarter_label(start)
    last = end - timedelta(seconds=1)
    if start.time() == datetime.min.time() and end.time() == datetime.min.time():
        return f"{start:%Y-%m-%d} – {last:%Y-%m-%d}"
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC"
