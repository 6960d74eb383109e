"""Start the Streamlit server for the console (what `up`, the e2e tests and the image run).

It serves asgi.py (st.App: streamlit_app.py plus the console's HTTP guards), not the bare
router, so headers, the websocket origin check, session-only downloads and the HttpOnly cookie
are always on. The console always routes with st.navigation, so the old pages/-folder mode is
switched off before the server starts (see st_compat.route_with_navigation_only for why).
"""

from __future__ import annotations

import sys
from pathlib import Path

from dashboard.ui import st_compat

# At the project root on purpose: Streamlit puts the served file's folder first on sys.path,
# and dashboard/ui holds modules (csv, auth ...) that would shadow others from there.
APP = Path(__file__).resolve().parents[2] / "asgi.py"


def local_flags(port: int) -> list[str]:
    """Streamlit's flags for a headless server on 127.0.0.1:``port`` (tests, bench)."""
    return [
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
    ]


def local_command(port: int) -> list[str]:
    """The command that serves the console headless on 127.0.0.1:``port`` (tests, bench)."""
    return [sys.executable, "-m", "dashboard.ui.serve", *local_flags(port)]


def main(argv: list[str] | None = None) -> None:
    st_compat.route_with_navigation_only()
    st_compat.run_server(str(APP), sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
