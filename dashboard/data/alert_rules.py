"""Load data/alert_rules.yaml: parsed with PyYAML's safe loader, validated by the domain."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from dashboard.domain.alerting import AlertRule, RuleError, parse_rules
from dashboard.settings import get_settings

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "data" / "alert_rules.yaml"


def rules_path() -> Path:
    configured = get_settings().alert_rules_path
    return Path(configured) if configured else DEFAULT_PATH


def parse_rules_text(source: str, *, origin: str = "rules file") -> tuple[AlertRule, ...]:
    """Rules from YAML text; RuleError naming the origin and the bad rule."""
    try:
        document = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        raise RuleError(f"{origin}: not valid YAML ({exc.__class__.__name__})") from None
    try:
        return parse_rules(document)
    except RuleError as exc:
        raise RuleError(f"{origin}: {exc}") from None


def load_rules(path: Path | None = None) -> tuple[AlertRule, ...]:
    """Every rule of the file (default: settings, else data/alert_rules.yaml)."""
    chosen = path or rules_path()
    try:
        source = chosen.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleError(f"{chosen}: cannot be read ({exc.__class__.__name__})") from None
    return parse_rules_text(source, origin=str(chosen.name))


@lru_cache(maxsize=4)
def _cached(path: str, mtime_ns: int) -> tuple[AlertRule, ...]:
    return load_rules(Path(path))


def current_rules() -> dict[str, AlertRule]:
    """The rules by id, re-read when the file changes (pages and the worker call this often)."""
    chosen = rules_path()
    try:
        mtime = chosen.stat().st_mtime_ns
    except OSError as exc:
        raise RuleError(f"{chosen}: cannot be read ({exc.__class__.__name__})") from None
    return {r.id: r for r in _cached(str(chosen), mtime)}
