"""The README's configuration reference is the settings object's, row for row."""

from __future__ import annotations

from pathlib import Path

from dashboard.commands import config_doc
from dashboard.settings import Settings


def test_readme_table_is_what_make_config_doc_writes() -> None:
    table = config_doc.section(config_doc.README.read_text())
    assert table is not None, "README.md lost its config-reference markers"
    assert table == config_doc.render_table(), (
        "README.md's configuration reference is out of date: run `make config-doc`"
    )


def test_every_setting_has_a_row_with_a_description() -> None:
    rows = config_doc.render_table().splitlines()[2:]
    assert [r.split("|")[1].strip(" `") for r in rows] == [
        f"ORCA_{name.upper()}" for name in Settings.model_fields
    ]
    for row in rows:
        assert row.rstrip(" |").split("|")[-1].strip(), f"no description: {row}"


def test_write_replaces_only_the_table(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n\n{config_doc.START}\n| stale |\n{config_doc.END}\n\noutro\n")
    assert config_doc.write(readme) is True
    text = readme.read_text()
    assert text.startswith("intro\n\n") and text.endswith("\n\noutro\n")
    assert "| stale |" not in text
    assert config_doc.section(text) == config_doc.render_table()
    assert config_doc.write(readme) is False, "a second run changes nothing"
