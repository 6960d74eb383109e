"""A light but real console viewer: one Streamlit session over the server's own websocket.

A Chromium page per viewer is too heavy to run 50 of them on a small machine, so this client
speaks what the browser's Streamlit front end speaks to ``/_stcore/stream``: it connects with
the signed-in ``orca_session`` cookie and the console's own Origin, asks for a page with a
``BackMsg.rerun_script`` (the page name and query string of the URL), reads the
``ForwardMsg`` stream (new_session, deltas, script_finished) and, like the front end, answers
each ``auto_rerun`` instruction (a fragment with ``run_every``) by asking for that fragment's
rerun every interval. Each script run is timed from the request to its ``script_finished``.

Used by tests/e2e/test_viewer_load.py (statements per refresh for 1, 10, 50 viewers) and by
the load bench (bench/load.py).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy import Engine
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState, ContextInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin, Subprotocol

from dashboard.actions.signin import authenticate
from dashboard.ui.http_guard import COOKIE, cookie_value

_DONE_OK = (
    ForwardMsg.ScriptFinishedStatus.FINISHED_SUCCESSFULLY,
    ForwardMsg.ScriptFinishedStatus.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
)


def signed_in_cookie(engine: Engine, username: str, password: str, cookie_key: str) -> str:
    """A new session of ``username`` (a real sign-in: bcrypt, audit row) as its cookie value,
    signed with the console's ``cookie_key`` as the console's /api/session would sign it."""
    token = authenticate(engine, username, password)
    return cookie_value(cookie_key, token)


@dataclass(frozen=True)
class Run:
    """One script run the viewer asked for: whole page or fragment, its time, its result."""

    fragment: bool
    seconds: float
    ok: bool


@dataclass
class Viewer:
    """One signed-in session on ``base_url`` showing ``page`` (url path) with ``query``."""

    base_url: str
    page: str
    cookie: str
    query: str = ""
    runs: list[Run] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # headings, markdown, alerts of the runs
    errors: list[str] = field(default_factory=list)  # exception elements the server sent
    _ws: ClientConnection | None = field(default=None, repr=False)
    _page_hash: str = ""
    _auto: dict[str, float] = field(default_factory=dict)  # fragment id -> interval (s)
    _due: dict[str, float] = field(default_factory=dict)  # fragment id -> monotonic time
    _pending: tuple[bool, float] | None = None  # (fragment?, sent at) of the run asked for
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    # -- connection ---------------------------------------------------------------------
    def connect(self, *, timeout_s: float = 60) -> Run:
        """Open the session and run the page once; its first run (raises when it fails)."""
        parts = urlsplit(self.base_url)
        self._ws = connect(
            f"ws://{parts.netloc}/_stcore/stream",
            subprotocols=[Subprotocol("streamlit")],
            origin=Origin(f"{parts.scheme}://{parts.netloc}"),
            additional_headers={"Cookie": f"{COOKIE}={self.cookie}"},
            open_timeout=timeout_s,
            max_size=None,
            legacy=True,  # one plain connection, no reconnecting wrapper
        )
        self._send_rerun(fragment_id="")
        deadline = time.monotonic() + timeout_s
        while self._pending is not None:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.page}: no script_finished within {timeout_s:.0f} s")
            self._receive(timeout_s=max(0.1, deadline - time.monotonic()))
        first = self.runs[-1]
        if not first.ok or self.errors:
            raise AssertionError(f"{self.page}: the first run failed: {self.errors}")
        return first

    def close(self) -> None:
        """Stop refreshing and close the websocket (the server ends the session's run loop)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._ws is not None:
            self._ws.close()
            self._ws = None

    # -- auto-refresh, as the front end does it ------------------------------------------
    def start_refreshing(self) -> None:
        """Answer the page's auto_rerun instructions from a thread of its own until close()."""
        self._thread = threading.Thread(target=self._loop, name=f"viewer-{self.page}", daemon=True)
        self._thread.start()

    @property
    def fragment_runs(self) -> list[Run]:
        return [r for r in self.runs if r.fragment]

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if self._pending is None:
                    for fid, due in list(self._due.items()):
                        if due <= now:
                            self._due[fid] = now + self._auto[fid]
                            self._send_rerun(fragment_id=fid)
                            break
                wait = min([*self._due.values(), now + 1.0]) - now
                self._receive(timeout_s=max(0.05, min(wait, 1.0)))
        except ConnectionClosed as exc:
            if not self._stop.is_set():
                self.errors.append(f"websocket closed: {exc}")

    # -- protocol -------------------------------------------------------------------------
    def _send_rerun(self, *, fragment_id: str) -> None:
        assert self._ws is not None, "connect() first"
        state = ClientState(
            query_string=self.query,
            page_script_hash=self._page_hash,
            page_name="" if self._page_hash else self.page,
            fragment_id=fragment_id,
            is_auto_rerun=bool(fragment_id),
            context_info=ContextInfo(
                timezone="UTC", timezone_offset=0, locale="en-US", url=self._url()
            ),
        )
        self._pending = (bool(fragment_id), time.monotonic())
        self._ws.send(BackMsg(rerun_script=state).SerializeToString())

    def _url(self) -> str:
        return f"{self.base_url}/{self.page}" + (f"?{self.query}" if self.query else "")

    def _receive(self, *, timeout_s: float) -> None:
        assert self._ws is not None
        try:
            raw = self._ws.recv(timeout=timeout_s)
        except TimeoutError:
            return
        if isinstance(raw, str):
            return
        msg = ForwardMsg()
        msg.ParseFromString(raw)
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self._page_hash = msg.new_session.page_script_hash or self._page_hash
        elif kind == "delta":
            self._note_delta(msg)
        elif kind == "auto_rerun":
            fid, every = msg.auto_rerun.fragment_id, float(msg.auto_rerun.interval)
            self._auto[fid] = every
            self._due.setdefault(fid, time.monotonic() + every)
        elif kind == "stop_auto_rerun":
            for fid in msg.stop_auto_rerun.fragment_ids:
                self._auto.pop(fid, None)
                self._due.pop(fid, None)
        elif kind == "script_finished" and self._pending is not None:
            status = msg.script_finished
            if status == ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN:
                return  # the server reran at once (st.rerun): the run goes on
            fragment, sent = self._pending
            self._pending = None
            self.runs.append(Run(fragment, time.monotonic() - sent, status in _DONE_OK))

    def _note_delta(self, msg: ForwardMsg) -> None:
        delta = msg.delta
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        kind = element.WhichOneof("type")
        if kind == "heading":
            self.texts.append(element.heading.body)
        elif kind == "markdown":
            self.texts.append(element.markdown.body)
        elif kind == "alert":
            self.texts.append(element.alert.body)
        elif kind == "exception":
            self.errors.append(f"{element.exception.type}: {element.exception.message}")
