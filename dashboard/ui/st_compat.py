"""Every use of Streamlit internals (or a component's private function) in one place, with why.

Nothing else in the console may import a private Streamlit name; when an upgrade breaks one
of these, this is the only file to fix. Each use says which public API is missing.
"""

from __future__ import annotations

import sys
from typing import Any

from streamlit.runtime.pages_manager import PagesManager


def route_with_navigation_only() -> None:
    """Tell this process that the entry script routes with st.navigation, before any run.

    Streamlit decides on the first run whether a pages/ folder means the old multipage mode
    and only unsets it when st.navigation is first called, so a first visitor arriving on a
    deep link (/trust_kpis) would get that page without the router's page config
    (https://github.com/streamlit/streamlit/issues/9624). There is no public switch for this;
    the supported ``client.showSidebarNavigation = false`` in .streamlit/config.toml only
    keeps the page names out of sight, and it protects a plain `streamlit run` too.
    """
    PagesManager.uses_pages_directory = False


def run_server(app: str, args: list[str]) -> None:
    """`streamlit run APP ARGS...` in this process (the function behind the `streamlit` command).

    In-process rather than a subprocess, so :func:`route_with_navigation_only` applies to the
    server that runs the console.
    """
    # Imported here: only the serving process needs the CLI, not every page run.
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", app, *args]
    cli.main()


def disconnected_session_store() -> tuple[Any, Any] | None:
    """(the session manager's lock, the TTL cache of disconnected sessions), or None before the
    runtime exists; LookupError when Streamlit keeps them elsewhere.

    Streamlit evicts a closed tab's session from this cache only on its next write, so after a
    crowd of viewers leaves nothing frees their memory (dashboard.ui.session_reaper asks it to
    expire). There is no public API to expire disconnected sessions.
    """
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return None
    manager = getattr(Runtime.instance(), "_session_mgr", None)
    lock = getattr(manager, "_storage_lock", None)
    cache = getattr(getattr(manager, "_session_storage", None), "_cache", None)
    if lock is None or not callable(getattr(cache, "expire", None)):
        raise LookupError("Streamlit's session store is not where this module looks for it")
    return lock, cache
