"""SQL for coverage. Geometry is projected per region to a local equal-area plane (the region's
`equal_area_srid`, see migration 0002 and app.geo.local_equal_area); catchments are planar buffers there, areas are
true areas."""

import datetime as dt
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app import geo
from app.coverage.models import PopulationCell
from app.coverage.population import Cell
from app.database.connections import driver_connection, reader_in
from app.database.params import Params
from app.database.read_pool import Reader
from app.sites.repository import serving_on

# --- population cells (writes) --------------------------------------------------------------------------------


async def has_population(conn: AsyncConnection, adcode: str, source: str) -> bool:
    query = select(func.count()).where(PopulationCell.region_adcode == adcode, PopulationCell.source == source)
    return bool((await conn.execute(query)).scalar_one())


async def replace_population(conn: AsyncConnection, adcode: str, source: str, cells: list[Cell]) -> None:
    await conn.execute(delete(PopulationCell).where(PopulationCell.region_adcode == adcode))
    if cells:
        await conn.execute(
            insert(PopulationCell),
            [
                {
                    "region_adcode": adcode,
                    "cell": f"SRID=4326;{c.cell.wkt}",
                    "centroid": f"SRID=4326;{c.centroid.wkt}",
                    "population": c.population,
                    "source": source,
                }
                for c in cells
            ],
        )


@dataclass(frozen=True)
class PopulationRows:
    """One region's modelled cells as EWKB (WGS-84), for a bulk copy."""

    adcode: str
    source: str
    cells: list[bytes]
    centroids: list[bytes]
    population: list[float]


async def regions_with_population(conn: AsyncConnection, adcodes: list[str]) -> set[str]:
    """Which of the regions have population cells, whatever their source."""
    raw = await reader_in(conn)
    rows = await raw.fetch(
        "SELECT adcode FROM unnest($1::text[]) AS adcode "
        "WHERE EXISTS (SELECT 1 FROM population_cells p WHERE p.region_adcode = adcode)",
        adcodes,
    )
    return {row["adcode"] for row in rows}


async def replace_population_bulk(conn: AsyncConnection, regions: list[PopulationRows]) -> None:
    """replace_population for many regions at once: a binary COPY into a staging table, then one insert (all of
    China's counties are millions of cells)."""
    if not regions:
        return
    raw = await driver_connection(conn)
    await raw.execute(
        "CREATE TEMP TABLE IF NOT EXISTS population_cells_staged "
        "(region_adcode text, cell bytea, centroid bytea, population float8, source text) ON COMMIT DROP"
    )
    await raw.execute("TRUNCATE population_cells_staged")
    await raw.copy_records_to_table(
        "population_cells_staged",
        records=(
            (region.adcode, cell, centroid, people, region.source)
            for region in regions
            for cell, centroid, people in zip(region.cells, region.centroids, region.population, strict=True)
        ),
    )
    await raw.execute(
        "DELETE FROM population_cells WHERE region_adcode = ANY($1::text[])", [region.adcode for region in regions]
    )
    await raw.execute(
        "INSERT INTO population_cells (region_adcode, cell, centroid, population, source) "
        "SELECT region_adcode, ST_GeomFromEWKB(cell), ST_GeomFromEWKB(centroid), population, source "
        "FROM population_cells_staged"
    )


# --- reads ----------------------------------------------------------------------------------------------------

REGION_SQL = """
SELECT r.adcode, r.name, r.level, r.parent_adcode, r.is_urban_district, r.population,
       r.equal_area_srid, r.version,
       (SELECT min(p.source) FROM population_cells p WHERE p.region_adcode = r.adcode) AS population_source,
       EXISTS (SELECT 1 FROM regions c WHERE c.parent_adcode = r.adcode) AS has_children
FROM regions r
"""


async def region(reader: Reader, adcode: str) -> asyncpg.Record | None:
    return await reader.fetchrow(REGION_SQL + " WHERE r.adcode = $1", adcode)


async def children(reader: Reader, adcode: str) -> list[asyncpg.Record]:
    return await reader.fetch(REGION_SQL + " WHERE r.parent_adcode = $1 ORDER BY r.adcode", adcode)


