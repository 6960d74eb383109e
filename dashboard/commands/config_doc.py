"""`orca-dashboard config-doc [--write]`: the README's configuration reference, generated
from the settings object (print it, or with --write replace it in README.md: make config-doc).

Every field of :class:`dashboard.settings.Settings` is one row: its environment variable, type,
default, allowed range and description. The description is the field's own; a field without
one takes the comment above its line in .env.example. tests/test_config_reference.py fails
when the README's table is not what this prints.
"""

from __future__ import annotations

import argparse
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo

from dashboard.settings import PROJECT_ROOT, Settings

README = PROJECT_ROOT / "README.md"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
START = "<!-- config-reference:start (generated: make config-doc) -->"
END = "<!-- config-reference:end -->"


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " \\| ".join(str(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        parts = [a for a in typing.get_args(annotation) if a is not type(None)]
        return " \\| ".join(_type_name(a) for a in parts) + " (optional)"
    if isinstance(annotation, type):
        return {"str": "text", "Path": "path", "datetime": "ISO time"}.get(
            annotation.__name__, annotation.__name__
        )
    return str(annotation)


def _default(name: str, info: FieldInfo) -> str:
    value = info.default
    if value is None:
        return "unset"
    if isinstance(value, Path):
        try:
            return f"`{value.relative_to(PROJECT_ROOT)}`"
        except ValueError:
            return f"`{value}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    return f"`{value}`"


def _bounds(info: FieldInfo) -> str:
    parts = []
    for meta in info.metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            bound = getattr(meta, attr, None)
            if bound is not None:
                parts.append(f"{sign} {bound:g}" if isinstance(bound, float) else f"{sign} {bound}")
    return ", ".join(parts)


def env_comments(text: str) -> dict[str, str]:
    """The comment lines right above each ``ORCA_X=`` line of .env.example, joined."""
    out: dict[str, str] = {}
    comment: list[str] = []
    after_setting = False  # a comment after setting lines starts the next block
    for line in text.splitlines():
        if line.startswith("#"):
            if after_setting:
                comment, after_setting = [], False
            comment.append(line.lstrip("# ").strip())
        elif line.startswith("ORCA_") and "=" in line:
            out[line.split("=", 1)[0]] = " ".join(
                c for c in comment if c and not c.startswith("--")
            )
            after_setting = True
        else:
            comment, after_setting = [], False
    return out


def _cell(text: str) -> str:
    return re.sub(r"\s+", " ", text).replace("|", "\\|").strip()


def render_table() -> str:
    """The Markdown table of every setting, in the settings object's order."""
    comments = env_comments(ENV_EXAMPLE.read_text()) if ENV_EXAMPLE.exists() else {}
    rows = [
        "| Variable | Type | Default | Allowed | Description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, info in Settings.model_fields.items():
        var = f"ORCA_{name.upper()}"
        description = info.description or comments.get(var, "")
        rows.append(
            f"| `{var}` | {_type_name(info.annotation)} | {_default(name, info)} | "
            f"{_bounds(info)} | {_cell(description)} |"
        )
    return "\n".join(rows)


def section(readme: str) -> str | None:
    """The generated table as it stands in ``readme`` (None when the markers are missing)."""
    match = re.search(re.escape(START) + r"\n(.*?)" + re.escape(END), readme, re.S)
    return match.group(1).strip("\n") if match else None


def write(readme_path: Path = README) -> bool:
    """Put the current table between the markers; True when the file changed."""
    text = readme_path.read_text()
    if section(text) is None:
        raise SystemExit(f"{readme_path} has no {START} ... {END} markers")
    new = re.sub(
        re.escape(START) + r"\n.*?" + re.escape(END),
        lambda _m: f"{START}\n{render_table()}\n{END}",
        text,
        flags=re.S,
    )
    if new == text:
        return False
    readme_path.write_text(new)
    return True


COMMAND = "config-doc"


def add_parser(subparsers: Any) -> None:
    doc = subparsers.add_parser(
        COMMAND, help="print the configuration reference (every setting) as a Markdown table"
    )
    doc.add_argument("--write", action="store_true", help="update README.md's table in place")


def run(args: argparse.Namespace) -> int:
    if args.write:
        print("README.md updated" if write() else "README.md already up to date")
    else:
        sys.stdout.write(render_table() + "\n")
    return 0
