"""Incidents page body: open incidents with their response timers, one incident's phases,
roles, timeline, notes, status updates and postmortem, closed incidents, MTTA/MTTR by severity.

Everybody signed in reads; the controls appear for roles the permission table allows, and the
actions re-check on the server. Every change runs in an ``on_click`` callback; closing goes
through the staged preview -> confirm control.
"""

from __future__ import annotations

import functools
import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from dashboard.actions import incidents as actions
from dashboard.actions.base import SESSION_ENDED_MESSAGE, ActionResult, Actor
from dashboard.data import alerts as alert_store
from dashboard.data import cache
from dashboard.data.alert_rules import current_rules
from dashboard.data.incidents import (
    ClosedPage,
    Incident,
    IncidentTimes,
    StoredPostmortem,
    TimelineEntry,
    get_incident,
    get_postmortem,
    list_incidents,
    list_timeline,
    page_closed_incidents,
    summarize_incident_times,
)
from dashboard.data.oncall import list_user_choices
from dashboard.domain.incidents import (
    PHASES,
    RESPONSE_TIME,
    SEVERITY_TEXT,
    ActionItem,
    Phase,
    Postmortem,
    Severity,
    allowed_next,
    format_duration,
    response_timer,
)
from dashboard.domain.permissions import can_do
from dashboard.runbooks.spec import RunbookSpec, catalogue
from dashboard.ui import auth, loaders, pager, resources, runbooks_view, staged
from dashboard.ui.markup import plain, shown, shown_frame

PAGE = "incidents"
TOPICS = actions.INCIDENT_TOPICS
CLOSED_PAGE_SIZE = 25
CLOSED_PAGER = f"{PAGE}.closed_pager"

for _cls in (Incident, TimelineEntry, IncidentTimes, StoredPostmortem, Postmortem, ActionItem):
    cache.register(_cls)


# ----------------------------------------------------------------------------- loaders


def _board(conn: Connection) -> list[Incident]:
    """The open incidents (all of them: they are few; closed ones are paged)."""
    return list_incidents(conn, open_only=True, limit=200)


def _closed(conn: Connection, cursor: str | None, size: int) -> ClosedPage:
    return page_closed_incidents(conn, size=size, cursor=cursor)


def _detail(
    conn: Connection, *, incident_id: int
) -> tuple[Incident | None, list[TimelineEntry], StoredPostmortem]:
    return (
        get_incident(conn, incident_id=incident_id),
        list_timeline(conn, incident_id=incident_id),
        get_postmortem(conn, incident_id=incident_id),
    )


def _times(conn: Connection, *, start: datetime, end: datetime) -> list[IncidentTimes]:
    return summarize_incident_times(conn, start=start, end=end)


def _people(conn: Connection) -> list[str]:
    return list_user_choices(conn)


def load_times(start: date, end: date) -> loaders.Panel[list[IncidentTimes]]:
    """MTTA/MTTR by severity for incidents detected from ``start`` to ``end`` (both included)."""
    return _load_times(
        datetime.combine(start, time(0), tzinfo=UTC),
        datetime.combine(end + timedelta(days=1), time(0), tzinfo=UTC),
    )


def _load_times(start: datetime, end: datetime) -> loaders.Panel[list[IncidentTimes]]:
    # Same name, kwargs and topics as the worker's refresh-ahead spec (dashboard.data.panels).
    return loaders.load("incidents.times", _times, ttl_s=30, topics=TOPICS, start=start, end=end)