async def descendants(reader: Reader, adcode: str) -> list[asyncpg.Record]:
    """Every region under `adcode`, at every depth, in adcode order."""
    return await reader.fetch(
        f"""
WITH RECURSIVE tree AS (
    SELECT adcode FROM regions WHERE parent_adcode = $1
    UNION ALL
    SELECT c.adcode FROM regions c JOIN tree t ON c.parent_adcode = t.adcode
)
{REGION_SQL} WHERE r.adcode IN (SELECT adcode FROM tree) ORDER BY r.adcode
""",
        adcode,
    )


# What every leaf's rule is made of: the kind's rules and the road networks they may be travelled on.
RULES_VERSION_SQL = """
(SELECT md5(coalesce(string_agg(c::text, ',' ORDER BY c.id), '')) FROM coverage_rules c WHERE c.kind = $1)
|| (SELECT md5(coalesce(string_agg(n.id || ':' || n.xmin, ',' ORDER BY n.id), '')) FROM road_networks n)
"""
# What coverage reads of a site, hashed (migration 0025 defines it, and keeps each kind's sums by trigger).
SITE_STATE = "site_coverage_hash(s)"
# A region's version goes up with every visible change (its outline, its class: migration 0013).
REGION_STATE = "hashtextextended(r.adcode || ':' || r.version, 0)"


async def shares_state(reader: Reader, kind: str) -> tuple[str, int]:
    """What a region's kept share depends on beside the register: the kind's rules, and the regions (their last
    change: a county made a district changes its rule, and so its parents' shares)."""
    row = await reader.fetchrow(
        f"SELECT {RULES_VERSION_SQL} AS rules, (SELECT coalesce(max(id), 0) FROM region_changes) AS regions", kind
    )
    assert row is not None
    return row["rules"], int(row["regions"])


def _fingerprints_sql() -> str:
    search_lon, search_lat = geo.degrees_around_sql(
        "l.reach_m", "GREATEST(abs(ST_YMin(r.boundary)), abs(ST_YMax(r.boundary)))"
    )
    return f"""
SELECT l.adcode, {RULES_VERSION_SQL} AS rules, r.version::text AS region,
       count(s.id) AS sites, coalesce(sum({SITE_STATE}), 0)::text AS versions
FROM unnest($2::text[], $3::float8[]) AS l(adcode, reach_m)
JOIN regions r ON r.adcode = l.adcode
LEFT JOIN sites s ON s.kind = $1 AND s.geom && ST_Expand(r.boundary, {search_lon}, {search_lat})
GROUP BY l.adcode, r.version
"""


LEAF_FINGERPRINTS_SQL = _fingerprints_sql()

# The kind's sites' count and hash sum as the triggers of migration 0025 keep them: what hashing every site of the
# kind would give, read from a few index entries (hashing China's 20,000 legal-aid points took ~35 ms a question).
KIND_STATE_SQL = f"""
SELECT {RULES_VERSION_SQL} AS rules,
       (SELECT coalesce(sum({REGION_STATE}), 0) FROM regions r)::text AS regions,
       coalesce(sum(st.sites), 0) AS sites, coalesce(sum(st.hashes), 0)::text AS versions
FROM coverage_site_states st WHERE st.kind = $1
"""


async def leaf_fingerprints(reader: Reader, kind: str, reaches: dict[str, float]) -> dict[str, tuple[str, ...]]:
    """The state of what each leaf region's figures for `kind` are computed from: the kind's rules and the road
    networks, the region's row (its boundary, its class), and every site of the kind within the leaf's reach
    (metres around its boundary's box), whatever its status or dates: their number and a sum of a hash of what
    coverage reads of each (id, version, point, status, dates). A site that leaves the reach changes the number or
    the sum, one that comes in brings its own hash."""
    rows = await reader.fetch(LEAF_FINGERPRINTS_SQL, kind, list(reaches), list(reaches.values()))
    return {row["adcode"]: (row["rules"], row["region"], str(row["sites"]), row["versions"]) for row in rows}


async def kind_state(reader: Reader, kind: str) -> tuple[str, ...]:
    """The state of everything any leaf's figures for `kind` are computed from, read at once (the kind's sites' sums
    kept by trigger, none of the regions' outlines): while it stands, so does every leaf's fingerprint."""
    row = await reader.fetchrow(KIND_STATE_SQL, kind)
    assert row is not None
    return (row["rules"], row["regions"], str(row["sites"]), row["versions"])


async def region_of_point(reader: Reader, lon: float, lat: float) -> str | None:
    value = await reader.fetchval(f"SELECT region_of({geo.point_sql('$1', '$2')})", lon, lat)
    return str(value) if value is not None else None


