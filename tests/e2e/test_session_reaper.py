"""A closed tab's session leaves the console's memory once its reconnect window is over.

Streamlit drops expired disconnected sessions only on its store's next write, so after a crowd
of viewers leaves they would stay in memory (dashboard/ui/session_reaper.py). Real server, real
signed-in session over the websocket, a 2 s reconnect window instead of the configured 60 s.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine

from dashboard.domain.permissions import Role
from tests.e2e.conftest import COOKIE_KEY, make_login, start_console
from tests.harness import generous, tail
from tests.ws_viewer import Viewer, signed_in_cookie

pytestmark = pytest.mark.e2e


def test_a_closed_session_is_dropped_after_its_reconnect_window(
    seeded_engine: Engine, db_url: str, redis_url: str
) -> None:
    console = start_console(
        db_url, redis_url, name="reaper", STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL="2"
    )
    try:
        login = make_login(seeded_engine, Role.ONCALL)
        cookie = signed_in_cookie(seeded_engine, login.username, login.password, COOKIE_KEY)
        viewers = [Viewer(console.url, "service_health", cookie) for _ in range(2)]
        for viewer in viewers:
            viewer.connect(timeout_s=60)
            assert "Service Health" in viewer.texts
        for viewer in viewers:
            viewer.close()

        # Nobody else connects or leaves: only the reaper can drop them.
        def dropped() -> int:
            found = re.findall(
                r"dropped (\d+) disconnected sessions", tail(console.process.log_path, 400)
            )
            return sum(int(n) for n in found)

        console.process.wait_until(lambda: dropped() >= 2, timeout_s=generous(30))
        assert dropped() == 2
    finally:
        console.process.stop(timeout_s=10)
