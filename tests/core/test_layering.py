"""dashboard.core sits outside the layer list: it may use data, sim, integrations and domain,
never the console's upper layers (so the UI may import its faults module without a cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "dashboard" / "core"
FORBIDDEN = (
    "dashboard.ui",
    "dashboard.actions",
    "dashboard.commands",
    "dashboard.cli",
    "dashboard.worker",
    "streamlit",
)


def test_core_imports_no_upper_layer() -> None:
    bad = []
    for path in CORE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            bad += [f"{path.name}: {n}" for n in names if n.startswith(FORBIDDEN)]
    assert bad == []


def test_faults_module_stays_light() -> None:
    """The Drill page imports faults: it must not pull in the server, SQLAlchemy or httpx."""
    tree = ast.parse((CORE / "faults.py").read_text())
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    modules |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {
        m for m in modules if m and m.startswith(("sqlalchemy", "httpx", "dashboard.core."))
    }
