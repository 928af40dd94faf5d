"""SQL of the vector tiles: Mapbox Vector Tiles made by PostGIS (ST_AsMVT) in Web Mercator z/x/y.

Each statement bounds its scan by the tile's envelope transformed to WGS-84 (the constant, never the indexed
column), so the GiST index on the lon/lat twin serves it. Parameters: $1 z, $2 x, $3 y, $4/$5 the shift of the
tile's datum from WGS-84 in Web Mercator metres (0, 0 for WGS-84; see app.tiles.service.Tile.shift), then each
statement's own.
"""

import datetime as dt

from app import geo
from app.database.read_pool import Reader
from app.sites import trust
from app.sites.repository import serving_on, serving_today

# z, x, y and the shift of the tile's datum (app.tiles.service.Tile.key): every statement's first parameters.
TileKey = tuple[int, int, int, float, float]
EXTENT = 4096  # tile units per side, MVT's default
BUFFER = 64  # units drawn past the edge so that symbols and lines do not clip at tile seams
_TILE = "ST_TileEnvelope($1, $2, $3)"
# The tile with its buffer, moved back from its datum to WGS-84: what a scan is bounded by.
_BUFFERED = f"ST_TileEnvelope($1, $2, $3, margin => {BUFFER / EXTENT})"
_SEARCH = f"ST_Transform(ST_Translate({_BUFFERED}, -$4::float8, -$5::float8), 4326)"


def _geometry(expression_4326: str) -> str:
    shifted = f"ST_Translate(ST_Transform({expression_4326}, 3857), $4::float8, $5::float8)"
    return f"ST_AsMVTGeom({shifted}, {_TILE}, {EXTENT}, {BUFFER}, true)"


def _serving(first: int, is_today: bool) -> str:
    return serving_today(f"${first}::date") if is_today else serving_on(f"${first}::date", f"${first + 1}::boolean")


def _serving_args(as_of: dt.date, is_today: bool) -> list[object]:
    return [as_of] if is_today else [as_of, False]


def _of_kinds(n: int, by_kind: bool) -> str:
    """The kinds filter on ${n}, written only when the tile asks for kinds: `(${n} IS NULL OR …)` would be planned
    as an OR in a generic plan (the statement's plan after five runs)."""
    return f"AND s.kind = ANY(${n}::text[])" if by_kind else ""


# One point per site: what a planner clicks (id, name, kind, status, access, the trust flags).
# Parameters: $6 kinds (with by_kind), then the date the sites serve on.
def _sites_sql(is_today: bool, by_kind: bool) -> str:
    first = 7 if by_kind else 6
    return f"""
SELECT ST_AsMVT(t, 'sites', {EXTENT}, 'geom', 'id') FROM (
    SELECT s.id, s.kind, s.name, s.status, s.access,
           {trust.ACCESS_REPORTED_SQL} AS access_reported, {trust.UNVERIFIED_SQL} AS unverified,
           {_geometry("s.geom")} AS geom
    FROM sites s
    WHERE s.geom && {_SEARCH} {_of_kinds(6, by_kind)} AND {_serving(first, is_today)}
) AS t WHERE t.geom IS NOT NULL
"""


# At low zooms, sites counted per grid cell and kind (each kind keeps its own points, so none disappears under
# another): a cell is $6 degrees square; the point is the cell's sites' mean position. $7 kinds (with by_kind), then
# the date.
def _site_counts_sql(is_today: bool, by_kind: bool) -> str:
    first = 8 if by_kind else 7
    return f"""
SELECT ST_AsMVT(t, 'sites', {EXTENT}, 'geom') FROM (
    SELECT c.kind, c.count, {_geometry(geo.point_sql("c.lon", "c.lat"))} AS geom
    FROM (
        SELECT s.kind, count(*) AS count, avg(ST_X(s.geom)) AS lon, avg(ST_Y(s.geom)) AS lat
        FROM sites s
        WHERE s.geom && {_SEARCH} {_of_kinds(7, by_kind)} AND {_serving(first, is_today)}
        GROUP BY s.kind, floor(ST_X(s.geom) / $6), floor(ST_Y(s.geom) / $6)
    ) AS c
) AS t WHERE t.geom IS NOT NULL
"""


# By (is today, filtered by kind).
_VARIANTS = [(today, by_kind) for today in (False, True) for by_kind in (False, True)]
SITES_SQL = {variant: _sites_sql(*variant) for variant in _VARIANTS}
SITE_COUNTS_SQL = {variant: _site_counts_sql(*variant) for variant in _VARIANTS}

# Regions in the tile, for the service to look up their coverage.
REGIONS_IN_TILE_SQL = f"SELECT adcode FROM regions WHERE boundary && {_SEARCH}"

# Boundaries, simplified to a pixel ($6, degrees), with the coverage figures the service looked up ($7 adcodes,
# $8 shares, $9 rule labels). The feature id is the adcode as a number (MVT ids are integers).
REGIONS_SQL = f"""
SELECT ST_AsMVT(t, 'regions', {EXTENT}, 'geom', 'id') FROM (
    SELECT r.adcode::int AS id, r.adcode, r.name, r.level, r.is_urban_district, r.parent_adcode,
           f.covered_area_share, f.rule_label,
           {_geometry("ST_SimplifyPreserveTopology(r.boundary, $6)")} AS geom
    FROM regions r
    LEFT JOIN unnest($7::text[], $8::float8[], $9::text[]) AS f(adcode, covered_area_share, rule_label)
           ON f.adcode = r.adcode
    WHERE r.boundary && {_SEARCH}
) AS t WHERE t.geom IS NOT NULL
"""


