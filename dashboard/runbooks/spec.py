"""Runbook specs: parse and validate data/runbooks/*.toml into frozen dataclasses.

A spec that does not validate is refused at load with a message naming the file and the
field, so a typo never reaches a 3 a.m. run. Parameters a user types are validated here too
(:func:`validate_params`): types, allow-lists, ranges, patterns.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal, cast

from dashboard.domain.permissions import ACTION_PERMISSIONS, Permission
from dashboard.settings import PROJECT_ROOT

CATALOGUE_DIR: Final = PROJECT_ROOT / "data" / "runbooks"
Danger = Literal["low", "medium", "high"]
ParamType = Literal["str", "int", "float", "bool", "choice"]
OnFail = Literal["stop", "continue"]
DANGERS: Final[tuple[str, ...]] = ("low", "medium", "high")
PARAM_TYPES: Final[tuple[str, ...]] = ("str", "int", "float", "bool", "choice")
#: Names every template may use besides the runbook's parameters (filled from settings).
CONTEXT_NAMES: Final[frozenset[str]] = frozenset(
    {"core_url", "otel_health_url", "otlp_endpoint", "executor", "target"}
)
_ID = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
MAX_STR: Final = 200


class SpecError(ValueError):
    """A runbook file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class ParamSpec:
    """One typed parameter a user fills in before the dry run."""

    name: str
    type: ParamType
    label: str
    default: Any = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    help: str = ""


@dataclass(frozen=True)
class StepSpec:
    """One step: a check or an action of kind ``kind`` with its (templated) ``args``."""

    id: str
    kind: str
    title: str
    args: Mapping[str, Any] = field(default_factory=dict)
    on_fail: OnFail = "stop"


@dataclass(frozen=True)
class RunbookSpec:
    id: str
    title: str
    summary: str
    action: str
    danger: Danger
    target: str
    params: tuple[ParamSpec, ...]
    steps: tuple[StepSpec, ...]
    source: str = ""

    @property
    def permission(self) -> Permission:
        """The permission the action needs, from the one permission table."""
        return ACTION_PERMISSIONS[self.action]

    @property
    def dangerous(self) -> bool:
        """High danger: the user types the target's name to confirm."""
        return self.danger == "high"

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)


def _need(data: Mapping[str, Any], name: str, where: str, kind: type = str) -> Any:
    if name not in data:
        raise SpecError(f"{where}: missing {name!r}")
    value = data[name]
    if not isinstance(value, kind) or (kind is str and not str(value).strip()):
        raise SpecError(f"{where}: {name!r} must be a non-empty {kind.__name__}")
    return value