def times_frame(times: list[IncidentTimes]) -> pd.DataFrame:
    def minutes(v: float | None) -> str:
        return "-" if v is None else format_duration(timedelta(seconds=v))

    return pd.DataFrame(
        [
            {
                "Severity": t.severity,
                "Incidents": t.count,
                "MTTA": minutes(t.mtta_s),
                "MTTR": minutes(t.mttr_s),
                "Response target": format_duration(RESPONSE_TIME[Severity(t.severity)]),
            }
            for t in times
        ]
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


def _request_key(name: str) -> str:
    """One key per form fill: a second click of the same submit records nothing new."""
    slot = f"{PAGE}.{name}.rk"
    if slot not in st.session_state:
        st.session_state[slot] = secrets.token_urlsafe(12)
    return str(st.session_state[slot])


def _done(name: str, result: ActionResult, *clear: str) -> None:
    st.session_state[f"{PAGE}.result"] = result
    if result.outcome == "changed":
        st.session_state.pop(f"{PAGE}.{name}.rk", None)
        for field in clear:
            st.session_state[f"{PAGE}.{field}"] = ""


def _firing() -> list[tuple[str, str, str]]:
    """(alert_key, rule_id, label) of the alerts firing now, from the live snapshot."""
    try:
        read = alert_store.list_active(resources.get_redis(resources.redis_url()))
    except Exception:  # Redis down: declaring without a link still works
        return []
    return [
        (a.alert_key, a.rule_id, f"{a.severity} {a.name} {a.labels}".strip())
        for a in read.alerts
        if a.state == "firing"
    ]


def _declare() -> None:
    link = str(_state("new_alert") or "")
    rules = {k: r for k, r, _ in _firing()}
    result = _run(
        actions.declare,
        title=str(_state("new_title") or ""),
        severity=str(_state("new_severity") or "P3"),
        note=str(_state("new_note") or ""),
        request_key=_request_key("declare"),
        alert_key=link or None,
        rule_id=rules.get(link),
    )
    _done("declare", result, "new_title", "new_note")


def _phase(incident_id: int, version: int) -> None:
    result = _run(actions.set_phase, incident_id, str(_state("phase_to")), expected_version=version)
    _done("phase", result)


def _assign(incident_id: int, version: int) -> None:
    result = _run(
        actions.assign,
        incident_id,
        commander=_state("commander") or None,
        comms_lead=_state("comms_lead") or None,
        expected_version=version,
    )
    _done("assign", result)


def _note(incident_id: int) -> None:
    result = _run(
        actions.add_note,
        incident_id,
        str(_state("note") or ""),
        request_key=_request_key(f"note{incident_id}"),
    )
    _done(f"note{incident_id}", result, "note")


def _status_update(incident_id: int) -> None:
    result = _run(
        actions.post_status_update,
        incident_id,
        str(_state("update") or ""),
        request_key=_request_key(f"update{incident_id}"),
    )
    _done(f"update{incident_id}", result, "update")


def _save_postmortem(incident_id: int, version: int) -> None:
    rows = _state("pm_items")
    items: list[actions.ActionItemInput] = []
    if isinstance(rows, pd.DataFrame):
        for rec in rows.to_dict("records"):
            due = rec.get("Due")
            items.append(
                actions.ActionItemInput(
                    str(rec.get("Action") or ""),
                    str(rec.get("Owner") or ""),
                    due if isinstance(due, date) and not pd.isna(due) else None,
                )
            )
    result = _run(
        actions.save_postmortem,
        incident_id,
        summary=str(_state("pm_summary") or ""),
        impact=str(_state("pm_impact") or ""),
        root_cause=str(_state("pm_cause") or ""),
        action_items=items,
        expected_version=version,
    )
    _done("pm", result)


# ----------------------------------------------------------------------------- render


def timer_markdown(incident: Incident, now: datetime) -> str:
    """The response timer as Markdown: red once breached (our own words, no data inside)."""
    if incident.closed_at is not None:
        return ":gray[closed]"
    timer = response_timer(
        incident.severity,
        declared_at=incident.declared_at,
        acknowledged_at=incident.acknowledged_at,
        now=now,
    )
    label = timer.label()
    if timer.breached:
        return f":red[**:material/timer_off: {label}**]"
    if timer.responded:
        return f":green[:material/timer: {label}]"
    return f":orange[:material/timer: {label}]"


def _phase_strip(phase: Phase) -> str:
    idx = PHASES.index(phase)
    return " → ".join(
        f"**{p.value.upper()}**" if i == idx else (f"~~{p.value}~~" if i < idx else p.value)
        for i, p in enumerate(PHASES)
    )


def render_open(board: list[Incident], now: datetime) -> None:
    opened = [i for i in board if i.is_open]
    st.subheader(f"Open incidents ({len(opened)})")
    if not opened:
        st.success("No open incidents.")
        return
    for inc in opened:
        with st.container(border=True):
            top = st.columns([5, 3])
            top[0].markdown(f"**#{inc.id} · {inc.severity}** · {plain(inc.title)}")
            top[1].markdown(timer_markdown(inc, now))
            st.caption(
                plain(
                    f"Phase {inc.phase} · commander {inc.commander or 'unassigned'} · "
                    f"comms {inc.comms_lead or 'unassigned'} · declared "
                    f"{inc.declared_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC by {inc.declared_by}"
                )
            )


def _open_live() -> None:
    panel = loaders.load("incidents.board", _board, ttl_s=10, topics=TOPICS)
    render_open(panel.value or [], resources.now())


def render_declare(actor: Actor) -> None:
    if not can_do(actor.roles, "incident.declare"):
        return
    with st.expander("Declare an incident", expanded=False):
        cols = st.columns([4, 1])
        cols[0].text_input("Title", key=f"{PAGE}.new_title", max_chars=200)
        cols[1].selectbox(
            "Severity",
            [s.value for s in Severity],
            index=2,
            key=f"{PAGE}.new_severity",
            help="\n".join(
                f"{s}: {SEVERITY_TEXT[s]} (respond within {format_duration(RESPONSE_TIME[s])})"
                for s in Severity
            ),
        )
        firing = _firing()
        labels = {"": "no alert (declared by hand)", **{k: lbl for k, _, lbl in firing}}
        st.selectbox(
            "Link a firing alert",
            list(labels),
            key=f"{PAGE}.new_alert",
            format_func=functools.partial(_alert_label, labels),
        )
        st.text_area("First note (internal)", key=f"{PAGE}.new_note", max_chars=4000)
        st.button("Declare", type="primary", key=f"{PAGE}.declare", on_click=_declare)


def _timeline_frame(entries: list[TimelineEntry]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "When (UTC)": e.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                "What": e.kind.replace("_", " "),
                "Who": e.actor or "system",
                "Public": "yes" if e.public else "",
                "Text": e.text,
            }
            for e in entries
        ]
    )


