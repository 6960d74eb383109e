"""Pure rules: phases and their moves, close conditions, the response timer on a controllable
clock, Markdown escaping, and rotation hand-overs at a local day/hour across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dashboard.domain.incidents import (
    ActionItem,
    Phase,
    Postmortem,
    Severity,
    allowed_next,
    can_move,
    close_problem,
    md_block,
    md_escape,
    response_timer,
)
from dashboard.domain.oncall import (
    OnCallRole,
    Override,
    Rotation,
    calendar,
    on_call_at,
    scheduled,
    validate,
)

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def test_phases_move_forward_and_back_only_where_allowed() -> None:
    assert can_move(Phase.DETECT, Phase.TRIAGE)
    assert can_move(Phase.DETECT, Phase.MITIGATE)  # skipping ahead is fine
    assert not can_move(Phase.TRIAGE, Phase.DETECT)
    assert can_move(Phase.MITIGATE, Phase.INVESTIGATE)
    assert can_move(Phase.RESOLVE, Phase.INVESTIGATE)
    assert not can_move(Phase.REVIEW, Phase.RESOLVE)
    assert allowed_next(Phase.REVIEW) == ()
    assert not can_move(Phase.TRIAGE, Phase.TRIAGE)


def test_p1_and_p2_need_review_and_a_complete_postmortem_to_close() -> None:
    empty = Postmortem().missing()
    assert empty == ["summary", "impact", "root cause", "action items"]
    for sev in (Severity.P1, Severity.P2):
        assert close_problem(sev, Phase.RESOLVE, []) is not None
        assert "postmortem" in str(close_problem(sev, Phase.REVIEW, empty))
        assert close_problem(sev, Phase.REVIEW, []) is None
    assert close_problem(Severity.P3, Phase.RESOLVE, empty) is None
    assert close_problem(Severity.P4, Phase.MITIGATE, empty) is not None
    half = Postmortem("s", "i", "c", (ActionItem("fix it", "", None),))
    assert half.missing() == ["an owner and a due date for every action item"]
    full = Postmortem("s", "i", "c", (ActionItem("fix it", "ann", date(2026, 6, 1)),))
    assert full.missing() == []


@pytest.mark.parametrize(
    ("severity", "limit"),
    [
        ("P1", timedelta(minutes=15)),
        ("P2", timedelta(hours=1)),
        ("P3", timedelta(hours=4)),
        ("P4", timedelta(weeks=1)),
    ],
)
def test_timer_breaches_after_the_response_time(severity: str, limit: timedelta) -> None:
    sev = Severity(severity)
    before = response_timer(sev, declared_at=T0, acknowledged_at=None, now=T0 + limit)
    assert not before.breached and "left to respond" in before.label()
    after = response_timer(
        sev, declared_at=T0, acknowledged_at=None, now=T0 + limit + timedelta(seconds=1)
    )
    assert after.breached and "overdue" in after.label()
    late = response_timer(sev, declared_at=T0, acknowledged_at=T0 + limit * 2, now=T0 + limit * 10)
    assert late.breached and late.responded and "late" in late.label()
    in_time = response_timer(
        sev, declared_at=T0, acknowledged_at=T0 + limit / 2, now=T0 + limit * 10
    )
    assert not in_time.breached and "in time" in in_time.label()


def test_markdown_escape_neutralises_structure_and_html() -> None:
    hostile = "# head\n* item | cell [x](javascript:alert(1)) <script>&"
    out = md_escape(hostile)
    assert "\n" not in out
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert out.startswith("\\#")
    assert "\\[x\\]\\(javascript" in out
    assert "\\|" in out


PARIS = Rotation(
    primary=("ann", "bob", "cid"),
    secondary=("dee", "eve"),
    manager=("meg",),
    handover_weekday=2,  # Wednesday
    handover_hour=9,
    timezone="Europe/Paris",
    anchor=date(2026, 3, 18),  # a Wednesday
)


def _paris(y: int, m: int, d: int, h: int, minute: int = 0) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=ZoneInfo("Europe/Paris"))


def test_handover_at_the_local_day_and_hour() -> None:
    assert scheduled(PARIS, OnCallRole.PRIMARY, _paris(2026, 3, 18, 9)) == "ann"
    assert scheduled(PARIS, OnCallRole.PRIMARY, _paris(2026, 3, 25, 8, 59)) == "ann"
    assert scheduled(PARIS, OnCallRole.PRIMARY, _paris(2026, 3, 25, 9)) == "bob"
    assert scheduled(PARIS, OnCallRole.SECONDARY, _paris(2026, 3, 25, 9)) == "eve"
    assert scheduled(PARIS, OnCallRole.PRIMARY, _paris(2026, 4, 8, 9)) == "ann"
    assert scheduled(PARIS, OnCallRole.MANAGER, _paris(2026, 4, 8, 9)) == "meg"


def test_handover_keeps_local_hour_across_dst() -> None:
    # Paris moves to summer time on Sunday 2026-03-29: the 2026-04-01 hand-over is still 09:00
    # local, which is 07:00 UTC (it was 08:00 UTC the week before).
    before = datetime(2026, 3, 25, 8, 0, tzinfo=UTC)  # 09:00 CET
    assert scheduled(PARIS, OnCallRole.PRIMARY, before) == "bob"
    assert scheduled(PARIS, OnCallRole.PRIMARY, before - timedelta(seconds=1)) == "ann"
    after = datetime(2026, 4, 1, 7, 0, tzinfo=UTC)  # 09:00 CEST
    assert scheduled(PARIS, OnCallRole.PRIMARY, after - timedelta(seconds=1)) == "bob"
    assert scheduled(PARIS, OnCallRole.PRIMARY, after) == "cid"
    # and back to winter time (2026-10-25): 09:00 local is 08:00 UTC again
    autumn = datetime(2026, 10, 28, 8, 0, tzinfo=UTC)
    assert scheduled(PARIS, OnCallRole.PRIMARY, autumn - timedelta(seconds=1)) != scheduled(
        PARIS, OnCallRole.PRIMARY, autumn
    )


def test_overrides_win_inside_their_range_latest_first() -> None:
    at = _paris(2026, 3, 19, 12)
    o1 = Override(OnCallRole.PRIMARY, "zed", at - timedelta(hours=1), at + timedelta(hours=1))
    o2 = Override(OnCallRole.PRIMARY, "yan", at, at + timedelta(minutes=30))
    assert on_call_at(PARIS, [o1], OnCallRole.PRIMARY, at) == "zed"
    assert on_call_at(PARIS, [o1, o2], OnCallRole.PRIMARY, at) == "yan"
    assert on_call_at(PARIS, [o1, o2], OnCallRole.SECONDARY, at) == "dee"
    assert on_call_at(PARIS, [o1], OnCallRole.PRIMARY, at + timedelta(hours=1)) == "ann"


def test_calendar_lists_weeks_and_marks_overrides() -> None:
    start = _paris(2026, 3, 20, 12)
    at = _paris(2026, 3, 26, 12)
    o = Override(OnCallRole.SECONDARY, "zed", at, at + timedelta(hours=2))
    weeks = calendar(PARIS, [o], start=start, weeks=4)
    assert [w.primary for w in weeks] == ["ann", "bob", "cid", "ann"]
    assert weeks[0].starts_at == _paris(2026, 3, 18, 9)
    assert weeks[1].overridden == ("secondary",)
    assert weeks[0].overridden == ()


def test_rotation_validation() -> None:
    validate(PARIS)
    with pytest.raises(ValueError, match="time zone"):
        validate(Rotation(timezone="Mars/Olympus"))
    with pytest.raises(ValueError, match="twice"):
        validate(Rotation(primary=("a", "a")))
    with pytest.raises(ValueError, match="hour"):
        validate(Rotation(handover_hour=24))


def test_markdown_block_keeps_lines_but_no_structure() -> None:
    out = md_block("first line\n# not a heading\n- not a list\n| not | a table |")
    lines = out.split("  \n")
    assert lines[0] == "first line"
    assert [ln[:2] for ln in lines[1:]] == ["\\#", "\\-", "\\|"]
