"""Targets a planner sets for a region and a kind (SPEC §3), their history, and the months published for a region."""

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.database.orm import Base, one_of
from app.vocabularies.closed import TargetMeasure, TargetStatus


class Target(Base):
    """A figure to reach by a date: the line to it runs from (starts_on, start_value) to (due_on, value)."""

    __tablename__ = "targets"
    __table_args__ = (
        CheckConstraint(one_of("measure", TargetMeasure), name="measure_known"),
        CheckConstraint(one_of("status", TargetStatus), name="status_known"),
        # Shares are fractions 0–1, as the coverage answers give them; a count is a whole number of sites.
        CheckConstraint(
            "value >= 0 AND start_value >= 0 AND (measure = 'count' OR (value <= 1 AND start_value <= 1))",
            name="value_in_range",
        ),
        CheckConstraint("due_on > starts_on", name="due_after_start"),
        Index("ix_targets_region_adcode_kind", "region_adcode", "kind"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    region_adcode: Mapped[str] = mapped_column(String(6), ForeignKey("regions.adcode", onupdate="CASCADE"))
    kind: Mapped[str] = mapped_column(ForeignKey("site_kinds.code"))
    measure: Mapped[str] = mapped_column(Text)
    value: Mapped[float] = mapped_column(Double)
    due_on: Mapped[dt.date] = mapped_column(Date)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    start_value: Mapped[float] = mapped_column(Double)
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="active")
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TargetChange(Base):
    """One change to one target: who (the key's name), when, and the target before and after."""

    __tablename__ = "target_changes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    target_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("targets.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any]] = mapped_column(JSONB)


class PublishedMonth(Base):
    """A region's figures for a kind at the end of a month, as published when the month was closed: later
    corrections of the register do not change them."""

    __tablename__ = "published_months"
    __table_args__ = (
        PrimaryKeyConstraint("region_adcode", "kind", "month"),
        CheckConstraint("extract(day FROM month) = 1", name="month_first_day"),
    )

    region_adcode: Mapped[str] = mapped_column(String(6), ForeignKey("regions.adcode", onupdate="CASCADE"))
    kind: Mapped[str] = mapped_column(ForeignKey("site_kinds.code"))
    month: Mapped[dt.date] = mapped_column(Date)  # its first day
    site_count: Mapped[int] = mapped_column(Integer)
    covered_area_share: Mapped[float | None] = mapped_column(Double)
    covered_population_share: Mapped[float | None] = mapped_column(Double)
    # The region whose closing published it (a city's closing publishes its counties too).
    closed_for: Mapped[str] = mapped_column(String(6))
    published_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_by: Mapped[str] = mapped_column(Text)
