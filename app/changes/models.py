"""The history of every change to the register, which is also the partners' change feed; the feed also carries
entries that say a site's workers' rating or star level changed while its record stood (register_changed false)."""

import datetime as dt

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Computed, DateTime, Index, Integer, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import UserDefinedType

from app.database.orm import Base


class Xid8(UserDefinedType[int]):
    """PostgreSQL's 64-bit transaction id, which orders the change feed by commit-safe transaction order."""

    cache_ok = True

    def get_col_spec(self, **kw: object) -> str:
        return "xid8"


class SiteChange(Base):
    """One change to one site: history (who, when, before/after) written by trigger, and the change feed; or, written
    by the service, a change of the site in use (its rating, its star level) with its record the same before and
    after."""

    __tablename__ = "site_changes"
    __table_args__ = (
        CheckConstraint("action IN ('created', 'updated', 'deleted')", name="action_known"),
        # The register's state coverage keeps its answers for: the last entry that changed the record.
        Index("ix_site_changes_register_changed", "id", postgresql_where=text("register_changed")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    site_id: Mapped[int] = mapped_column(BigInteger, index=True)
    action: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(Text)
    before: Mapped[dict[str, object] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, object] | None] = mapped_column(JSONB)
    register_changed: Mapped[bool] = mapped_column(Boolean, Computed("before IS DISTINCT FROM after", persisted=True))
    # The writing transaction's id: the feed returns changes of finished transactions only, in (txid, id) order,
    # so a transaction that commits late can never slip behind a partner's cursor.
    txid: Mapped[int] = mapped_column(Xid8, server_default=text("pg_current_xact_id()"))
