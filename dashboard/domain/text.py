"""Untrusted names made safe to look at: bidi and other control characters shown as marks.

A name such as ``"\\u202etxt.exe"`` is drawn right-to-left by every browser and spreadsheet, so
what the reader sees is not what the text says; C0/C1 controls can hide or rearrange text too.
:func:`show_controls` replaces each of them with a visible ``[U+XXXX]`` mark, so the reader
sees that something is there and what it is. It is the one rule used by tables, charts,
Markdown text (``ui.markup.plain``) and CSV exports.
"""

from __future__ import annotations

import re

# Bidi embeddings/overrides/isolates, LRM/RLM and the Arabic letter mark: they reorder text.
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_WHITESPACE = "\t\n\r"
# C0 (except the whitespace handled apart), DEL, C1, the bidi controls, and the BOM.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f" + BIDI_CONTROLS + "\ufeff]")


def _mark(match: re.Match[str]) -> str:
    return f"[U+{ord(match.group()):04X}]"


def show_controls(value: object, *, keep_whitespace: bool = False) -> str:
    """``value`` as text with every bidi or control character replaced by ``[U+XXXX]``.

    Tab, LF and CR become a space for display (a name never needs a second line), or stay as
    they are with ``keep_whitespace`` (CSV cells keep their data; the CSV writer quotes them).
    """
    text = _CONTROLS.sub(_mark, str(value))
    if not keep_whitespace:
        text = text.translate({ord(c): " " for c in _WHITESPACE})
    return text