# The most specific rule of a kind for a region: its own, else the default for its class of region.
RULE_SQL_TEMPLATE = """
SELECT r.radius_m, r.travel_minutes, r.assumed_speed_kmh, r.mode, r.min_sites, r.note,
       CASE WHEN r.region_adcode IS NOT NULL THEN 'region'
            WHEN r.urban_district THEN 'urban_district_default' ELSE 'default' END AS scope
FROM coverage_rules r JOIN regions g ON g.adcode = {adcode}
WHERE r.kind = {kind}
  AND (r.region_adcode = g.adcode OR (r.region_adcode IS NULL AND r.urban_district = g.is_urban_district))
ORDER BY r.region_adcode IS NULL
LIMIT 1
"""
RULE_SQL = RULE_SQL_TEMPLATE.format(adcode="$1", kind="$2")


async def rule(reader: Reader, adcode: str, kind: str) -> asyncpg.Record | None:
    return await reader.fetchrow(RULE_SQL, adcode, kind)


# --- rules (writes) --------------------------------------------------------------------------------------------

# The region's own rule for the kind, made from the rule it inherits when it has none, with min_sites set.
SET_MIN_SITES_SQL = f"""
INSERT INTO coverage_rules (kind, region_adcode, radius_m, travel_minutes, assumed_speed_kmh, mode, min_sites, note)
SELECT :kind, :adcode, r.radius_m, r.travel_minutes, r.assumed_speed_kmh, r.mode, :k, r.note
FROM ({RULE_SQL_TEMPLATE.format(adcode=":adcode", kind=":kind")}) AS r
-- A region with children is evaluated by theirs (a city by its counties): its own rule would change nothing.
WHERE NOT EXISTS (SELECT 1 FROM regions c WHERE c.parent_adcode = :adcode)
ON CONFLICT (kind, region_adcode, urban_district) DO UPDATE SET min_sites = excluded.min_sites
RETURNING id
"""


async def set_min_sites(conn: AsyncConnection, adcode: str, kind: str, k: int) -> bool:
    """Give the region its own rule for `kind` (the inherited one where it has none) asking for `k` sites; False
    when no rule applies to the region or it has children (whose rules apply)."""
    result = await conn.execute(text(SET_MIN_SITES_SQL), {"adcode": adcode, "kind": kind, "k": k})
    return result.first() is not None


async def rules(conn: AsyncConnection) -> list[dict[str, Any]]:
    result = await conn.execute(
        text(
            "SELECT kind, region_adcode, urban_district, radius_m, travel_minutes, assumed_speed_kmh, mode, "
            "min_sites, note FROM coverage_rules ORDER BY kind, region_adcode NULLS FIRST, urban_district"
        )
    )
    return [dict(row._mapping) for row in result]


@dataclass(frozen=True, slots=True)
class Catchments:
    """What every coverage statement is asked about: a region, in its plane, and the sites of a kind serving it on
    a date within a radius."""

    adcode: str
    kind: str
    radius_m: float
    srid: int
    as_of: dt.date
    is_today: bool

    def placed(self, p: Params, extra: list[tuple[float, float]] | None = None) -> "PlacedCatchments":
        """These values, then the what-if sites' longitudes and latitudes, as placeholders of `p`'s statement."""
        extra = extra or []
        return PlacedCatchments(
            p.add(self.adcode),
            p.add(self.kind),
            p.add(self.radius_m),
            p.add(self.srid),
            p.add(self.as_of),
            p.add(self.is_today),
            p.add([lon for lon, _ in extra]),
            p.add([lat for _, lat in extra]),
        )


@dataclass(frozen=True, slots=True)
class PlacedCatchments:
    """A Catchments' placeholders in one statement, what the catchment statements' fragments are written with."""

    adcode: str
    kind: str
    radius_m: str
    srid: str
    as_of: str
    is_today: str
    extra_lons: str
    extra_lats: str


def active_on(kind: str, as_of: str, is_today: str) -> str:
    """Sites of the kind serving on the evaluation date (whether it is today: app.sites.repository.serving_on)."""
    return f"s.kind = {kind} AND {serving_on(as_of, is_today)}"