def render_detail(actor: Actor, incident_id: int, now: datetime, people: list[str]) -> None:
    panel = loaders.load(
        "incidents.detail", _detail, ttl_s=10, topics=TOPICS, incident_id=incident_id
    )
    if panel.value is None:
        st.warning(panel.message or "This incident could not be read.")
        return
    inc, timeline, stored = panel.value
    if inc is None:
        st.info(f"There is no incident #{incident_id}.")
        return
    act = can_do(actor.roles, "incident.set_phase")
    with st.container(border=True):
        st.markdown(f"### #{inc.id} · {inc.severity} · {plain(inc.title)}")
        st.markdown(timer_markdown(inc, now))
        st.markdown(_phase_strip(inc.phase))
        st.caption(
            plain(
                f"Commander: {inc.commander or 'unassigned'} · communications lead: "
                f"{inc.comms_lead or 'unassigned'} · version {inc.version}"
                + (f" · alert {inc.alert_key}" if inc.alert_key else "")
            )
        )
        if act and inc.is_open:
            _controls(inc, people)
    render_runbook(actor, inc)
    tabs = st.tabs(["Timeline", "Postmortem"])
    with tabs[0]:
        if act and inc.is_open:
            cols = st.columns(2)
            with cols[0]:
                st.text_area("Internal note", key=f"{PAGE}.note", max_chars=4000, height=90)
                st.button("Add note", key=f"{PAGE}.add_note", on_click=_note, args=(inc.id,))
            with cols[1]:
                st.text_area(
                    "Public status update (status page and contact points; no agent names)",
                    key=f"{PAGE}.update",
                    max_chars=4000,
                    height=90,
                )
                st.button(
                    "Post status update",
                    key=f"{PAGE}.post_update",
                    on_click=_status_update,
                    args=(inc.id,),
                )
        if timeline:
            st.dataframe(shown_frame(_timeline_frame(timeline)), hide_index=True, key=f"{PAGE}.tl")
        else:
            st.info("Nothing on the timeline yet.")
    with tabs[1]:
        _postmortem(actor, inc, stored, people, timeline)


