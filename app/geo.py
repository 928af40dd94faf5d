"""Geometry rules in one place: the query point, search radii, bounding boxes, the bound of geodesic re-ranking.

Storage is WGS-84 (EPSG:4326) only. Distances are metres on the WGS-84 spheroid (PostGIS geography with
use_spheroid = true). PostGIS orders geography KNN (`<->`) by *spherical* distance, so the nearest search
(app.sites.nearest.service) over-fetches by sphere and re-ranks by spheroid; SPHERE_TO_SPHEROID_MIN bounds how
much shorter a spheroid distance can be than PostGIS's sphere distance, which tells when the over-fetch provably
holds the true top k.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import prcoords
from pydantic import BeforeValidator, Field
from pyproj import Geod

from app.problems import InvalidParameter

GEOD = Geod(ellps="WGS84")

# The spheroid's meridional radius of curvature at the equator, a(1 - e²) = 6,335,439 m, is the smallest
# local radius; PostGIS's sphere is the mean radius 6,371,008.8 m. Ratio 0.99442; 0.994 leaves a margin.
SPHERE_TO_SPHEROID_MIN = 0.994

# A distance searched geodesically and the same distance in a region's equal-area plane differ by under 1 % within
# a region: a search in the plane widens by this share, and a proof in the plane shrinks by it.
PLANAR_MARGIN = 0.01

# A degree of latitude is at least 110,574 m (the meridian's radius of curvature at the equator, a(1 - e²), times
# π/180: 110,574.27 m); a degree of longitude at least a·cos(latitude)·π/180 (the parallel's radius is N·cos φ, and
# N ≥ a). Degrees from these hold at least the distance asked.
METRES_PER_DEGREE_LAT_MIN = 110_574.0
METRES_PER_DEGREE_LON_AT_EQUATOR = math.pi * 6_378_137.0 / 180  # 111,319.49 m


def degrees_around(metres: float, poleward_lat: float) -> tuple[float, float]:
    """(longitude, latitude) degrees that hold every point within `metres` of a place at most `poleward_lat` from
    the equator: a box for the GiST index before the exact distance is measured."""
    lat = metres / METRES_PER_DEGREE_LAT_MIN
    widest = abs(poleward_lat) + lat
    if widest >= 90:
        return 360.0, lat  # the circle may hold the pole
    return min(360.0, metres / (METRES_PER_DEGREE_LON_AT_EQUATOR * math.cos(math.radians(widest)))), lat


def degrees_around_sql(metres: str, poleward_lat: str) -> tuple[str, str]:
    """degrees_around as SQL expressions of the SQL expressions `metres` and `poleward_lat`."""
    lat = f"({metres} / {METRES_PER_DEGREE_LAT_MIN})"
    widest = f"(abs({poleward_lat}) + {lat})"
    lon = (
        f"CASE WHEN {widest} >= 90 THEN 360 "
        f"ELSE LEAST(360, {metres} / ({METRES_PER_DEGREE_LON_AT_EQUATOR!r} * cos(radians({widest})))) END"
    )
    return lon, lat


# A worker asks for what is reachable, not for the far side of the planet: past this the answer is noise
# and the query scans the whole register.
MAX_SEARCH_RADIUS_M = 1_000_000
DEFAULT_SEARCH_RADIUS_M = 50_000
# The smallest distance a request may ask about (a search radius, a coverage radius): below a metre the answer is
# noise, and PostgreSQL cannot even hold some of those numbers (5e-324 underflows).
MIN_RADIUS_M = 1.0
# Farther than any two points on the WGS-84 spheroid (the longest geodesic is 20,003,931 m): no limit.
FARTHEST_M = 20_004_000.0


def point_sql(lon: str, lat: str, *, geography: bool = False) -> str:
    """A WGS-84 point as SQL, from SQL expressions of its longitude and latitude (bound parameters or columns); as
    geography for distances in metres on the spheroid. From bound parameters it is a constant for the planner, so
    the GiST index on a geography column serves both KNN ordering and ST_DWithin."""
    point = f"ST_SetSRID(ST_MakePoint({lon}, {lat}), 4326)"
    return f"{point}::geography" if geography else point


def _a_number(value: Any) -> Any:
    # pydantic would read false as 0 and "117.97" as a number: in a JSON body a coordinate is a JSON number.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("a number")
    return value


# Coordinates in request bodies (query strings are text, parsed by their own parameters).
Longitude = Annotated[float, BeforeValidator(_a_number), Field(ge=-180, le=180, allow_inf_nan=False)]
Latitude = Annotated[float, BeforeValidator(_a_number), Field(ge=-90, le=90, allow_inf_nan=False)]


class CoordSys(StrEnum):
    """How a client's coordinates are expressed. Storage is always WGS-84.

    GCJ-02 is the obfuscated datum of Amap/Tencent (and the DataV boundaries), BD-09 Baidu's on top of it; inside
    China they are shifted 300–700 m from WGS-84, outside China they are not shifted at all (that is how the
    datum works), which prcoords follows with its rough China box.
    """

    wgs84 = "wgs84"
    gcj02 = "gcj02"
    bd09 = "bd09"


def decimetres(metres: float) -> float:
    """A distance as answers give it: to 0.1 m, halves up. (round(x, 1) rounds the exact decimal value, at three
    times the cost; this runs for every item of every nearest answer.)"""
    return math.floor(metres * 10 + 0.5) / 10


def to_wgs84(lon: float, lat: float, coordsys: str) -> tuple[float, float]:
    """A client's point in WGS-84: the precise (iterative, < 1 cm) inverse, not the 1–2 m one-step formula."""
    if coordsys == CoordSys.wgs84 or not prcoords.sanity_in_china_p(prcoords.Coords(lat, lon)):
        return lon, lat
    inverse = prcoords.gcj_wgs_bored if coordsys == CoordSys.gcj02 else prcoords.bd_wgs_bored
    wgs = inverse(prcoords.Coords(lat, lon))
    return wgs.lon, wgs.lat


