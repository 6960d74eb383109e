"""The step-kind registry: what a step of kind ``x`` does, what it needs, how a dry run says it.

A kind is a function ``(ctx, args) -> StepOutcome`` registered with :func:`step_kind`.
``acts=True`` marks kinds that change something: the dry run never calls them, it shows their
``describe`` line (for executor actions: the exact argument list). Checks (``acts=False``)
read only. Modules that register kinds are listed in :data:`KIND_MODULES` and imported once,
before the catalogue is validated, so a spec naming an unknown kind is refused at load.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import redis
    from sqlalchemy import Engine

    from dashboard.runbooks.executors import Executor
    from dashboard.runbooks.spec import RunbookSpec
    from dashboard.settings import Settings

#: Modules whose import registers step kinds (append yours; keep one line each).
KIND_MODULES: Final[list[str]] = [
    "dashboard.runbooks.checks",
    "dashboard.runbooks.operations",
    "dashboard.runbooks.backup_steps",  # issue 11 (ops): the Restore Backup runbook
]


@dataclass(frozen=True)
class StepOutcome:
    """What a step found or did: ``ok`` decides whether the run goes on; ``output`` is shown
    as plain text; ``evidence`` (JSON-able) is stored with the step."""

    ok: bool
    output: str
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class StepContext:
    """Everything a step may use. ``facts`` carries values from one step to the next (e.g. the
    version to roll back to); ``progress`` updates the step's live output while it runs."""

    engine: Engine
    redis: redis.Redis
    settings: Settings
    executor: Executor
    spec: RunbookSpec
    params: dict[str, Any]
    names: dict[str, Any]
    facts: dict[str, Any] = field(default_factory=dict)
    progress: Callable[[str], None] = lambda text: None
    deadline: float = field(default_factory=lambda: time.monotonic() + 900)


Run = Callable[[StepContext, dict[str, Any]], StepOutcome]
Describe = Callable[[StepContext, dict[str, Any]], str]


@dataclass(frozen=True)
class StepKind:
    name: str
    run: Run
    describe: Describe
    acts: bool
    required: frozenset[str]
    optional: frozenset[str]


KINDS: dict[str, StepKind] = {}


def step_kind(
    name: str,
    *,
    acts: bool,
    required: tuple[str, ...] = (),
    optional: tuple[str, ...] = (),
    describe: Describe | None = None,
) -> Callable[[Run], Run]:
    """Register ``fn`` as step kind ``name`` (a second registration of a name is a bug)."""

    def register(fn: Run) -> Run:
        if name in KINDS:
            raise RuntimeError(f"step kind {name!r} is registered twice")
        KINDS[name] = StepKind(
            name=name,
            run=fn,
            describe=describe or (lambda ctx, args: f"{name} {args}"),
            acts=acts,
            required=frozenset(required),
            optional=frozenset(optional),
        )
        return fn

    return register


_loaded = False


def load_kinds() -> dict[str, StepKind]:
    global _loaded
    if not _loaded:
        for module in KIND_MODULES:
            importlib.import_module(module)
        _loaded = True
    return KINDS


def known_kinds() -> frozenset[str]:
    return frozenset(load_kinds())


def check_args(spec: RunbookSpec) -> None:
    """Each step's args against its kind's required / optional names (SpecError if not)."""
    from dashboard.runbooks.spec import SpecError

    kinds = load_kinds()
    for step in spec.steps:
        kind = kinds[step.kind]
        names = set(step.args)
        missing = sorted(kind.required - names)
        extra = sorted(names - kind.required - kind.optional)
        if missing:
            raise SpecError(f"{spec.source} step {step.id!r}: {step.kind} needs {missing[0]!r}")
        if extra:
            allowed = ", ".join(sorted(kind.required | kind.optional)) or "none"
            raise SpecError(
                f"{spec.source} step {step.id!r}: {step.kind} takes no {extra[0]!r} "
                f"(its args: {allowed})"
            )
