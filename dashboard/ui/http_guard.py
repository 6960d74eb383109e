"""HTTP guards Streamlit's config cannot express, as public st.App middleware and routes.

- Security headers on every HTTP answer (CSP with frame-ancestors, nosniff, referrer policy).
- The websocket only from the console's own origin: Streamlit's check accepts any port of
  localhost or of the machine's own addresses (it compares host names only).
- /media/ (CSV downloads, images) only with a live session: a download URL is worthless
  after logout, idle expiry or a disabled account.
- The session cookie set by the server, HttpOnly: the page trades a single-use claim code
  (60 s, in Redis) for the cookie at POST /api/session; POST /api/session/end drops it.

Every path here follows Streamlit's ``server.baseUrlPath`` (a console behind a reverse proxy
at /orca/ has its routes at /orca/api/session, its media at /orca/media/, its cookie scoped to
/orca): :func:`base_path` is the one place that reads it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from functools import lru_cache
from http.cookies import SimpleCookie
from typing import Any, cast
from urllib.parse import urlsplit

import anyio.to_thread
import redis
import streamlit as st
from sqlalchemy import Engine
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dashboard.actions.auth import actor_from_session, check_cookie_key
from dashboard.actions.sessions import ABSOLUTE_TIMEOUT, session_id_of
from dashboard.db.app_role import install_app_role
from dashboard.db.engine import make_engine
from dashboard.integrations.redis_client import key, make_redis
from dashboard.settings import get_settings
from dashboard.ui.deep_links import DeepLinkBoot

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "orca_session"


def base_path() -> str:
    """Streamlit's ``server.baseUrlPath`` as a URL prefix: "" (served at /) or "/orca"."""
    raw = str(st.get_option("server.baseUrlPath") or "").strip().strip("/")
    return f"/{raw}" if raw else ""


def url_path(path: str) -> str:
    """``path`` (absolute, as if served at /) under the console's base path."""
    return base_path() + path


def cookie_path() -> str:
    """The session cookie's Path: the base path, so it goes to this console only."""
    return base_path() or "/"


CLAIM_TTL_S = 60
# Streamlit's front end needs inline styles and scripts, blob: workers and data: images; what
# this adds is no framing by other sites, no plugins, no foreign form targets or base URL.
CSP = (
    "default-src 'self'; "
    "script-src 'self' 'unsafe-inline' 'unsafe-eval' blob:; "
    "style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; "
    "font-src 'self' data:; "
    "connect-src 'self' ws: wss:; "
    "worker-src 'self' blob:; "
    "frame-src 'self' blob: data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)
HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"referrer-policy", b"same-origin"),
)


def _sign(key_: str, token: str) -> str:
    mac = hmac.new(key_.encode(), token.encode(), hashlib.sha256).digest()
    return token + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")


def cookie_value(key_: str, token: str) -> str:
    """The cookie's content: the token and its HMAC-SHA256 under the cookie key."""
    return _sign(key_, token)


def token_from_cookie(key_: str, value: object) -> str | None:
    """The token of a signed cookie value, or None when it is missing or the signature is wrong."""
    if not isinstance(value, str) or "." not in value or len(value) > 400:
        return None
    token = value.rsplit(".", 1)[0]
    return token if hmac.compare_digest(_sign(key_, token), value) else None


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers") or ():
        if k.lower() == name:
            return bytes(v).decode("latin-1")
    return None


def same_origin(origin: str | None, host: str | None) -> bool:
    """True when ``origin`` is this server as the browser addressed it (scheme, host, port).

    No Origin header (not a browser) passes, as in Streamlit; origins listed in
    ``server.corsAllowedOrigins`` pass too (a proxy that rewrites Host).
    """
    if origin is None:
        return True
    allowed = {str(o).strip().rstrip("/") for o in st.get_option("server.corsAllowedOrigins")}
    if origin.rstrip("/") in allowed:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and host is not None and parts.netloc == host


@lru_cache(maxsize=1)
def _engine() -> Engine:
    url = get_settings().database_url
    if url is None:
        raise RuntimeError("no database configured")
    return install_app_role(make_engine(url, pool_size=2, connect_timeout_s=1))


def _redis() -> redis.Redis:
    return make_redis(get_settings().redis_url, timeout_s=0.5)


