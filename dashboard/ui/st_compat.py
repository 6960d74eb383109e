"""Every use of Streamlit internals (or a component's private function) in one place, with why.

Nothing else in the console may import a private Streamlit name; when an upgrade breaks one
of these, this is the only file to fix. Each use says which public API is missing.
"""

from __future__ import annotations

import sys

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
