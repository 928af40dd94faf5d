"""SQL of the vector tiles: Mapbox Vector Tiles made by PostGIS (ST_AsMVT) in Web Mercator z/x/y.

Each statement bounds its scan by the tile's envelope transformed to WGS-84 (the constant, never the indexed
column), so the GiST index on the lon/lat twin serves it. Every statement's first parameters are the tile's key
(z, x, y and the shift of the tile's datum from WGS-84 in Web Mercator metres: 0, 0 for WGS-84; see
app.tiles.service.Tile.shift), then its own.
"""

import datetime as dt

from app import geo
from app.database.params import Params
from app.database.read_pool import Reader
from app.sites import trust
from app.sites.repository import serving_on, serving_today

# z, x, y and the shift of the tile's datum (app.tiles.service.Tile.key).
TileKey = tuple[int, int, int, float, float]
EXTENT = 4096  # tile units per side, MVT's default
BUFFER = 64  # units drawn past the edge so that symbols and lines do not clip at tile seams


class _PlacedTile:
    """A tile's key as one statement's first placeholders, and the fragments written with them."""

    def __init__(self, p: Params, tile: TileKey) -> None:
        z, x, y, shift_x, shift_y = (p.add(value) for value in tile)
        self.zoom = z
        self.envelope = f"ST_TileEnvelope({z}, {x}, {y})"
        self.shift = (shift_x, shift_y)
        buffered = f"ST_TileEnvelope({z}, {x}, {y}, margin => {BUFFER / EXTENT})"
        # The tile with its buffer, moved back from its datum to WGS-84: what a scan is bounded by.
        self.search = f"ST_Transform(ST_Translate({buffered}, -{shift_x}::float8, -{shift_y}::float8), 4326)"

    def geometry(self, expression_4326: str) -> str:
        """A WGS-84 geometry drawn in the tile, moved to its datum."""
        return self.mercator_geometry(f"ST_Transform({expression_4326}, 3857)")

    def mercator_geometry(self, expression_3857: str) -> str:
        """A Web Mercator geometry drawn in the tile, moved to its datum."""
        shift_x, shift_y = self.shift
        shifted = f"ST_Translate({expression_3857}, {shift_x}::float8, {shift_y}::float8)"
        return f"ST_AsMVTGeom({shifted}, {self.envelope}, {EXTENT}, {BUFFER}, true)"


def _serving(p: Params, as_of: dt.date, is_today: bool) -> str:
    """Sites serving on `as_of`; for today in the form serving_today gives the index scan."""
    if is_today:
        return serving_today(f"{p.add(as_of)}::date")
    return serving_on(f"{p.add(as_of)}::date", f"{p.add(False)}::boolean")


def _of_kinds(p: Params, kinds: list[str] | None) -> str:
    """The kinds filter, written only when the tile asks for kinds: `($n IS NULL OR …)` would be planned as an OR in
    a generic plan (the statement's plan after five runs)."""
    return f"AND s.kind = ANY({p.add(kinds)}::text[])" if kinds else ""


# One point per site: what a planner clicks (id, name, kind, status, access, the trust flags).
async def sites(
    reader: Reader,
    tile: TileKey,
    kinds: list[str] | None,
    as_of: dt.date,
    is_today: bool,
) -> bytes:
    p = Params()
    t = _PlacedTile(p, tile)
    sql = f"""
SELECT ST_AsMVT(t, 'sites', {EXTENT}, 'geom', 'id') FROM (
    SELECT s.id, s.kind, s.name, s.status, s.access,
           {trust.ACCESS_REPORTED_SQL} AS access_reported, {trust.UNVERIFIED_SQL} AS unverified,
           {t.geometry("s.geom")} AS geom
    FROM sites s
    WHERE s.geom && {t.search} {_of_kinds(p, kinds)} AND {_serving(p, as_of, is_today)}
) AS t WHERE t.geom IS NOT NULL
"""
    found: bytes = await reader.fetchval(sql, *p.values)
    return found


# At low zooms, sites counted per grid cell and kind (each kind keeps its own points, so none disappears under
# another): a cell is `cell_degrees` square; the point is the cell's sites' mean position.
async def site_counts(
    reader: Reader,
    tile: TileKey,
    cell_degrees: float,
    kinds: list[str] | None,
    as_of: dt.date,
    is_today: bool,
) -> bytes:
    p = Params()
    t = _PlacedTile(p, tile)
    cell = p.add(cell_degrees)
    sql = f"""
SELECT ST_AsMVT(t, 'sites', {EXTENT}, 'geom') FROM (
    SELECT c.kind, c.count, {t.geometry(geo.point_sql("c.lon", "c.lat"))} AS geom
    FROM (
        SELECT s.kind, count(*) AS count, avg(ST_X(s.geom)) AS lon, avg(ST_Y(s.geom)) AS lat
        FROM sites s
        WHERE s.geom && {t.search} {_of_kinds(p, kinds)} AND {_serving(p, as_of, is_today)}
        GROUP BY s.kind, floor(ST_X(s.geom) / {cell}), floor(ST_Y(s.geom) / {cell})
    ) AS c
) AS t WHERE t.geom IS NOT NULL
"""
    found: bytes = await reader.fetchval(sql, *p.values)
    return found


