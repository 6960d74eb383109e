"""The sign-in gate: login form, the signed session cookie, the actor of this run, logout.

Only the session token is kept, in ``st.session_state["auth.token"]`` and in a cookie signed
with the key from :func:`check_cookie_key`. Every run turns the token back into an Actor with
:func:`actor_from_session`, which reads the session and the roles from PostgreSQL, so idle
(30 min), expired (12 h), revoked and disabled sessions end here, and nothing the browser or
session state holds can grant a role. Actions re-check the actor on the server anyway.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from dashboard.actions.auth import (
    AuthenticationFailed,
    ClientLimit,
    CookieKeyError,
    actor_from_session,
    authenticate,
    check_cookie_key,
    logout,
)
from dashboard.actions.base import Actor, audit_denial
from dashboard.domain.permissions import PAGE_PERMISSIONS, can_open
from dashboard.settings import get_settings
from dashboard.ui import loaders, resources
from dashboard.ui.http_guard import COOKIE as COOKIE
from dashboard.ui.http_guard import cookie_value as cookie_value
from dashboard.ui.http_guard import new_claim, url_path
from dashboard.ui.http_guard import token_from_cookie as token_from_cookie

log = logging.getLogger(__name__)

TOKEN_KEY = "auth.token"  # noqa: S105 - a session-state key, not a secret
ACTOR_KEY = "auth.actor"
_COOKIE_WRITE = "auth.cookie_write"  # "set" after a sign-in, "delete" after a sign-out
_COOKIE_CLAIM = "auth.cookie_claim"  # the single-use code the browser trades for the cookie
_DEAD_COOKIE = "auth.dead_cookie"  # a cookie already refused in this browser session
_FAILED = "auth.failed"
NO_ACCESS = "You don't have access to this page."
# What call_db raises when PostgreSQL is down, frozen or too slow for a page to wait on.
DB_UNAVAILABLE = (loaders.DatabaseDown, loaders.StillComputing)
DB_DOWN = (
    "PostgreSQL is unreachable, so sign-in cannot be checked right now. "
    "The console will recover by itself when the database is back."
)


class GateClosed(Exception):
    """Raised internally when the console cannot run at all (no database, bad cookie key)."""


def engine() -> Engine:
    """The console's engine for actions (raises GateClosed when no database is configured)."""
    url = resources.database_url()
    if url is None:
        raise GateClosed("No database is configured (ORCA_DATABASE_URL).")
    return resources.get_engine(url)


def _key() -> str:
    try:
        return check_cookie_key(get_settings())
    except CookieKeyError as exc:
        raise GateClosed(str(exc)) from None


def _browser_cookie() -> str | None:
    try:
        value = st.context.cookies.get(COOKIE)
    except Exception:  # no request context (bare runs): no cookie
        return None
    return value if isinstance(value, str) else None


# The browser trades the claim for an HttpOnly cookie set by the server (http_guard's
# /api/session route), so no script on the page can read the session cookie. Same markup on
# every run: the frame stays mounted and posts once.
_CLAIM_JS = """<script>
fetch(%s, {method: "POST", credentials: "same-origin",
  headers: {"Content-Type": "application/json"}, body: JSON.stringify({claim: %s})});
</script>"""
_END_JS = """<script>
fetch(%s, {method: "POST", credentials: "same-origin"});
</script>"""


def _write_cookie() -> None:
    """Keep the browser's cookie in step with this session (a zero-height frame)."""
    action = st.session_state.get(_COOKIE_WRITE)
    claim = st.session_state.get(_COOKIE_CLAIM)
    if action == "set" and isinstance(claim, str):
        with st.sidebar:  # signed in: the sidebar is there anyway
            st.iframe(
                _CLAIM_JS % (json.dumps(url_path("/api/session")), json.dumps(claim)), height=1
            )
    elif action == "delete":
        # Signed out: in the main area, so the login form gets no near-empty sidebar.
        st.iframe(_END_JS % json.dumps(url_path("/api/session/end")), height=1)


def _resolve(engine: Engine, key: str) -> Actor | None:
    """The actor of this run, from the session's token or else from the browser's cookie."""
    token = st.session_state.get(TOKEN_KEY)
    from_cookie = False
    if not isinstance(token, str) or not token:
        raw = _browser_cookie()
        if raw is None or raw == st.session_state.get(_DEAD_COOKIE):
            return None
        token = token_from_cookie(key, raw)
        if token is None:
            st.session_state[_DEAD_COOKIE] = raw
            st.session_state[_COOKIE_WRITE] = "delete"
            return None
        from_cookie = True
    # Under the page's deadline: a frozen PostgreSQL gives the banner, not a blank page.
    actor = loaders.call_db(lambda: actor_from_session(engine, token))
    if actor is None:
        st.session_state.pop(TOKEN_KEY, None)
        if from_cookie:
            st.session_state[_DEAD_COOKIE] = _browser_cookie()
        st.session_state[_COOKIE_WRITE] = "delete"
        return None
    st.session_state[TOKEN_KEY] = token
    return actor


def client_address() -> str:
    """The address the per-client sign-in limit counts against.

    The websocket peer Streamlit reports (None on a localhost connection: "local"). Behind a
    reverse proxy every peer is the proxy, so with ORCA_TRUST_FORWARDED_FOR the last entry of
    X-Forwarded-For is taken: the one the proxy added itself, which a client cannot forge.
    """
    try:
        if get_settings().trust_forwarded_for:
            forwarded = st.context.headers.get_all("X-Forwarded-For")
            entries = [e.strip() for v in forwarded for e in str(v).split(",") if e.strip()]
            if entries:
                return entries[-1]
        peer = st.context.ip_address
    except Exception:  # no request context (bare runs, AppTest)
        peer = None
    return str(peer) if peer else "local"