def _token(cookie_header: str | None) -> str | None:
    """The session token of a signed orca_session cookie, or None."""
    if not cookie_header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(cookie_header)
    except Exception:  # a malformed Cookie header: no session
        return None
    morsel = jar.get(COOKIE)
    if morsel is None:
        return None
    return token_from_cookie(check_cookie_key(get_settings()), morsel.value)


def _live(cookie_header: str | None) -> bool:
    token = _token(cookie_header)
    if token is None:
        return False
    try:
        return actor_from_session(_engine(), token) is not None
    except Exception:  # database down: refuse, as a page would
        log.warning("media request refused: the session could not be checked")
        return False


async def _refuse(send: Send, status: int, text: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), *HEADERS],
        }
    )
    await send({"type": "http.response.body", "body": text.encode()})


class HttpGuard:
    """Pure ASGI middleware (sees websockets too, unlike BaseHTTPMiddleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            if not same_origin(_header(scope, b"origin"), _header(scope, b"host")):
                await receive()  # websocket.connect
                await send({"type": "websocket.close", "code": 1008})  # answered as HTTP 403
                return
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path") or "")
        if path.startswith(url_path("/media/")):
            cookie = _header(scope, b"cookie")
            if not await anyio.to_thread.run_sync(_live, cookie):
                await _refuse(send, 403, "Sign in to download this file.")
                return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {bytes(k).lower() for k, _ in message.get("headers") or ()}
                extra = [(k, v) for k, v in HEADERS if k not in present]
                message["headers"] = [*(message.get("headers") or ()), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


# ------------------------------------------------------------------ the HttpOnly session cookie
def new_claim(token: str) -> str | None:
    """A single-use code (60 s) the browser trades for the cookie; None when Redis is down."""
    code = secrets.token_urlsafe(24)
    try:
        _redis().set(key("session_claim", session_id_of(code)), token, ex=CLAIM_TTL_S)
    except redis.RedisError:
        log.warning("Redis unreachable: no session cookie this time (a reload signs out)")
        return None
    return code


def _secure(request: Request) -> bool:
    if request.url.scheme == "https":
        return True
    proto = request.headers.get("x-forwarded-proto", "")
    return get_settings().trust_forwarded_for and proto.split(",")[-1].strip() == "https"


def _claimed(code: object) -> str | None:
    if not isinstance(code, str) or not 20 <= len(code) <= 100:
        return None
    try:
        raw = cast(bytes | None, _redis().getdel(key("session_claim", session_id_of(code))))
    except redis.RedisError:
        return None
    return raw.decode() if raw is not None else None


async def claim_session(request: Request) -> Response:
    """POST {"claim": code} from the console's own page: set the HttpOnly session cookie."""
    if not same_origin(request.headers.get("origin"), request.headers.get("host")):
        return JSONResponse({"ok": False}, status_code=403)
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        body = {}
    code = body.get("claim") if isinstance(body, dict) else None
    token = await anyio.to_thread.run_sync(_claimed, code)
    if token is None:
        return JSONResponse({"ok": False}, status_code=403)
    response = JSONResponse({"ok": True})
    response.set_cookie(
        COOKIE,
        cookie_value(check_cookie_key(get_settings()), token),
        max_age=int(ABSOLUTE_TIMEOUT.total_seconds()),
        path=cookie_path(),
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    return response


async def end_session_cookie(request: Request) -> Response:
    """POST from the console's own page after logout: drop the cookie (the session is ended)."""
    if not same_origin(request.headers.get("origin"), request.headers.get("host")):
        return JSONResponse({"ok": False}, status_code=403)
    response = JSONResponse({"ok": True})
    response.delete_cookie(
        COOKIE, path=cookie_path(), httponly=True, samesite="strict", secure=_secure(request)
    )
    return response


ROUTES = [
    Route("/api/session", claim_session, methods=["POST"]),
    Route("/api/session/end", end_session_cookie, methods=["POST"]),
]


def under_base_path(routes: list[Route]) -> list[Route]:
    """``routes`` (written as if served at /) moved under the base path, as Streamlit does
    with its own routes (st.App mounts an app's routes at the paths they give)."""
    prefix = base_path()
    if not prefix:
        return list(routes)
    return [
        Route(prefix + r.path, r.endpoint, methods=sorted(r.methods or ()), name=r.name)
        for r in routes
    ]


# The guards outside; inside them, a page's own URL learns where the server is (deep_links.py).
MIDDLEWARE = [Middleware(HttpGuard), Middleware(DeepLinkBoot)]
