"""The history of every change to the register, which is also the partners' change feed."""

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Integer, Text, func, text
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
    """One change to one site, written by trigger: history (who, when, before/after) and the change feed."""

    __tablename__ = "site_changes"
    __table_args__ = (CheckConstraint("action IN ('created', 'updated', 'deleted')", name="action_known"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    site_id: Mapped[int] = mapped_column(BigInteger, index=True)
    action: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(Text)
    before: Mapped[dict[str, object] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, object] | None] = mapped_column(JSONB)
    # The writing transaction's id: the feed returns changes of finished transactions only, in (txid, id) order,
    # so a transaction that commits late can never slip behind a partner's cursor.
    txid: Mapped[int] = mapped_column(Xid8, server_default=text("pg_current_xact_id()"))