def catchment_ctes(c: PlacedCatchments, reach_m: str | None = None) -> str:
    """The region, the sites serving it (any within the radius of its boundary, inside or not, plus the what-if
    sites), their catchments; `reached`: the sites serving within `reach_m` (at least the radius; by default the
    radius) of it, among which its worst-served spot is looked for."""
    search_lon, search_lat = geo.degrees_around_sql(
        f"{reach_m or c.radius_m}::float8", "GREATEST(abs(ST_YMin(boundary)), abs(ST_YMax(boundary)))"
    )
    margin = 1 + geo.PLANAR_MARGIN
    # With a reach beyond the radius, the sites within the radius are the reached ones that pass the same test.
    serving = (
        "SELECT id, g FROM reached"
        if reach_m is None
        else f"""SELECT s.id, s.g FROM reached s, region r
    WHERE s.id IS NULL OR ST_DWithin(s.g, r.g, {c.radius_m} * {margin})"""
    )
    return f"""
WITH region AS (
    SELECT boundary, ST_Transform(boundary, {c.srid}::int) AS g,
           -- The boundary's box grown by the reach, in degrees (a metre of longitude shrinks with latitude), to
           -- find candidate sites with the GiST index before measuring them in the plane.
           ST_Expand(boundary, {search_lon}, {search_lat}) AS search_box
    FROM regions WHERE adcode = {c.adcode}
), nearby AS MATERIALIZED (
    -- Candidates by the GiST index alone, the kind tested on the rows it finds: ANDed with the kind's index (the
    -- plan PostgreSQL chose when it knew the box) the bitmap of every site of the kind costs more than the few
    -- hundred sites of other kinds in the box. The box comes from a CTE, so the plan is the GiST scan.
    SELECT s.id, s.geom, s.kind, s.status, s.opened_on, s.closed_on, s.deleted_at, s.region_adcode
    FROM sites s, region r WHERE s.geom && r.search_box AND s.kind = {c.kind}
), reached AS (
    SELECT s.id, ST_Transform(s.geom, {c.srid}::int) AS g
    FROM nearby s, region r
    -- Planar distance in the region's plane, generous by the planar margin: a site whose circle stops short of the
    -- region adds nothing, while a geodesic distance to a boundary of thousands of vertices costs ~0.5 ms a site.
    WHERE {active_on(c.kind, c.as_of, c.is_today)}
      AND ST_DWithin(ST_Transform(s.geom, {c.srid}::int), r.g, {reach_m or c.radius_m} * {margin})
    UNION ALL
    SELECT NULL, ST_Transform({geo.point_sql("x", "y")}, {c.srid}::int)
    FROM unnest({c.extra_lons}::float8[], {c.extra_lats}::float8[]) AS extra(x, y)
), serving AS (
    {serving}
), catchment AS (
    -- One buffer of all the points: GEOS builds their union at once, faster than a union of a circle each.
    SELECT ST_Buffer(ST_Collect(g), {c.radius_m}, 16) AS g FROM serving
)
"""


def cells_cte(c: PlacedCatchments) -> str:
    """The region's population cells, each covered or not.

    A cell is covered when its centroid is within the radius of a serving site (the rule itself, not the polygon
    approximation of the catchment; also ~50× faster than point-in-polygon tests), measured against the serving
    sites collected into one geometry: one call a cell, not one a (cell, site) pair. MATERIALIZED: referenced once
    (gaps), PostgreSQL would inline it and redo the test for every (part, cell) pair.
    """
    return f"""
, serving_points AS (SELECT ST_Collect(g) AS g FROM serving)
, cells AS MATERIALIZED (
    SELECT p.population, p.centroid, p.cell, p.g, coalesce(ST_DWithin(p.g, sp.g, {c.radius_m}), false) AS covered
    FROM (SELECT population, centroid, cell, ST_Transform(centroid, {c.srid}::int) AS g
          FROM population_cells WHERE region_adcode = {c.adcode}) AS p,
         serving_points sp
)
"""


def people_cte(c: PlacedCatchments) -> str:
    """The region's people and those covered (by cells_cte's rule), summed in one pass over its cells."""
    return f"""
, serving_points AS (SELECT ST_Collect(g) AS g FROM serving)
, people AS (
    SELECT coalesce(sum(p.population), 0) AS cells_population,
           coalesce(sum(p.population) FILTER (
               WHERE ST_DWithin(ST_Transform(p.centroid, {c.srid}::int), sp.g, {c.radius_m})), 0) AS covered_population
    FROM population_cells p, serving_points sp
    WHERE p.region_adcode = {c.adcode}
)
"""


