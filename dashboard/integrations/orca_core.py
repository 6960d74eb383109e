"""Typed async client of the ORCA Core API (DOMAIN.md): every answer is validated, or refused.

An answer that is not JSON or not of the documented shape raises :class:`MalformedResponse`;
no answer raises :class:`CoreUnavailable`; an HTTP error raises :class:`CoreHTTPError`. List
answers are validated in two steps: the envelope strictly (a bad envelope rejects the page),
then each item on its own, so one bad agent is skipped and counted, not fatal.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, TypeVar
from urllib.parse import quote

import httpx
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from dashboard.domain.enums import (
    AgentStatus,
    AgentType,
    CheckStatus,
    ComplianceTier,
    DiscoverySource,
    GapType,
    OverallHealth,
    Severity,
    Vendor,
)
from dashboard.integrations.http import (
    DEFAULT_MAX_BYTES,
    MAX_RETRIES,
    Deadline,
    Fetched,
    FetchError,
    get_with_retry,
    make_async_client,
)

M = TypeVar("M", bound=BaseModel)

HEALTH_PATH: Final = "/health"
AGENTS_PATH: Final = "/api/v1/agents"
TRUST_PATH: Final = "/api/v1/trust"
TRUST_SCORE_PATH: Final = "/api/v1/trust/score/{agent_id}"
SYNC_GAPS_PATH: Final = "/api/v1/trust/sync-gaps"
#: The API's own page-size ceiling.
MAX_PAGE_SIZE: Final = 500
MAX_METADATA_BYTES: Final = 16_384
#: Prefix of sync_gaps.external_key for gaps that came from ORCA Core.
GAP_KEY_PREFIX: Final = "core:"


# -- errors ---------------------------------------------------------------------------------
class OrcaCoreError(Exception):
    """Any failure talking to ORCA Core; ``endpoint`` names the route, ``message`` says why."""

    def __init__(self, endpoint: str, message: str) -> None:
        super().__init__(f"{endpoint}: {message}")
        self.endpoint = endpoint
        self.message = message


class CoreUnavailable(OrcaCoreError):
    """No answer: refused, timed out, cut off."""


class CoreHTTPError(OrcaCoreError):
    """An answer with a non-2xx status."""

    def __init__(self, endpoint: str, status_code: int, message: str) -> None:
        super().__init__(endpoint, message)
        self.status_code = status_code


class MalformedResponse(OrcaCoreError):
    """A 2xx answer that is not JSON or not of the documented shape."""


# -- models ---------------------------------------------------------------------------------
class _Model(BaseModel):
    # Unknown fields are ignored (forward compatible); NaN / Infinity are refused.
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


class HealthCheckItem(_Model):
    name: str = Field(min_length=1, max_length=200)
    status: CheckStatus
    message: str | None = Field(default=None, max_length=2000)
    latency_ms: float | None = Field(default=None, ge=0)


class CoreHealth(_Model):
    """GET /health."""

    status: OverallHealth
    timestamp: AwareDatetime
    version: str = Field(max_length=200)
    checks: list[HealthCheckItem] = Field(default_factory=list, max_length=200)


class CoreAgent(_Model):
    """One agent of GET /api/v1/agents (names and metadata are untrusted text)."""

    id: int | str | None = None
    external_id: str = Field(min_length=1, max_length=256)
    discovery_source: DiscoverySource
    name: str = Field(min_length=1, max_length=1000)
    type: AgentType
    vendor: Vendor
    model: str | None = Field(default=None, max_length=200)
    status: AgentStatus | None = None  # Core's view; the console owns status changes
    compliance_tier: ComplianceTier = ComplianceTier.NONE
    owner: str = Field(min_length=1, max_length=320)
    discovered_at: AwareDatetime
    last_seen_at: AwareDatetime | None = None
    trust_score: float | None = Field(default=None, ge=0, le=100)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("metadata")
    @classmethod
    def _small_metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, default=str)) > MAX_METADATA_BYTES:
            raise ValueError(f"metadata larger than {MAX_METADATA_BYTES} bytes")
        return value

    @property
    def key(self) -> tuple[str, str]:
        return (self.discovery_source.value, self.external_id)


class _AgentEnvelope(_Model):
    agents: list[Any] = Field(max_length=MAX_PAGE_SIZE * 2)
    total: int = Field(ge=0)
    next_cursor: str | None = Field(default=None, max_length=2000)


class TrustKpis(_Model):
    """GET /api/v1/trust (percentages 0-100)."""

    trust_score: float | None = Field(ge=0, le=100)
    risk_avoided_usd: float = Field(ge=0)
    sync_freshness_percent: float = Field(ge=0, le=100)
    drift_rate_percent: float = Field(ge=0, le=100)
    compliance_sla_percent: float = Field(ge=0, le=100)
    period_start: AwareDatetime
    period_end: AwareDatetime
    computed_at: AwareDatetime


class TrustScore(_Model):
    """GET /api/v1/trust/score/{agent_id} (components 0-1)."""

    agent_id: int | str
    score: float = Field(ge=0, le=100)
    reliability: float = Field(ge=0, le=1)
    policy_adherence: float = Field(ge=0, le=1)
    context_freshness: float = Field(ge=0, le=1)
    risk_exposure: float = Field(ge=0, le=1)
    computed_at: AwareDatetime


class SyncGap(_Model):
    """One gap of GET /api/v1/trust/sync-gaps."""

    source: str = Field(min_length=1, max_length=200)
    target: str = Field(min_length=1, max_length=500)
    gap_type: GapType
    severity: Severity
    detected_at: AwareDatetime
    lag_ms: int = Field(ge=0)

    @property
    def external_key(self) -> str:
        return gap_external_key(self.source, self.target, self.gap_type, self.detected_at)


class _GapEnvelope(_Model):
    gaps: list[Any] = Field(max_length=10_000)
    count: int = Field(ge=0)
    sync_freshness_percent: float = Field(ge=0, le=100)
    drift_rate_percent: float = Field(ge=0, le=100)


def gap_external_key(source: str, target: str, gap_type: str, detected_at: datetime) -> str:
    """The stable identity of a gap (the API gives none): a hash of what defines it.

    The stand-in stores the same key on the rows it serves, so a console sharing its database
    updates those rows instead of copying them.
    """
    if detected_at.tzinfo is None:
        raise ValueError("detected_at must carry a time zone")
    canonical = "\x1f".join(
        [source, target, str(gap_type), detected_at.astimezone(UTC).isoformat()]
    )
    return GAP_KEY_PREFIX + hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class HealthReading:
    """What /health answered: HTTP status, latency of the answer, and the parsed document."""

    status_code: int
    latency_ms: float
    health: CoreHealth | None
    problem: str | None = None  # why ``health`` is None (not JSON, wrong shape)


@dataclass(frozen=True)
class AgentPage:
    agents: list[CoreAgent]
    total: int
    next_cursor: str | None
    invalid: list[str] = field(default_factory=list)  # one reason per skipped item


@dataclass(frozen=True)
class SyncGapPage:
    gaps: list[SyncGap]
    count: int
    sync_freshness_percent: float
    drift_rate_percent: float
    invalid: list[str] = field(default_factory=list)


def _decode(endpoint: str, body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedResponse(endpoint, f"not JSON ({str(exc)[:120]})") from None


def _problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "document"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first.get('msg', 'invalid')}{more}"[:300]


def _validate(endpoint: str, model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise MalformedResponse(endpoint, f"unexpected shape: {_problem(exc)}") from None


def _items(model: type[M], raw: list[Any]) -> tuple[list[M], list[str]]:
    good: list[M] = []
    bad: list[str] = []
    for i, item in enumerate(raw):
        try:
            good.append(model.model_validate(item))
        except ValidationError as exc:
            bad.append(f"item {i}: {_problem(exc)}")
    return good, bad


def parse_health(status_code: int, body: bytes, latency_ms: float) -> HealthReading:
    """Parse a /health answer without raising: a bad document gives ``problem``."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return HealthReading(status_code, latency_ms, None, "the body is not JSON")
    try:
        return HealthReading(status_code, latency_ms, CoreHealth.model_validate(data))
    except ValidationError as exc:
        return HealthReading(status_code, latency_ms, None, f"unexpected shape: {_problem(exc)}")


