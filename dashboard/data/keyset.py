"""The one keyset cursor codec: a page position, bound to its query and signed, as opaque text."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from dashboard.data.errors import InvalidQuery
from dashboard.settings import get_settings

_VERSION = 1
_DEV_KEY = b"orca-keyset-cursor-development-key"
_RESERVED = frozenset({"k", "c", "f"})
MAX_CURSOR = 2000
BAD_CURSOR = "this page link is invalid or out of date; start again from the first page"


class Field(StrEnum):
    """The type of one value of a position; decoding accepts exactly that type."""

    ID = "id"  # a bigint primary key: 0 < id < 2**63
    BOOL = "bool"
    FLOAT = "float"  # finite
    TEXT = "text"  # at most 1,000 characters, no NUL
    DATETIME = "datetime"  # ISO 8601 with a time zone


def _key() -> bytes:
    """The deployment's secret when set, else a development constant.

    Cursors are not secrets (they only name a position); the MAC makes a hand-edited one fail
    cleanly instead of reaching SQL with values of the wrong type.
    """
    secret = get_settings().cookie_key
    return secret.encode() if secret else _DEV_KEY


def _mac(body: bytes) -> str:
    return hmac.new(_key(), body, hashlib.sha256).hexdigest()[:24]


def fingerprint(scope: str, binding: Mapping[str, Any]) -> str:
    """A short digest of what a cursor belongs to: its scope plus sort, direction and filters."""
    body = json.dumps([scope, binding], sort_keys=True, default=str).encode()
    return hashlib.sha256(body).hexdigest()[:16]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("cursor date-times must carry a time zone")
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("cursor numbers must be finite")
    return value


def encode_cursor(*, scope: str, binding: Mapping[str, Any], position: Mapping[str, Any]) -> str:
    """base64url(JSON of the position + scope + binding fingerprint) + "." + its HMAC.

    ``binding`` is whatever must be the same when the cursor comes back (sort, direction,
    filters); ``position`` holds the last row's seek values, of the types in ``Field``.
    """
    if _RESERVED & position.keys():
        raise ValueError(f"position fields may not be named {', '.join(sorted(_RESERVED))}")
    payload = {
        "k": _VERSION,
        "c": scope,
        "f": fingerprint(scope, binding),
        **{k: _plain(v) for k, v in position.items()},
    }
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True, allow_nan=False).encode()
    return base64.urlsafe_b64encode(body).decode().rstrip("=") + "." + _mac(body)


def _typed(value: Any, kind: Field) -> Any:
    """The value as ``kind``, or None when it is not exactly of that type."""
    if kind is Field.BOOL:
        return value if isinstance(value, bool) else None
    if isinstance(value, bool):
        return None
    if kind is Field.ID:
        return value if isinstance(value, int) and 0 < value < 2**63 else None
    if kind is Field.FLOAT:
        ok = isinstance(value, int | float) and math.isfinite(value)
        return float(value) if ok else None
    if kind is Field.TEXT:
        ok = isinstance(value, str) and len(value) <= 1000 and "\x00" not in value
        return value if ok else None
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def decode_cursor(
    cursor: object,
    *,
    scope: str,
    binding: Mapping[str, Any],
    fields: Mapping[str, Field],
    nullable: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The position a cursor names; anything odd raises InvalidQuery with a plain message.

    The cursor must carry a valid MAC, this codec's version, the same scope and binding as the
    request, exactly the ``fields`` named, each of its type (None only for ``nullable`` ones).
    """
    bad = InvalidQuery(BAD_CURSOR)
    if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR or cursor.count(".") != 1:
        raise bad
    body_b64, check = cursor.split(".")
    try:
        body = base64.urlsafe_b64decode(body_b64 + "=" * (-len(body_b64) % 4))
    except (ValueError, TypeError):
        raise bad from None
    if not hmac.compare_digest(_mac(body), check):
        raise bad
    try:
        payload = json.loads(body)
    except ValueError:
        raise bad from None
    if not isinstance(payload, dict) or payload.get("k") != _VERSION:
        raise bad
    if payload.get("c") != scope or payload.get("f") != fingerprint(scope, binding):
        raise bad
    position = {k: v for k, v in payload.items() if k not in _RESERVED}
    if position.keys() != fields.keys():
        raise bad
    out: dict[str, Any] = {}
    for name, kind in fields.items():
        value = position[name]
        if value is None and name in nullable:
            out[name] = None
            continue
        typed = _typed(value, kind)
        if typed is None:
            raise bad
        out[name] = typed
    return out
