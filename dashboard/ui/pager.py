"""The one previous/next pager: a stack of opaque keyset cursors in session state."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import streamlit as st


def _stack(key: str) -> list[str]:
    stack = st.session_state.get(f"{key}.cursors")
    if not isinstance(stack, list) or not all(isinstance(c, str) for c in stack):
        stack = []
        st.session_state[f"{key}.cursors"] = stack
    return stack


def reset(key: str) -> None:
    """Back to the first page (filters, sort or page size changed, or a cursor went bad)."""
    st.session_state[f"{key}.cursors"] = []


def current(key: str, scope: Mapping[str, Any]) -> str | None:
    """The cursor of the page to show now; None for the first page.

    ``scope`` is what the pages belong to (filters, sort, page size): when it differs from the
    last run's, the stack is dropped, so a cursor never outlives the query that made it.
    """
    token = json.dumps(scope, sort_keys=True, default=str)
    if st.session_state.get(f"{key}.scope") != token:
        st.session_state[f"{key}.scope"] = token
        reset(key)
    stack = _stack(key)
    return stack[-1] if stack else None


def page_number(key: str) -> int:
    """1 on the first page, 2 after one "Next", ..."""
    return len(_stack(key)) + 1


def _previous(key: str) -> None:
    stack = _stack(key)
    if stack:
        stack.pop()


def _next(key: str, cursor: str) -> None:
    _stack(key).append(cursor)


def controls(key: str, next_cursor: str | None) -> None:
    """ "← Previous" / "Next →" buttons; they change the stack in on_click callbacks."""
    nav = st.columns([1, 1, 6])
    nav[0].button(
        "← Previous",
        disabled=not _stack(key),
        key=f"{key}.prev",
        on_click=_previous,
        args=(key,),
    )
    nav[1].button(
        "Next →",
        disabled=next_cursor is None,
        key=f"{key}.next",
        on_click=_next,
        args=(key, next_cursor or ""),
    )
