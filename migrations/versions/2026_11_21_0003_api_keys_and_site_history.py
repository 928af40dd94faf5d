"""api keys and site history

Every insert or visible update of a site writes a `site_changes` row by trigger (who: the `yizhan.actor` setting
of the writing transaction; before/after as JSON with lon/lat), so no write path can skip the history. The same
rows are the partners' change feed, ordered by (txid, id) — see app.changes.repository.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 06:42:22.141079
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.changes.models import Xid8

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


HISTORY = (
    """
CREATE FUNCTION site_document(s sites) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT (to_jsonb(s) - 'location' - 'geom')
           || jsonb_build_object('lon', ST_X(s.location::geometry), 'lat', ST_Y(s.location::geometry))
$$
""",
    """
CREATE FUNCTION sites_record_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_doc jsonb;
    new_doc jsonb := site_document(NEW);
    change text := 'created';
BEGIN
    IF TG_OP = 'UPDATE' THEN
        old_doc := site_document(OLD);
        IF old_doc = new_doc THEN
            RETURN NULL;  -- nothing anyone could see changed
        END IF;
        change := CASE WHEN NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL THEN 'deleted' ELSE 'updated' END;
    END IF;
    INSERT INTO site_changes (site_id, action, version, actor, before, after)
    VALUES (NEW.id, change, NEW.version,
            coalesce(nullif(current_setting('yizhan.actor', true), ''), session_user),
            old_doc, CASE WHEN change = 'deleted' THEN NULL ELSE new_doc END);
    RETURN NULL;
END
$$
""",
    """
CREATE TRIGGER sites_record_change
    AFTER INSERT OR UPDATE ON sites
    FOR EACH ROW EXECUTE FUNCTION sites_record_change()
""",
)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("region_prefix", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "region_prefix IS NULL OR region_prefix ~ '^[0-9]{2,6}$'", name=op.f("ck_api_keys_region_prefix_format")
        ),
        sa.CheckConstraint(
            "scopes <@ ARRAY['read', 'write', 'admin']::text[] AND cardinality(scopes) > 0",
            name=op.f("ck_api_keys_scopes_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
        sa.UniqueConstraint("secret_sha256", name=op.f("uq_api_keys_secret_sha256")),
    )
    op.create_table(
        "site_changes",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("site_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("txid", Xid8(), server_default=sa.text("pg_current_xact_id()"), nullable=False),
        sa.CheckConstraint("action IN ('created', 'updated', 'deleted')", name=op.f("ck_site_changes_action_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_changes")),
    )
    op.create_index(op.f("ix_site_changes_site_id"), "site_changes", ["site_id"], unique=False)
    for statement in HISTORY:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS sites_record_change ON sites")
    op.execute("DROP FUNCTION IF EXISTS sites_record_change(), site_document(sites)")
    op.drop_index(op.f("ix_site_changes_site_id"), table_name="site_changes")
    op.drop_table("site_changes")
    op.drop_table("api_keys")