def _placeholders(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(_PLACEHOLDER.findall(value))
    if isinstance(value, list | tuple):
        return set().union(*(_placeholders(v) for v in value)) if value else set()
    if isinstance(value, Mapping):
        return set().union(*(_placeholders(v) for v in value.values())) if value else set()
    return set()


def _param(raw: Any, where: str) -> ParamSpec:
    if not isinstance(raw, Mapping):
        raise SpecError(f"{where}: each [[params]] entry must be a table")
    name = _need(raw, "name", where)
    where = f"{where} {name!r}"
    if not _ID.match(name) or name in CONTEXT_NAMES:
        raise SpecError(f"{where}: a name is lower_snake_case and not one of the context names")
    ptype = _need(raw, "type", where)
    if ptype not in PARAM_TYPES:
        raise SpecError(f"{where}: type must be one of {', '.join(PARAM_TYPES)}")
    unknown = (
        set(raw)
        - {"name", "type", "label", "default", "choices", "min", "max"}
        - {
            "pattern",
            "help",
        }
    )
    if unknown:
        raise SpecError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    choices = tuple(str(c) for c in raw.get("choices", ()))
    if ptype == "choice" and not choices:
        raise SpecError(f"{where}: a choice parameter needs a non-empty 'choices' list")
    if ptype != "choice" and choices:
        raise SpecError(f"{where}: only choice parameters take 'choices'")
    pattern = raw.get("pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise SpecError(f"{where}: pattern does not compile: {exc}") from None
    spec = ParamSpec(
        name=name,
        type=cast(ParamType, ptype),
        label=str(raw.get("label") or name.replace("_", " ").capitalize()),
        default=raw.get("default"),
        choices=choices,
        minimum=raw.get("min"),
        maximum=raw.get("max"),
        pattern=pattern,
        help=str(raw.get("help") or ""),
    )
    if spec.default is not None:
        try:
            coerce(spec, spec.default)
        except ValueError as exc:
            raise SpecError(f"{where}: the default is not valid: {exc}") from None
    return spec


def _step(raw: Any, where: str, known_kinds: frozenset[str] | None) -> StepSpec:
    if not isinstance(raw, Mapping):
        raise SpecError(f"{where}: each [[steps]] entry must be a table")
    sid = _need(raw, "id", where)
    where = f"{where} {sid!r}"
    if not _ID.match(sid):
        raise SpecError(f"{where}: a step id is lower_snake_case")
    kind = _need(raw, "kind", where)
    if known_kinds is not None and kind not in known_kinds:
        raise SpecError(
            f"{where}: unknown step kind {kind!r}; known kinds: {', '.join(sorted(known_kinds))}"
        )
    unknown = set(raw) - {"id", "kind", "title", "args", "on_fail"}
    if unknown:
        raise SpecError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    args = raw.get("args", {})
    if not isinstance(args, Mapping):
        raise SpecError(f"{where}: 'args' must be a table")
    on_fail = raw.get("on_fail", "stop")
    if on_fail not in ("stop", "continue"):
        raise SpecError(f"{where}: on_fail is 'stop' or 'continue'")
    return StepSpec(
        id=sid,
        kind=kind,
        title=str(raw.get("title") or sid.replace("_", " ").capitalize()),
        args=dict(args),
        on_fail=cast(OnFail, on_fail),
    )


def parse_spec(
    data: Mapping[str, Any], *, source: str = "<spec>", known_kinds: frozenset[str] | None = None
) -> RunbookSpec:
    """A validated spec from parsed TOML; SpecError naming ``source`` and the field."""
    rid = _need(data, "id", source)
    if not _ID.match(rid):
        raise SpecError(f"{source}: id {rid!r} must be lower_snake_case")
    unknown = (
        set(data)
        - {"id", "title", "summary", "action", "danger", "target"}
        - {
            "params",
            "steps",
        }
    )
    if unknown:
        raise SpecError(f"{source}: unknown field {sorted(unknown)[0]!r}")
    action = _need(data, "action", source)
    if action not in ACTION_PERMISSIONS:
        raise SpecError(
            f"{source}: action {action!r} is not in ACTION_PERMISSIONS "
            "(dashboard/domain/permissions.py); add it there with its permission"
        )
    danger = _need(data, "danger", source)
    if danger not in DANGERS:
        raise SpecError(f"{source}: danger must be one of {', '.join(DANGERS)}")
    raw_params = data.get("params", [])
    raw_steps = data.get("steps", [])
    if not isinstance(raw_params, list) or not isinstance(raw_steps, list):
        raise SpecError(f"{source}: params and steps are arrays of tables ([[params]], [[steps]])")
    params = tuple(_param(p, f"{source} param") for p in raw_params)
    steps = tuple(_step(s, f"{source} step", known_kinds) for s in raw_steps)
    if not steps:
        raise SpecError(f"{source}: a runbook needs at least one step")
    for label, names in (("param", [p.name for p in params]), ("step", [s.id for s in steps])):
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise SpecError(f"{source}: {label} {sorted(dupes)[0]!r} is declared twice")
    target = _need(data, "target", source)
    allowed = CONTEXT_NAMES | {p.name for p in params}
    for where, value in [("target", target)] + [(f"step {s.id!r}", s.args) for s in steps]:
        unknown_names = _placeholders(value) - allowed
        if unknown_names:
            raise SpecError(
                f"{source}: {where} uses {{{sorted(unknown_names)[0]}}}, which is neither a "
                f"parameter nor a context name ({', '.join(sorted(CONTEXT_NAMES))})"
            )
    return RunbookSpec(
        id=rid,
        title=_need(data, "title", source),
        summary=str(data.get("summary") or ""),
        action=action,
        danger=cast(Danger, danger),
        target=target,
        params=params,
        steps=steps,
        source=source,
    )


def load_spec(path: Path, *, known_kinds: frozenset[str] | None = None) -> RunbookSpec:
    """Read and validate one runbook file (its id must be the file's stem)."""
    where = path.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{where}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise SpecError(f"{where}: cannot read: {exc.strerror or exc}") from None
    spec = parse_spec(data, source=where, known_kinds=known_kinds)
    if spec.id != path.stem:
        raise SpecError(f"{where}: id {spec.id!r} must match the file name ({path.stem!r})")
    return spec


def load_catalogue(
    directory: Path = CATALOGUE_DIR, *, known_kinds: frozenset[str] | None = None
) -> dict[str, RunbookSpec]:
    """Every runbook in ``directory`` by id, sorted by title; the first bad file raises."""
    specs = [load_spec(p, known_kinds=known_kinds) for p in sorted(directory.glob("*.toml"))]
    return {s.id: s for s in sorted(specs, key=lambda s: s.title)}


@lru_cache(maxsize=1)
def catalogue() -> dict[str, RunbookSpec]:
    """The project's runbooks, step kinds checked (loaded once per process)."""
    from dashboard.runbooks.steps import check_args, known_kinds

    specs = load_catalogue(CATALOGUE_DIR, known_kinds=known_kinds())
    for spec in specs.values():
        check_args(spec)
    return specs


# -- parameters a user typed ------------------------------------------------------------------
def coerce(param: ParamSpec, value: Any) -> Any:
    """``value`` as the parameter's type, inside its allow-list / range / pattern."""
    label = param.label
    if param.type == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in (
            "true",
            "yes",
            "1",
            "false",
            "no",
            "0",
        ):
            return value.strip().lower() in ("true", "yes", "1")
        raise ValueError(f"{label} must be yes or no")
    if param.type in ("int", "float"):
        if isinstance(value, bool):
            raise ValueError(f"{label} must be a number")
        try:
            number: float = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{label} must be a number") from None
        if param.type == "int":
            if number != int(number):
                raise ValueError(f"{label} must be a whole number")
            number = int(number)
        if param.minimum is not None and number < param.minimum:
            raise ValueError(f"{label} must be at least {param.minimum:g}")
        if param.maximum is not None and number > param.maximum:
            raise ValueError(f"{label} must be at most {param.maximum:g}")
        return number
    if not isinstance(value, str):
        raise ValueError(f"{label} must be text")
    text = value.strip()
    if param.type == "choice":
        if text not in param.choices:
            raise ValueError(f"{label} must be one of: {', '.join(param.choices)}")
        return text
    if not text or len(text) > MAX_STR:
        raise ValueError(f"{label} must be 1 to {MAX_STR} characters")
    if param.pattern is not None and not re.fullmatch(param.pattern, text):
        raise ValueError(f"{label} has an unexpected form")
    return text


def validate_params(spec: RunbookSpec, given: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter of ``spec`` checked (defaults filled); ValueError in plain words."""
    unknown = sorted(set(given) - {p.name for p in spec.params})
    if unknown:
        raise ValueError(f"{spec.title} takes no parameter {unknown[0][:40]!r}")
    out: dict[str, Any] = {}
    for param in spec.params:
        value = given.get(param.name)
        if value is None or (isinstance(value, str) and not value.strip()):
            value = param.default
        if value is None:
            raise ValueError(f"{param.label} is required")
        out[param.name] = coerce(param, value)
    return out


def render(value: Any, names: Mapping[str, Any]) -> Any:
    """``value`` with ``{name}`` placeholders filled (recursively through lists and tables)."""
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole is not None:  # "{limit}" alone keeps the parameter's type (an int stays int)
            return names[whole.group(1)]
        return _PLACEHOLDER.sub(lambda m: str(names[m.group(1)]), value)
    if isinstance(value, list | tuple):
        return [render(v, names) for v in value]
    if isinstance(value, Mapping):
        return {k: render(v, names) for k, v in value.items()}
    return value
