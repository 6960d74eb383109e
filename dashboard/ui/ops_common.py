"""Shared bits of the Backups, Doctor, Checklists and Troubleshooting pages (issue 11)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from dashboard.actions.base import SESSION_ENDED_MESSAGE, ActionResult
from dashboard.domain.permissions import can_do
from dashboard.ui import auth, loaders


def may(action: str) -> bool:
    actor = auth.current_actor()
    return actor is not None and can_do(actor.roles, action)


def run_action(fn: Callable[..., ActionResult], *args: Any, **kwargs: Any) -> ActionResult:
    """Call an action for the signed-in actor; a database outage is a plain error."""
    actor = auth.current_actor()
    if actor is None:
        return ActionResult("denied", SESSION_ENDED_MESSAGE)
    try:
        return fn(auth.engine(), actor, *args, **kwargs)
    except (auth.GateClosed, SQLAlchemyError):
        return ActionResult("error", "PostgreSQL is unreachable; nothing was changed.")


def frame_panel(
    name: str, fn: Callable[..., list[dict[str, Any]]], *, ttl_s: int = 10, **kwargs: Any
) -> loaders.Panel[pd.DataFrame]:
    """A cached loader whose rows become a DataFrame (topics: the page's own)."""

    def as_frame(conn: Any, **kw: Any) -> pd.DataFrame:
        return pd.DataFrame(fn(conn, **kw))

    return loaders.load(name, as_frame, ttl_s=ttl_s, topics=(name.split(".")[0],), **kwargs)


def not_allowed_button(label: str, key: str, who: str = "on-call engineers") -> None:
    """What a reader sees in place of a button they may not press."""
    st.button(label, key=key, disabled=True, help=f"Only {who} and admins can do this.")
