"""Every use of Streamlit internals (or a component's private function) in one place, with why.

Nothing else in the console may import a private Streamlit name; when an upgrade breaks one
of these, this is the only file to fix. Each use says which public API is missing.
"""

from __future__ import annotations

import sys
from typing import Any

from streamlit.runtime.pages_manager import PagesManager


def _cookie_component() -> Any:
    """The cookie writer of extra-streamlit-components (a declared dependency).

    Its public CookieManager() renders a "getAll" component on every run, which costs a
    second script run each time
    (https://github.com/Mohamed-512/Extra-Streamlit-Components/issues/58), and Streamlit has
    no public API to set a cookie (st.context.cookies only reads them), so we call the
    component function that class wraps, with the arguments the class would pass.

    Imported on first use, inside a script run: the package declares its component when
    imported, and a component declared before the server's runtime exists (as serve.py
    would, importing this module) is never served, so the browser never writes the cookie.
    """
    from extra_streamlit_components.CookieManager import (
        _component_func,
    )

    return _component_func


def set_cookie(name: str, value: str, *, options: dict[str, Any], key: str) -> None:
    """Ask the browser to store cookie ``name`` (a zero-height component; same args, one write)."""
    _cookie_component()(
        method="set", cookie=name, value=value, options=options, key=key, default=False
    )


def delete_cookie(name: str, *, key: str) -> None:
    """Ask the browser to drop cookie ``name``."""
    _cookie_component()(method="delete", cookie=name, key=key, default=False)


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
