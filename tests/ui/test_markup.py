"""Untrusted names as characters: Markdown escaped, bidi and control characters marked."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard.domain.text import show_controls
from dashboard.ui.markup import ZERO_WIDTH, plain, shown, shown_frame

# Each bidi control, LRM/RLM and a few C0/C1 controls, as a name would carry them.
CONTROLS = [
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
    "\u200e",
    "\u200f",
    "\x00",
    "\x07",
    "\x1b",
    "\x7f",
    "\x85",
    "\x9b",
]


@pytest.mark.parametrize("char", CONTROLS)
def test_every_control_is_replaced_by_a_visible_mark(char: str) -> None:
    mark = f"[U+{ord(char):04X}]"
    assert show_controls(f"invoice{char}txt.exe") == f"invoice{mark}txt.exe"
    assert char not in shown(f"a{char}b") and mark in shown(f"a{char}b")
    # In Markdown the mark's brackets and '+' are escaped; what a reader sees is the mark.
    seen = plain(f"a{char}b").replace("\\", "").replace(ZERO_WIDTH, "")
    assert seen == f"a{mark}b"


def test_whitespace_becomes_a_space_for_display_but_stays_in_data() -> None:
    assert shown("tab\there\nnew\rline") == "tab here new line"
    assert show_controls("a\tb\nc", keep_whitespace=True) == "a\tb\nc"


def test_ordinary_text_is_unchanged() -> None:
    name = "emoji 🤖 agent ünïcødé 名前 \u0627\u0644\u0639\u0631\u0628\u064a\u0629"
    assert shown(name) == name


def test_tables_mark_controls_in_text_cells_only() -> None:
    df = pd.DataFrame({"id": [1, 2], "name": ["\u202eevil-rtl-override-bot", None], "x": [1.5, 2]})
    out = shown_frame(df)
    assert out["name"].iloc[0] == "[U+202E]evil-rtl-override-bot"
    assert pd.isna(out["name"].iloc[1])
    assert list(out["id"]) == [1, 2] and list(out["x"]) == [1.5, 2]
    assert df["name"].iloc[0] == "\u202eevil-rtl-override-bot"  # the data itself is kept
