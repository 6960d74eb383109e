"""Alerts page body: active alerts worst first, acknowledge, silence, agents behind, history.

The active list is the worker's snapshot in Redis (PostgreSQL when Redis has none); changes
go through dashboard.actions.alerts (and the existing agent.quarantine), each behind a staged
preview -> confirm.

The list refreshes itself: a fragment re-reads the snapshot every half evaluation interval
(ages, values, sparklines). The forms (acknowledge note, silence, quarantine) sit outside it,
in "Act on an alert", so a refresh never redraws what someone is typing; when the set of
alerts or their states change (a new alert, one acknowledged or resolved), the fragment reruns
the whole page once so the header counts and the form's alert choice follow too (widget
values are kept by their keys, which name the alert, not its position). Every text that comes from data (labels, notes, comments, agent names)
is shown through markup.plain / table cells, never as HTML.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from dashboard import telemetry
from dashboard.actions import alerts as alert_actions
from dashboard.actions.agents import quarantine_agent
from dashboard.actions.base import SESSION_ENDED_MESSAGE, ActionResult
from dashboard.data import alerts as store
from dashboard.data.alert_rules import current_rules
from dashboard.data.errors import ErrorKind
from dashboard.domain.alerting import AlertRule, RuleError, format_value
from dashboard.domain.permissions import can_do
from dashboard.runbooks import spec as runbook_specs
from dashboard.settings import get_settings
from dashboard.ui import auth, charts, components, loaders, pager, resources, staged
from dashboard.ui.markup import plain, shown

PAGE = "alerts"
MAX_SHOWN = 50
SEVERITY_COLOUR = {"P1": "red", "P2": "orange", "warning": "yellow"}
STATE_WORD = {"firing": "FIRING", "pending": "pending", "nodata": "NO DATA"}
SILENCE_FOR = {"1 hour": 1, "4 hours": 4, "8 hours": 8, "1 day": 24, "3 days": 72, "7 days": 168}
HISTORY_RANGES = {"24 hours": 1, "7 days": 7, "30 days": 30, "1 year": 365}
PANEL_TITLES = {"service_health": "Service Health", "trust_kpis": "Trust KPIs"}
SEEN = f"{PAGE}.seen"  # what the last full page run showed (alert keys and states)
PICKED = f"{PAGE}.act.alert"
HISTORY_PAGER = f"{PAGE}.h.pager"
HISTORY_END = f"{PAGE}.h.end"


def _live_now() -> datetime:
    """Alerts are live state written on the wall clock, so their ages and silences use it too
    (the console's pinned clock, ORCA_FIXED_NOW, is for seeded history, not for alerts)."""
    return datetime.now(UTC)


def _age(since: datetime | None, now: datetime) -> str:
    if since is None:
        return "—"
    seconds = max(0.0, (now - since).total_seconds())
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _when(at: datetime | None) -> str:
    return "—" if at is None else f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _run(fn: Any, *args: Any, **kwargs: Any) -> ActionResult:
    actor = auth.current_actor()
    if actor is None:
        return ActionResult("denied", SESSION_ENDED_MESSAGE)
    try:
        result: ActionResult = fn(auth.engine(), actor, *args, **kwargs)
    except (auth.GateClosed, SQLAlchemyError):
        return ActionResult("error", "PostgreSQL is unreachable; nothing was changed.")
    return result


def _text(key: str) -> str:
    return str(st.session_state.get(key) or "").strip()


# --- staged actions ------------------------------------------------------------------------


def _stage_ack(alert: store.ActiveAlert, key: str) -> staged.Plan | ActionResult:
    note = _text(f"{key}.note")
    if not note:
        return ActionResult("invalid", "A note is required: say what you are doing about it.")
    return staged.Plan(
        scope=f"ack:{alert.alert_key}",
        preview=f"Acknowledge '{alert.name}' and take ownership, with the note: {note}",
        confirm_label="Confirm acknowledge",
        count=1,
        data=(alert.alert_key, note, alert.version),
    )


def _run_ack(plan: staged.Plan, _confirm: int | None) -> ActionResult:
    key, note, version = plan.data
    return _run(alert_actions.acknowledge_alert, key, note, version)


def _stage_silence(alert: store.ActiveAlert, key: str) -> staged.Plan | ActionResult:
    comment = _text(f"{key}.comment")
    if not comment:
        return ActionResult("invalid", "A comment is required: say why it is silenced.")
    hours = SILENCE_FOR.get(str(st.session_state.get(f"{key}.for")), 1)
    scope_all = bool(st.session_state.get(f"{key}.all"))
    labels = None if scope_all or not alert.labels else alert.labels
    what = f"every series of '{alert.name}'" if labels is None else f"'{alert.name}' ({labels})"
    return staged.Plan(
        scope=f"silence:{alert.alert_key}",
        preview=f"Silence {what} for {hours} h (no notifications, no escalation), "
        f"with the comment: {comment}",
        confirm_label="Confirm silence",
        count=1,
        data=(alert.rule_id, labels, comment, hours),
    )


def _run_silence(plan: staged.Plan, _confirm: int | None) -> ActionResult:
    rule_id, labels, comment, hours = plan.data
    return _run(alert_actions.silence_alert, rule_id, labels, comment, timedelta(hours=hours))


def _stage_lift(silence: store.Silence) -> staged.Plan:
    return staged.Plan(
        scope=f"lift:{silence.id}",
        preview=f"Lift silence #{silence.id} of {silence.rule_id} now "
        f"(set by {silence.created_by} until {_when(silence.ends_at)})",
        confirm_label="Confirm lift",
        count=1,
        data=(silence.id, silence.version),
    )


def _run_lift(plan: staged.Plan, _confirm: int | None) -> ActionResult:
    silence_id, version = plan.data
    return _run(alert_actions.lift_silence, silence_id, version)


def _stage_quarantine(
    key: str, agents: dict[int, tuple[str, int | None]], rule_name: str
) -> staged.Plan | ActionResult:
    picked = st.session_state.get(f"{key}.agent")
    reason = _text(f"{key}.reason")
    if not isinstance(picked, int) or picked not in agents:
        return ActionResult("invalid", "Choose an agent first.")
    if not reason:
        return ActionResult("invalid", "A reason is required.")
    name, version = agents[picked]
    return staged.Plan(
        scope=f"quarantine:{key}:{picked}",
        preview=f"Quarantine agent #{picked} ({name}) because of '{rule_name}', "
        f"with the reason: {reason}",
        confirm_label="Confirm quarantine",
        count=1,
        data=(picked, version, reason),
    )


def _run_quarantine(plan: staged.Plan, _confirm: int | None) -> ActionResult:
    agent_id, version, reason = plan.data
    return _run(quarantine_agent, agent_id, reason, expected_version=version)


# --- pieces --------------------------------------------------------------------------------


def _load_active(rules: dict[str, AlertRule]) -> store.ActiveRead:
    client = None
    try:
        client = resources.get_redis(resources.redis_url())
    except Exception:
        client = None
    read = store.list_active(client)
    if read.source == "live":
        return read
    url = resources.database_url()
    if url is None or loaders.db_down():
        return read
    try:
        with resources.get_engine(url).connect() as conn:
            return store.list_active(None, conn, rules=rules, now=_live_now())
    except SQLAlchemyError:
        return store.ActiveRead(source="unavailable", degraded=True)


def _drivers_panel(kind: str, now: datetime) -> loaders.Panel[pd.DataFrame]:
    return loaders.load(
        "alert_drivers",
        store.list_alert_drivers,
        ttl_s=30,
        kind=kind,
        now=now.replace(second=0, microsecond=0),
    )


def _drivers(alert: store.ActiveAlert, key: str, now: datetime) -> None:
    if not alert.drivers:
        return
    with st.expander("Agents driving this alert", expanded=alert.state == "firing"):
        panel = _drivers_panel(alert.drivers, now)
        detail = store.DRIVER_DETAIL.get(alert.drivers, "")
        components.table(
            panel,
            f"{key}.drivers",
            column_config={
                "id": "Agent",
                "name": "Name",
                "status": "Status",
                "trust_score": st.column_config.NumberColumn("Trust score", format="%.1f"),
                "version": None,
                "detail": detail or None,
            },
            empty="No agents stand out right now.",
            file_name=f"{alert.rule_id}_agents.csv",
        )


def _quarantine_form(alert: store.ActiveAlert, key: str, now: datetime) -> None:
    """The quarantine of an agent behind ``alert`` (operators), through agent.quarantine."""
    actor = auth.current_actor()
    if not alert.drivers or actor is None or not can_do(actor.roles, "agent.quarantine"):
        return
    panel = _drivers_panel(alert.drivers, now)
    df = panel.value if isinstance(panel.value, pd.DataFrame) else pd.DataFrame()
    if df.empty:
        return
    active = df[df["status"] == "active"]
    agents = {
        int(r["id"]): (str(r["name"]), None if pd.isna(r["version"]) else int(r["version"]))
        for r in active.to_dict("records")
    }
    if not agents:
        return
    with st.container(border=True, key=f"{key}.qbox"):
        st.markdown("**Quarantine an agent behind this alert**")
        cols = st.columns([2, 3])
        cols[0].selectbox(
            "Agent to quarantine",
            list(agents),
            key=f"{key}.agent",
            format_func=functools.partial(_agent_label, {i: v[0] for i, v in agents.items()}),
        )
        cols[1].text_input("Reason (kept in the audit trail)", key=f"{key}.reason", max_chars=1000)
        staged.show_result(f"{key}.q.result")
        staged.control(
            f"{key}.q",
            scope=f"quarantine:{key}:{st.session_state.get(f'{key}.agent')}",
            preview_label="Preview quarantine",
            stage=functools.partial(_stage_quarantine, key, agents, alert.name),
            run=_run_quarantine,
        )


def _one_alert(alert: store.ActiveAlert, index: int, now: datetime) -> None:
    """One alert's card: read-only (its forms are in :func:`_act_section`)."""
    key = f"{PAGE}.a{index}"
    rule_panel = alert.panel.split("#", 1)
    with st.container(border=True, key=f"{key}.box"):
        top = st.columns([5, 2, 2, 3], vertical_alignment="center")
        labels = f" · {plain(alert.labels)}" if alert.labels else ""
        colour = SEVERITY_COLOUR.get(alert.severity, "gray") if alert.state == "firing" else "gray"
        top[0].markdown(
            f":{colour}-badge[{alert.severity} · {STATE_WORD.get(alert.state, alert.state)}] "
            f"**{plain(alert.name)}**{labels}"
        )
        top[1].metric("Age", _age(alert.started_at, now), border=False)
        top[2].metric("Value", format_value(alert.metric, alert.value))
        if alert.recent and any(v is not None for _, v in alert.recent):
            top[3].plotly_chart(
                charts.sparkline(alert.recent, alert.threshold),
                key=f"{key}.spark",
                config={"displayModeBar": False, "staticPlot": True},
            )
        else:
            top[3].caption("no recent values")
        sign = "threshold"
        st.caption(
            f"{plain(alert.summary)} · {sign} {plain(_threshold_text(alert))} · "
            f"since {_when(alert.started_at)} · runbook: **{plain(alert.runbook)}**"
        )
        runbook = _runbook_title(alert.runbook)
        if runbook is not None:
            st.page_link(
                "pages/runbooks.py",
                label=f"Runbook: {runbook} (dry run first)",
                icon=":material/play_circle:",
            )
        page_id = rule_panel[0]
        if page_id in PANEL_TITLES:
            st.page_link(
                f"pages/{page_id}.py",
                label=f"Open panel: {PANEL_TITLES[page_id]} › {rule_panel[-1]}",
                icon=":material/dashboard:",
            )
        if alert.acked_by:
            st.info(
                f"Acknowledged by {plain(alert.acked_by)} at {_when(alert.acked_at)}: "
                f"{plain(alert.ack_note or '')}",
                icon=":material/person:",
            )
        if alert.silenced:
            st.warning(
                f"Silenced by {plain(alert.silenced_by or '')} until "
                f"{_when(alert.silenced_until)}: {plain(alert.silence_comment or '')}",
                icon=":material/notifications_off:",
            )
        _drivers(alert, key, now)
        with st.expander("History of this alert"):
            panel = loaders.load(
                "alert_history_one", store.list_history, ttl_s=5, alert_key_=alert.alert_key
            )
            _history_table(panel, f"{key}.history")


def _threshold_text(alert: store.ActiveAlert) -> str:
    if alert.metric in ("core_health_down", "postgresql_down"):
        return "not up"
    return f"{format_value(alert.metric, alert.threshold)}"


def form_key(alert_key: str) -> str:
    """Widget keys of one alert's forms: by the alert itself, so a new alert sorted above it
    never hands its half-typed note to another alert."""
    return f"{PAGE}.x{hashlib.sha1(alert_key.encode()).hexdigest()[:12]}"  # noqa: S324 - a name


def _act(alert: store.ActiveAlert, key: str) -> None:
    staged.show_result(f"{key}.ack.result")
    staged.show_result(f"{key}.sil.result")
    cols = st.columns(2)
    with cols[0]:
        if not alert.acked_by:
            st.text_input("Acknowledge: your note", key=f"{key}.note", max_chars=1000)
            staged.control(
                f"{key}.ack",
                scope=f"ack:{alert.alert_key}",
                preview_label="Acknowledge…",
                stage=functools.partial(_stage_ack, alert, key),
                run=_run_ack,
            )
    with cols[1]:
        if not alert.silenced:
            with st.expander("Silence this alert"):
                inner = st.columns([3, 2])
                inner[0].text_input("Silence: comment", key=f"{key}.comment", max_chars=1000)
                inner[1].selectbox("For", list(SILENCE_FOR), key=f"{key}.for")
                if alert.labels:
                    st.checkbox("Every series of this rule", key=f"{key}.all")
                staged.control(
                    f"{key}.sil",
                    scope=f"silence:{alert.alert_key}",
                    preview_label="Silence…",
                    stage=functools.partial(_stage_silence, alert, key),
                    run=_run_silence,
                )


def _history_table(panel: loaders.Panel[pd.DataFrame], key: str) -> None:
    components.table(
        panel,
        key,
        column_config={
            "id": None,
            "alert_key": None,
            "at": st.column_config.DatetimeColumn("When"),
            "kind": "What",
            "rule_id": "Rule",
            "labels": "Series",
            "severity": "Severity",
            "from_state": "From",
            "to_state": "To",
            "value": "Value",
            "threshold": "Threshold",
            "actor": "By",
            "note": "Note",
        },
        empty="Nothing recorded yet.",
        file_name="alert_history.csv",
    )


# --- tabs ----------------------------------------------------------------------------------


def refresh_every_s() -> float:
    """How often the list re-reads the snapshot: half an evaluation interval (at least 5 s),
    so a change is on screen within one interval of the worker publishing it."""
    return max(5.0, get_settings().alert_interval_s / 2)


def _signature(read: store.ActiveRead) -> tuple[tuple[str, str, str, bool], ...]:
    return tuple(sorted((a.alert_key, a.state, a.acked_by or "", a.silenced) for a in read.alerts))


def _active_tab(rules: dict[str, AlertRule], may_act: bool) -> None:
    read = _load_active(rules)
    st.session_state[SEEN] = _signature(read)
    st.fragment(run_every=refresh_every_s())(_live_list)(rules)
    _act_section(read, may_act)


def _live_list(rules: dict[str, AlertRule]) -> None:
    """The read-only list, rerun on its own every :func:`refresh_every_s`."""
    with telemetry.span("page.fragment"):
        now = _live_now()
        read = _load_active(rules)
        if st.session_state.get(SEEN) != _signature(read):
            st.rerun(scope="app")  # alerts came, went or changed state: header and forms too
        _list_body(read, now)


def _list_body(read: store.ActiveRead, now: datetime) -> None:
    if read.degraded and not read.alerts:
        st.error("Live alert state is unavailable (Redis and PostgreSQL did not answer).")
        return
    if read.source == "database":
        st.warning("Redis holds no live alert state: showing PostgreSQL's (is the worker running?)")
    elif read.age_s is not None and read.age_s > 120:
        st.warning(f"Alert state is {read.age_s / 60:.0f} min old: is the worker running?")
    active = [a for a in read.alerts if not a.silenced]
    firing = [a for a in active if a.state == "firing"]
    st.caption(
        f"{len(firing)} firing · {len(active) - len(firing)} pending or without data · "
        f"as of {now:%H:%M:%S} UTC, refreshed every {refresh_every_s():.0f} s"
    )
    if not active:
        st.success("No active alerts. Every rule is within its threshold.", icon=":material/check:")
    for i, alert in enumerate(active[:MAX_SHOWN]):
        _one_alert(alert, i, now)
    if len(active) > MAX_SHOWN:
        st.caption(f"{len(active) - MAX_SHOWN} more not shown (worst {MAX_SHOWN} first).")
    silenced = [a for a in read.alerts if a.silenced]
    if silenced:
        st.caption(f"{len(silenced)} active alert(s) silenced: see the Silenced tab.")


def _alert_label(alerts: dict[str, store.ActiveAlert], alert_key: str) -> str:
    a = alerts.get(alert_key)
    if a is None:
        return shown(alert_key)
    labels = f" ({a.labels})" if a.labels else ""
    silenced = " · silenced" if a.silenced else ""
    return shown(f"{a.severity} · {STATE_WORD.get(a.state, a.state)} · {a.name}{labels}{silenced}")


def _act_section(read: store.ActiveRead, may_act: bool) -> None:
    """Acknowledge, silence, quarantine: outside the refreshing list, for the chosen alert."""
    actor = auth.current_actor()
    may_quarantine = actor is not None and can_do(actor.roles, "agent.quarantine")
    alerts = {a.alert_key: a for a in read.alerts[:MAX_SHOWN]}
    if not alerts or not (may_act or may_quarantine):
        return
    if not may_act and not any(a.drivers for a in alerts.values()):
        return
    if st.session_state.get(PICKED) not in alerts:
        st.session_state.pop(PICKED, None)  # it resolved: the worst one is chosen
    with st.container(key=f"{PAGE}.act"):
        st.subheader("Act on an alert")
        picked = st.selectbox(
            "Alert",
            list(alerts),
            key=PICKED,
            format_func=functools.partial(_alert_label, alerts),
        )
        alert = alerts[str(picked)]
        key = form_key(alert.alert_key)
        if may_act:
            _act(alert, key)
        _quarantine_form(alert, key, _live_now())


def _silenced_tab(rules: dict[str, AlertRule], may_act: bool) -> None:
    now = _live_now()
    read = _load_active(rules)
    for i, alert in enumerate([a for a in read.alerts if a.silenced][:MAX_SHOWN]):
        _one_alert(alert, 1000 + i, now)
    url = resources.database_url()
    silences: list[store.Silence] = []
    if url is not None and not loaders.db_down():
        try:
            with resources.get_engine(url).connect() as conn:
                silences = store.list_silences(conn, now=now)
        except SQLAlchemyError:
            st.error("PostgreSQL is unreachable: silences cannot be listed.")
            return
    st.subheader("Silences in force")
    if not silences:
        st.info("No silence is in force.")
    for s in silences:
        with st.container(border=True, key=f"{PAGE}.sil{s.id}"):
            name = rules[s.rule_id].name if s.rule_id in rules else s.rule_id
            scope = "every series" if s.labels is None else s.labels
            st.markdown(
                f":gray-badge[:material/notifications_off: silenced] **{plain(name)}** "
                f"({plain(scope)}): silenced by "
                f"**{plain(s.created_by)}** until **{_when(s.ends_at)}**"
            )
            st.caption(f"{plain(s.comment)} · set {_when(s.created_at)}")
            if may_act:
                staged.show_result(f"{PAGE}.lift{s.id}.result")
                staged.control(
                    f"{PAGE}.lift{s.id}",
                    scope=f"lift:{s.id}",
                    preview_label="Lift silence…",
                    stage=functools.partial(_stage_lift, s),
                    run=_run_lift,
                )


def _rule_label(names: dict[str, str], rule_id: str) -> str:
    return shown(names.get(rule_id, rule_id)) if rule_id else "any rule"


def _any(value: str) -> str:
    return value or "any"


def _agent_label(agents: dict[int, str], agent_id: int) -> str:
    return shown(f"#{agent_id} {agents.get(agent_id, '')}")


def _history_tab(rules: dict[str, AlertRule]) -> None:
    cols = st.columns(4)
    rule_ids = ["", *rules]
    rule_id = cols[0].selectbox(
        "Rule",
        rule_ids,
        key=f"{PAGE}.h.rule",
        format_func=functools.partial(_rule_label, {r.id: r.name for r in rules.values()}),
    )
    severity = cols[1].selectbox(
        "Severity", ["", "P1", "P2", "warning"], key=f"{PAGE}.h.sev", format_func=_any
    )
    kind = cols[2].selectbox(
        "What", ["", *store.HISTORY_KINDS], key=f"{PAGE}.h.kind", format_func=_any
    )
    span = cols[3].selectbox("Range", list(HISTORY_RANGES), key=f"{PAGE}.h.range")
    now = _live_now().replace(second=0, microsecond=0)
    filters: dict[str, Any] = {
        "rule_id": rule_id or None,
        "severity": severity or None,
        "kind": kind or None,
    }
    # The window's end is pinned while paging (a cursor belongs to its filters): it moves on
    # when the filters change or the reader goes back to the first page.
    scope = filters | {"range": span}
    cursor = pager.current(HISTORY_PAGER, scope)
    if cursor is None or HISTORY_END not in st.session_state:
        st.session_state[HISTORY_END] = now + timedelta(minutes=1)
    end = st.session_state[HISTORY_END]
    filters["start"] = end - timedelta(days=HISTORY_RANGES[span], minutes=1)
    panel = loaders.load(
        "alert_history_page",
        store.list_history_page,
        ttl_s=10,
        end=end,
        cursor=cursor,
        limit=store.HISTORY_PAGE,
        **filters,
    )
    if panel.error == ErrorKind.INVALID:
        pager.reset(HISTORY_PAGER)
    components.banner_for([panel])
    page = panel.value
    rows = loaders.Panel(
        page.rows if page is not None else None,
        panel.state,
        panel.message,
        panel.computed_at,
        panel.cache_degraded,
        panel.error,
    )
    st.caption(
        f"Newest first · page {pager.page_number(HISTORY_PAGER)} · {store.HISTORY_PAGE} rows "
        "a page · kept for good in PostgreSQL."
    )
    _history_table(rows, f"{PAGE}.h.table")
    pager.controls(HISTORY_PAGER, page.next_cursor if page is not None else None)


def render() -> None:
    try:
        rules = current_rules()
    except RuleError as exc:
        st.error(f"The alert rules file cannot be used: {plain(str(exc))}")
        return
    actor = auth.current_actor()
    may_act = actor is not None and can_do(actor.roles, "alert.acknowledge")
    if not may_act:
        st.caption("You can read alerts; acknowledging and silencing is for on-call and admins.")
    active, silenced, history = st.tabs(["Active", "Silenced", "History"])
    with active:
        _active_tab(rules, may_act)
    with silenced:
        _silenced_tab(rules, may_act)
    with history:
        _history_tab(rules)


def _runbook_title(runbook_id: str) -> str | None:
    """The title of the runbook an alert names, when the console has it as a button."""
    try:
        spec = runbook_specs.catalogue().get(runbook_id)
    except Exception:  # a broken catalogue is the Runbooks page's to report, not the alert's
        return None
    return None if spec is None else spec.title
