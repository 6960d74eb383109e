"""The maintenance and post-deployment checklists: auto checks, sign-offs, done / due / overdue.

Each auto check reads what the console already knows (backups, restores, agents, users,
request metrics, installed packages, the probed services) and answers pass, fail or info; an
item without one, or whose check only shows data (info), waits for a person's sign-off.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import httpx
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from dashboard.data import backups
from dashboard.domain.checklists import (
    Checklist,
    ItemState,
    item_state,
    parse_checklists,
    period_key,
)
from dashboard.integrations.tls import check_certificate, configured_urls
from dashboard.settings import PROJECT_ROOT, Settings

AutoStatus = Literal["pass", "fail", "info"]
CHECKLISTS_FILE = PROJECT_ROOT / "data" / "checklists.toml"
ALERT_RULES_FILE = PROJECT_ROOT / "data" / "alert_rules.yaml"


@dataclass(frozen=True)
class AutoResult:
    status: AutoStatus
    detail: str
    rows: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class AutoContext:
    conn: Connection
    settings: Settings
    now: datetime


AutoCheck = Callable[[AutoContext], AutoResult]
AUTO_CHECKS: dict[str, AutoCheck] = {}


def auto(name: str) -> Callable[[AutoCheck], AutoCheck]:
    def register(fn: AutoCheck) -> AutoCheck:
        AUTO_CHECKS[name] = fn
        return fn

    return register


def _table_exists(conn: Connection, name: str) -> bool:
    return bool(conn.execute(text("SELECT to_regclass(:t)"), {"t": f"public.{name}"}).scalar())


@auto("backup_completed")
def _backup_completed(ctx: AutoContext) -> AutoResult:
    age = backups.get_last_backup_age_s(ctx.conn, now=ctx.now)
    limit_h = ctx.settings.backup_max_age_h
    if age is None:
        return AutoResult("fail", "no backup has completed yet: take one on the Backups page")
    hours = age / 3600
    if hours > limit_h:
        return AutoResult("fail", f"last good backup {hours:.1f} h ago (limit {limit_h:.0f} h)")
    return AutoResult("pass", f"last good backup {hours:.1f} h ago")


@auto("error_logs")
def _error_logs(ctx: AutoContext) -> AutoResult:
    rows = ctx.conn.execute(
        text(
            "SELECT route, sum(error_count)::bigint AS errors, sum(request_count)::bigint AS "
            "requests FROM request_metrics WHERE minute > :since GROUP BY route "
            "HAVING sum(error_count) > 0 ORDER BY errors DESC LIMIT 10"
        ),
        {"since": ctx.now - timedelta(hours=24)},
    ).mappings()
    found = tuple(dict(r) for r in rows)
    total = sum(int(r["errors"]) for r in found)
    if not found:
        return AutoResult("pass", "no server errors recorded in the last 24 h")
    return AutoResult(
        "info", f"{total:,} server errors in the last 24 h on {len(found)} routes", found
    )


@auto("alert_status")
def _alert_status(ctx: AutoContext) -> AutoResult:
    for table in ("alert_states", "alerts"):
        if _table_exists(ctx.conn, table):
            try:
                firing = ctx.conn.execute(
                    text(f"SELECT count(*) FROM {table} WHERE state = 'firing'")  # noqa: S608 - constant names
                ).scalar_one()
            except SQLAlchemyError:
                break
            if firing:
                return AutoResult("fail", f"{firing} alert(s) firing: see the Alerts page")
            return AutoResult("pass", "no alert is firing")
    return AutoResult("info", "alert states are not available in this build: check by hand")


@auto("quarantined_reviewed")
def _quarantined_reviewed(ctx: AutoContext) -> AutoResult:
    n = int(
        ctx.conn.execute(
            text("SELECT count(*) FROM agents WHERE status = 'quarantined' AND reviewed_at IS NULL")
        ).scalar_one()
    )
    if n:
        return AutoResult("fail", f"{n:,} quarantined agents not reviewed: see the Review Queue")
    return AutoResult("pass", "every quarantined agent has been reviewed")


@auto("certificate_expiry")
def _certificate_expiry(ctx: AutoContext) -> AutoResult:
    urls = configured_urls(ctx.settings.tls_check_urls)
    if not urls:
        return AutoResult("info", "no HTTPS endpoints configured (ORCA_TLS_CHECK_URLS)")
    found = [
        check_certificate(u, warn_days=ctx.settings.tls_warn_days, ca_file=ctx.settings.tls_ca_file)
        for u in urls
    ]
    rows = tuple({"url": c.url, "verdict": c.verdict, "detail": c.detail} for c in found)
    bad = [c for c in found if c.verdict != "ok"]
    if bad:
        return AutoResult("fail", f"{len(bad)} of {len(found)} certificates need attention", rows)
    return AutoResult("pass", f"{len(found)} certificates valid", rows)


@auto("old_incidents")
def _old_incidents(ctx: AutoContext) -> AutoResult:
    if not _table_exists(ctx.conn, "incidents"):
        return AutoResult("info", "incidents are not available in this build: check by hand")
    try:
        n = int(
            ctx.conn.execute(
                text(
                    "SELECT count(*) FROM incidents WHERE resolved_at IS NULL "
                    "AND declared_at < :cut"
                ),
                {"cut": ctx.now - timedelta(days=30)},
            ).scalar_one()
        )
    except SQLAlchemyError:
        return AutoResult("info", "incidents could not be read: check by hand")
    if n:
        return AutoResult("fail", f"{n} incidents open for more than 30 days")
    return AutoResult("pass", "no incident open for more than 30 days")


@auto("dr_drill")
def _dr_drill(ctx: AutoContext) -> AutoResult:
    at = ctx.conn.execute(
        text("SELECT max(finished_at) FROM restores WHERE purpose = 'drill' AND status = 'ok'")
    ).scalar()
    if at is None:
        return AutoResult("fail", "no DR drill has passed yet: run one on the Backups page")
    days = (ctx.now - at).total_seconds() / 86400
    if days > 92:
        return AutoResult("fail", f"last passing DR drill {days:.0f} days ago")
    return AutoResult("pass", f"last passing DR drill {days:.0f} days ago")


@auto("access_review")
def _access_review(ctx: AutoContext) -> AutoResult:
    rows = ctx.conn.execute(
        text(
            "SELECT username, array_to_string(roles, ', ') AS roles, disabled, "
            "password_changed_at FROM users ORDER BY username"
        )
    ).mappings()
    found = tuple(dict(r) for r in rows)
    active = sum(1 for r in found if not r["disabled"])
    return AutoResult("info", f"{active} active users of {len(found)}: review their roles", found)


_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@auto("dependency_updates")
def _dependency_updates(ctx: AutoContext) -> AutoResult:
    pins: dict[str, str] = {}
    path = PROJECT_ROOT / "constraints.txt"
    if path.is_file():
        for line in path.read_text().splitlines():
            m = _PIN.match(line.strip())
            if m:
                pins[_norm(m.group(1))] = m.group(2)
    installed = {_norm(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
    rows = tuple(
        {"package": name, "installed": installed.get(name, "missing"), "pinned": pin}
        for name, pin in sorted(pins.items())
        if installed.get(name) != pin
    )
    listing = tuple(
        {"package": n, "installed": v, "pinned": pins.get(n, "")}
        for n, v in sorted(installed.items())
    )
    if rows:
        return AutoResult(
            "fail", f"{len(rows)} installed versions differ from constraints.txt", rows
        )
    return AutoResult(
        "info",
        f"{len(installed)} packages installed as pinned; check advisories, then `make lock`",
        listing,
    )


def _core_get(ctx: AutoContext, path: str) -> httpx.Response | str:
    url = ctx.settings.core_url.rstrip("/") + path
    try:
        return httpx.get(url, timeout=ctx.settings.probe_read_timeout_s)
    except httpx.HTTPError as exc:
        return f"{url}: {exc.__class__.__name__}"


@auto("core_health")
def _core_health(ctx: AutoContext) -> AutoResult:
    r = _core_get(ctx, "/health")
    if isinstance(r, str):
        return AutoResult("fail", f"unreachable: {r}")
    return AutoResult("pass" if r.status_code == 200 else "fail", f"GET /health → {r.status_code}")


@auto("core_trust")
def _core_trust(ctx: AutoContext) -> AutoResult:
    r = _core_get(ctx, "/api/v1/trust")
    if isinstance(r, str):
        return AutoResult("fail", f"unreachable: {r}")
    return AutoResult(
        "pass" if r.status_code == 200 else "fail", f"GET /api/v1/trust → {r.status_code}"
    )


@auto("core_agents")
def _core_agents(ctx: AutoContext) -> AutoResult:
    r = _core_get(ctx, "/api/v1/agents")
    if isinstance(r, str):
        return AutoResult("fail", f"unreachable: {r}")
    if r.status_code != 200:
        return AutoResult("fail", f"GET /api/v1/agents → {r.status_code}")
    try:
        body = r.json()
    except ValueError:
        return AutoResult("fail", "GET /api/v1/agents answered no JSON")
    items = body.get("agents", body.get("items", body)) if isinstance(body, dict) else body
    n = len(items) if isinstance(items, list) else 0
    return AutoResult("pass" if n else "fail", f"GET /api/v1/agents → 200, {n} agents on the page")


@auto("telemetry")
def _telemetry(ctx: AutoContext) -> AutoResult:
    try:
        r = httpx.get(ctx.settings.otel_health_url, timeout=ctx.settings.probe_read_timeout_s)
    except httpx.HTTPError as exc:
        return AutoResult(
            "fail",
            f"collector unreachable at {ctx.settings.otel_health_url}: {exc.__class__.__name__}",
        )
    return AutoResult(
        "pass" if r.status_code == 200 else "fail", f"collector health → {r.status_code}"
    )


@auto("alerts_configured")
def _alerts_configured(ctx: AutoContext) -> AutoResult:
    if ALERT_RULES_FILE.is_file() and ALERT_RULES_FILE.stat().st_size > 0:
        return AutoResult("pass", f"alert rules in {ALERT_RULES_FILE.name}")
    return AutoResult("fail", "no alert rules file (data/alert_rules.yaml)")


@auto("dashboards")
def _dashboards(ctx: AutoContext) -> AutoResult:
    from dashboard.domain.permissions import PAGE_PERMISSIONS

    wanted = ("service_health", "trust_kpis", "agent_registry")
    missing = [p for p in wanted if p not in PAGE_PERMISSIONS]
    if missing:
        return AutoResult("fail", f"dashboards missing: {', '.join(missing)}")
    return AutoResult("pass", "Service Health, Trust KPIs and Agent Registry are served")


def load_checklists(path: Path = CHECKLISTS_FILE) -> tuple[Checklist, ...]:
    return parse_checklists(path.read_text(), known_auto=frozenset(AUTO_CHECKS))


def deployment_id() -> str:
    """The deployment the post-deployment checklist is for: the console's installed version."""
    try:
        return importlib.metadata.version("orca-dashboard")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class ItemView:
    checklist: str
    item: str
    text: str
    state: ItemState
    auto: AutoResult | None
    signed_by: str | None = None
    signed_at: datetime | None = None
    note: str = ""
    rows: tuple[dict[str, Any], ...] = field(default_factory=tuple)


