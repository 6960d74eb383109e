"""Runbooks page body: the catalogue (parameters -> dry run -> confirm -> run), the run history
and one run's detail (steps with output, evidence before and after).

A started run executes on the console process's thread and writes its progress to
PostgreSQL, so the detail view (``?run=<id>``) shows it to anybody, after a refresh too. While
the run is active the detail reruns every 10 s (DESIGN's floor) and stops when it ends. If the
console dies mid-run, the reaper fails the run as "executor lost" (dashboard.runbooks.engine).

:func:`runbook_card` is also the Incidents page's runbook button: a run started there is linked
to the incident (its timeline shows the run), and :func:`linked_runs` lists them.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from dashboard.actions.base import SESSION_ENDED_MESSAGE, ActionResult, Actor
from dashboard.data.runbook_runs import RunRow, StepRow, get_run, list_runs, list_steps
from dashboard.domain.permissions import can_do
from dashboard.runbooks.engine import Plan as RunPlan
from dashboard.runbooks.engine import dry_run, start_run
from dashboard.runbooks.executors import ExecutorError
from dashboard.runbooks.spec import ParamSpec, RunbookSpec, SpecError, catalogue
from dashboard.ui import auth, loaders, resources, staged
from dashboard.ui.components import table
from dashboard.ui.markup import plain

PAGE = "runbooks"
REFRESH_S = 10  # DESIGN: auto-refresh never below 10 s; only while a run is active
# Material icons and colour names render everywhere (emoji need a font the host may lack).
_STATE_ICON = {
    "pending": ":gray[:material/schedule:]",
    "running": ":blue[:material/progress_activity:]",
    "ok": ":green[:material/check_circle:]",
    "failed": ":red[:material/cancel:]",
    "skipped": ":gray[:material/skip_next:]",
    "succeeded": ":green[:material/check_circle:]",
}
_RUN_ICON = {
    "running": ":material/progress_activity:",
    "succeeded": ":material/check_circle:",
    "failed": ":material/cancel:",
}
_STATE_WORD = {"succeeded": "succeeded", "failed": "failed", "running": "running"}
_DANGER = {
    "low": ":green[low danger]",
    "medium": ":orange[medium danger]",
    "high": ":red[**high danger**]: type the target's name to run",
}
CANNOT_PRESS = "You can see runbooks and their runs; running one needs the on-call or admin role."


def _param_widget(spec: RunbookSpec, param: ParamSpec, disabled: bool, prefix: str) -> Any:
    key = f"{prefix}.{spec.id}.{param.name}"
    label = param.label
    if param.type == "choice":
        index = param.choices.index(param.default) if param.default in param.choices else 0
        return st.selectbox(label, param.choices, index=index, key=key, disabled=disabled)
    if param.type == "bool":
        return st.checkbox(label, value=bool(param.default), key=key, disabled=disabled)
    if param.type in ("int", "float"):
        is_int = param.type == "int"
        cast = int if is_int else float
        default = param.default if param.default is not None else (param.minimum or 0)
        return st.number_input(
            label,
            min_value=cast(param.minimum) if param.minimum is not None else None,
            max_value=cast(param.maximum) if param.maximum is not None else None,
            value=cast(default),
            step=1 if is_int else 0.01,
            key=key,
            disabled=disabled,
            help=param.help or None,
        )
    return st.text_input(
        label, value=str(param.default or ""), key=key, disabled=disabled, max_chars=200
    )


def _stage(
    spec: RunbookSpec, params: dict[str, Any], incident_id: int | None
) -> staged.Plan | ActionResult:
    try:
        plan = dry_run(spec, params)
    except (ValueError, ExecutorError) as exc:
        return ActionResult("invalid", f"{exc} Nothing was run.")
    acting = sum(1 for s in plan.steps if s.acts)
    linked = f" for incident #{incident_id}" if incident_id is not None else ""
    return staged.Plan(
        scope=_scope(spec, params, incident_id),
        preview=(
            f"Dry run: {spec.title} on {plan.target}{linked} with the {plan.executor} "
            f"executor, {len(plan.steps)} steps ({acting} act). Nothing has been done yet."
        ),
        confirm_label="Run now",
        count=0,
        data=(spec.id, json.dumps(plan.params), _plan_rows(plan), incident_id),
        confirm_text=plan.target if plan.needs_typed_confirmation else None,
    )


def _plan_rows(plan: RunPlan) -> tuple[tuple[int, str, str, str], ...]:
    return tuple((s.position, "acts" if s.acts else "check", s.title, s.line) for s in plan.steps)


def _scope(spec: RunbookSpec, params: dict[str, Any], incident_id: int | None) -> str:
    return f"{spec.id}:{incident_id}:{json.dumps(params, sort_keys=True, default=str)}"


def _run(plan: staged.Plan, confirm: int | None) -> ActionResult:
    actor = auth.current_actor()
    if actor is None:
        return ActionResult("denied", SESSION_ENDED_MESSAGE)
    runbook_id, params_json, _rows, incident_id = plan.data
    try:
        started = start_run(
            auth.engine(),
            resources.get_redis(resources.redis_url()),
            actor,
            str(runbook_id),
            json.loads(str(params_json)),
            confirm=plan.confirm_text,
            incident_id=int(incident_id) if incident_id is not None else None,
        )
    except (auth.GateClosed, SQLAlchemyError):
        return ActionResult("error", "PostgreSQL is unreachable; nothing was run.")
    if started.run_id is not None and incident_id is None:
        _select_run(started.run_id)
    return started.result


def _select_run(run_id: int | None) -> None:
    if run_id is None:
        st.query_params.pop("run", None)
    else:
        st.query_params["run"] = str(run_id)


def runbook_card(
    actor: Actor, spec: RunbookSpec, *, prefix: str = PAGE, incident_id: int | None = None
) -> None:
    """One runbook as a button: parameters, dry run, (typed) confirmation, run. Disabled, with
    the reason, for a role that may not run it. With ``incident_id`` the run is linked to it."""
    may_run = can_do(actor.roles, spec.action)
    with st.container(border=True, key=f"{prefix}.card.{spec.id}"):
        head = st.columns([3, 2])
        head[0].markdown(f"**{plain(spec.title)}**")
        head[1].markdown(_DANGER[spec.danger])
        st.caption(plain(spec.summary))
        params: dict[str, Any] = {}
        if spec.params:
            cols = st.columns(min(3, len(spec.params)))
            for i, param in enumerate(spec.params):
                with cols[i % len(cols)]:
                    params[param.name] = _param_widget(spec, param, not may_run, prefix)
        key = f"{prefix}.{spec.id}"
        scope = _scope(spec, params, incident_id)
        staged.show_result(f"{key}.result")
        plan = st.session_state.get(f"{key}.staged")
        if isinstance(plan, staged.Plan) and plan.scope == scope:
            rows = pd.DataFrame(list(plan.data[2]), columns=["#", "type", "step", "will do"])
            st.dataframe(rows, hide_index=True, key=f"{key}.plan", width="stretch")
        staged.control(
            key,
            scope=scope,
            preview_label="Dry run",
            stage=functools.partial(_stage, spec, params, incident_id),
            run=_run,
            disabled=not may_run,
            help=None if may_run else CANNOT_PRESS,
        )
        if not may_run:
            st.caption(CANNOT_PRESS)


def _catalogue(actor: Actor, specs: dict[str, RunbookSpec]) -> None:
    for spec in specs.values():
        runbook_card(actor, spec)


def linked_runs(incident_id: int) -> None:
    """The runs started for an incident, newest first, each linking to its detail."""
    try:
        with auth.engine().connect() as conn:
            runs = list_runs(conn, limit=20, incident_id=incident_id)
    except (auth.GateClosed, SQLAlchemyError):
        st.caption("PostgreSQL is unreachable: the runs of this incident cannot be listed.")
        return
    if not runs:
        st.caption("No runbook has been run for this incident yet.")
        return
    for r in runs:
        st.page_link(
            "pages/runbooks.py",
            label=plain(f"Run #{r.id}: {r.title} on {r.target}, {r.state}, by {r.actor}"),
            icon=_RUN_ICON.get(r.state, ":material/history:"),
            query_params={"run": str(r.id)},
            help=plain(f"started {_when(r.started_at)}" + (f"; {r.failure}" if r.failure else "")),
        )


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at is not None else ""


def _history() -> int | None:
    try:
        with auth.engine().connect() as conn:
            runs = list_runs(conn, limit=50)
        panel: loaders.Panel[pd.DataFrame] = loaders.Panel(
            pd.DataFrame(
                [
                    {
                        "run": r.id,
                        "runbook": r.title,
                        "target": r.target,
                        "state": r.state,
                        "by": r.actor,
                        "started": _when(r.started_at),
                        "seconds": round(r.seconds, 1) if r.seconds is not None else None,
                        "why it failed": r.failure or "",
                    }
                    for r in runs
                ]
            ),
            "ok" if runs else "empty",
        )
    except (auth.GateClosed, SQLAlchemyError):
        panel = loaders.Panel(None, "error", "PostgreSQL is unreachable: no run history.")
        runs = []
    picked = table(
        panel,
        f"{PAGE}.history",
        title="Run history (newest first; click a row for its detail)",
        empty="No runbook has been run yet.",
        file_name="runbook_runs.csv",
        select_row=True,
    )
    return runs[picked].id if picked is not None and picked < len(runs) else None


def _evidence(run: RunRow) -> None:
    before, after = run.health_before or {}, run.health_after or {}

    def core(s: dict[str, Any]) -> str:
        c = s.get("orca_core") or {}
        return f"HTTP {c.get('status')}" if c.get("status") else "no answer" if s else ""

    def coll(s: dict[str, Any]) -> str:
        c = s.get("collector") or {}
        return f"HTTP {c.get('status')}" if c.get("status") else "no answer" if s else ""

    def ok(s: dict[str, Any], name: str) -> str:
        part = s.get(name) or {}
        return ("reachable" if part.get("ok") else "unreachable") if s else ""

    def faults(s: dict[str, Any]) -> str:
        names = s.get("faults")
        return ", ".join(names) if names else ("none" if s else "")

    rows = [
        {"check": "ORCA Core /health", "before": core(before), "after": core(after)},
        {"check": "collector health", "before": coll(before), "after": coll(after)},
        {
            "check": "PostgreSQL",
            "before": ok(before, "postgresql"),
            "after": ok(after, "postgresql"),
        },
        {"check": "Redis", "before": ok(before, "redis"), "after": ok(after, "redis")},
        {"check": "faults in force", "before": faults(before), "after": faults(after)},
        {
            "check": "telemetry export errors (last 5 s)",
            "before": str(before.get("export_errors_5s", "")),
            "after": str(after.get("export_errors_5s", "")),
        },
    ]
    st.markdown("**Evidence: health before and after**")
    st.dataframe(pd.DataFrame(rows), hide_index=True, key=f"{PAGE}.evidence", width="stretch")


def _step(step: StepRow) -> None:
    icon = _STATE_ICON.get(step.state, "")
    took = ""
    if step.started_at and step.finished_at:
        took = f" · {(step.finished_at - step.started_at).total_seconds():.1f} s"
    with st.container(border=True):
        st.markdown(f"{icon} **{step.position}. {plain(step.title)}** · {step.state}{took}")
        st.caption(plain(step.planned))
        if step.output:
            st.code(step.output[-4000:], language=None)


def _detail_body(run_id: int) -> None:
    try:
        with auth.engine().connect() as conn:
            run = get_run(conn, run_id)
            steps = list_steps(conn, run_id) if run is not None else []
    except (auth.GateClosed, SQLAlchemyError):
        st.error("PostgreSQL is unreachable: this run cannot be shown now.", icon="⚠️")
        return
    if run is None:
        st.info(f"There is no run #{run_id}.")
        return
    watching = f"{PAGE}.watching.{run_id}"
    if run.state == "running":
        st.session_state[watching] = True
    elif st.session_state.pop(watching, False):
        st.rerun(scope="app")  # it just ended: the history (outside this fragment) too
    st.subheader(f"Run #{run.id}: {run.title} on {run.target}")
    st.caption(
        f"{run.state} · by {run.actor} · executor "
        f"{run.executor} · started {_when(run.started_at)}"
        + (f" · {run.seconds:.1f} s" if run.seconds is not None else "")
        + (f" · parameters {json.dumps(run.params)}" if run.params else "")
    )
    if run.state == "running":
        st.info(f"Running: this view refreshes every {REFRESH_S} s until the run ends.", icon="⏳")
    elif run.state == "failed":
        st.error(plain(run.failure or "The run failed."))
    elif any(step.state == "failed" for step in steps):
        st.success(
            "The run succeeded. The checks marked failed recorded the problem it found "
            "(they do not stop a run)."
        )
    else:
        st.success("The run succeeded: every step passed.")
    _evidence(run)
    for step in steps:
        _step(step)


def _detail(run_id: int) -> None:
    try:
        with auth.engine().connect() as conn:
            run = get_run(conn, run_id)
    except (auth.GateClosed, SQLAlchemyError):
        run = None
    active = run is not None and run.state == "running"
    st.fragment(run_every=REFRESH_S if active else None)(_detail_body)(run_id)


def render(actor: Actor) -> None:
    try:
        specs = catalogue()
    except SpecError as exc:
        st.error(f"The runbook catalogue is broken: {plain(str(exc))}")
        return
    raw = st.query_params.get("run")
    if raw and raw.isdigit():
        with st.container(border=True):
            _detail(int(raw))
            st.button("Close this run", key=f"{PAGE}.close", on_click=_select_run, args=(None,))
    tab_catalogue, tab_runs = st.tabs(["Catalogue", "Run history"])
    with tab_catalogue:
        _catalogue(actor, specs)
    with tab_runs:
        clicked = _history()
        if clicked is not None and str(clicked) != raw:
            _select_run(clicked)
            st.rerun()