def from_wgs84(lon: float, lat: float, coordsys: str) -> tuple[float, float]:
    """A stored point as the client wants it."""
    if coordsys == CoordSys.wgs84 or not prcoords.sanity_in_china_p(prcoords.Coords(lat, lon)):
        return lon, lat
    forward = prcoords.wgs_gcj if coordsys == CoordSys.gcj02 else prcoords.wgs_bd
    shifted = forward(prcoords.Coords(lat, lon))
    return shifted.lon, shifted.lat


def record_from_wgs84(record: Mapping[str, Any], coordsys: str) -> dict[str, Any]:
    """A copy of a record whose lat/lon (stored, WGS-84) are in `coordsys`."""
    converted = dict(record)
    converted["lon"], converted["lat"] = from_wgs84(record["lon"], record["lat"], coordsys)
    return converted


def geometry_from_wgs84(geometry: dict[str, Any], coordsys: str) -> dict[str, Any]:
    """A GeoJSON geometry with every position converted (unchanged for WGS-84)."""
    if coordsys == CoordSys.wgs84:
        return geometry

    def convert(coords: Any) -> Any:
        if coords and isinstance(coords[0], (int, float)):
            lon, lat = from_wgs84(coords[0], coords[1], coordsys)
            return [round(lon, 7), round(lat, 7)]
        return [convert(c) for c in coords]

    return {**geometry, "coordinates": convert(geometry["coordinates"])}


@dataclass(frozen=True, slots=True)
class BBox:
    """A lon/lat rectangle (minLon, minLat, maxLon, maxLat), as OGC and GeoJSON order it."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    @classmethod
    def parse(cls, raw: str, field: str = "bbox") -> "BBox":
        parts = raw.split(",")
        if len(parts) != 4:
            raise InvalidParameter(
                field, f"expected 4 comma-separated numbers minLon,minLat,maxLon,maxLat, got {len(parts)}"
            )
        try:
            min_lon, min_lat, max_lon, max_lat = (float(p) for p in parts)
        except ValueError:
            raise InvalidParameter(field, "every value must be a number") from None
        for name, value, limit in (
            ("minLon", min_lon, 180),
            ("maxLon", max_lon, 180),
            ("minLat", min_lat, 90),
            ("maxLat", max_lat, 90),
        ):
            if not -limit <= value <= limit:
                raise InvalidParameter(field, f"{name} {value} is outside [-{limit}, {limit}]")
        if min_lat > max_lat:
            raise InvalidParameter(field, "minLat is greater than maxLat")
        if min_lon > max_lon:
            # A box across the antimeridian would need splitting; refuse it clearly instead of answering wrong.
            raise InvalidParameter(field, "minLon is greater than maxLon (boxes across ±180° are not supported)")
        return cls(min_lon, min_lat, max_lon, max_lat)

    def to_wgs84(self, coordsys: str) -> "BBox":
        """The box's corners converted (the datum shift is smooth, so the box stays a box to within metres)."""
        min_lon, min_lat = to_wgs84(self.min_lon, self.min_lat, coordsys)
        max_lon, max_lat = to_wgs84(self.max_lon, self.max_lat, coordsys)
        return BBox(min_lon, min_lat, max_lon, max_lat)


def local_equal_area(lon: float, lat: float) -> str:
    """A Lambert azimuthal equal-area projection centred on (lon, lat), as a PROJ string.

    Coverage works in it: areas are true everywhere, and distances from the centre are true along radii, with
    scale errors under 0.01 % within 50 km and 0.05 % within 150 km, far below the 0.5 % a planner can see.
    PostGIS (ST_Transform with a PROJ string) and pyproj read the same string, so SQL and Python agree.
    """
    return f"+proj=laea +lat_0={lat:.6f} +lon_0={lon:.6f} +datum=WGS84 +units=m +no_defs"
