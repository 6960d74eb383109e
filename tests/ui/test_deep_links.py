"""The boot script goes into a page's own URL's HTML, and nowhere else; caching still works.

A real HTTP server (uvicorn on a free port) serves a small Starlette app behind the
middleware, with Starlette's gzip inside it as Streamlit has, so the test sees what a browser
gets: headers, lengths, ETags, 304s.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from dashboard.ui.deep_links import BOOT_SCRIPT, ETAG_SUFFIX, DeepLinkBoot, inject, page_paths

PAGE = b"<!doctype html><html><head><title>t</title></head><body>" + b"x" * 4000 + b"</body></html>"
ETAG = '"' + hashlib.md5(PAGE).hexdigest() + '"'


async def index(request: Request) -> Response:
    # As Streamlit's static route: the same index.html for any page path, with an ETag.
    if request.headers.get("if-none-match") == ETAG:
        return Response(status_code=304, headers={"etag": ETAG})
    return Response(PAGE, media_type="text/html", headers={"etag": ETAG})


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    app = Starlette(
        routes=[Route("/_stcore/health", health), Route("/{path:path}", index)],
        middleware=[
            Middleware(DeepLinkBoot, paths=lambda: frozenset({"/trust_kpis", "/orca/alerts"})),
            Middleware(GZipMiddleware, minimum_size=100),
        ],
    )
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_a_pages_own_url_gets_the_script_first_in_its_head(base: str) -> None:
    for path in ("/trust_kpis", "/orca/alerts", "/trust_kpis?range=7d"):
        r = httpx.get(base + path, headers={"accept-encoding": "gzip"}, timeout=10)
        assert r.status_code == 200
        assert r.content.startswith(b"<!doctype html><html><head>" + BOOT_SCRIPT + b"<title>")
        assert r.content.endswith(b"</body></html>")
        assert int(r.headers["content-length"]) == len(r.content) == len(PAGE) + len(BOOT_SCRIPT)
        assert "content-encoding" not in r.headers  # a few KB, sent as they are
        assert r.headers["etag"] == ETAG[:-1] + ETAG_SUFFIX.decode() + '"'


@pytest.mark.parametrize("path", ["/", "/trust_kpis/", "/trust_kpisx", "/static/a.html", "/orca"])
def test_other_urls_pass_unchanged(base: str, path: str) -> None:
    r = httpx.get(base + path, headers={"accept-encoding": "gzip"}, timeout=10)
    assert r.status_code == 200 and r.content == PAGE
    assert r.headers["content-encoding"] == "gzip" and r.headers["etag"] == ETAG


def test_non_html_and_other_methods_pass_unchanged(base: str) -> None:
    assert httpx.get(base + "/_stcore/health", timeout=10).text == "ok"
    head = httpx.head(base + "/trust_kpis", timeout=10)
    assert head.status_code in (200, 405) and head.content == b""
    assert httpx.post(base + "/trust_kpis", timeout=10).content in (PAGE, b"Method Not Allowed")


def test_revalidation_answers_304_for_the_changed_pages_etag(base: str) -> None:
    first = httpx.get(base + "/trust_kpis", timeout=10)
    again = httpx.get(base + "/trust_kpis", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    # The unchanged page's ETag (a copy cached before this middleware) is not a match.
    stale = httpx.get(base + "/trust_kpis", headers={"if-none-match": ETAG}, timeout=10)
    assert stale.status_code == 200 and BOOT_SCRIPT in stale.content


def test_inject_leaves_a_page_without_head_alone() -> None:
    assert inject(b"<html><body>x</body></html>") == b"<html><body>x</body></html>"
    assert inject(b"<head></head>").count(BOOT_SCRIPT) == 1


def test_the_console_pages_are_known_deep_links_and_the_default_page_is_not() -> None:
    paths = page_paths()
    assert "/trust_kpis" in paths and "/agent_registry" in paths and "/users" in paths
    assert "/service_health" not in paths and "/" not in paths
