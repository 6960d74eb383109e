"""Doctor page body: the same checks as `orca-dashboard doctor`, one line each with its fix."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard.data.checks import run_all_checks
from dashboard.ui.markup import plain

PAGE = "doctor"
# Material icons, not emoji: they render the same in every browser (no emoji font needed).
_ICON = {
    "ok": ":green[:material/check_circle:]",
    "warn": ":orange[:material/warning:]",
    "fail": ":red[:material/cancel:]",
}


@st.cache_data(ttl=20, show_spinner="Running the checks…")
def _checks() -> list[dict[str, Any]]:
    """Computed at most every 20 s for all viewers (each check has its own timeout)."""
    return [{"verdict": c.verdict, "name": c.name, "detail": c.detail} for c in run_all_checks()]


def _again() -> None:
    _checks.clear()


def render() -> None:
    st.caption(
        "The same checks as `orca-dashboard doctor`: a failed line makes the command exit "
        "non-zero; a warning does not. Each line says what to do about it."
    )
    try:
        checks = _checks()
    except Exception:
        st.error("The checks could not run; try `orca-dashboard doctor` on the host.")
        return
    failed = [c for c in checks if c["verdict"] == "fail"]
    warned = [c for c in checks if c["verdict"] == "warn"]
    if failed:
        st.error(f"{len(failed)} check(s) failed: " + ", ".join(c["name"] for c in failed))
    elif warned:
        st.warning(f"All checks passed, {len(warned)} with a warning.")
    else:
        st.success("All checks passed.")
    with st.container(border=True):
        for c in checks:
            row = st.columns([1, 3, 14])
            row[0].markdown(_ICON.get(c["verdict"], "?"))
            row[1].markdown(f"**{plain(c['name'])}**")
            row[2].markdown(plain(c["detail"]))
    st.button("Run the checks again", key=f"{PAGE}.again", on_click=_again)
