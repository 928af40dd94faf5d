"""sites.access_reported: an open report that workers could not get in, kept by trigger for the nearest query

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 08:55:00.000000

The nearest query ranks such sites after equally near ones (app.sites.trust). Probing site_reports for every
candidate cost the database ~25 µs a query; the flag is recomputed from the reports whenever one is filed,
re-typed, moved or resolved, so it cannot drift. Derived, so the history leaves it out.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# app.vocabularies.closed.ACCESS_PROBLEMS at this revision (tests/test_site_derived.py checks the two agree).
ACCESS_PROBLEMS = ("closed", "locked", "needs_app", "moved")


def _site_document(*excluded: str) -> str:
    removed = "".join(f" - '{column}'" for column in ("location", "geom", *excluded))
    return f"""
CREATE OR REPLACE FUNCTION site_document(s sites) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT (to_jsonb(s){removed})
           || jsonb_build_object('lon', ST_X(s.location::geometry), 'lat', ST_Y(s.location::geometry))
$$
"""


_REPORTED = f"""EXISTS (
        SELECT 1 FROM site_reports r
        WHERE r.site_id = s.id AND r.status = 'open' AND r.type IN ({", ".join(f"'{t}'" for t in ACCESS_PROBLEMS)})
    )"""


def upgrade() -> None:
    op.add_column("sites", sa.Column("access_reported", sa.Boolean(), server_default="false", nullable=False))
    op.execute(_site_document("gcj02_lon", "gcj02_lat", "access_reported"))
    op.execute(f"""
CREATE FUNCTION site_reports_flag_site() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- NEW is NULL on DELETE, OLD on INSERT; a report moved to another site updates both.
    UPDATE sites s SET access_reported = {_REPORTED}
    WHERE s.id IN (NEW.site_id, OLD.site_id) AND s.access_reported IS DISTINCT FROM {_REPORTED};
    RETURN NULL;
END
$$
""")
    op.execute("""
CREATE TRIGGER site_reports_flag_site
    AFTER INSERT OR DELETE OR UPDATE OF site_id, type, status ON site_reports
    FOR EACH ROW EXECUTE FUNCTION site_reports_flag_site()
""")
    op.execute("ALTER TABLE sites DISABLE TRIGGER sites_record_change")
    op.execute(f"UPDATE sites s SET access_reported = true WHERE {_REPORTED}")
    op.execute("ALTER TABLE sites ENABLE TRIGGER sites_record_change")


def downgrade() -> None:
    op.execute("DROP TRIGGER site_reports_flag_site ON site_reports")
    op.execute("DROP FUNCTION site_reports_flag_site()")
    op.execute(_site_document("gcj02_lon", "gcj02_lat"))
    op.drop_column("sites", "access_reported")
