"""Typed models of runbook_runs and runbook_steps (DDL: migrations 0008 and 0012)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.db.models import TS, Base


class RunbookRun(Base):
    """One run of a runbook on a target; ``state`` running -> succeeded | failed."""

    __tablename__ = "runbook_runs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    runbook_id: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    target: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    executor: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(Text, default="running")
    plan: Mapped[list[Any]] = mapped_column(JSONB, default=list)
    health_before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    health_after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    failed_step: Mapped[str | None] = mapped_column(Text)
    failure: Mapped[str | None] = mapped_column(Text)
    incident_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("incidents.id", ondelete="SET NULL")
    )
    # The executor's liveness: renewed every few seconds while the steps run; a reaper fails
    # a run whose heartbeat stopped ("executor lost") and releases its lock (lock_token).
    heartbeat_at: Mapped[datetime | None] = mapped_column(TS)
    executor_host: Mapped[str | None] = mapped_column(Text)
    lock_token: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(TS)
    finished_at: Mapped[datetime | None] = mapped_column(TS)


class RunbookStep(Base):
    """One step of a run: what was planned (the dry run's line), what happened, the output."""

    __tablename__ = "runbook_steps"

    run_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("runbook_runs.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    step_id: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    acts: Mapped[bool] = mapped_column(Boolean)
    planned: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(Text, default="pending")
    output: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    started_at: Mapped[datetime | None] = mapped_column(TS)
    finished_at: Mapped[datetime | None] = mapped_column(TS)
