"""opening_hours_expressions: each distinct opening-hours string numbered, so the nearest query can pre-filter by
"open now" inside its index scan

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 09:15:00.000000

A register has a few hundred distinct opening-hours strings for hundreds of thousands of sites. The service
evaluates each string once a minute and passes the open ones to the query as a bit string indexed by this id;
a site's id is kept by trigger, on every write path. Derived, so the history leaves it out.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _site_document(*excluded: str) -> str:
    removed = "".join(f" - '{column}'" for column in ("location", "geom", *excluded))
    return f"""
CREATE OR REPLACE FUNCTION site_document(s sites) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT (to_jsonb(s){removed})
           || jsonb_build_object('lon', ST_X(s.location::geometry), 'lat', ST_Y(s.location::geometry))
$$
"""


def upgrade() -> None:
    op.create_table(
        "opening_hours_expressions",
        sa.Column("id", sa.Integer(), sa.Identity(always=True), nullable=False),
        sa.Column("expression", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opening_hours_expressions")),
        sa.UniqueConstraint("expression", name=op.f("uq_opening_hours_expressions_expression")),
    )
    op.add_column("sites", sa.Column("opening_hours_id", sa.Integer(), nullable=True))
    op.execute(_site_document("gcj02_lon", "gcj02_lat", "access_reported", "opening_hours_id"))
    op.execute("""
CREATE FUNCTION sites_number_opening_hours() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.opening_hours IS NULL THEN
        NEW.opening_hours_id := NULL;
    ELSE
        INSERT INTO opening_hours_expressions (expression) VALUES (NEW.opening_hours)
        ON CONFLICT (expression) DO NOTHING;
        SELECT id INTO NEW.opening_hours_id FROM opening_hours_expressions WHERE expression = NEW.opening_hours;
    END IF;
    RETURN NEW;
END
$$
""")
    op.execute("""
CREATE TRIGGER sites_number_opening_hours_on_insert
    BEFORE INSERT ON sites
    FOR EACH ROW EXECUTE FUNCTION sites_number_opening_hours()
""")
    op.execute("""
CREATE TRIGGER sites_number_opening_hours_on_update
    BEFORE UPDATE ON sites
    FOR EACH ROW
    WHEN (NEW.opening_hours IS DISTINCT FROM OLD.opening_hours
          OR NEW.opening_hours_id IS DISTINCT FROM OLD.opening_hours_id)
    EXECUTE FUNCTION sites_number_opening_hours()
""")
    op.execute(
        "INSERT INTO opening_hours_expressions (expression) "
        "SELECT DISTINCT opening_hours FROM sites WHERE opening_hours IS NOT NULL ORDER BY 1"
    )
    op.execute("ALTER TABLE sites DISABLE TRIGGER sites_record_change")
    op.execute(
        "UPDATE sites s SET opening_hours_id = e.id FROM opening_hours_expressions e "
        "WHERE e.expression = s.opening_hours"
    )
    op.execute("ALTER TABLE sites ENABLE TRIGGER sites_record_change")


def downgrade() -> None:
    op.execute("DROP TRIGGER sites_number_opening_hours_on_update ON sites")
    op.execute("DROP TRIGGER sites_number_opening_hours_on_insert ON sites")
    op.execute("DROP FUNCTION sites_number_opening_hours()")
    op.execute(_site_document("gcj02_lon", "gcj02_lat", "access_reported"))
    op.drop_column("sites", "opening_hours_id")
    op.drop_table("opening_hours_expressions")