def _last_signoffs(conn: Connection) -> dict[tuple[str, str], dict[str, Any]]:
    rows = conn.execute(
        text(
            "SELECT DISTINCT ON (checklist, item) checklist, item, period, signed_by, signed_at, "
            "note FROM checklist_signoffs ORDER BY checklist, item, signed_at DESC"
        )
    ).mappings()
    return {(r["checklist"], r["item"]): dict(r) for r in rows}


def run_auto(name: str, ctx: AutoContext) -> AutoResult:
    try:
        return AUTO_CHECKS[name](ctx)
    except (SQLAlchemyError, OSError) as exc:
        return AutoResult("fail", f"the check could not run: {exc.__class__.__name__}")


def evaluate_checklist(
    conn: Connection,
    settings: Settings,
    checklist: Checklist,
    *,
    now: datetime | None = None,
    run_checks: bool = True,
) -> list[ItemView]:
    """Every item of ``checklist`` with its auto result, last sign-off and done/due/overdue."""
    at = now or datetime.now(UTC)
    signed = _last_signoffs(conn)
    ctx = AutoContext(conn, settings, at)
    deployment = deployment_id()
    out: list[ItemView] = []
    for item in checklist.items:
        result = run_auto(item.auto, ctx) if (item.auto and run_checks) else None
        last = signed.get((checklist.id, item.id))
        last_at: datetime | None = last["signed_at"] if last else None
        if checklist.cadence == "deployment":
            done = last is not None and last["period"] == deployment
            state: ItemState = "done" if done else "due"
        else:
            state = item_state(checklist.cadence, last_at, at)
        if result is not None and result.status == "pass":
            state = "done"
        out.append(
            ItemView(
                checklist.id,
                item.id,
                item.text,
                state,
                result,
                last["signed_by"] if last else None,
                last_at,
                last["note"] if last else "",
                result.rows if result else (),
            )
        )
    return out


