"""Typed models of the incident and on-call tables (DDL: migration 0007, the source of truth)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Integer, SmallInteger, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.db.models import TS, Base


class Incident(Base):
    """One incident: severity P1-P4, its phase of the guide's seven, roles, key times."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(Text)
    phase: Mapped[str] = mapped_column(Text)
    alert_key: Mapped[str | None] = mapped_column(Text, unique=True)
    request_key: Mapped[str | None] = mapped_column(Text, unique=True)
    rule_id: Mapped[str | None] = mapped_column(Text)
    commander: Mapped[str | None] = mapped_column(Text)
    comms_lead: Mapped[str | None] = mapped_column(Text)
    declared_by: Mapped[str] = mapped_column(Text)
    declared_at: Mapped[datetime] = mapped_column(TS)
    detected_at: Mapped[datetime] = mapped_column(TS)
    acknowledged_at: Mapped[datetime | None] = mapped_column(TS)
    resolved_at: Mapped[datetime | None] = mapped_column(TS)
    closed_at: Mapped[datetime | None] = mapped_column(TS)
    closed_by: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)


class IncidentAlert(Base):
    """An alert linked to an incident (its transitions reach the incident's timeline)."""

    __tablename__ = "incident_alerts"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    alert_key: Mapped[str] = mapped_column(Text, primary_key=True)
    linked_at: Mapped[datetime] = mapped_column(TS)


class IncidentTimelineEntry(Base):
    """One timeline entry; only ``public`` ones (status updates) reach the status page."""

    __tablename__ = "incident_timeline"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(TS)
    kind: Mapped[str] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean)
    request_key: Mapped[str | None] = mapped_column(Text, unique=True)


class IncidentPostmortem(Base):
    __tablename__ = "incident_postmortems"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    summary: Mapped[str] = mapped_column(Text)
    impact: Mapped[str] = mapped_column(Text)
    root_cause: Mapped[str] = mapped_column(Text)
    action_items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    updated_by: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(TS)
    version: Mapped[int] = mapped_column(Integer)


class OnCallRotation(Base):
    """The single rotation row (id 1): ordered users per role, weekly hand-over."""

    __tablename__ = "oncall_rotation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    primary_users: Mapped[list[str]] = mapped_column(ARRAY(Text))
    secondary_users: Mapped[list[str]] = mapped_column(ARRAY(Text))
    manager_users: Mapped[list[str]] = mapped_column(ARRAY(Text))
    handover_weekday: Mapped[int] = mapped_column(SmallInteger)
    handover_hour: Mapped[int] = mapped_column(SmallInteger)
    timezone: Mapped[str] = mapped_column(Text)
    anchor: Mapped[date] = mapped_column(Date)
    updated_by: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime | None] = mapped_column(TS)
    version: Mapped[int] = mapped_column(Integer)


class OnCallOverride(Base):
    """Someone holds a role for a date range instead of the rotation (cancelled, never deleted)."""

    __tablename__ = "oncall_overrides"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    role: Mapped[str] = mapped_column(Text)
    username: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(TS)
    ends_at: Mapped[datetime] = mapped_column(TS)
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TS)
    cancelled_at: Mapped[datetime | None] = mapped_column(TS)
    cancelled_by: Mapped[str | None] = mapped_column(Text)