def _coverage_columns(c: PlacedCatchments) -> str:
    return f"""ST_Area(r.g) / 1e6 AS area_km2,
       CASE WHEN c.g IS NULL THEN 0 ELSE ST_Area(ST_Intersection(r.g, c.g)) END / 1e6 AS covered_area_km2,
       (SELECT cells_population FROM people) AS cells_population,
       (SELECT covered_population FROM people) AS covered_population,
       -- The region's own sites are among those near it.
       (SELECT count(*) FROM nearby s WHERE {active_on(c.kind, c.as_of, c.is_today)} AND s.region_adcode = {c.adcode})
       AS site_count"""


def _coverage_sql(c: PlacedCatchments) -> str:
    return catchment_ctes(c) + people_cte(c) + f"SELECT {_coverage_columns(c)} FROM region r, catchment c"


def _coverage_and_worst_served_sql(c: PlacedCatchments, reach_m: str) -> str:
    return (
        catchment_ctes(c, reach_m)
        + people_cte(c)
        + SEARCHED_CTE
        + f"SELECT {_coverage_columns(c)}, {_searched_columns(c)} FROM region r, catchment c, searched"
    )


def _gaps_sql(c: PlacedCatchments, min_area_m2: str) -> str:
    return (
        catchment_ctes(c)
        + f"""
, parts AS (
    SELECT (ST_Dump(CASE WHEN c.g IS NULL THEN r.g ELSE ST_Difference(r.g, c.g) END)).geom AS g
    FROM region r, catchment c
)
SELECT ST_AsGeoJSON(ST_Transform(parts.g, 4326), 6)::jsonb AS geometry,
       ST_AsBinary(ST_Transform(parts.g, 4326)) AS wkb, ST_Area(parts.g) / 1e6 AS area_km2
FROM parts
WHERE ST_Area(parts.g) >= {min_area_m2}
ORDER BY ST_Area(parts.g) DESC
"""
    )


# Uncovered cells, to be assigned to gap parts by the service: a point-in-polygon test against a whole gap
# (thousands of vertices) costs PostGIS ~0.3 ms a cell here, GEOS prepared geometries (shapely) microseconds.
def _uncovered_cells_sql(c: PlacedCatchments) -> str:
    area_km2 = f"ST_Area(ST_Transform(cell, {c.srid}::int)) / 1e6"
    return (
        catchment_ctes(c)
        + cells_cte(c)
        + f"""
SELECT ST_X(centroid) AS lon, ST_Y(centroid) AS lat, population, {area_km2} AS area_km2
FROM cells WHERE NOT covered
"""
    )


# The sites a worst-served search reached, in the region's plane and in WGS-84, with the region in its plane: the
# spot is found from them in Python (app.coverage.spots), where GEOS works on the Voronoi diagram without a trip
# through PostGIS's own format for each cell and most cells are never cut by the region, and is taken back to
# WGS-84 there, so a statement needs one transformation per plane ready in its server process, of the 128 PostGIS
# keeps.
SEARCHED_CTE = """
, searched AS (
    SELECT array_agg(s.id ORDER BY s.id) AS ids, array_agg(ST_X(s.g) ORDER BY s.id) AS xs,
           array_agg(ST_Y(s.g) ORDER BY s.id) AS ys, array_agg(ST_X(n.geom) ORDER BY s.id) AS lons,
           array_agg(ST_Y(n.geom) ORDER BY s.id) AS lats
    FROM reached s JOIN nearby n ON n.id = s.id
)
"""


def _searched_columns(c: PlacedCatchments) -> str:
    return f"""ST_AsBinary(r.g) AS region_plane,
       (SELECT proj4text FROM spatial_ref_sys WHERE srid = {c.srid}::int) AS plane,
       searched.ids, searched.xs, searched.ys, searched.lons, searched.lats"""


def _searched_sql(c: PlacedCatchments) -> str:
    return catchment_ctes(c) + SEARCHED_CTE + f"SELECT {_searched_columns(c)} FROM region r, searched"


def _serving_sql(c: PlacedCatchments) -> str:
    return (
        catchment_ctes(c)
        + """
SELECT v.id, s.region_adcode, ST_X(v.g) AS x, ST_Y(v.g) AS y,
       ST_X(ST_Transform(v.g, 4326)) AS lon, ST_Y(ST_Transform(v.g, 4326)) AS lat
FROM serving v LEFT JOIN sites s ON s.id = v.id
ORDER BY v.id NULLS LAST
"""
    )


