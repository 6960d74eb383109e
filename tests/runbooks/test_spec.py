"""Runbook specs: the catalogue loads, and a bad spec is refused with a message naming it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dashboard.runbooks.spec import (
    SpecError,
    catalogue,
    load_catalogue,
    load_spec,
    parse_spec,
    render,
    validate_params,
)
from dashboard.runbooks.steps import check_args, known_kinds

GOOD: dict[str, Any] = {
    "id": "demo",
    "title": "Demo",
    "action": "runbook.service_restart",
    "danger": "low",
    "target": "{service}",
    "params": [{"name": "service", "type": "choice", "choices": ["orca-core"]}],
    "steps": [{"id": "one", "kind": "http.check", "args": {"url": "{core_url}/health"}}],
}


def test_the_catalogue_loads_with_the_guides_runbooks() -> None:
    specs = catalogue()
    assert "service_restart" in specs
    for spec in specs.values():
        assert spec.permission.value == "run_runbooks" or spec.permission
        check_args(spec)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"action": "runbook.nope"}, "not in ACTION_PERMISSIONS"),
        ({"danger": "extreme"}, "danger must be one of"),
        ({"target": "{nobody}"}, "uses {nobody}"),
        ({"steps": []}, "at least one step"),
        ({"steps": [{"id": "one", "kind": "shell.run"}]}, "unknown step kind 'shell.run'"),
        ({"params": [{"name": "x", "type": "choice"}]}, "non-empty 'choices'"),
        ({"params": [{"name": "n", "type": "int", "min": 5, "default": 1}]}, "default is not"),
        ({"colour": "red"}, "unknown field 'colour'"),
    ],
)
def test_a_bad_spec_is_refused_with_a_clear_message(change: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=r"bad\.toml") as err:
        parse_spec({**GOOD, **change}, source="bad.toml", known_kinds=known_kinds())
    assert message in str(err.value)


def test_step_args_are_checked_against_the_kind() -> None:
    spec = parse_spec(
        {**GOOD, "steps": [{"id": "one", "kind": "http.check", "args": {"uri": "x"}}]},
        source="x.toml",
        known_kinds=known_kinds(),
    )
    with pytest.raises(SpecError, match="needs 'url'"):
        check_args(spec)


def test_a_file_must_be_named_after_its_id_and_be_toml(tmp_path: Path) -> None:
    (tmp_path / "other.toml").write_text(
        'id = "demo"\ntitle = "Demo"\naction = "runbook.service_restart"\ndanger = "low"\n'
        'target = "x"\n[[steps]]\nid = "one"\nkind = "http.check"\nargs = { url = "u" }\n'
    )
    with pytest.raises(SpecError, match="must match the file name"):
        load_spec(tmp_path / "other.toml")
    (tmp_path / "other.toml").write_text("id = = 1")
    with pytest.raises(SpecError, match="not valid TOML"):
        load_catalogue(tmp_path)


def test_parameters_are_typed_and_allow_listed() -> None:
    spec = catalogue()["service_restart"]
    assert validate_params(spec, {}) == {"service": "orca-core", "healthy_within_s": 60}
    with pytest.raises(ValueError, match="must be one of: orca-core"):
        validate_params(spec, {"service": "postgres; rm -rf /"})
    with pytest.raises(ValueError, match="at most 300"):
        validate_params(spec, {"healthy_within_s": 9999})
    with pytest.raises(ValueError, match="no parameter"):
        validate_params(spec, {"extra": 1})


def test_render_keeps_a_lone_placeholders_type() -> None:
    names = {"n": 5, "u": "http://x"}
    assert render({"a": "{n}", "b": "{u}/health", "c": ["{n}"]}, names) == {
        "a": 5,
        "b": "http://x/health",
        "c": [5],
    }
