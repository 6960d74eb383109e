"""A full load of a page's own URL (/trust_kpis) connects at once, as the root URL does.

Streamlit's front end does not know where the server's root is, so on /trust_kpis it first
probes /trust_kpis/_stcore/health and /trust_kpis/_stcore/host-config, gets 404s, waits its
fixed 100 ms retry delay and then probes /_stcore/...: about 120 ms of every deep-link load
spent before the websocket opens (measured in headless Chromium; the root URL probes once).
The front end reads a ``window.__streamlit`` object at start-up, the hook hosts use to tell
it where its backend lives (``BACKEND_BASE_URL``); this middleware puts one small inline
script into the page's HTML that sets it to the URL the page sits under (what the second
probe finds), computed in the browser from its own address, so a reverse proxy's path
prefix is kept.

Only the HTML answer to a known page's URL (base path + "/" + page, no trailing slash) is
touched: there "the URL the page sits under" is certain. Everything else passes unchanged.
If a Streamlit upgrade stops reading the object, the page still loads, one retry slower
(tests/e2e/test_browser.py notices: it checks that a deep link probes the root only).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The page's URL minus its last segment: /trust_kpis -> /, /orca/trust_kpis -> /orca/.
BOOT_SCRIPT = (
    b"<script>window.__streamlit = Object.assign("
    b'{BACKEND_BASE_URL: new URL(".", window.location.href).href}, window.__streamlit || {});'
    b"</script>"
)
# The ETag of the changed page differs from the file's, so a copy cached before is not taken
# for this one; the suffix is removed from If-None-Match again before Streamlit sees it (and
# an If-None-Match without it is dropped: that copy has no script).
ETAG_SUFFIX = b"-orca-boot"


def page_paths() -> frozenset[str]:
    """Server paths of the pages a browser may load directly (the default page is at /)."""
    # Here, not at the top: http_guard lists this middleware, and the page list imports pages.
    from dashboard.ui.http_guard import base_path
    from dashboard.ui.navigation import PAGES

    return frozenset(f"{base_path()}/{spec.page_id}" for spec in PAGES if not spec.default)


def inject(html: bytes) -> bytes:
    """``html`` with the boot script first in its head (unchanged if it has no <head>)."""
    at = html.find(b"<head>")
    if at < 0:
        return html
    at += len(b"<head>")
    return html[:at] + BOOT_SCRIPT + html[at:]


def _without(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in headers if bytes(k).lower() != name]


def _is_plain_html(start: Message) -> bool:
    """A 200 answer of uncompressed HTML (a 304, a redirect or an encoded body pass as is)."""
    headers = {bytes(k).lower(): bytes(v) for k, v in start.get("headers") or ()}
    return (
        start.get("status") == 200
        and headers.get(b"content-type", b"").startswith(b"text/html")
        and b"content-encoding" not in headers
    )


class DeepLinkBoot:
    """Pure ASGI middleware: the boot script in the HTML of a page's own URL."""

    def __init__(self, app: ASGIApp, paths: Callable[[], frozenset[str]] = page_paths) -> None:
        self.app = app
        self._paths = paths
        self._known: frozenset[str] | None = None

    def _is_page(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope.get("method") != "GET":
            return False
        if self._known is None:
            self._known = self._paths()
        return str(scope.get("path") or "") in self._known

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._is_page(scope):
            await self.app(scope, receive, send)
            return
        # Uncompressed (the page is a few KB), and revalidated against the file's own ETag.
        headers = []
        for k, v in _without(scope.get("headers") or (), b"accept-encoding"):
            if bytes(k).lower() == b"if-none-match":
                if ETAG_SUFFIX not in bytes(v):
                    continue  # a copy without the script: send the page again
                v = bytes(v).replace(ETAG_SUFFIX, b"")
            headers.append((k, v))
        scope = {**scope, "headers": headers}
        start: Message | None = None
        body: list[bytes] = []

        async def rewrite(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                if _is_plain_html(message):
                    start = message  # held until the whole body is here
                    return
                await send(message)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            body.append(bytes(message.get("body") or b""))
            if message.get("more_body"):
                return
            page = inject(b"".join(body))
            out = []
            for k, v in _without(start.get("headers") or (), b"content-length"):
                if bytes(k).lower() == b"etag":
                    v = bytes(v)[:-1] + ETAG_SUFFIX + b'"' if bytes(v).endswith(b'"') else v
                out.append((k, v))
            out.append((b"content-length", str(len(page)).encode()))
            await send({**start, "headers": out})
            await send({"type": "http.response.body", "body": page, "more_body": False})

        await self.app(scope, receive, rewrite)
