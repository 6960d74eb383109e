"""Typed models of the notification tables (DDL: migration 0006, which is the source of truth)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Integer, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.db.models import TS, Base


class NotificationMessage(Base):
    """What one delivery cycle made of the outbox rows of one group_key and audience."""

    __tablename__ = "notification_messages"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    group_key: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(Text)
    audience: Mapped[str] = mapped_column(Text)
    event: Mapped[str] = mapped_column(Text, default="trigger")
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(Text)
    recipient: Mapped[str | None] = mapped_column(Text)
    row_count: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(TS)
    #: [{"key": alert_key, "event": ..., "subject": ...}] (migration 0011): PagerDuty's events.
    alerts: Mapped[list[dict[str, str]]] = mapped_column(JSONB, default=list)


class NotificationOutbox(Base):
    """One transition to tell people about; ``dedupe_key`` is unique (exactly once)."""

    __tablename__ = "notification_outbox"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(Text, unique=True)
    severity: Mapped[str] = mapped_column(Text)
    group_key: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    audience: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TS)
    status: Mapped[str] = mapped_column(Text, default="pending")
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("notification_messages.id", ondelete="SET NULL")
    )
    dispatched_at: Mapped[datetime | None] = mapped_column(TS)
    alert_key: Mapped[str | None] = mapped_column(Text)
    event: Mapped[str] = mapped_column(Text, default="trigger")


class ContactPoint(Base):
    """Where messages go. ``secret`` is write-only for the console (it shows ``secret_hint``)."""

    __tablename__ = "contact_points"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    kind: Mapped[str] = mapped_column(Text)
    audiences: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    config: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    secret: Mapped[str] = mapped_column(Text, default="")
    secret_hint: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    managed_by: Mapped[str] = mapped_column(Text, default="console")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)
    updated_by: Mapped[str] = mapped_column(Text, default="")


class NotificationDelivery(Base):
    """One message to one contact point, with its retries."""

    __tablename__ = "notification_deliveries"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("notification_messages.id", ondelete="CASCADE")
    )
    contact_point_id: Mapped[int] = mapped_column(
        ForeignKey("contact_points.id", ondelete="CASCADE")
    )
    #: The filed report whose PDF this delivery attaches (the report mailing sends those).
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(Text, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(TS)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TS)
    sent_at: Mapped[datetime | None] = mapped_column(TS)


class NotificationAttempt(Base):
    """The delivery log: one row per try."""

    __tablename__ = "notification_attempts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("notification_deliveries.id", ondelete="CASCADE")
    )
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(TS)
    ok: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Float, default=0)
