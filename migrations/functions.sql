-- The schema's functions and triggers as they stand at the migration head: the current definition of each, in one
-- place, instead of spread over the migrations that created and redefined them.
--
-- tests/test_migrations_functions.py checks this file against a database migrated to head: the same functions and
-- triggers, each function's body and signature, each trigger exactly as pg_get_triggerdef prints it. This file is
-- for reading, not for running: a schema change still goes through a new migration, which must update this file
-- too (the test fails until it does).

-- ============================================================================================================
-- Functions
-- ============================================================================================================

-- regions ----------------------------------------------------------------------------------------------------

-- The region a point lies in, from which each site's region is derived (the deepest region covering it).
CREATE OR REPLACE FUNCTION region_of(point geometry) RETURNS varchar(6)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    -- the deepest region whose boundary covers the point (a county before its city), deepest level asked first
    SELECT coalesce(
        (SELECT adcode FROM regions WHERE level = 'county' AND ST_Covers(boundary, point) ORDER BY adcode LIMIT 1),
        (SELECT adcode FROM regions WHERE level = 'city' AND ST_Covers(boundary, point) ORDER BY adcode LIMIT 1),
        (SELECT adcode FROM regions WHERE level = 'province' AND ST_Covers(boundary, point) ORDER BY adcode LIMIT 1),
        (SELECT adcode FROM regions WHERE level = 'country' AND ST_Covers(boundary, point) ORDER BY adcode LIMIT 1)
    )
$$;

-- Sites' regions are kept in step when a boundary changes (or a region is added or removed): only the sites inside
-- the box of an outline that came, went or moved, before or after, can change region.
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
$$;

-- Each region gets a spatial_ref_sys entry for a Lambert azimuthal equal-area projection centred on it (the same
-- PROJ string as app.geo.local_equal_area): PostGIS caches projections by SRID, not by PROJ string. The plane is
-- also written as WKT, with no authority code: PostGIS readies it in milliseconds (migration 0014).
CREATE OR REPLACE FUNCTION regions_register_equal_area() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    lat text := to_char(ST_Y(ST_Centroid(NEW.boundary)), 'FM990.000000');
    lon text := to_char(ST_X(ST_Centroid(NEW.boundary)), 'FM990.000000');
BEGIN
    IF NEW.equal_area_srid IS NULL THEN
        NEW.equal_area_srid := nextval('region_equal_area_srid');
    END IF;
    INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text)
    VALUES (
        NEW.equal_area_srid, 'yizhan', NULL, format('PROJCS["yizhan region plane",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4326"]],PROJECTION["Lambert_Azimuthal_Equal_Area"],PARAMETER["latitude_of_center",%s],PARAMETER["longitude_of_center",%s],PARAMETER["false_easting",0],PARAMETER["false_northing",0],UNIT["metre",1,AUTHORITY["EPSG","9001"]],AXIS["Easting",EAST],AXIS["Northing",NORTH]]', lat, lon),
        format('+proj=laea +lat_0=%s +lon_0=%s +datum=WGS84 +units=m +no_defs', lat, lon)
    )
    ON CONFLICT (srid) DO UPDATE
        SET auth_srid = EXCLUDED.auth_srid, srtext = EXCLUDED.srtext, proj4text = EXCLUDED.proj4text;
    RETURN NEW;
END
$$;

-- A region as its history records it (before/after as JSON, the seat as GeoJSON); the outline is kept apart, and
-- derived columns are left out.
CREATE OR REPLACE FUNCTION region_document(r regions) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT (to_jsonb(r) - 'boundary' - 'seat' - 'equal_area_srid' - 'version')
           || jsonb_build_object('seat', CASE WHEN r.seat IS NULL THEN NULL
                                              ELSE ST_AsGeoJSON(r.seat, 6)::jsonb END)
$$;

-- A region's version goes up with every visible change, so answers kept for a region name the version they are for.
CREATE OR REPLACE FUNCTION regions_count_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF region_document(NEW) IS DISTINCT FROM region_document(OLD)
       OR ST_AsBinary(NEW.boundary) IS DISTINCT FROM ST_AsBinary(OLD.boundary) THEN
        NEW.version := OLD.version + 1;
    END IF;
    RETURN NEW;
END
$$;

