"""coverage site states: per kind, the number of sites and the sum of a hash of what coverage reads of each, kept by
trigger

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 04:10:00.000000

Every coverage question reads the state of its kind's sites, so that a write by any process (a plain SQL one too) is
seen at once: it summed a hash of every site of the kind (China's 20,000 legal-aid points, ~35 ms, twice for a cold
table). The same sums are kept as the sites change. Each statement on sites adds a row per kind it touched: the
sites it wrote and their hashes, less those it replaced or removed (transition tables: three triggers, as
PostgreSQL gives them one event at a time). Writers only insert, so none waits on another; a row is visible exactly
when the site rows it accounts for are, so under any snapshot a kind's rows sum to what hashing its sites would
give. Now and then a write folds the rows into one per kind.

What a site's hash is made of lives in one function, site_coverage_hash, which the leaves' fingerprints use too.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SITE_COVERAGE_HASH = """
CREATE FUNCTION site_coverage_hash(s sites) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- What coverage reads of a site: a write through the service raises the version, a plain SQL one changes the
    -- fields; a change coverage does not read (a name, the region the site is filed under) changes nothing. Each
    -- field hashed by its type's hash, the point by its bytes.
    SELECT hash_record_extended(ROW(s.id, s.version, s.geom::bytea, s.status, s.opened_on, s.closed_on,
                                    s.deleted_at), 0)
$$
"""

COMPACT = """
CREATE FUNCTION coverage_site_states_compact() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- One folder at a time; in read committed only, where the DELETE sees the rows other folders left (under a
    -- snapshot of its own transaction's start it could fail to serialize, failing the write that triggered it).
    IF current_setting('transaction_isolation') <> 'read committed'
       OR NOT pg_try_advisory_xact_lock(hashtextextended('coverage_site_states_compact', 0)) THEN
        RETURN;
    END IF;
    WITH folded AS (DELETE FROM coverage_site_states RETURNING kind, sites, hashes)
    INSERT INTO coverage_site_states (kind, sites, hashes)
    SELECT kind, sum(sites), sum(hashes) FROM folded GROUP BY kind;
END
$$
"""

KEEP = """
CREATE FUNCTION sites_keep_coverage_states() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Each branch reads its own trigger's transition tables (PL/pgSQL plans a statement when it first runs it).
    IF TG_OP = 'INSERT' THEN
        INSERT INTO coverage_site_states (kind, sites, hashes)
        SELECT kind, count(*), sum(site_coverage_hash(n)) FROM added_sites n GROUP BY kind;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO coverage_site_states (kind, sites, hashes)
        SELECT kind, -count(*), -sum(site_coverage_hash(o)) FROM removed_sites o GROUP BY kind;
    ELSE
        INSERT INTO coverage_site_states (kind, sites, hashes)
        SELECT kind, sum(n), sum(h)
        FROM (SELECT n.kind, 1 AS n, site_coverage_hash(n)::numeric AS h FROM new_sites n
              UNION ALL
              SELECT o.kind, -1, -site_coverage_hash(o)::numeric FROM old_sites o) AS changed
        GROUP BY kind
        HAVING sum(n) <> 0 OR sum(h) <> 0;
    END IF;
    IF random() < 1.0 / 64 THEN
        PERFORM coverage_site_states_compact();
    END IF;
    RETURN NULL;
END
$$
"""

FORGET = """
CREATE FUNCTION sites_forget_coverage_states() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM coverage_site_states;
    RETURN NULL;
END
$$
"""

TRIGGERS = (
    "CREATE TRIGGER sites_keep_coverage_states_inserted AFTER INSERT ON public.sites "
    "REFERENCING NEW TABLE AS added_sites FOR EACH STATEMENT EXECUTE FUNCTION sites_keep_coverage_states()",
    "CREATE TRIGGER sites_keep_coverage_states_deleted AFTER DELETE ON public.sites "
    "REFERENCING OLD TABLE AS removed_sites FOR EACH STATEMENT EXECUTE FUNCTION sites_keep_coverage_states()",
    "CREATE TRIGGER sites_keep_coverage_states_updated AFTER UPDATE ON public.sites "
    "REFERENCING OLD TABLE AS old_sites NEW TABLE AS new_sites "
    "FOR EACH STATEMENT EXECUTE FUNCTION sites_keep_coverage_states()",
    "CREATE TRIGGER sites_forget_coverage_states AFTER TRUNCATE ON public.sites "
    "FOR EACH STATEMENT EXECUTE FUNCTION sites_forget_coverage_states()",
)


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE coverage_site_states (
            kind text NOT NULL,
            sites bigint NOT NULL,
            hashes numeric NOT NULL
        )
        """
    )
    # A kind's sums read from the index alone.
    op.execute("CREATE INDEX ix_coverage_site_states_kind ON coverage_site_states (kind) INCLUDE (sites, hashes)")
    op.execute(SITE_COVERAGE_HASH)
    op.execute(COMPACT)
    op.execute(KEEP)
    op.execute(FORGET)
    # The triggers first: creating them locks out writes to sites until this transaction ends, so no write falls
    # between the sums taken here and the first the triggers keep.
    for trigger in TRIGGERS:
        op.execute(trigger)
    op.execute(
        "INSERT INTO coverage_site_states (kind, sites, hashes) "
        "SELECT kind, count(*), sum(site_coverage_hash(s)) FROM sites s GROUP BY kind"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER sites_forget_coverage_states ON public.sites")
    for event in ("inserted", "deleted", "updated"):
        op.execute(f"DROP TRIGGER sites_keep_coverage_states_{event} ON public.sites")
    op.execute("DROP FUNCTION sites_forget_coverage_states()")
    op.execute("DROP FUNCTION sites_keep_coverage_states()")
    op.execute("DROP FUNCTION coverage_site_states_compact()")
    op.execute("DROP FUNCTION site_coverage_hash(sites)")
    op.execute("DROP TABLE coverage_site_states")