def matching_runbook(rule_id: str | None, specs: dict[str, RunbookSpec]) -> str | None:
    """The runbook id the incident's alert rule names, when the console has that runbook."""
    if rule_id is None:
        return None
    try:
        rule = current_rules().get(rule_id)
    except Exception:  # a broken rules file is the Alerts page's to report, not the incident's
        return None
    return rule.runbook if rule is not None and rule.runbook in specs else None


def render_runbook(actor: Actor, inc: Incident) -> None:
    """The incident's runbook button: the one its alert rule names (else the catalogue to pick
    from); the run is linked to the incident and shows on its timeline."""
    try:
        specs = catalogue()
    except Exception:  # a broken catalogue is the Runbooks page's to report
        st.caption("The runbook catalogue cannot be read; see the Runbooks page.")
        return
    match = matching_runbook(inc.rule_id, specs)
    title = specs[match].title if match else None
    label = f"Runbook: {title} (named by the alert rule)" if title else "Runbooks for this incident"
    with st.expander(label, expanded=bool(match) and inc.is_open, icon=":material/play_circle:"):
        if inc.is_open and specs:
            ids = list(specs)
            chosen = st.selectbox(
                "Runbook",
                ids,
                index=ids.index(match) if match else 0,
                key=f"{PAGE}.runbook.{inc.id}",
                format_func=functools.partial(_alert_label, {rid: specs[rid].title for rid in ids}),
                help="The run is linked to this incident: its start and end land on the timeline.",
            )
            runbooks_view.runbook_card(
                actor, specs[chosen], prefix=f"{PAGE}.rb.{inc.id}", incident_id=inc.id
            )
        elif not inc.is_open:
            st.caption("The incident is closed: runbooks are run from the Runbooks page.")
        st.markdown("**Runs for this incident**")
        runbooks_view.linked_runs(inc.id)


def _controls(inc: Incident, people: list[str]) -> None:
    cols = st.columns([2, 1, 2, 2, 1], vertical_alignment="bottom")
    nxt = [p.value for p in allowed_next(inc.phase)]
    if nxt:
        cols[0].selectbox("Move to phase", nxt, key=f"{PAGE}.phase_to")
        cols[1].button("Move", key=f"{PAGE}.move", on_click=_phase, args=(inc.id, inc.version))
    options = ["", *people]
    for col, field, label, current in (
        (cols[2], "commander", "Commander", inc.commander),
        (cols[3], "comms_lead", "Communications lead", inc.comms_lead),
    ):
        if current and current not in options:
            options.append(current)
        choices = list(options)
        col.selectbox(
            label,
            choices,
            index=choices.index(current) if current in choices else 0,
            key=f"{PAGE}.{field}",
            format_func=_person,
        )
    cols[4].button("Assign", key=f"{PAGE}.assign", on_click=_assign, args=(inc.id, inc.version))
    staged.control(
        f"{PAGE}.close",
        scope=f"close:{inc.id}:{inc.version}",
        preview_label="Close incident…",
        stage=functools.partial(
            _stage_close, inc.id, inc.version, str(inc.severity), str(inc.phase)
        ),
        run=_run_close,
    )
    staged.show_result(f"{PAGE}.close.result")


