"""Inspections of sites, each with the level it set (app.inspections.rules)."""

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    SmallInteger,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.database.orm import Base


class SiteInspection(Base):
    __tablename__ = "site_inspections"
    __table_args__ = (
        *[
            CheckConstraint(f"{d} BETWEEN 0 AND 100", name=f"{d}_range")
            for d in ("hardware", "equipment", "signage", "rules", "funding", "use", "activities")
        ],
        CheckConstraint("level BETWEEN 1 AND 5", name="level_range"),
        CheckConstraint(
            "NOT suspended OR (NOT passed AND suspension_reason IS NOT NULL)", name="suspended_when_failed"
        ),
        Index("ix_site_inspections_site_latest", "site_id", "inspected_on", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    site_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("sites.id", ondelete="CASCADE"))
    inspected_on: Mapped[dt.date] = mapped_column(Date)
    unannounced: Mapped[bool] = mapped_column(Boolean)
    hardware: Mapped[int] = mapped_column(SmallInteger)
    equipment: Mapped[int] = mapped_column(SmallInteger)
    signage: Mapped[int] = mapped_column(SmallInteger)
    rules: Mapped[int] = mapped_column(SmallInteger)
    funding: Mapped[int] = mapped_column(SmallInteger)
    use: Mapped[int] = mapped_column(SmallInteger)
    activities: Mapped[int] = mapped_column(SmallInteger)
    level: Mapped[int] = mapped_column(SmallInteger)
    passed: Mapped[bool] = mapped_column(Boolean)
    notes: Mapped[str | None] = mapped_column(Text)
    photo_urls: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    inspector: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(Text)  # the key's name
    suspended: Mapped[bool] = mapped_column(Boolean, server_default="false")
    suspension_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
