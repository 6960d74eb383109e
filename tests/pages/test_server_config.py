"""Streamlit ignores an unknown option in config.toml without a word: every key must be one it knows."""

from __future__ import annotations

import tomllib
from pathlib import Path

from streamlit import config

CONFIG = Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml"


def test_every_config_key_is_a_streamlit_option() -> None:
    with CONFIG.open("rb") as fh:
        doc = tomllib.load(fh)
    known = set(config.get_config_options())
    written = {f"{section}.{key}" for section, keys in doc.items() for key in keys}
    assert written, "config.toml is empty"
    assert written - known == set()


def test_no_file_watcher_in_the_served_console() -> None:
    """The console never reloads its code in place; the watcher only costs page-run time."""
    with CONFIG.open("rb") as fh:
        assert tomllib.load(fh)["server"]["fileWatcherType"] == "none"
