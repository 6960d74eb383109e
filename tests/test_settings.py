"""Settings: every field documented in .env.example, URLs normalised, bad values rejected."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from dashboard.settings import Settings, to_sqlalchemy_url

ROOT = Path(__file__).resolve().parent.parent


def test_env_example_lists_every_setting() -> None:
    text = (ROOT / ".env.example").read_text()
    documented = {
        line.split("=", 1)[0].strip()
        for line in text.splitlines()
        if line.startswith("ORCA_") and "=" in line
    }
    expected = {f"ORCA_{name.upper()}" for name in Settings.model_fields}
    assert documented == expected
    # Every setting line is preceded by a comment line.
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("ORCA_"):
            j = i - 1
            while lines[j].startswith("ORCA_"):
                j -= 1
            assert lines[j].startswith("#"), line


def test_database_url_drivers() -> None:
    assert to_sqlalchemy_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert to_sqlalchemy_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert to_sqlalchemy_url("postgresql+psycopg://u@h/d") == "postgresql+psycopg://u@h/d"
    with pytest.raises(ValueError, match="postgresql://"):
        to_sqlalchemy_url("mysql://u@h/d")


def test_blank_urls_mean_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCA_DATABASE_URL", "  ")
    monkeypatch.setenv("ORCA_REDIS_URL", "")
    s = Settings(_env_file=None)
    assert s.database_url is None and s.redis_url is None
    with pytest.raises(RuntimeError, match="orca-dashboard up"):
        _ = s.sqlalchemy_url


def test_bad_values_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCA_PORT", "70000")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)
