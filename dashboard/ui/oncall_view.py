"""On-call page body: who is on call now, the next weeks, overrides, and the rotation editor.

Also :func:`on_call_now_text`, the one line the header strip shows on every page.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, time, timedelta
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from dashboard.actions import oncall as actions
from dashboard.actions.base import SESSION_ENDED_MESSAGE, ActionResult, Actor
from dashboard.data import cache
from dashboard.data.oncall import (
    OnCall,
    StoredOverride,
    StoredRotation,
    get_on_call,
    get_rotation,
    list_overrides,
    list_user_choices,
)
from dashboard.domain.oncall import (
    WEEKDAYS,
    OnCallRole,
    Override,
    Rotation,
    Shift,
    calendar,
    zone,
)
from dashboard.domain.permissions import can_do
from dashboard.ui import auth, loaders, resources, staged
from dashboard.ui.markup import plain, shown, shown_frame

PAGE = "oncall"
TOPICS = actions.ONCALL_TOPICS
WEEKS = 8
ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Asia/Singapore",
    "Australia/Sydney",
)

for _cls in (OnCall, StoredOverride, StoredRotation, Override, Rotation, Shift):
    cache.register(_cls)


def _now_on_call(conn: Connection, *, at: datetime) -> OnCall:
    return get_on_call(conn, at=at)


def _schedule(
    conn: Connection, *, at: datetime
) -> tuple[StoredRotation | None, list[StoredOverride]]:
    return get_rotation(conn), list_overrides(conn, start=at, end=at + timedelta(weeks=WEEKS + 1))


def _people(conn: Connection) -> list[str]:
    return list_user_choices(conn)


def primary_now() -> str | None:
    """Who is primary on call now (None: nobody, or the database cannot say)."""
    panel = loaders.load("oncall.now", _now_on_call, ttl_s=30, topics=TOPICS, at=resources.now())
    return panel.value.primary if panel.value is not None else None


def on_call_now_text() -> str:
    """'On call: primary X · secondary Y · manager Z' (plain Markdown), for the header strip."""
    panel = loaders.load("oncall.now", _now_on_call, ttl_s=30, topics=TOPICS, at=resources.now())
    who = panel.value
    if who is None:
        return "On call: unknown"
    return "On call: " + " · ".join(
        f"{label} {plain(name or 'nobody')}"
        for label, name in (
            ("primary", who.primary),
            ("secondary", who.secondary),
            ("manager", who.manager),
        )
    )


# ----------------------------------------------------------------------------- actions


def _run(fn: Any, *args: Any, **kwargs: Any) -> ActionResult:
    actor = auth.current_actor()
    if actor is None:
        return ActionResult("denied", SESSION_ENDED_MESSAGE)
    try:
        result: ActionResult = fn(auth.engine(), actor, *args, **kwargs)
    except (auth.GateClosed, SQLAlchemyError):
        return ActionResult("error", "PostgreSQL is unreachable; nothing was changed.")
    return result


def _state(name: str, default: Any = None) -> Any:
    return st.session_state.get(f"{PAGE}.{name}", default)


def _lines(name: str) -> list[str]:
    return [ln.strip() for ln in str(_state(name) or "").splitlines() if ln.strip()]


def _save_rotation(version: int) -> None:
    st.session_state[f"{PAGE}.result"] = _run(
        actions.save_rotation,
        primary=_lines("primary"),
        secondary=_lines("secondary"),
        manager=_lines("manager"),
        handover_weekday=WEEKDAYS.index(str(_state("weekday") or "Monday")),
        handover_hour=int(_state("hour") or 0),
        timezone=str(_state("tz") or "UTC"),
        anchor=_state("anchor") or date.today(),
        expected_version=version,
    )


def _add_override(tz_name: str) -> None:
    tz = zone(tz_name)
    try:
        start = datetime.combine(_state("o_from_day"), _state("o_from_time"), tzinfo=tz)
        end = datetime.combine(_state("o_to_day"), _state("o_to_time"), tzinfo=tz)
    except TypeError:
        st.session_state[f"{PAGE}.result"] = ActionResult("invalid", "Choose both dates.")
        return
    st.session_state[f"{PAGE}.result"] = _run(
        actions.add_override,
        role=str(_state("o_role") or "primary"),
        username=str(_state("o_user") or ""),
        starts_at=start,
        ends_at=end,
        reason=str(_state("o_reason") or "") or None,
    )


# ----------------------------------------------------------------------------- render


def _calendar_frame(shifts: list[Shift], tz_name: str) -> pd.DataFrame:
    tz = zone(tz_name)
    return pd.DataFrame(
        [
            {
                "From": s.starts_at.astimezone(tz).strftime("%a %Y-%m-%d %H:%M"),
                "Until": s.ends_at.astimezone(tz).strftime("%a %Y-%m-%d %H:%M"),
                "Primary": s.primary or "-",
                "Secondary": s.secondary or "-",
                "Manager": s.manager or "-",
                "Overrides inside": ", ".join(s.overridden),
            }
            for s in shifts
        ]
    )


def render(actor: Actor) -> None:
    staged.show_result(f"{PAGE}.result")
    now = resources.now()
    who = loaders.load("oncall.now", _now_on_call, ttl_s=30, topics=TOPICS, at=now)
    sched = loaders.load("oncall.schedule", _schedule, ttl_s=30, topics=TOPICS, at=now)
    people = loaders.load("oncall.people", _people, ttl_s=60, topics=("users",)).value or []
    if sched.value is None:
        st.error(sched.message or "The rotation could not be read.", icon="🛑")
        return
    stored, overrides = sched.value
    rotation = stored.rotation if stored is not None else Rotation()
    st.subheader("On call now")
    cols = st.columns(3)
    current = who.value
    for col, label, name in (
        (cols[0], "Primary", current.primary if current else None),
        (cols[1], "Secondary", current.secondary if current else None),
        (cols[2], "Manager", current.manager if current else None),
    ):
        with col.container(border=True):
            st.caption(label)
            st.markdown(f"### {plain(name or 'nobody')}")
    st.caption(
        plain(
            f"Hand-over every {WEEKDAYS[rotation.handover_weekday]} at "
            f"{rotation.handover_hour:02d}:00 {rotation.timezone}"
        )
    )
    st.subheader(f"The next {WEEKS} weeks")
    shifts = calendar(rotation, [o.override for o in overrides], start=now, weeks=WEEKS)
    st.dataframe(
        shown_frame(_calendar_frame(shifts, rotation.timezone)),
        hide_index=True,
        key=f"{PAGE}.calendar",
    )
    st.caption("Each row is one hand-over period; names are who holds the role at its start.")
    may = can_do(actor.roles, "oncall.override")
    _overrides(overrides, rotation.timezone, may)
    if may:
        _override_form(people, rotation.timezone)
    if can_do(actor.roles, "oncall.edit_rotation"):
        _rotation_form(stored, rotation)


def _overrides(overrides: list[StoredOverride], tz_name: str, may: bool) -> None:
    st.subheader("Overrides")
    if not overrides:
        st.info("No overrides in the coming weeks.")
        return
    tz = zone(tz_name)
    frame = pd.DataFrame(
        [
            {
                "Id": o.id,
                "Role": o.override.role,
                "Who": o.override.username,
                "From": o.override.starts_at.astimezone(tz).strftime("%a %Y-%m-%d %H:%M"),
                "Until": o.override.ends_at.astimezone(tz).strftime("%a %Y-%m-%d %H:%M"),
                "Reason": o.reason or "",
                "Set by": o.created_by,
            }
            for o in overrides
        ]
    )
    st.dataframe(shown_frame(frame), hide_index=True, key=f"{PAGE}.overrides")
    if not may:
        return
    ids = [o.id for o in overrides]
    cols = st.columns([2, 3])
    chosen = cols[0].selectbox("Override to cancel", ids, key=f"{PAGE}.cancel_id")
    with cols[1]:
        staged.control(
            f"{PAGE}.cancel",
            scope=f"cancel:{chosen}",
            preview_label="Cancel override…",
            stage=functools.partial(_stage_cancel, int(chosen)),
            run=_run_cancel,
        )
    staged.show_result(f"{PAGE}.cancel.result")


def _stage_cancel(override_id: int) -> staged.Plan:
    return staged.Plan(
        scope=f"cancel:{override_id}",
        preview=f"Cancel override #{override_id}?",
        confirm_label="Confirm cancel",
        count=1,
        data=(override_id,),
    )


def _run_cancel(plan: staged.Plan, _count: int | None) -> ActionResult:
    return _run(actions.cancel_override, int(plan.data[0]))


def _override_form(people: list[str], tz_name: str) -> None:
    with st.expander("Add an override (a date range)", expanded=False):
        today = resources.now().astimezone(zone(tz_name)).date()
        cols = st.columns([1, 2, 3])
        cols[0].selectbox("Role", [r.value for r in OnCallRole], key=f"{PAGE}.o_role")
        cols[1].selectbox("Who", people, key=f"{PAGE}.o_user", format_func=shown)
        cols[2].text_input("Reason", key=f"{PAGE}.o_reason", max_chars=1000)
        d = st.columns(4)
        d[0].date_input("From", today, key=f"{PAGE}.o_from_day")
        d[1].time_input("at", time(9), key=f"{PAGE}.o_from_time", step=timedelta(hours=1))
        d[2].date_input("Until", today + timedelta(days=1), key=f"{PAGE}.o_to_day")
        d[3].time_input("at ", time(9), key=f"{PAGE}.o_to_time", step=timedelta(hours=1))
        st.caption(plain(f"Times are in the rotation's time zone, {tz_name}."))
        st.button(
            "Add override",
            type="primary",
            key=f"{PAGE}.o_add",
            on_click=_add_override,
            args=(tz_name,),
        )


def _rotation_form(stored: StoredRotation | None, rotation: Rotation) -> None:
    version = stored.version if stored is not None else 0
    seeded = f"{PAGE}.seeded"
    if st.session_state.get(seeded) != version:
        st.session_state[f"{PAGE}.primary"] = "\n".join(rotation.primary)
        st.session_state[f"{PAGE}.secondary"] = "\n".join(rotation.secondary)
        st.session_state[f"{PAGE}.manager"] = "\n".join(rotation.manager)
        st.session_state[f"{PAGE}.weekday"] = WEEKDAYS[rotation.handover_weekday]
        st.session_state[f"{PAGE}.hour"] = rotation.handover_hour
        st.session_state[f"{PAGE}.tz"] = rotation.timezone
        st.session_state[f"{PAGE}.anchor"] = rotation.anchor
        st.session_state[seeded] = version
    with st.expander("Edit the rotation", expanded=stored is None):
        st.caption("One username per line, in rotation order; each role rotates on its own.")
        cols = st.columns(3)
        cols[0].text_area("Primary", key=f"{PAGE}.primary", height=120)
        cols[1].text_area("Secondary", key=f"{PAGE}.secondary", height=120)
        cols[2].text_area("Manager", key=f"{PAGE}.manager", height=120)
        h = st.columns(4)
        h[0].selectbox("Hand-over day", WEEKDAYS, key=f"{PAGE}.weekday")
        h[1].number_input("Hour", min_value=0, max_value=23, step=1, key=f"{PAGE}.hour")
        zones = list(ZONES) if rotation.timezone in ZONES else [rotation.timezone, *ZONES]
        h[2].selectbox("Time zone", zones, key=f"{PAGE}.tz")
        h[3].date_input("First hand-over week", key=f"{PAGE}.anchor")
        if stored is not None and stored.updated_by:
            st.caption(plain(f"Last changed by {stored.updated_by} (version {version})."))
        st.button(
            "Save rotation",
            type="primary",
            key=f"{PAGE}.save",
            on_click=_save_rotation,
            args=(version,),
        )
