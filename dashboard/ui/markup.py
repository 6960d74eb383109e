"""Untrusted text shown as characters: in Markdown elements, tables, widget labels and charts.

Every name that comes from data goes through one of these before Streamlit or Plotly sees it:
``plain`` for Markdown (st.markdown, st.warning, st.caption ...), ``shown`` for text elements
and option labels, ``shown_frame`` for tables, ``chart_label`` for Plotly's HTML-like labels.
All of them mark bidi and control characters visibly (``domain.text.show_controls``).
"""

from __future__ import annotations

import html
import re

import pandas as pd

from dashboard.domain.text import show_controls

_MARKUP = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$=^])")
# GFM turns bare https://..., www.x.y and a@b.c into links even when escaped; a zero-width
# space after ':', '.' and '@' breaks those patterns without changing what is seen.
_AUTOLINK = re.compile(r"([:.@])")
ZERO_WIDTH = "\u200b"


def plain(value: object) -> str:
    """``value`` as literal text inside Markdown: every markup character backslash-escaped.

    Agent names, reasons and URL values are untrusted: ``[x](https://evil)`` or ``![i](...)``
    must show as those characters, never become a link, an image or coloured text. Bare URLs
    and e-mail addresses are kept from autolinking by a zero-width space (ZERO_WIDTH).
    """
    escaped = _MARKUP.sub(r"\\\1", show_controls(value))
    return _AUTOLINK.sub(r"\1" + ZERO_WIDTH, escaped)


def shown(value: object) -> str:
    """``value`` for a text element or an option label (no Markdown there): controls marked."""
    return show_controls(value)


def shown_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` for display whose text cells have their controls marked."""
    out = df.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(lambda v: show_controls(v) if isinstance(v, str) else v)
    return out


def chart_label(value: object) -> str:
    """``value`` for a Plotly label, tick, legend entry or hover text.

    Plotly draws ``<a href>``, ``<b>``, ``<i>``, ``<br>`` ... in any text it is given, so a
    route named ``<a href="https://evil.example/">x</a>`` would be a live link: the text is
    HTML-escaped (Plotly shows ``&lt;`` as ``<``) after its controls are marked.
    """
    return html.escape(show_controls(value), quote=True)
