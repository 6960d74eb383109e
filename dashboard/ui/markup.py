"""Untrusted text inside Streamlit's Markdown elements: escaped so it shows as characters."""

from __future__ import annotations

import re

_MARKUP = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$=^])")


def plain(value: object) -> str:
    """``value`` as literal text inside Markdown: every markup character backslash-escaped.

    Agent names, reasons and URL values are untrusted: ``[x](https://evil)`` or ``![i](...)``
    must show as those characters, never become a link, an image or coloured text.
    """
    return _MARKUP.sub(r"\\\1", str(value)).replace("\n", " ")