def current_period(checklist: Checklist, now: datetime) -> str:
    return period_key(checklist.cadence, now, deployment=deployment_id())


def record_signoff(
    conn: Connection, *, checklist: str, item: str, period: str, by: str, note: str
) -> bool:
    """Insert a sign-off; False when this item is already signed off for this period."""
    got = conn.execute(
        text(
            "INSERT INTO checklist_signoffs (checklist, item, period, signed_by, note) "
            "VALUES (:c, :i, :p, :by, :n) ON CONFLICT (checklist, item, period) DO NOTHING "
            "RETURNING id"
        ),
        {"c": checklist, "i": item, "p": period, "by": by, "n": note},
    ).scalar()
    return got is not None


def count_overdue(conn: Connection, settings: Settings, *, now: datetime | None = None) -> int:
    """Overdue items over the periodic checklists, as the Checklists page counts them, cheaply
    enough for the header: by sign-offs first, then the automatic check of only those items
    overdue by sign-off that have one (a passing check makes an item done, never overdue)."""
    at = now or datetime.now(UTC)
    ctx = AutoContext(conn, settings, at)
    n = 0
    for checklist in load_checklists():
        if checklist.cadence == "deployment":
            continue
        autos = {item.id: item.auto for item in checklist.items}
        for v in evaluate_checklist(conn, settings, checklist, now=at, run_checks=False):
            if v.state != "overdue":
                continue
            auto = autos.get(v.item)
            if auto and run_auto(auto, ctx).status == "pass":
                continue
            n += 1
    return n