def _alert_label(labels: dict[str, str], value: str) -> str:
    return shown(labels.get(value, value))


def _label(labels: dict[int, str], value: int) -> str:
    return shown(labels.get(value, str(value)))


def _person(value: str) -> str:
    return shown(value) if value else "unassigned"


def _stage_close(incident_id: int, version: int, severity: str, phase: str) -> staged.Plan:
    return staged.Plan(
        scope=f"close:{incident_id}:{version}",
        preview=f"Close incident #{incident_id} ({severity}, in {phase})?",
        confirm_label="Confirm close",
        count=1,
        data=(incident_id, version),
    )


def _run_close(plan: staged.Plan, _count: int | None) -> ActionResult:
    return _run(actions.close, int(plan.data[0]), expected_version=int(plan.data[1]))


def _postmortem(
    actor: Actor,
    inc: Incident,
    stored: StoredPostmortem,
    people: list[str],
    timeline: list[TimelineEntry],
) -> None:
    pm = stored.postmortem
    missing = pm.missing()
    if inc.severity in (Severity.P1, Severity.P2):
        if missing:
            st.warning("Required before this incident closes; missing: " + ", ".join(missing))
        else:
            st.success("Complete: the incident may close from the review phase.")
    md = actions.markdown_for(inc, pm, timeline)
    st.download_button(
        "Export Markdown",
        md,
        file_name=f"postmortem-incident-{inc.id}.md",
        mime="text/markdown",
        key=f"{PAGE}.pm_export",
    )
    if not can_do(actor.roles, "incident.postmortem"):
        st.markdown(f"**Summary**: {plain(pm.summary or '-')}")
        st.markdown(f"**Impact**: {plain(pm.impact or '-')}")
        st.markdown(f"**Root cause**: {plain(pm.root_cause or '-')}")
        st.dataframe(shown_frame(_items_frame(pm)), hide_index=True, key=f"{PAGE}.pm_ro")
        return
    # Widgets start from what is stored, once per stored version.
    seeded = f"{PAGE}.pm_seeded"
    if st.session_state.get(seeded) != (inc.id, stored.version):
        st.session_state[f"{PAGE}.pm_summary"] = pm.summary
        st.session_state[f"{PAGE}.pm_impact"] = pm.impact
        st.session_state[f"{PAGE}.pm_cause"] = pm.root_cause
        st.session_state.pop(f"{PAGE}.pm_editor", None)
        st.session_state[seeded] = (inc.id, stored.version)
    st.text_area("Summary", key=f"{PAGE}.pm_summary", max_chars=4000)
    st.text_area("Impact", key=f"{PAGE}.pm_impact", max_chars=4000)
    st.text_area("Root cause", key=f"{PAGE}.pm_cause", max_chars=4000)
    st.caption("The timeline is taken from the incident in the Markdown export.")
    edited = st.data_editor(
        _items_frame(pm),
        num_rows="dynamic",
        hide_index=True,
        key=f"{PAGE}.pm_editor",
        column_config={
            "Action": st.column_config.TextColumn("Action", required=True, max_chars=500),
            "Owner": st.column_config.SelectboxColumn("Owner", options=people),
            "Due": st.column_config.DateColumn("Due"),
        },
    )
    st.session_state[f"{PAGE}.pm_items"] = edited
    st.button(
        "Save postmortem",
        key=f"{PAGE}.pm_save",
        on_click=_save_postmortem,
        args=(inc.id, stored.version),
    )


def _items_frame(pm: Postmortem) -> pd.DataFrame:
    return pd.DataFrame(
        [{"Action": i.text, "Owner": i.owner, "Due": i.due} for i in pm.action_items],
        columns=["Action", "Owner", "Due"],
    ).astype({"Action": "object", "Owner": "object"})


