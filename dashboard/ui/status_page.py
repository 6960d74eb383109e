"""The public status page: GET /status, plain escaped HTML, no sign-in, no Streamlit session.

Served by the console's ASGI app (st.App routes) behind the same security headers. It shows
component states (live probes, else the newest stored checks) and open incidents with their
PUBLIC status updates only: never titles, notes, people or agent names (titles are internal and
an alert's title may name agents; status updates naming an agent are refused when posted).
Rendered at most once per RENDER_TTL_S per process, so a busy public page costs the database
one small query every few seconds per replica, whatever the traffic.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import anyio.to_thread
import pandas as pd
import redis
from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from dashboard.data import health, live
from dashboard.data.incidents import PublicIncident, list_public_incidents
from dashboard.data.live_status import summarize_status
from dashboard.db.app_role import install_app_role
from dashboard.db.engine import make_engine
from dashboard.domain.incidents import SEVERITY_TEXT, Severity
from dashboard.domain.status import StatusBoard
from dashboard.domain.text import show_controls
from dashboard.integrations.redis_client import make_redis
from dashboard.settings import get_settings, to_sqlalchemy_url

log = logging.getLogger(__name__)

RENDER_TTL_S = 10.0
PUBLIC_PHASE = {
    "detect": "Investigating",
    "triage": "Investigating",
    "communicate": "Investigating",
    "investigate": "Investigating",
    "mitigate": "Identified, fix in progress",
    "resolve": "Monitoring",
    "review": "Resolved",
}
PUBLIC_TITLE = {
    Severity.P1: "Major outage",
    Severity.P2: "Degraded performance",
    Severity.P3: "Minor issue",
    Severity.P4: "Minor issue",
}
STATUS_WORDS = {"up": "Operational", "degraded": "Degraded", "down": "Outage"}

_lock = threading.Lock()
_cached: tuple[float, str] | None = None


def esc(value: object) -> str:
    """Untrusted text as HTML text (controls made visible first)."""
    return html.escape(show_controls(value), quote=True)


@lru_cache(maxsize=1)
def _engine() -> Engine:
    url = get_settings().database_url
    if not url:
        raise RuntimeError("no database configured")
    return install_app_role(make_engine(to_sqlalchemy_url(url), pool_size=2))


def _redis() -> redis.Redis:
    return make_redis(get_settings().redis_url or "redis://127.0.0.1:1/0")


def _when(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def render_html(board: StatusBoard | None, incidents: list[PublicIncident] | None) -> str:
    """The whole page. Every value from data goes through :func:`esc`."""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<meta http-equiv='refresh' content='60'>",
        "<title>ORCA status</title><style>",
        "body{font-family:system-ui,sans-serif;max-width:860px;margin:2rem auto;padding:0 1rem;"
        "color:#1f2933;background:#f7f8fa}h1{font-size:1.6rem;margin-bottom:.2rem}"
        ".card{background:#fff;border:1px solid #d9dee5;border-radius:8px;padding:1rem 1.2rem;"
        "margin:1rem 0}.row{display:flex;justify-content:space-between;padding:.45rem 0;"
        "border-bottom:1px solid #eef0f3}.row:last-child{border-bottom:none}"
        ".up{color:#127a3f}.degraded{color:#b25e00}.down{color:#b3261e}.unknown{color:#6b7280}"
        ".sev{font-weight:600}.muted{color:#6b7280;font-size:.9rem}"
        ".banner{padding:.8rem 1.2rem;border-radius:8px;font-weight:600}"
        ".ok{background:#e3f4ea;color:#127a3f}.bad{background:#fde8e6;color:#b3261e}"
        "ul{padding-left:1.2rem}li{margin:.35rem 0}</style></head><body>",
        "<h1>ORCA service status</h1>",
    ]
    now = datetime.now(UTC)
    parts.append(f"<p class='muted'>Updated {esc(_when(now))}</p>")
    if incidents:
        parts.append(
            f"<div class='banner bad'>{len(incidents)} open incident"
            f"{'s' if len(incidents) != 1 else ''}</div>"
        )
    elif incidents is not None:
        parts.append("<div class='banner ok'>No open incidents</div>")
    parts.append("<div class='card'><h2>Components</h2>")
    if board is None or not board.components:
        parts.append("<p class='muted'>Component status is unavailable right now.</p>")
    else:
        for c in board.components:
            state = c.status if c.status in STATUS_WORDS else "unknown"
            word = STATUS_WORDS.get(state, "Unknown")
            parts.append(
                f"<div class='row'><span>{esc(c.label)}</span>"
                f"<span class='{state}'>{esc(word)}</span></div>"
            )
    parts.append("</div><div class='card'><h2>Incidents</h2>")
    if incidents is None:
        parts.append("<p class='muted'>Incident information is unavailable right now.</p>")
    elif not incidents:
        parts.append("<p>All systems are running normally.</p>")
    for inc in incidents or []:
        sev = Severity(inc.severity)
        parts.append(
            f"<h3><span class='sev'>{esc(sev.value)}</span> {esc(PUBLIC_TITLE[sev])} "
            f"<span class='muted'>(incident #{inc.id})</span></h3>"
            f"<p class='muted'>{esc(SEVERITY_TEXT[sev].split(':')[0])} · "
            f"{esc(PUBLIC_PHASE.get(inc.phase, 'Investigating'))} · since "
            f"{esc(_when(inc.declared_at))}</p>"
        )
        if inc.updates:
            parts.append("<ul>")
            parts += [
                f"<li><span class='muted'>{esc(_when(u.at))}</span> {esc(u.text)}</li>"
                for u in inc.updates
            ]
            parts.append("</ul>")
        else:
            parts.append("<p class='muted'>We are looking into it; updates follow here.</p>")
    parts.append("</div></body></html>")
    return "".join(parts)


def _compute() -> str:
    board: StatusBoard | None = None
    incidents: list[PublicIncident] | None = None
    try:
        engine = _engine()
    except Exception:  # no database configured: the page still answers
        engine = None
    try:

        def stored() -> pd.DataFrame | None:
            if engine is None:
                return None
            with engine.connect() as conn:
                return health.list_health_checks(
                    conn, since=datetime.now(UTC) - timedelta(minutes=15), limit=50
                )

        board = summarize_status(live.read_probe_results(_redis()), stored_checks=stored)
    except Exception:
        log.warning("status page: components unavailable", exc_info=True)
    if engine is not None:
        try:
            with engine.connect() as conn:
                incidents = list_public_incidents(conn)
        except Exception:
            log.warning("status page: incidents unavailable", exc_info=True)
    return render_html(board, incidents)


def current_html() -> str:
    """The page, recomputed at most once per RENDER_TTL_S in this process."""
    global _cached
    with _lock:
        if _cached is not None and time.monotonic() - _cached[0] < RENDER_TTL_S:
            return _cached[1]
        page = _compute()
        _cached = (time.monotonic(), page)
        return page


def reset_for_tests() -> None:
    global _cached
    with _lock:
        _cached = None


async def status_page(request: Request) -> Response:
    page = await anyio.to_thread.run_sync(current_html)
    return HTMLResponse(page, headers={"cache-control": "public, max-age=10"})


STATUS_ROUTES = [Route("/status", status_page, methods=["GET"])]
