"""API keys, and the history of every change to the register (also the partners' change feed)."""

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import UserDefinedType

from app.db import Base

SCOPES = ("read", "write", "admin")


class ApiKey(Base):
    """A partner's key: only its SHA-256 is stored (keys are 256-bit random tokens, so a fast hash is enough)."""

    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(
            "scopes <@ ARRAY['read', 'write', 'admin']::text[] AND cardinality(scopes) > 0", name="scopes_known"
        ),
        CheckConstraint(r"region_prefix IS NULL OR region_prefix ~ '^[0-9]{2,6}$'", name="region_prefix_format"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(String(12), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # An adcode prefix ("3716" = Binzhou): the key may write only sites in regions under it.
    region_prefix: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


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
