"""sites re-derived only near the outlines a region statement added, removed or redrew

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 01:55:00.000000

A statement on regions re-derived every site's region: with the generated national register (200,000 sites, ~55 µs
each) ~11 s for a county's outline redrawn or a code replaced, whatever the statement touched. Only a site inside the
box of an outline that came, went or moved (before or after) can change region, so the statement triggers read the
rows they touched (transition tables, which PostgreSQL gives one event at a time and no column list: three triggers,
and an update that leaves outline and level alone re-derives nothing).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEAR_CHANGED_OUTLINES = """
CREATE OR REPLACE FUNCTION regions_rederive_sites() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    boxes geometry[];
BEGIN
    -- Each branch reads its own trigger's transition tables (PL/pgSQL plans a statement when it first runs it).
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(ST_Envelope(boundary)) INTO boxes FROM added_regions;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(ST_Envelope(boundary)) INTO boxes FROM removed_regions;
    ELSE
        SELECT array_agg(box) INTO boxes
        FROM old_regions o JOIN new_regions n ON n.adcode = o.adcode,
             LATERAL (VALUES (ST_Envelope(o.boundary)), (ST_Envelope(n.boundary))) AS b(box)
        WHERE ST_AsBinary(o.boundary) IS DISTINCT FROM ST_AsBinary(n.boundary) OR o.level IS DISTINCT FROM n.level;
    END IF;
    IF boxes IS NULL THEN
        RETURN NULL;
    END IF;
    UPDATE sites SET region_adcode = derived.adcode
    FROM (SELECT s.id, region_of(s.geom) AS adcode FROM sites s
          WHERE s.id IN (SELECT n.id FROM unnest(boxes) AS b(box) JOIN sites n ON n.geom && b.box)) AS derived
    WHERE sites.id = derived.id AND sites.region_adcode IS DISTINCT FROM derived.adcode;
    RETURN NULL;
END
$$
"""

EVERY_SITE = """
CREATE OR REPLACE FUNCTION regions_rederive_sites() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE sites SET region_adcode = derived.adcode
    FROM (SELECT id, region_of(geom) AS adcode FROM sites) AS derived
    WHERE sites.id = derived.id AND sites.region_adcode IS DISTINCT FROM derived.adcode;
    RETURN NULL;
END
$$
"""

TRIGGERS = (
    "CREATE TRIGGER regions_rederive_sites_inserted AFTER INSERT ON public.regions "
    "REFERENCING NEW TABLE AS added_regions FOR EACH STATEMENT EXECUTE FUNCTION regions_rederive_sites()",
    "CREATE TRIGGER regions_rederive_sites_deleted AFTER DELETE ON public.regions "
    "REFERENCING OLD TABLE AS removed_regions FOR EACH STATEMENT EXECUTE FUNCTION regions_rederive_sites()",
    "CREATE TRIGGER regions_rederive_sites_updated AFTER UPDATE ON public.regions "
    "REFERENCING OLD TABLE AS old_regions NEW TABLE AS new_regions "
    "FOR EACH STATEMENT EXECUTE FUNCTION regions_rederive_sites()",
)


def upgrade() -> None:
    op.execute("DROP TRIGGER regions_rederive_sites ON public.regions")
    op.execute(NEAR_CHANGED_OUTLINES)
    for trigger in TRIGGERS:
        op.execute(trigger)


def downgrade() -> None:
    for name in ("inserted", "deleted", "updated"):
        op.execute(f"DROP TRIGGER regions_rederive_sites_{name} ON public.regions")
    op.execute(EVERY_SITE)
    op.execute(
        "CREATE TRIGGER regions_rederive_sites AFTER INSERT OR DELETE OR UPDATE OF boundary, level ON public.regions "
        "FOR EACH STATEMENT EXECUTE FUNCTION regions_rederive_sites()"
    )