async def regions_in(reader: Reader, tile: TileKey, levels: list[str] | None = None) -> list[str]:
    """The regions in the tile (of `levels`, or all), for the service to look up their coverage."""
    p = Params()
    of_levels = f"AND level = ANY({p.add(levels)}::text[])" if levels is not None else ""
    sql = f"SELECT adcode FROM regions WHERE boundary && {_PlacedTile(p, tile).search} {of_levels}"
    return [r["adcode"] for r in await reader.fetch(sql, *p.values)]


async def regions(
    reader: Reader, tile: TileKey, levels: list[str], figures: list[tuple[str, float | None, str]]
) -> bytes:
    """Boundaries of the regions of `levels`: the outlines kept for the tile's zoom (migration 0017), or above the
    zooms kept the part of the boundary in the tile, simplified as those are (`outline_tolerance_m`). With the
    coverage `figures` the service looked up (adcode, covered share, rule label). The feature id is the adcode as a
    number (MVT ids are integers)."""
    adcodes, shares, labels = (list(column) for column in zip(*figures, strict=True)) if figures else ([], [], [])
    p = Params()
    t = _PlacedTile(p, tile)
    in_tile = f"ST_Transform(ST_ClipByBox2D(r.boundary, {t.search}), 3857)"
    # COALESCE evaluates its second argument only where no outline is kept.
    outline = f"coalesce(o.outline, ST_Simplify({in_tile}, outline_tolerance_m({t.zoom}), true))"
    figures_sql = f"unnest({p.add(adcodes)}::text[], {p.add(shares)}::float8[], {p.add(labels)}::text[])"
    sql = f"""
SELECT ST_AsMVT(t, 'regions', {EXTENT}, 'geom', 'id') FROM (
    SELECT r.adcode::int AS id, r.adcode, r.name, r.level, r.is_urban_district, r.parent_adcode,
           f.covered_area_share, f.rule_label,
           {t.mercator_geometry(outline)} AS geom
    FROM regions r
    LEFT JOIN region_outlines o ON o.adcode = r.adcode AND o.zoom = {t.zoom}
    LEFT JOIN {figures_sql} AS f(adcode, covered_area_share, rule_label)
           ON f.adcode = r.adcode
    WHERE r.boundary && {t.search} AND r.level = ANY({p.add(levels)}::text[])
) AS t WHERE t.geom IS NOT NULL
"""
    found: bytes = await reader.fetchval(sql, *p.values)
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
    """Each serving site's catchment under its region's rule (`radii` by region, metres), a geodesic ring, and the
    catchments `drawn` (site, WKB in its region's plane, that plane's SRID, mode) on road networks.

    Sites are searched within the largest radius of the tile (`reach_degrees`: degrees of longitude and latitude at
    least as long)."""
    p = Params()
    t = _PlacedTile(p, tile)
    kind_sql = p.add(kind)
    by_region = f"unnest({p.add(list(radii))}::text[], {p.add(list(radii.values()))}::float8[])"
    reach = f"ST_Expand({t.search}, {p.add(reach_degrees[0])}, {p.add(reach_degrees[1])})"
    serving = _serving(p, as_of, is_today)
    ids, wkbs, srids, modes = [list(c) for c in zip(*drawn, strict=True)] if drawn else [[], [], [], []]
    drawn_sql = f"unnest({p.add(ids)}::bigint[], {p.add(wkbs)}::bytea[], {p.add(srids)}::int[], {p.add(modes)}::text[])"
    ring = "ST_Buffer(s.location, r.radius_m, 'quad_segs=16')::geometry"
    shape = "ST_Transform(ST_GeomFromWKB(c.wkb, c.srid), 4326)"
    sql = f"""
SELECT ST_AsMVT(t, 'catchments', {EXTENT}, 'geom', 'id') FROM (
    SELECT s.id, s.kind, r.radius_m, NULL::text AS mode, {t.geometry(ring)} AS geom
    FROM sites s
    JOIN {by_region} AS r(adcode, radius_m) ON r.adcode = s.region_adcode
    WHERE s.geom && {reach} AND s.kind = {kind_sql} AND {serving}
    UNION ALL
    SELECT c.id, {kind_sql}, NULL, c.mode, {t.geometry(shape)}
    FROM {drawn_sql}
         AS c(id, wkb, srid, mode)
    WHERE {shape} && {t.search}
) AS t WHERE t.geom IS NOT NULL
"""
    found: bytes = await reader.fetchval(sql, *p.values)
    return found


async def gaps(reader: Reader, tile: TileKey, parts: list[tuple[bytes, str, float, float | None]]) -> bytes:
    """The gap parts app.coverage.gaps computed (WKB, WGS-84; region, area, people), clipped to the tile."""
    p = Params()
    t = _PlacedTile(p, tile)
    wkbs, regions, areas, people = [list(c) for c in zip(*parts, strict=True)] if parts else [[], [], [], []]
    columns = f"{p.add(wkbs)}::bytea[], {p.add(regions)}::text[], {p.add(areas)}::float8[], {p.add(people)}::float8[]"
    sql = f"""
SELECT ST_AsMVT(t, 'gaps', {EXTENT}, 'geom') FROM (
    SELECT g.region, g.area_km2, g.population, {t.geometry("ST_GeomFromWKB(g.wkb, 4326)")} AS geom
    FROM unnest({columns}) AS g(wkb, region, area_km2, population)
    WHERE ST_GeomFromWKB(g.wkb, 4326) && {t.search}
) AS t WHERE t.geom IS NOT NULL
"""
    found: bytes = await reader.fetchval(sql, *p.values)
    return found