def render_times() -> None:
    st.subheader("MTTA and MTTR by severity")
    today = resources.now().date()
    picked = st.date_input(
        "Incidents detected between",
        (today - timedelta(days=30), today),
        key=f"{PAGE}.period",
        max_value=today + timedelta(days=1),
    )
    if not isinstance(picked, tuple) or len(picked) != 2:
        st.info("Choose a start and an end date.")
        return
    start, end = picked
    panel = load_times(start, end)
    if panel.value is None:
        st.warning(panel.message or "MTTA/MTTR could not be computed.")
        return
    st.dataframe(times_frame(panel.value), hide_index=True, key=f"{PAGE}.times")
    st.caption(
        "MTTA: detection to first acknowledgement (a commander assigned or triage begun). "
        "MTTR: detection to the resolve phase."
    )


def render(actor: Actor) -> None:
    staged.show_result(f"{PAGE}.result")
    now = resources.now()
    board_panel = loaders.load("incidents.board", _board, ttl_s=10, topics=TOPICS)
    people_panel = loaders.load("incidents.people", _people, ttl_s=60, topics=("users",))
    if board_panel.value is None and board_panel.state == "error":
        st.error(board_panel.message or "Incidents could not be read.", icon="🛑")
        return
    board = board_panel.value or []
    people = people_panel.value or []
    scope = {"size": CLOSED_PAGE_SIZE}
    closed_panel = loaders.load(
        "incidents.closed",
        _closed,
        ttl_s=10,
        topics=TOPICS,
        cursor=pager.current(CLOSED_PAGER, scope),
        size=CLOSED_PAGE_SIZE,
    )
    if closed_panel.value is None and closed_panel.state == "error":
        pager.reset(CLOSED_PAGER)  # a bad or stale link: back to the first page
    closed_page = closed_panel.value or ClosedPage([], None)
    closed = closed_page.incidents
    render_declare(actor)
    # The timers tick on their own: this part reruns every 15 s (from the shared cache).
    st.fragment(run_every=15)(_open_live)()
    listed = [*board, *closed]
    ids = [i.id for i in listed]
    if ids:
        labels = {
            i.id: f"#{i.id} · {i.severity} · {'open' if i.is_open else 'closed'} · {i.title}"
            for i in listed
        }
        chosen = st.selectbox(
            "Incident", ids, key=f"{PAGE}.selected", format_func=functools.partial(_label, labels)
        )
        if chosen is not None:
            render_detail(actor, int(chosen), now, people)
    number = pager.page_number(CLOSED_PAGER)
    if closed or number > 1:
        with st.expander(f"Closed incidents (page {number}, newest closed first)"):
            if closed_panel.message:
                st.warning(plain(closed_panel.message))
            st.dataframe(
                shown_frame(
                    pd.DataFrame(
                        [
                            {
                                "Id": i.id,
                                "Severity": i.severity,
                                "Title": i.title,
                                "Declared (UTC)": i.declared_at.astimezone(UTC).strftime(
                                    "%Y-%m-%d %H:%M"
                                ),
                                "Closed (UTC)": i.closed_at.astimezone(UTC).strftime(
                                    "%Y-%m-%d %H:%M"
                                )
                                if i.closed_at
                                else "",
                                "Closed by": i.closed_by or "",
                            }
                            for i in closed
                        ]
                    )
                ),
                hide_index=True,
                key=f"{PAGE}.closed",
            )
            pager.controls(CLOSED_PAGER, closed_page.next_cursor)
    render_times()


def render_kpi_section(start: datetime, end: datetime) -> None:
    """The small read-only MTTA/MTTR section of the Trust KPIs page, over the page's range
    (issue 10: "MTTA and MTTR by severity over any period ... on the Trust KPIs page")."""
    panel = _load_times(start, end)
    st.subheader("Incident response in this range")
    st.caption(
        f"Incidents declared {start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC: time to "
        "acknowledge and to resolve against the guide's response times."
    )
    if panel.value is None:
        st.caption(panel.message or "MTTA/MTTR unavailable.")
        return
    st.dataframe(times_frame(panel.value), hide_index=True, key="trust_kpis.incident_times")
