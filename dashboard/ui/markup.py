"""Untrusted text inside Streamlit's Markdown elements: escaped so it shows as characters."""

from __future__ import annotations

import re

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
    escaped = _MARKUP.sub(r"\\\1", str(value)).replace("\n", " ")
    return _AUTOLINK.sub(r"\1" + ZERO_WIDTH, escaped)
