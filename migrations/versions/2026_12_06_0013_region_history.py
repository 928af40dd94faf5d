"""region history: every change to a region kept (region_changes), and the region's version

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 21:00:00.000000

A county made a district (撤县设区), a union's own, more detailed outline: the region's row changes and the old one
is kept by trigger, as sites' are (who: the `yizhan.actor` setting; before/after as JSON). The outline is large,
so a change keeps only the outline it replaced (`boundary_before`, when it changed): the outline of each version is
the next change's `boundary_before`, or the region's own for the current one.

`regions.version` goes up with every visible change, so an answer kept for a region (app.coverage.kept) names the
version it was computed for, and a service learns of a change another process made (`yizhan regions import`) by
the next question about that region, and only that region's answers are computed again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

from app.changes.models import Xid8

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


HISTORY = (
    """
CREATE FUNCTION region_document(r regions) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT (to_jsonb(r) - 'boundary' - 'seat' - 'equal_area_srid' - 'version')
           || jsonb_build_object('seat', CASE WHEN r.seat IS NULL THEN NULL
                                              ELSE ST_AsGeoJSON(r.seat, 6)::jsonb END)
$$
""",
    """
CREATE FUNCTION regions_count_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF region_document(NEW) IS DISTINCT FROM region_document(OLD)
       OR ST_AsBinary(NEW.boundary) IS DISTINCT FROM ST_AsBinary(OLD.boundary) THEN
        NEW.version := OLD.version + 1;
    END IF;
    RETURN NEW;
END
$$
""",
    """
CREATE FUNCTION regions_record_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    outline_changed boolean := false;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.version = OLD.version THEN
            RETURN NULL;  -- nothing anyone could see changed (regions_count_version)
        END IF;
        outline_changed := ST_AsBinary(NEW.boundary) IS DISTINCT FROM ST_AsBinary(OLD.boundary);
    END IF;
    INSERT INTO region_changes (adcode, action, version, actor, before, after, boundary_before)
    VALUES (
        coalesce(NEW.adcode, OLD.adcode),
        CASE TG_OP WHEN 'INSERT' THEN 'created' WHEN 'DELETE' THEN 'deleted' ELSE 'updated' END,
        coalesce(NEW.version, OLD.version),
        coalesce(nullif(current_setting('yizhan.actor', true), ''), session_user),
        CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE region_document(OLD) END,
        CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE region_document(NEW) END,
        CASE WHEN TG_OP = 'DELETE' OR outline_changed THEN OLD.boundary END
    );
    RETURN NULL;
END
$$
""",
    """
CREATE TRIGGER regions_count_version
    BEFORE UPDATE ON regions
    FOR EACH ROW EXECUTE FUNCTION regions_count_version()
""",
    """
CREATE TRIGGER regions_record_change
    AFTER INSERT OR DELETE OR UPDATE ON regions
    FOR EACH ROW EXECUTE FUNCTION regions_record_change()
""",
)


def upgrade() -> None:
    op.add_column("regions", sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.create_table(
        "region_changes",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("adcode", sa.String(length=6), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("boundary_before", Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=True),
        sa.Column("txid", Xid8(), server_default=sa.text("pg_current_xact_id()"), nullable=False),
        sa.CheckConstraint("action IN ('created', 'updated', 'deleted')", name=op.f("ck_region_changes_action_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_region_changes")),
    )
    op.create_index(op.f("ix_region_changes_adcode"), "region_changes", ["adcode"], unique=False)
    for statement in HISTORY:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS regions_record_change ON regions")
    op.execute("DROP TRIGGER IF EXISTS regions_count_version ON regions")
    op.execute("DROP FUNCTION IF EXISTS regions_record_change(), regions_count_version(), region_document(regions)")
    op.drop_index(op.f("ix_region_changes_adcode"), table_name="region_changes")
    op.drop_table("region_changes")
    op.drop_column("regions", "version")
