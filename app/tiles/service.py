"""Vector tiles of the register and its coverage, for the planners' map and GIS clients.

Layers: `sites` (one point per site from SITE_POINTS_FROM; counts per cell and kind below it), `regions`
(boundaries with the covered share of a kind, for shading), `catchments` (each serving site's ring under its
region's rule) and `gaps` (what coverage leaves uncovered). Coverage figures and gaps come from app.coverage:
the same as the JSON endpoints', kept in the same store for the same state of the register.
"""

import datetime as dt
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import shapely

from app import geo
from app.coverage import covered
from app.coverage.evaluation import Evaluation, srid_of
from app.coverage.figures import covered_area_shares
from app.coverage.gaps import leaf_gaps
from app.coverage.kept import CoverageKept
from app.coverage.regions import find_region
from app.coverage.rules import NoRule, resolve_rule
from app.database.read_pool import Reader
from app.geo import CoordSys
from app.problems import InvalidParameter, NotFound
from app.tiles import repository
from app.vocabularies.closed import RegionLevel

MAX_ZOOM = 22
SITE_POINTS_FROM = 9  # below this zoom a tile would carry tens of thousands of points: counts per cell instead
CELL_PIXELS = 32  # a count cell is this many (256 px tile) pixels square
COVERAGE_FROM = 7  # catchments and gaps: regional detail, not drawn at national zooms
# The levels a regions tile carries from each zoom: the country and its provinces on a map of China, their cities
# from zoom 5 (a province fills the screen), the counties from zoom 7 (a city does). A map drilling down filters
# the fill by parent_adcode.
REGION_LEVELS_FROM = {
    RegionLevel.country: 0,
    RegionLevel.province: 0,
    RegionLevel.city: 5,
    RegionLevel.county: COVERAGE_FROM,
}
MEDIA_TYPE = "application/vnd.mapbox-vector-tile"


class Layer(StrEnum):
    sites = "sites"
    regions = "regions"
    catchments = "catchments"
    gaps = "gaps"


MIN_ZOOM = {Layer.sites: 0, Layer.regions: 0, Layer.catchments: COVERAGE_FROM, Layer.gaps: COVERAGE_FROM}
FIELDS = {
    Layer.sites: {
        "id": "Number: the site's id (at low zooms: none; `count` sites of `kind` near here)",
        "kind": "String",
        "name": "String",
        "status": "String: active, suspended, closed",
        "access": "String: open, qr_code, app, keeper_key",
        "access_reported": "Boolean: an unreviewed report that workers could not get in",
        "unverified": "Boolean: not verified for 180 days",
        "count": "Number: sites in the cell (low zooms only)",
    },
    Layer.regions: {
        "adcode": "String",
        "name": "String",
        "level": "String: country (from zoom 0), province (0), city (5), county (7)",
        "is_urban_district": "Boolean",
        "parent_adcode": "String",
        "covered_area_share": "Number 0–1: covered share of the area under the region's rule (with `kind` only)",
        "rule_label": "String: the rule applied (with `kind` only)",
    },
    Layer.catchments: {
        "id": "Number: the site",
        "kind": "String",
        "radius_m": "Number: the rule's radius (absent where the catchment is travelled on a road network)",
        "mode": "String: the travel mode, where the catchment is an isochrone on a road network",
    },
    Layer.gaps: {"region": "String", "area_km2": "Number", "population": "Number: modelled people"},
}


EARTH_RADIUS_M = 6_378_137.0  # Web Mercator's sphere


def _mercator(lon: float, lat: float) -> tuple[float, float]:
    return math.radians(lon) * EARTH_RADIUS_M, math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) * EARTH_RADIUS_M


@dataclass(frozen=True, slots=True)
class Tile:
    """A Web Mercator tile, in the datum of the base map it is drawn over (WGS-84, or GCJ-02 for Amap/Tencent)."""

    z: int
    x: int
    y: int
    coordsys: CoordSys = CoordSys.wgs84

    @classmethod
    def of(cls, z: int, x: int, y: int, coordsys: CoordSys = CoordSys.wgs84) -> "Tile":
        if not 0 <= z <= MAX_ZOOM:
            raise InvalidParameter("z", f"a zoom from 0 to {MAX_ZOOM}")
        for name, value in (("x", x), ("y", y)):
            if not 0 <= value < 2**z:
                # Outside the tile matrix, as OGC API - Tiles and XYZ servers answer: no such tile.
                message = f"from 0 to {2**z - 1} at zoom {z}"
                raise NotFound(f"{name}: {message}", errors=[{"field": name, "message": message}])
        if coordsys == CoordSys.bd09:
            raise InvalidParameter("coordsys", "wgs84 or gcj02: Baidu's maps are not Web Mercator tiles")
        return cls(z, x, y, coordsys)

    @property
    def shift(self) -> tuple[float, float]:
        """How far, in Web Mercator metres, the tile's datum moves what it draws from where WGS-84 puts it.

        The shift (app.geo's conversion) is taken at the tile's centre and applied to the whole tile: it varies
        by less than a pixel across any tile (measured: under 0.9 px at every zoom over China), which lets
        PostGIS draw the tile as for WGS-84 and move it.
        """
        if self.coordsys == CoordSys.wgs84:
            return 0.0, 0.0
        centre_lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (self.y + 0.5) / 2**self.z))))
        centre_lon = (self.x + 0.5) / 2**self.z * 360 - 180
        wgs_lon, wgs_lat = geo.to_wgs84(centre_lon, centre_lat, self.coordsys)
        x, y = _mercator(centre_lon, centre_lat)
        wgs_x, wgs_y = _mercator(wgs_lon, wgs_lat)
        return x - wgs_x, y - wgs_y

    @property
    def key(self) -> tuple[int, int, int, float, float]:
        """z, x, y and the shift: what every tile statement starts with (app.tiles.repository)."""
        return (self.z, self.x, self.y, *self.shift)

    def degrees(self) -> float:
        """How many degrees of longitude the tile spans."""
        return 360.0 / float(2**self.z)

    def latitudes(self) -> tuple[float, float]:
        """(south, north) edges, degrees."""

        def latitude(row: int) -> float:
            return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / 2**self.z))))

        return latitude(self.y + 1), latitude(self.y)