# What a covered area (a geometry in the region's plane, built by app.coverage.covered) leaves: the same figures,
# gaps and uncovered cells as the single-radius statements above. The cells' people count where their centroid is
# covered, as there.
def _covered_figures_sql(adcode: str, covered_wkb: str, srid: str, active: str) -> str:
    centroid = f"ST_Transform(p.centroid, {srid}::int)"
    return f"""
WITH region AS (SELECT ST_Transform(boundary, {srid}::int) AS g FROM regions WHERE adcode = {adcode}),
covered AS (SELECT ST_GeomFromWKB({covered_wkb}, {srid}::int) AS g)
SELECT ST_Area(r.g) / 1e6 AS area_km2,
       ST_Area(ST_Intersection(r.g, c.g)) / 1e6 AS covered_area_km2,
       (SELECT coalesce(sum(population), 0) FROM population_cells WHERE region_adcode = {adcode}) AS cells_population,
       (SELECT coalesce(sum(p.population), 0) FROM population_cells p
        WHERE p.region_adcode = {adcode} AND ST_Covers(c.g, {centroid})) AS covered_population,
       (SELECT count(*) FROM sites s WHERE {active} AND s.region_adcode = {adcode}) AS site_count
FROM region r, covered c
"""


COVERED_GAPS_SQL = """
WITH parts AS (
    SELECT (ST_Dump(ST_Difference(ST_Transform(r.boundary, $3::int), ST_GeomFromWKB($2, $3::int)))).geom AS g
    FROM regions r WHERE r.adcode = $1
)
SELECT ST_AsGeoJSON(ST_Transform(g, 4326), 6)::jsonb AS geometry, ST_AsBinary(ST_Transform(g, 4326)) AS wkb,
       ST_Area(g) / 1e6 AS area_km2
FROM parts
WHERE ST_Area(g) >= $4
ORDER BY ST_Area(g) DESC
"""

COVERED_UNCOVERED_CELLS_SQL = """
SELECT ST_X(p.centroid) AS lon, ST_Y(p.centroid) AS lat, p.population,
       ST_Area(ST_Transform(p.cell, $3::int)) / 1e6 AS area_km2
FROM population_cells p
WHERE p.region_adcode = $1 AND NOT ST_Covers(ST_GeomFromWKB($2, $3::int), ST_Transform(p.centroid, $3::int))
"""

# Where the worst-served place is looked for when it cannot be found exactly: the region's boundary vertices and
# its population cells' centroids, in the plane and in WGS-84.
SAMPLE_POINTS_SQL = """
WITH points AS (
    SELECT (ST_DumpPoints(boundary)).geom AS p FROM regions WHERE adcode = $1
    UNION ALL
    SELECT centroid FROM population_cells WHERE region_adcode = $1
)
SELECT ST_X(p) AS lon, ST_Y(p) AS lat, ST_X(ST_Transform(p, $2::int)) AS x, ST_Y(ST_Transform(p, $2::int)) AS y
FROM points
"""


async def coverage(reader: Reader, of: Catchments, extra: list[tuple[float, float]] | None = None) -> asyncpg.Record:
    """Area, covered area, people and covered people, site count; `extra` adds what-if sites."""
    p = Params()
    row = await reader.fetchrow(_coverage_sql(of.placed(p, extra)), *p.values)
    assert row is not None
    return row


async def coverage_and_worst_served(reader: Reader, asked: list[tuple[Catchments, float]]) -> dict[str, asyncpg.Record]:
    """coverage() and worst_served() with a search distance (at least the radius) in one statement, for each of
    several regions of one kind on one date (by adcode; a region gone meanwhile is left out): each region, the sites
    near it and their points in its plane found once, and the statement planned once for them all (planning is a
    fifth of a county's cost)."""
    first = asked[0][0]
    assert all((of.kind, of.as_of, of.is_today) == (first.kind, first.as_of, first.is_today) for of, _ in asked)
    p = Params()
    kind, as_of, is_today, no_extra = p.add(first.kind), p.add(first.as_of), p.add(first.is_today), p.add([])
    adcodes, srids = p.add([of.adcode for of, _ in asked]), p.add([of.srid for of, _ in asked])
    radii, searches = p.add([of.radius_m for of, _ in asked]), p.add([search for _, search in asked])
    placed = PlacedCatchments("leaf.adcode", kind, "leaf.radius_m", "leaf.srid", as_of, is_today, no_extra, no_extra)
    query = f"""
SELECT leaf.adcode AS leaf_adcode, found.*
FROM unnest({adcodes}::text[], {srids}::int[], {radii}::float8[], {searches}::float8[])
     AS leaf(adcode, srid, radius_m, search_m)
CROSS JOIN LATERAL ({_coverage_and_worst_served_sql(placed, "leaf.search_m")}) AS found
"""
    return {row["leaf_adcode"]: row for row in await reader.fetch(query, *p.values)}