-- Every insert, visible update or delete of a region writes a region_changes row (who: the yizhan.actor setting),
-- with the outline it replaced when the outline changed (the current outline is the region's own); a deletion
-- whose code a replacement in the same transaction retires (region_replacements) is written as `replaced`, naming
-- the successor.
CREATE OR REPLACE FUNCTION regions_record_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    outline_changed boolean := false;
    successor varchar(6);
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.version = OLD.version THEN
            RETURN NULL;  -- nothing anyone could see changed (regions_count_version)
        END IF;
        outline_changed := ST_AsBinary(NEW.boundary) IS DISTINCT FROM ST_AsBinary(OLD.boundary);
    ELSIF TG_OP = 'DELETE' THEN
        SELECT replaced_by INTO successor FROM region_replacements
        WHERE adcode = OLD.adcode AND txid = pg_current_xact_id();
    END IF;
    INSERT INTO region_changes (adcode, action, version, actor, before, after, boundary_before, replaced_by)
    VALUES (
        coalesce(NEW.adcode, OLD.adcode),
        CASE WHEN successor IS NOT NULL THEN 'replaced'
             ELSE CASE TG_OP WHEN 'INSERT' THEN 'created' WHEN 'DELETE' THEN 'deleted' ELSE 'updated' END END,
        coalesce(NEW.version, OLD.version),
        coalesce(nullif(current_setting('yizhan.actor', true), ''), session_user),
        CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE region_document(OLD) END,
        CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE region_document(NEW) END,
        CASE WHEN TG_OP = 'DELETE' OR outline_changed THEN OLD.boundary END,
        successor
    );
    RETURN NULL;
END
$$;

-- Half a Web Mercator pixel (of a 256-pixel tile) at a zoom: how far a region's outline for that zoom may stray from
-- its boundary (migration 0017).
CREATE OR REPLACE FUNCTION outline_tolerance_m(zoom integer) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 0.5 * 2 * pi() * 6378137 / 256 / 2 ^ zoom
$$;

-- A region's outlines for the map's zooms 0 to 8 (region_outlines), written again whenever its boundary is.
CREATE OR REPLACE FUNCTION regions_write_outlines() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM region_outlines WHERE adcode = NEW.adcode;
    INSERT INTO region_outlines (adcode, zoom, outline)
    SELECT NEW.adcode, z, ST_Multi(ST_Simplify(m.outline, outline_tolerance_m(z), true))
    FROM (SELECT ST_Transform(NEW.boundary, 3857) AS outline) AS m, generate_series(0, 8) AS z;
    RETURN NULL;
END
$$;

-- sites ------------------------------------------------------------------------------------------------------

-- A site's region is derived from its location by the boundaries, by trigger, whenever the site is written or moves.
CREATE OR REPLACE FUNCTION sites_derive_region() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.region_adcode := region_of(NEW.location::geometry);
    RETURN NEW;
END
$$;

-- A site as the history records it (before/after as JSON with lon/lat); derived columns are left out.
CREATE OR REPLACE FUNCTION site_document(s sites) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT (to_jsonb(s) - 'location' - 'geom' - 'gcj02_lon' - 'gcj02_lat' - 'access_reported' - 'opening_hours_id')
           || jsonb_build_object('lon', ST_X(s.location::geometry), 'lat', ST_Y(s.location::geometry))
$$;

-- Every insert or visible update of a site writes a site_changes row (who: the yizhan.actor setting), so no write
-- path can skip the history; the same rows are the partners' change feed.
CREATE OR REPLACE FUNCTION sites_record_change() RETURNS trigger
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
$$;

-- A write that moves location without the GCJ-02 point (which the application writes) clears it rather than leave
-- a stale point; readers convert on the fly then.
CREATE OR REPLACE FUNCTION sites_clear_stale_gcj02() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.gcj02_lon := NULL;
    NEW.gcj02_lat := NULL;
    RETURN NEW;
END
$$;

-- Each distinct opening-hours string is numbered (opening_hours_expressions), so the nearest query can pre-filter by
-- "open now" inside its index scan; a site's opening_hours_id is kept by trigger on every write path.
CREATE OR REPLACE FUNCTION sites_number_opening_hours() RETURNS trigger
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
$$;

-- What coverage reads of a site, hashed: each kind's sums of it are kept by the triggers below, and the leaves'
-- fingerprints sum it over the sites around them.
CREATE OR REPLACE FUNCTION site_coverage_hash(s sites) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- What coverage reads of a site: a write through the service raises the version, a plain SQL one changes the
    -- fields; a change coverage does not read (a name, the region the site is filed under) changes nothing. Each
    -- field hashed by its type's hash, the point by its bytes.
    SELECT hash_record_extended(ROW(s.id, s.version, s.geom::bytea, s.status, s.opened_on, s.closed_on,
                                    s.deleted_at), 0)
$$;

-- Folds each kind's coverage_site_states rows into one.
CREATE OR REPLACE FUNCTION coverage_site_states_compact() RETURNS void
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
$$;

-- Each statement on sites adds, per kind, the count and hash sum of the rows it wrote less those it replaced.
CREATE OR REPLACE FUNCTION sites_keep_coverage_states() RETURNS trigger
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
$$;

-- TRUNCATE sites: no site left, no sums.
CREATE OR REPLACE FUNCTION sites_forget_coverage_states() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM coverage_site_states;
    RETURN NULL;
END
$$;

-- site_reports -----------------------------------------------------------------------------------------------

-- sites.access_reported (an open report that workers could not get in, for the nearest query's ranking) is
-- recomputed from the reports whenever one is filed, re-typed, moved or resolved, so it cannot drift.
CREATE OR REPLACE FUNCTION site_reports_flag_site() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- NEW is NULL on DELETE, OLD on INSERT; a report moved to another site updates both.
    UPDATE sites s SET access_reported = EXISTS (
        SELECT 1 FROM site_reports r
        WHERE r.site_id = s.id AND r.status = 'open' AND r.type IN ('closed', 'locked', 'needs_app', 'moved')
    )
    WHERE s.id IN (NEW.site_id, OLD.site_id) AND s.access_reported IS DISTINCT FROM EXISTS (
        SELECT 1 FROM site_reports r
        WHERE r.site_id = s.id AND r.status = 'open' AND r.type IN ('closed', 'locked', 'needs_app', 'moved')
    );
    RETURN NULL;
END
$$;

-- site_visits ------------------------------------------------------------------------------------------------

-- Raw visits are partitioned by month (China time); whatever writes a visit of a month makes sure that month's and
-- the next month's partitions exist first (app.visits.service), so no insert fails for a missing partition.
CREATE OR REPLACE FUNCTION site_visits_make_partitions(at timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    first_month timestamp := date_trunc('month', at AT TIME ZONE 'Asia/Shanghai');
    month_start timestamp;
    partition_name text;
BEGIN
    -- Two first visits of a month must not both create its partition.
    PERFORM pg_advisory_xact_lock(hashtext('site_visits_make_partitions'));
    FOR ahead IN 0..1 LOOP
        month_start := first_month + make_interval(months => ahead);
        partition_name := 'site_visits_' || to_char(month_start, 'YYYY_MM');
        IF to_regclass(partition_name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF site_visits FOR VALUES FROM (%L) TO (%L)',
                partition_name,
                month_start AT TIME ZONE 'Asia/Shanghai',
                (month_start + interval '1 month') AT TIME ZONE 'Asia/Shanghai'
            );
        END IF;
    END LOOP;
END
$$;

-- Raw visits are kept for a retention (Settings.visits_retention_months): the partitions of whole months before
-- `before`, which the drop takes and its dry run lists.
CREATE OR REPLACE FUNCTION site_visits_partitions_before(before timestamptz) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    -- The partitions of whole months before the China month of `before` (their names, site_visits_YYYY_MM, sort by
    -- month).
    SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'site_visits'::regclass
      AND c.relname < 'site_visits_' || to_char(date_trunc('month', before AT TIME ZONE 'Asia/Shanghai'), 'YYYY_MM')
    ORDER BY c.relname
$$;

CREATE OR REPLACE FUNCTION site_visits_drop_partitions(before timestamptz) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    partition_name text;
BEGIN
    FOR partition_name IN SELECT site_visits_partitions_before(before) LOOP
        EXECUTE format('DROP TABLE %I', partition_name);
        RETURN NEXT partition_name;
    END LOOP;
END
$$;

-- ============================================================================================================
-- Triggers, as pg_get_triggerdef prints them (so `IS NOT DISTINCT FROM` reads `NOT (... IS DISTINCT FROM ...)`)
-- ============================================================================================================

-- regions ----------------------------------------------------------------------------------------------------

CREATE TRIGGER regions_rederive_sites_inserted AFTER INSERT ON public.regions
    REFERENCING NEW TABLE AS added_regions FOR EACH STATEMENT EXECUTE FUNCTION regions_rederive_sites();

CREATE TRIGGER regions_rederive_sites_deleted AFTER DELETE ON public.regions
    REFERENCING OLD TABLE AS removed_regions FOR EACH STATEMENT EXECUTE FUNCTION regions_rederive_sites();

CREATE TRIGGER regions_rederive_sites_updated AFTER UPDATE ON public.regions
    REFERENCING OLD TABLE AS old_regions NEW TABLE AS new_regions
    FOR EACH STATEMENT EXECUTE FUNCTION regions_rederive_sites();

CREATE TRIGGER regions_count_version BEFORE UPDATE ON public.regions
    FOR EACH ROW EXECUTE FUNCTION regions_count_version();

CREATE TRIGGER regions_record_change AFTER INSERT OR DELETE OR UPDATE ON public.regions
    FOR EACH ROW EXECUTE FUNCTION regions_record_change();

CREATE TRIGGER regions_register_equal_area BEFORE INSERT OR UPDATE OF boundary ON public.regions
    FOR EACH ROW EXECUTE FUNCTION regions_register_equal_area();

CREATE TRIGGER regions_outlines_inserted AFTER INSERT ON public.regions
    FOR EACH ROW EXECUTE FUNCTION regions_write_outlines();

CREATE TRIGGER regions_outlines_updated AFTER UPDATE OF boundary ON public.regions
    FOR EACH ROW WHEN ((st_asbinary(old.boundary) IS DISTINCT FROM st_asbinary(new.boundary)))
    EXECUTE FUNCTION regions_write_outlines();

-- sites ------------------------------------------------------------------------------------------------------

CREATE TRIGGER sites_derive_region BEFORE INSERT OR UPDATE OF location, region_adcode ON public.sites
    FOR EACH ROW EXECUTE FUNCTION sites_derive_region();

CREATE TRIGGER sites_record_change AFTER INSERT OR UPDATE ON public.sites
    FOR EACH ROW EXECUTE FUNCTION sites_record_change();

CREATE TRIGGER sites_clear_stale_gcj02 BEFORE UPDATE ON public.sites
    FOR EACH ROW
    WHEN (((st_asbinary(new.location) IS DISTINCT FROM st_asbinary(old.location))
        AND (NOT (new.gcj02_lon IS DISTINCT FROM old.gcj02_lon))
        AND (NOT (new.gcj02_lat IS DISTINCT FROM old.gcj02_lat))))
    EXECUTE FUNCTION sites_clear_stale_gcj02();

CREATE TRIGGER sites_number_opening_hours_on_insert BEFORE INSERT ON public.sites
    FOR EACH ROW EXECUTE FUNCTION sites_number_opening_hours();

CREATE TRIGGER sites_number_opening_hours_on_update BEFORE UPDATE ON public.sites
    FOR EACH ROW
    WHEN (((new.opening_hours IS DISTINCT FROM old.opening_hours)
        OR (new.opening_hours_id IS DISTINCT FROM old.opening_hours_id)))
    EXECUTE FUNCTION sites_number_opening_hours();

CREATE TRIGGER sites_keep_coverage_states_inserted AFTER INSERT ON public.sites
    REFERENCING NEW TABLE AS added_sites FOR EACH STATEMENT EXECUTE FUNCTION sites_keep_coverage_states();

CREATE TRIGGER sites_keep_coverage_states_deleted AFTER DELETE ON public.sites
    REFERENCING OLD TABLE AS removed_sites FOR EACH STATEMENT EXECUTE FUNCTION sites_keep_coverage_states();

CREATE TRIGGER sites_keep_coverage_states_updated AFTER UPDATE ON public.sites
    REFERENCING OLD TABLE AS old_sites NEW TABLE AS new_sites
    FOR EACH STATEMENT EXECUTE FUNCTION sites_keep_coverage_states();

CREATE TRIGGER sites_forget_coverage_states AFTER TRUNCATE ON public.sites
    FOR EACH STATEMENT EXECUTE FUNCTION sites_forget_coverage_states();

-- site_reports -----------------------------------------------------------------------------------------------

CREATE TRIGGER site_reports_flag_site AFTER INSERT OR DELETE OR UPDATE OF site_id, type, status ON public.site_reports
    FOR EACH ROW EXECUTE FUNCTION site_reports_flag_site();