# Each serving site's catchment under its region's rule ($7 adcodes, $8 their radii, metres), a geodesic ring.
# Sites are searched within the largest radius of the tile ($9, $10: degrees of longitude and latitude at least as
# long). Parameters: $6 kind, $11… the date, then catchments the coverage service drew (on a road network): their
# sites, WKB in their region's plane, that plane's SRID and the mode.
def _catchments_sql(is_today: bool) -> str:
    ring = "ST_Buffer(s.location, r.radius_m, 'quad_segs=16')::geometry"
    first = 11 + len(_serving_args(dt.date.min, is_today))
    shape = "ST_Transform(ST_GeomFromWKB(c.wkb, c.srid), 4326)"
    return f"""
SELECT ST_AsMVT(t, 'catchments', {EXTENT}, 'geom', 'id') FROM (
    SELECT s.id, s.kind, r.radius_m, NULL::text AS mode, {_geometry(ring)} AS geom
    FROM sites s
    JOIN unnest($7::text[], $8::float8[]) AS r(adcode, radius_m) ON r.adcode = s.region_adcode
    WHERE s.geom && ST_Expand({_SEARCH}, $9, $10) AND s.kind = $6 AND {_serving(11, is_today)}
    UNION ALL
    SELECT c.id, $6, NULL, c.mode, {_geometry(shape)}
    FROM unnest(${first}::bigint[], ${first + 1}::bytea[], ${first + 2}::int[], ${first + 3}::text[])
         AS c(id, wkb, srid, mode)
    WHERE {shape} && {_SEARCH}
) AS t WHERE t.geom IS NOT NULL
"""


CATCHMENTS_SQL = {today: _catchments_sql(today) for today in (False, True)}

# Gap parts the coverage service computed (WKB, WGS-84), clipped to the tile.
GAPS_SQL = f"""
SELECT ST_AsMVT(t, 'gaps', {EXTENT}, 'geom') FROM (
    SELECT g.region, g.area_km2, g.population, {_geometry("ST_GeomFromWKB(g.wkb, 4326)")} AS geom
    FROM unnest($6::bytea[], $7::text[], $8::float8[], $9::float8[]) AS g(wkb, region, area_km2, population)
    WHERE ST_GeomFromWKB(g.wkb, 4326) && {_SEARCH}
) AS t WHERE t.geom IS NOT NULL
"""


async def sites(
    reader: Reader,
    tile: TileKey,
    kinds: list[str] | None,
    as_of: dt.date,
    is_today: bool,
) -> bytes:
    sql = SITES_SQL[is_today, bool(kinds)]
    found: bytes = await reader.fetchval(sql, *tile, *([kinds] if kinds else []), *_serving_args(as_of, is_today))
    return found


async def site_counts(
    reader: Reader,
    tile: TileKey,
    cell_degrees: float,
    kinds: list[str] | None,
    as_of: dt.date,
    is_today: bool,
) -> bytes:
    sql = SITE_COUNTS_SQL[is_today, bool(kinds)]
    by_kind = [kinds] if kinds else []
    found: bytes = await reader.fetchval(sql, *tile, cell_degrees, *by_kind, *_serving_args(as_of, is_today))
    return found


async def regions_in(reader: Reader, tile: TileKey) -> list[str]:
    return [r["adcode"] for r in await reader.fetch(REGIONS_IN_TILE_SQL, *tile)]


async def regions(
    reader: Reader,
    tile: TileKey,
    tolerance_degrees: float,
    figures: list[tuple[str, float | None, str]],
) -> bytes:
    adcodes, shares, labels = (list(column) for column in zip(*figures, strict=True)) if figures else ([], [], [])
    found: bytes = await reader.fetchval(REGIONS_SQL, *tile, tolerance_degrees, adcodes, shares, labels)
    return found


async def catchments(
    reader: Reader,
    tile: TileKey,
    kind: str,
    radii: dict[str, float],
    reach_degrees: tuple[float, float],
    as_of: dt.date,
    is_today: bool,
    drawn: list[tuple[int, bytes, int, str]],
) -> bytes:
    """Rings of `radii` by region, and the catchments `drawn` (site, WKB, SRID, mode) on road networks."""
    sql = CATCHMENTS_SQL[is_today]
    args = [kind, list(radii), list(radii.values()), *reach_degrees, *_serving_args(as_of, is_today)]
    args += [list(c) for c in zip(*drawn, strict=True)] if drawn else [[], [], [], []]
    found: bytes = await reader.fetchval(sql, *tile, *args)
    return found


async def gaps(reader: Reader, tile: TileKey, parts: list[tuple[bytes, str, float, float | None]]) -> bytes:
    columns = [list(c) for c in zip(*parts, strict=True)] if parts else [[], [], [], []]
    found: bytes = await reader.fetchval(GAPS_SQL, *tile, *columns)
    return found
