"""Registry filters (AgentFilter): validated on creation, with their URL query-parameter form."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from dashboard.data.errors import InvalidQuery
from dashboard.domain.enums import (
    AgentStatus,
    AgentType,
    ComplianceTier,
    DiscoverySource,
    Vendor,
    values,
)


def _tuple(value: Any, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    if value in (None, "", ()):
        return ()
    items = [value] if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            if part not in allowed:
                raise InvalidQuery(f"unknown {what} {part[:40]!r}; use one of {', '.join(allowed)}")
            if part not in out:
                out.append(part)
    return tuple(out)


_MULTI = frozenset({"statuses", "types", "vendors", "sources", "tiers"})


def _float(value: Any, what: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise InvalidQuery(f"{what} must be a number between 0 and 100")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidQuery(f"{what} must be a number between 0 and 100") from None
    if math.isnan(number) or not 0 <= number <= 100:
        raise InvalidQuery(f"{what} must be a number between 0 and 100")
    return number


@dataclass(frozen=True)
class AgentFilter:
    """Registry filters. Empty tuples / None mean "any". Values are validated on creation."""

    statuses: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    vendors: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    owner: str | None = None
    name_query: str | None = None
    trust_min: float | None = None
    trust_max: float | None = None

    def __post_init__(self) -> None:
        for attr, allowed, what in (
            ("statuses", values(AgentStatus), "status"),
            ("types", values(AgentType), "type"),
            ("vendors", values(Vendor), "vendor"),
            ("sources", values(DiscoverySource), "source"),
            ("tiers", values(ComplianceTier), "compliance tier"),
        ):
            object.__setattr__(self, attr, _tuple(getattr(self, attr), allowed, what))
        for attr in ("owner", "name_query"):
            value = getattr(self, attr)
            if value is not None:
                if not isinstance(value, str):
                    raise InvalidQuery(f"the {attr.replace('_', ' ')} filter must be text")
                value = value.strip()
                if "\x00" in value:
                    raise InvalidQuery(f"the {attr.replace('_', ' ')} filter has a NUL character")
                if len(value) > 200:
                    raise InvalidQuery(
                        f"the {attr.replace('_', ' ')} filter has at most 200 characters"
                    )
                object.__setattr__(self, attr, value or None)
        object.__setattr__(self, "trust_min", _float(self.trust_min, "minimum trust"))
        object.__setattr__(self, "trust_max", _float(self.trust_max, "maximum trust"))
        if (
            self.trust_min is not None
            and self.trust_max is not None
            and self.trust_min > self.trust_max
        ):
            raise InvalidQuery("minimum trust is above maximum trust")

    _PARAMS = {
        "statuses": "status",
        "types": "type",
        "vendors": "vendor",
        "sources": "source",
        "tiers": "tier",
        "owner": "owner",
        "name_query": "q",
        "trust_min": "trust_min",
        "trust_max": "trust_max",
    }

    @classmethod
    def from_query_params(cls, params: Mapping[str, str | list[str]]) -> AgentFilter:
        """Build from URL query parameters (status=active,quarantined&q=invoice&trust_min=50).

        Multi-valued filters accept comma lists or repeated parameters; for single-valued ones
        the last value wins. Unknown parameters are ignored (the URL carries other state).
        """
        kwargs: dict[str, Any] = {}
        for attr, name in cls._PARAMS.items():
            value = params.get(name)
            if not value:
                continue
            if isinstance(value, list) and attr not in _MULTI:
                value = value[-1]
            kwargs[attr] = value
        return cls(**kwargs)

    def to_query_params(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value in (None, ()):
                continue
            key = self._PARAMS[f.name]
            out[key] = (
                ",".join(value)
                if isinstance(value, tuple)
                else format(value, ".15g")
                if isinstance(value, float)
                else str(value)
            )
        return out
