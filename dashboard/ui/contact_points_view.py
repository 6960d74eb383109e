"""Contact points page body: where notifications go, how they are routed, and the delivery log.

Everyone signed in reads it (on-call wants to know whether the page went out); only admins
change it, through dashboard.actions.contact_points (re-checked on the server, audited).
Secrets are write-only: the page shows the masked hint the database keeps next to them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from dashboard.actions import contact_points as actions
from dashboard.actions.base import SESSION_ENDED_MESSAGE, ActionResult
from dashboard.data import notify_store as store
from dashboard.domain.notify_rules import (
    ALL_AUDIENCES,
    CONTACT_KINDS,
    KIND_LABELS,
    SECRET_LABELS,
)
from dashboard.domain.permissions import can_do
from dashboard.settings import get_settings
from dashboard.ui import auth, components, loaders, staged
from dashboard.ui.markup import plain
from dashboard.worker.notify import business_hours

PAGE = "contact_points"
DB_DOWN = "PostgreSQL is unreachable; nothing was changed."


def shown(value: object) -> str:
    """Untrusted text for a cell: control and bidi characters as '?' (still text)."""
    return "".join(
        ch if ch.isprintable() else "?" for ch in str(value if value is not None else "")
    )


def _act(call: Callable[..., ActionResult], *args: object, **kwargs: object) -> ActionResult:
    actor = auth.current_actor()
    if actor is None:
        return ActionResult("denied", SESSION_ENDED_MESSAGE)
    try:
        return call(auth.engine(), actor, *args, **kwargs)
    except (auth.GateClosed, SQLAlchemyError):
        return ActionResult("error", DB_DOWN)


def can_edit() -> bool:
    actor = auth.current_actor()
    return actor is not None and can_do(actor.roles, actions.EDIT)


# -- loading ------------------------------------------------------------------------------


def _read(fn: Callable[[Any], Any]) -> Any:
    def run() -> Any:
        with auth.engine().connect() as conn:
            return fn(conn)

    return loaders.call_db(run)


def load_points() -> list[store.ContactPoint] | None:
    try:
        points: list[store.ContactPoint] = _read(store.list_contact_points)
    except (loaders.DatabaseDown, loaders.StillComputing, auth.GateClosed, SQLAlchemyError):
        st.error("PostgreSQL is unreachable: contact points cannot be shown right now.")
        return None
    return points


def _panel(fn: Callable[[Any], pd.DataFrame]) -> loaders.Panel[pd.DataFrame]:
    try:
        frame: pd.DataFrame = _read(fn)
    except (loaders.DatabaseDown, loaders.StillComputing, auth.GateClosed, SQLAlchemyError):
        return loaders.Panel(None, "error", "PostgreSQL is unreachable; no delivery log now.")
    now = datetime.now(UTC)
    return loaders.Panel(frame, "empty" if frame.empty else "ok", computed_at=now)


# -- reading ------------------------------------------------------------------------------


def routing_summary() -> None:
    s = get_settings()
    try:
        business_hours(s)
    except (ValueError, KeyError) as exc:
        st.warning(
            f"The business hours setting is unusable ({plain(str(exc))}); the worker uses "
            "09:00–17:00 UTC, Monday to Friday, until it is fixed."
        )
    st.caption(
        "**Routing.** P1 pages at once (the audience's contact points and the broadcast "
        "channels). P2 goes to the same places in business hours "
        f"({plain(s.notify_business_days)}, {plain(s.notify_business_start)}–"
        f"{plain(s.notify_business_end)} {plain(s.notify_business_tz)}) and is held until "
        "they start. Warnings and info reach broadcast channels only. Notifications of one "
        "rule in one delivery cycle are grouped into one message."
    )


def counts() -> None:
    try:
        c: store.OutboxCounts = _read(lambda conn: store.count_outbox(conn, now=datetime.now(UTC)))
    except (loaders.DatabaseDown, loaders.StillComputing, auth.GateClosed, SQLAlchemyError):
        return
    cols = st.columns(5)
    cols[0].metric("Waiting in outbox", c.pending)
    cols[1].metric("P2 held for hours", c.held_p2)
    cols[2].metric("Deliveries in progress", c.delivering)
    cols[3].metric("Sent (24 h)", c.sent_24h)
    cols[4].metric("Failed (24 h)", c.failed_24h)


def _where(cp: store.ContactPoint) -> str:
    cfg = cp.config
    if cp.kind == "email":
        to = str(cfg.get("to") or "") or "the person on call"
        tls = " · STARTTLS" if cfg.get("starttls") else ""
        return f"{cfg.get('host')}:{cfg.get('port')} → {to}{tls}"
    if cp.kind == "pagerduty":
        return str(cfg.get("url") or "events.pagerduty.com")
    return "webhook URL (stored)"


def points_table(points: list[store.ContactPoint]) -> None:
    if not points:
        st.info(
            "No contact points yet: notifications wait in the outbox until one exists."
            + (" Add one below." if can_edit() else " Ask an administrator to add one.")
        )
        return
    frame = pd.DataFrame(
        [
            {
                "name": shown(p.name),
                "kind": p.kind,
                "audiences": ", ".join(p.audiences),
                "destination": shown(_where(p)),
                "secret": p.secret_hint,
                "state": ("enabled" if p.enabled else "disabled")
                + (" (settings)" if p.managed_by == "settings" else ""),
                "changed": f"{p.updated_at:%m-%d %H:%M} by {shown(p.updated_by)}",
            }
            for p in points
        ]
    )
    text = st.column_config.TextColumn
    st.dataframe(
        frame,
        hide_index=True,
        key=f"{PAGE}.table",
        column_config={c: text(c) for c in frame.columns},
        width="stretch",
    )


def _result(row: pd.Series) -> str:
    if bool(row["ok"]):
        return (
            f"delivered ({int(row['status_code'])})"
            if pd.notna(row["status_code"])
            else "delivered"
        )
    verdict = {"pending": "will retry", "failed": "gave up"}.get(str(row["delivery_status"]), "")
    return shown(f"{verdict}: {row['error'] or 'failed'}" if verdict else row["error"])


def delivery_log() -> None:
    panel = _panel(lambda conn: store.list_delivery_log(conn, limit=200))
    if panel.value is not None and not panel.value.empty:
        raw = panel.value
        df = pd.DataFrame(
            {
                "time (UTC)": pd.to_datetime(raw["at"], utc=True).dt.strftime("%m-%d %H:%M:%S"),
                "contact point": raw["contact_point"].map(shown),
                "sev.": raw["severity"],
                "result": raw.apply(_result, axis=1),
                "try": raw["attempt"],
                "for": raw["recipient"].map(lambda r: shown(r) if r else "—"),
                "message": raw["subject"].map(shown),
            }
        )
        panel = loaders.Panel(df, "ok", computed_at=panel.computed_at)
    components.table(
        panel,
        f"{PAGE}.log",
        title="Delivery log (newest 200 attempts)",
        empty="No delivery attempts yet.",
        file_name="delivery_log.csv",
        column_config={"result": st.column_config.TextColumn("result", width="medium")},
    )


# -- changing (admins) --------------------------------------------------------------------


def _config_from_state(prefix: str) -> dict[str, object]:
    get = st.session_state.get
    return {
        "url": get(f"{prefix}.url") or "",
        "host": get(f"{prefix}.host") or "",
        "port": get(f"{prefix}.port") or 25,
        "from_addr": get(f"{prefix}.from_addr") or "",
        "to": get(f"{prefix}.to") or "",
        "starttls": bool(get(f"{prefix}.starttls")),
        "username": get(f"{prefix}.username") or "",
    }


def _kind_fields(prefix: str, kind: str, cfg: dict[str, Any], *, editing: bool) -> None:
    hint = " (leave blank to keep the stored one)" if editing else ""
    if kind != "email":  # e-mail asks for its password last, next to the SMTP user
        st.text_input(SECRET_LABELS[kind] + hint, key=f"{prefix}.secret", type="password")
    if kind == "pagerduty":
        st.text_input(
            "Events URL (blank: PagerDuty's)", value=str(cfg.get("url") or ""), key=f"{prefix}.url"
        )
    if kind == "email":
        c = st.columns([3, 1])
        c[0].text_input("SMTP host", value=str(cfg.get("host") or ""), key=f"{prefix}.host")
        c[1].number_input(
            "Port", 1, 65535, value=int(str(cfg.get("port") or 587)), key=f"{prefix}.port"
        )
        c2 = st.columns(2)
        c2[0].text_input("From", value=str(cfg.get("from_addr") or ""), key=f"{prefix}.from_addr")
        c2[1].text_input(
            "To (comma-separated; blank: the person on call)",
            value=str(cfg.get("to") or ""),
            key=f"{prefix}.to",
        )
        c3 = st.columns(2)
        c3[0].text_input(
            "SMTP user", value=str(cfg.get("username") or ""), key=f"{prefix}.username"
        )
        c3[1].text_input(SECRET_LABELS[kind] + hint, key=f"{prefix}.secret", type="password")
        st.checkbox(
            "STARTTLS (encrypt before logging in)",
            value=bool(cfg.get("starttls", True)),
            key=f"{prefix}.starttls",
        )


def _kind_of(label: str) -> str:
    return next((k for k in CONTACT_KINDS if KIND_LABELS[k] == label), label)


def _add() -> None:
    prefix = f"{PAGE}.add"
    kind = _kind_of(str(st.session_state.get(f"{PAGE}.add_kind") or ""))
    result = _act(
        actions.add_contact_point,
        name=str(st.session_state.get(f"{prefix}.name") or ""),
        kind=kind,
        audiences=list(st.session_state.get(f"{prefix}.audiences.{kind}") or []),
        config=_config_from_state(prefix),
        secret=str(st.session_state.get(f"{prefix}.secret") or ""),
    )
    st.session_state[f"{prefix}.secret"] = ""  # never kept in the session after the run
    st.session_state[f"{prefix}.result"] = result
    if result.outcome == "changed":
        st.session_state[f"{prefix}.name"] = ""


def add_form() -> None:
    prefix = f"{PAGE}.add"
    label = st.selectbox("Kind", [KIND_LABELS[k] for k in CONTACT_KINDS], key=f"{PAGE}.add_kind")
    kind = next(k for k in CONTACT_KINDS if KIND_LABELS[k] == label)
    with st.form(prefix, border=True, enter_to_submit=False):
        c = st.columns([2, 3])
        c[0].text_input("Name", key=f"{prefix}.name", max_chars=80)
        c[1].multiselect(
            "Audiences (who it speaks for)",
            ALL_AUDIENCES,
            default=["broadcast"] if kind == "slack" else ["oncall"],
            key=f"{prefix}.audiences.{kind}",  # per kind: its default fits the kind
        )
        _kind_fields(prefix, kind, {}, editing=False)
        st.form_submit_button("Add contact point", type="primary", on_click=_add)
    staged.show_result(f"{prefix}.result")


def _save(cp: store.ContactPoint, prefix: str) -> None:
    result = _act(
        actions.edit_contact_point,
        cp.id,
        expected_version=cp.version,
        name=str(st.session_state.get(f"{prefix}.name") or ""),
        audiences=list(st.session_state.get(f"{prefix}.audiences") or []),
        config=_config_from_state(prefix),
        secret=str(st.session_state.get(f"{prefix}.secret") or ""),
    )
    st.session_state[f"{prefix}.secret"] = ""
    st.session_state[f"{PAGE}.edit.result"] = result


def _test(cp_id: int) -> None:
    st.session_state[f"{PAGE}.edit.result"] = _act(actions.test_contact_point, cp_id)


def _toggle(cp_id: int, enabled: bool, version: int) -> None:
    st.session_state[f"{PAGE}.edit.result"] = _act(
        actions.set_contact_point_enabled, cp_id, enabled=enabled, expected_version=version
    )


def _run_disable(plan: staged.Plan, _: int | None) -> ActionResult:
    cp_id, version = int(plan.data[0]), int(plan.data[1])
    return _act(actions.set_contact_point_enabled, cp_id, enabled=False, expected_version=version)


def edit_panel(points: list[store.ContactPoint]) -> None:
    editable = [p for p in points if p.managed_by == "console"]
    if not editable:
        st.info("No contact point made in the console yet (those from settings change there).")
        return
    labels = {shown(p.name): p for p in editable}  # names are unique in the table
    chosen = st.selectbox("Contact point", list(labels), key=f"{PAGE}.chosen")
    cp = labels.get(str(chosen)) or editable[0]
    staged.show_result(f"{PAGE}.edit.result")
    staged.show_result(f"{PAGE}.disable.result")
    prefix = f"{PAGE}.edit.{cp.id}.{cp.version}"  # a new version re-fills the form
    st.caption(
        f"{KIND_LABELS[cp.kind]} · secret {cp.secret_hint} · version {cp.version} · "
        + ("enabled" if cp.enabled else "disabled")
    )
    with st.form(prefix, border=True, enter_to_submit=False):
        c = st.columns([2, 3])
        c[0].text_input("Name", value=cp.name, key=f"{prefix}.name", max_chars=80)
        c[1].multiselect(
            "Audiences", ALL_AUDIENCES, default=list(cp.audiences), key=f"{prefix}.audiences"
        )
        _kind_fields(prefix, cp.kind, dict(cp.config), editing=True)
        st.form_submit_button("Save changes", type="primary", on_click=_save, args=(cp, prefix))
    c = st.columns([1, 1, 3])
    c[0].button("Send a test message", key=f"{PAGE}.test", on_click=_test, args=(cp.id,))
    with c[1]:
        if cp.enabled:
            scope = f"disable:{cp.id}:{cp.version}"
            staged.control(
                f"{PAGE}.disable",
                scope=scope,
                preview_label="Disable…",
                stage=lambda: staged.Plan(
                    scope=scope,
                    preview=f"Disable {cp.name}: it receives nothing until enabled again, and "
                    "its pending deliveries end as failed.",
                    confirm_label="Confirm disable",
                    count=1,
                    data=(cp.id, cp.version),
                ),
                run=_run_disable,
            )
        else:
            st.button(
                "Enable", key=f"{PAGE}.enable", on_click=_toggle, args=(cp.id, True, cp.version)
            )


def open_deliveries() -> None:
    panel = _panel(lambda conn: store.list_open_deliveries(conn, limit=100))
    if panel.value is not None and not panel.value.empty:
        raw = panel.value
        df = pd.DataFrame(
            {
                "contact point": raw["contact_point"].map(shown),
                "sev.": raw["severity"],
                "state": raw["status"].map({"pending": "retrying", "failed": "gave up"}),
                "tries": raw["attempts"],
                "next try (UTC)": [
                    f"{t:%m-%d %H:%M:%S}" if s == "pending" else "—"
                    for t, s in zip(raw["next_attempt_at"], raw["status"], strict=True)
                ],
                "last error": raw["last_error"].map(shown),
                "message": raw["subject"].map(shown),
            }
        )
        panel = loaders.Panel(df, "ok", computed_at=panel.computed_at)
    components.table(
        panel,
        f"{PAGE}.open",
        title="Retrying and given up",
        empty="Nothing is waiting for a retry and nothing failed.",
        file_name="open_deliveries.csv",
        column_config={"last error": st.column_config.TextColumn("last error", width="medium")},
    )


def render() -> None:
    routing_summary()
    counts()
    points = load_points()
    if points is None:
        return
    st.subheader("Contact points")
    points_table(points)
    if can_edit():
        add_tab, edit_tab = st.tabs(["Add a contact point", "Edit, test or disable"])
        with add_tab:
            add_form()
        with edit_tab:
            edit_panel(points)
    else:
        st.caption("Read-only: only administrators add or change contact points.")
    st.subheader("Deliveries")
    open_deliveries()
    delivery_log()