def encode_cursor(payload: Mapping[str, Any]) -> str:
    """An opaque page cursor (the stand-in's; clients never look inside)."""
    raw = json.dumps(dict(payload), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    """ValueError on anything that is not a cursor made by :func:`encode_cursor`."""
    if not cursor or len(cursor) > 500:
        raise ValueError("invalid cursor")
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise ValueError("invalid cursor") from None
    if not isinstance(data, dict):
        raise ValueError("invalid cursor")
    return data


class OrcaCoreClient:
    """The API of DOMAIN.md over one async httpx client; every call takes a deadline."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        retries: int = MAX_RETRIES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        default_deadline_s: float = 10.0,
    ) -> None:
        self.http = http
        self.retries = retries
        self.max_bytes = max_bytes
        self.default_deadline_s = default_deadline_s

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        base_url: str,
        *,
        connect_timeout_s: float,
        read_timeout_s: float,
        retries: int = MAX_RETRIES,
        default_deadline_s: float = 10.0,
    ) -> AsyncIterator[OrcaCoreClient]:
        async with make_async_client(
            base_url=base_url.rstrip("/"),
            connect_timeout_s=connect_timeout_s,
            read_timeout_s=read_timeout_s,
        ) as http:
            yield cls(http, retries=retries, default_deadline_s=default_deadline_s)

    async def _get(
        self,
        endpoint: str,
        path: str,
        *,
        deadline: Deadline | None,
        params: Mapping[str, str] | None = None,
        retry_statuses: frozenset[int] | None = None,
    ) -> Fetched:
        try:
            kwargs: dict[str, Any] = {}
            if retry_statuses is not None:
                kwargs["retry_statuses"] = retry_statuses
            return await get_with_retry(
                self.http,
                path,
                deadline=deadline or Deadline(self.default_deadline_s),
                params=params,
                retries=self.retries,
                max_bytes=self.max_bytes,
                **kwargs,
            )
        except FetchError as exc:
            raise CoreUnavailable(endpoint, exc.message) from exc

    async def _get_json(
        self,
        endpoint: str,
        path: str,
        *,
        deadline: Deadline | None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        fetched = await self._get(endpoint, path, deadline=deadline, params=params)
        if not 200 <= fetched.status_code < 300:
            raise CoreHTTPError(endpoint, fetched.status_code, f"HTTP {fetched.status_code}")
        return _decode(endpoint, fetched.body)

    async def health(self, *, deadline: Deadline | None = None) -> HealthReading:
        """GET /health; 503 is an answer (not retried), only no answer raises."""
        fetched = await self._get(
            HEALTH_PATH, HEALTH_PATH, deadline=deadline, retry_statuses=frozenset()
        )
        return parse_health(fetched.status_code, fetched.body, fetched.latency_ms)

    async def list_agents(
        self,
        *,
        status: str | None = None,
        type: str | None = None,
        vendor: str | None = None,
        limit: int = MAX_PAGE_SIZE,
        cursor: str | None = None,
        deadline: Deadline | None = None,
    ) -> AgentPage:
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        params = {"limit": str(limit)}
        for name, value in (("status", status), ("type", type), ("vendor", vendor)):
            if value is not None:
                params[name] = value
        if cursor is not None:
            params["cursor"] = cursor
        data = await self._get_json(AGENTS_PATH, AGENTS_PATH, deadline=deadline, params=params)
        envelope = _validate(AGENTS_PATH, _AgentEnvelope, data)
        agents, invalid = _items(CoreAgent, envelope.agents)
        return AgentPage(agents, envelope.total, envelope.next_cursor or None, invalid)

    async def iter_agent_pages(
        self,
        *,
        limit: int = MAX_PAGE_SIZE,
        deadline: Deadline | None = None,
        max_pages: int = 10_000,
    ) -> AsyncIterator[AgentPage]:
        """Every page of the unfiltered listing; a cursor that repeats is a malformed answer."""
        seen: set[str] = set()
        cursor: str | None = None
        for _ in range(max_pages):
            page = await self.list_agents(limit=limit, cursor=cursor, deadline=deadline)
            yield page
            if page.next_cursor is None:
                return
            if page.next_cursor in seen:
                raise MalformedResponse(AGENTS_PATH, "next_cursor repeats an earlier cursor")
            seen.add(page.next_cursor)
            cursor = page.next_cursor
        raise MalformedResponse(AGENTS_PATH, f"more than {max_pages} pages")

    async def trust(self, *, deadline: Deadline | None = None) -> TrustKpis:
        data = await self._get_json(TRUST_PATH, TRUST_PATH, deadline=deadline)
        return _validate(TRUST_PATH, TrustKpis, data)

    async def trust_score(
        self, agent_id: int | str, *, deadline: Deadline | None = None
    ) -> TrustScore:
        path = TRUST_SCORE_PATH.format(agent_id=quote(str(agent_id), safe=""))
        data = await self._get_json(TRUST_SCORE_PATH, path, deadline=deadline)
        return _validate(TRUST_SCORE_PATH, TrustScore, data)

    async def sync_gaps(
        self, *, severity: str | None = None, deadline: Deadline | None = None
    ) -> SyncGapPage:
        params = {"severity": severity} if severity is not None else None
        data = await self._get_json(
            SYNC_GAPS_PATH, SYNC_GAPS_PATH, deadline=deadline, params=params
        )
        envelope = _validate(SYNC_GAPS_PATH, _GapEnvelope, data)
        gaps, invalid = _items(SyncGap, envelope.gaps)
        return SyncGapPage(
            gaps,
            envelope.count,
            envelope.sync_freshness_percent,
            envelope.drift_rate_percent,
            invalid,
        )
