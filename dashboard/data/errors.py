"""Errors the data layer raises on purpose, and the kinds of failure a panel can report."""

from __future__ import annotations

from enum import StrEnum


class InvalidQuery(ValueError):
    """A filter, sort, cursor or range outside what the data layer allows."""


class ErrorKind(StrEnum):
    """Why a panel has no data to show: decided where the failure is caught, never parsed."""

    DB_DOWN = "db_down"  # PostgreSQL unreachable (or remembered as down for a few seconds)
    NOT_CONFIGURED = "not_configured"  # no database URL
    INVALID = "invalid"  # the request itself is out of bounds (InvalidQuery)
    QUERY_FAILED = "query_failed"  # the database answered with an error