def _client_limit() -> ClientLimit | None:
    try:
        return ClientLimit(resources.get_redis(resources.redis_url()), client_address())
    except Exception:  # no Redis configured: the per-user limit still holds
        log.warning("no Redis for the per-client sign-in limit")
        return None


def _sign_in() -> None:
    """on_click of the login form: authenticate, keep only the token."""
    username = str(st.session_state.get("auth.username") or "")
    password = str(st.session_state.get("auth.password") or "")
    st.session_state["auth.password"] = ""
    try:
        db = engine()
        client = _client_limit()
        # bcrypt takes its time on purpose: sign-in waits longer than a page's queries.
        token = loaders.call_db(
            lambda: authenticate(db, username, password, client=client), deadline_s=8
        )
    except AuthenticationFailed as exc:
        st.session_state[_FAILED] = exc.message
        return
    except (GateClosed, SQLAlchemyError, *DB_UNAVAILABLE):
        st.session_state[_FAILED] = DB_DOWN
        return
    st.session_state.pop(_FAILED, None)
    st.session_state[TOKEN_KEY] = token
    st.session_state[_COOKIE_WRITE] = "set"
    st.session_state[_COOKIE_CLAIM] = new_claim(token)


def _sign_out() -> None:
    """on_click of the logout button: end the session on the server, then forget it here."""
    token = st.session_state.pop(TOKEN_KEY, None)
    st.session_state.pop(ACTOR_KEY, None)
    st.session_state[_DEAD_COOKIE] = _browser_cookie()
    st.session_state[_COOKIE_WRITE] = "delete"
    if isinstance(token, str):
        try:
            db = engine()
            loaders.call_db(lambda: logout(db, token))
        except (GateClosed, SQLAlchemyError, *DB_UNAVAILABLE):
            log.warning("logout could not reach PostgreSQL; the session ends by timeout")


def login_form() -> None:
    _, mid, _ = st.columns([1, 2, 1])
    with mid:
        st.title("Sign in to the ORCA Ops Console")
        with st.form("auth.login", border=True):
            st.text_input("User name", key="auth.username", max_chars=64)
            st.text_input("Password", type="password", key="auth.password", max_chars=200)
            st.form_submit_button("Sign in", type="primary", on_click=_sign_in)
        failed = st.session_state.get(_FAILED)
        if failed:
            st.error(str(failed))


def _only(body: Callable[[], object]) -> None:
    """Run ``body`` as the one page of this run.

    st.navigation must be called on every run: without it Streamlit falls back to the pages/
    folder and would run the page named in the URL, signed in or not.
    """

    def sign_in() -> None:
        body()

    # Here, not at the top: navigation imports the header, which imports this module.
    from dashboard.ui.navigation import PAGES

    # Every page's address leads here too, so a deep link shows the form, not "page not found".
    pages = [st.Page(sign_in, title="Sign in", default=True)] + [
        st.Page(sign_in, title="Sign in", url_path=spec.page_id)
        for spec in PAGES
        if not spec.default
    ]
    st.navigation(pages, position="hidden").run()


def gate() -> Actor | None:
    """Resolve the signed-in actor for this run; show the login form (and return None) if none."""
    try:
        key = _key()
        actor = _resolve(engine(), key)
    except GateClosed as exc:
        message = str(exc)
        _only(lambda: st.error(message, icon="🛑"))
        return None
    except (SQLAlchemyError, *DB_UNAVAILABLE):
        _only(lambda: st.error(DB_DOWN, icon="🛑"))
        return None
    _write_cookie()
    if actor is None:
        st.session_state.pop(ACTOR_KEY, None)
        _only(login_form)
        return None
    st.session_state[ACTOR_KEY] = actor
    with st.sidebar:
        st.caption(f"Signed in as **{actor.username}** ({', '.join(actor.roles) or 'no role'})")
        st.button("Log out", key="auth.logout", on_click=_sign_out)
    return actor


def current_actor() -> Actor | None:
    """The actor the gate resolved for this run (from the database, never from a widget)."""
    value: Any = st.session_state.get(ACTOR_KEY)
    return value if isinstance(value, Actor) else None


def require_page(page_id: str) -> Actor:
    """A page's own role check: the live actor from the database, or stop the run.

    The router already did this, but a page can also be run straight from the pages/ folder
    (Streamlit's fallback), so each page asks again instead of trusting a value left in
    session state by an earlier run.
    """
    try:
        actor = _resolve(engine(), _key())
    except (GateClosed, SQLAlchemyError, *DB_UNAVAILABLE):
        st.error(DB_DOWN, icon="🛑")
        st.stop()
    if actor is None:
        st.session_state.pop(ACTOR_KEY, None)
        login_form()
        st.stop()
    st.session_state[ACTOR_KEY] = actor
    if not can_open(actor.roles, page_id):
        refuse_page(actor, page_id)
        st.stop()
    return actor


def refuse_page(actor: Actor, page_id: str) -> None:
    """The plain answer to a page opened by URL without the permission; the refusal is audited."""
    st.title("Access denied")
    st.error(NO_ACCESS)
    needed = PAGE_PERMISSIONS.get(page_id)
    try:
        with engine().connect() as conn:
            audit_denial(
                conn,
                actor,
                action="page.open",
                target_type="page",
                target_id=page_id,
                detail=f"missing permission {needed.value if needed else 'unknown page'}",
            )
    except (GateClosed, SQLAlchemyError):
        log.warning("could not audit a refused page %s", page_id)
