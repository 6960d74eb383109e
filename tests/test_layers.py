"""The layer rule as a test: pages import only streamlit and dashboard.ui (import-linter covers the rest)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = ("streamlit", "dashboard.ui")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.append(node.module or "")
    return names


def _page_files() -> list[Path]:
    return [*sorted((ROOT / "pages").glob("*.py")), ROOT / "streamlit_app.py", ROOT / "asgi.py"]


def test_pages_exist() -> None:
    assert len(_page_files()) >= 2


def test_pages_import_only_streamlit_and_ui() -> None:
    bad = []
    for path in _page_files():
        for name in _imports(path):
            if name == "__future__":
                continue
            if not any(name == a or name.startswith(a + ".") for a in ALLOWED):
                bad.append(f"{path.name}: {name}")
    assert bad == []


def test_only_ui_imports_streamlit() -> None:
    bad = []
    for path in (ROOT / "dashboard").rglob("*.py"):
        if "ui" in path.relative_to(ROOT / "dashboard").parts[:1]:
            continue
        for name in _imports(path):
            if name == "streamlit" or name.startswith("streamlit."):
                bad.append(str(path.relative_to(ROOT)))
    assert bad == []


def test_the_checker_catches_a_bad_import(tmp_path: Path) -> None:
    """The ast walk really sees imports (so the tests above cannot pass vacuously)."""
    page = tmp_path / "p.py"
    page.write_text("import streamlit as st\nfrom sqlalchemy import text\n")
    assert _imports(page) == ["streamlit", "sqlalchemy"]