async def _leaves_in(reader: Reader, tile: Tile) -> list[Any]:
    found = []
    for adcode in await repository.regions_in(reader, tile.key):
        region = await find_region(reader, adcode)
        if not region["has_children"]:
            found.append(region)
    return found


async def sites(reader: Reader, tile: Tile, kinds: list[str] | None, as_of: dt.date, is_today: bool) -> bytes:
    if tile.z >= SITE_POINTS_FROM:
        return await repository.sites(reader, tile.key, kinds, as_of, is_today)
    cell = tile.degrees() * CELL_PIXELS / 256
    return await repository.site_counts(reader, tile.key, cell, kinds, as_of, is_today)


def region_levels(z: int) -> list[str]:
    return [level.value for level, from_zoom in REGION_LEVELS_FROM.items() if z >= from_zoom]


async def regions(reader: Reader, kept: CoverageKept, tile: Tile, ev: Evaluation | None) -> bytes:
    """The boundaries of the levels the tile's zoom carries; with `ev`, each shaded by its covered share of the
    area as /v1/coverage/regions/{adcode} gives it (kept figures: a national tile computes no geometry)."""
    levels = region_levels(tile.z)
    figures: list[tuple[str, float | None, str]] = []
    if ev is not None:
        shares = await covered_area_shares(reader, kept, await repository.regions_in(reader, tile.key, levels), ev)
        figures = [(adcode, share, label) for adcode, (share, label) in shares.items()]
    return await repository.regions(reader, tile.key, levels, figures)


async def catchments(reader: Reader, kept: CoverageKept, tile: Tile, ev: Evaluation) -> bytes:
    if tile.z < COVERAGE_FROM:
        return b""
    radii: dict[str, float] = {}
    drawn: list[tuple[int, bytes, int, str]] = []  # on a road network: what app.coverage.covered drew
    for leaf in await _leaves_in(reader, tile):
        try:
            rule = await resolve_rule(reader, leaf["adcode"], ev)
        except NoRule:
            continue
        if rule.network is None or rule.mode is None:
            radii[leaf["adcode"]] = rule.radius_m
            continue
        found = await covered.covered_by(reader, kept, leaf, rule, ev)
        srid = srid_of(leaf)
        # Each site under its own region's rule, as the rings are: once, however many regions it serves.
        drawn += [(c.site_id, shapely.to_wkb(c.shape), srid, rule.mode.value) for c in found.catchments
                  if c.site_id is not None and c.region == leaf["adcode"] and not c.shape.is_empty]  # fmt: skip
    if not radii and not drawn:
        return b""
    # Sites whose ring reaches the tile: within the largest radius, in degrees at the tile's most poleward edge.
    poleward = max(abs(latitude) for latitude in tile.latitudes())
    reach = geo.degrees_around(max(radii.values(), default=0.0), poleward)
    return await repository.catchments(reader, tile.key, ev.kind, radii, reach, ev.as_of, ev.is_today, drawn)


async def gaps(reader: Reader, kept: CoverageKept, tile: Tile, ev: Evaluation) -> bytes:
    if tile.z < COVERAGE_FROM:
        return b""
    parts: list[tuple[bytes, str, float, float | None]] = []
    for leaf in await _leaves_in(reader, tile):
        try:
            parts += [(g.wkb, g.region, g.area_km2, g.population) for g in await leaf_gaps(reader, kept, leaf, ev)]
        except NoRule:  # no rule for the kind there
            continue
    if not parts:
        return b""
    return await repository.gaps(reader, tile.key, parts)


def tilejson(layer: Layer, tiles_url: str, name: str, description: str) -> dict[str, Any]:
    """A TileJSON 3.0.0 document for one layer."""
    return {
        "tilejson": "3.0.0",
        "name": name,
        "description": description,
        "version": "1.0.0",
        "attribution": "Yizhan 驿站 register; boundaries: Tianditu (WGS-84)",
        "scheme": "xyz",
        "tiles": [tiles_url],
        "minzoom": MIN_ZOOM[layer],
        "maxzoom": MAX_ZOOM,
        "bounds": [-180, -85.0511, 180, 85.0511],
        "vector_layers": [
            {"id": layer.value, "fields": FIELDS[layer], "minzoom": MIN_ZOOM[layer], "maxzoom": MAX_ZOOM}
        ],
    }