async def serving_sites(
    reader: Reader, of: Catchments, extra: list[tuple[float, float]] | None = None
) -> list[asyncpg.Record]:
    """The sites serving the region within `of.radius_m` (then the what-if sites, id NULL): plane and WGS-84."""
    p = Params()
    return await reader.fetch(_serving_sql(of.placed(p, extra)), *p.values)


async def covered_figures(reader: Reader, of: Catchments, covered_wkb: bytes) -> asyncpg.Record:
    """coverage() for a covered area given as a geometry in the region's plane."""
    p = Params()
    adcode, kind, wkb, srid = p.add(of.adcode), p.add(of.kind), p.add(covered_wkb), p.add(of.srid)
    active = active_on(kind, p.add(of.as_of), p.add(of.is_today))
    row = await reader.fetchrow(_covered_figures_sql(adcode, wkb, srid, active), *p.values)
    assert row is not None
    return row


async def covered_gaps(reader: Reader, of: Catchments, covered_wkb: bytes, min_area_m2: float) -> list[asyncpg.Record]:
    return await reader.fetch(COVERED_GAPS_SQL, of.adcode, covered_wkb, of.srid, min_area_m2)


async def covered_uncovered_cells(reader: Reader, of: Catchments, covered_wkb: bytes) -> list[asyncpg.Record]:
    return await reader.fetch(COVERED_UNCOVERED_CELLS_SQL, of.adcode, covered_wkb, of.srid)


async def sample_points(reader: Reader, of: Catchments) -> list[asyncpg.Record]:
    return await reader.fetch(SAMPLE_POINTS_SQL, of.adcode, of.srid)


async def gaps(reader: Reader, of: Catchments, min_area_m2: float) -> list[asyncpg.Record]:
    p = Params()
    placed = of.placed(p)
    return await reader.fetch(_gaps_sql(placed, p.add(min_area_m2)), *p.values)


async def uncovered_cells(reader: Reader, of: Catchments) -> list[asyncpg.Record]:
    p = Params()
    return await reader.fetch(_uncovered_cells_sql(of.placed(p)), *p.values)


async def sites_searched(reader: Reader, of: Catchments) -> asyncpg.Record | None:
    """The region in its plane and the sites within `of.radius_m` of it (the search distance), for
    app.coverage.spots; None: no such region."""
    p = Params()
    return await reader.fetchrow(_searched_sql(of.placed(p)), *p.values)


async def register_state(reader: Reader) -> tuple[int, int | None]:
    """Which state of the register an answer is for: its last change (ids only grow, so a change rolled back is
    never matched again; a feed entry that only says a site's rating or star level changed is not one), and the
    transaction's own id once it has written (its uncommitted changes are its own)."""
    row = await reader.fetchrow(
        "SELECT coalesce(max(id), 0) AS change, txid_current_if_assigned() AS txid FROM site_changes "
        "WHERE register_changed"
    )
    assert row is not None
    return int(row["change"]), row["txid"]


async def projection(reader: Reader, srid: int) -> str:
    """The PROJ string of a region's equal-area SRID, for the same plane in Python."""
    return str(await reader.fetchval("SELECT proj4text FROM spatial_ref_sys WHERE srid = $1", srid))


async def within_reach(reader: Reader, adcode: str, lon: float, lat: float, radius_m: float) -> bool:
    """Whether a site at (lon, lat) would reach into the region at all."""
    return bool(
        await reader.fetchval(
            f"SELECT ST_DWithin(boundary::geography, {geo.point_sql('$2', '$3', geography=True)}, $4) "
            "FROM regions WHERE adcode = $1",
            adcode,
            lon,
            lat,
            radius_m,
        )
    )
