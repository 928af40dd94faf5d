"""Independent references for spatial answers: pyproj's geodesics on the WGS-84 ellipsoid, shapely geometry."""

from dataclasses import dataclass

import asyncpg
import numpy as np
from pyproj import Geod

GEOD = Geod(ellps="WGS84")


@dataclass
class SiteRow:
    id: int
    kind: str
    lon: float
    lat: float
    amenities: list[str]


async def active_sites(conn: asyncpg.Connection) -> list[SiteRow]:
    rows = await conn.fetch(
        "SELECT id, kind, ST_X(geom) AS lon, ST_Y(geom) AS lat, amenities FROM sites "
        "WHERE deleted_at IS NULL AND status = 'active'"
    )
    return [SiteRow(r["id"], r["kind"], r["lon"], r["lat"], list(r["amenities"])) for r in rows]


def brute_force_nearest(
    sites: list[SiteRow],
    lon: float,
    lat: float,
    *,
    limit: int = 10,
    max_distance_m: float = 50_000,
    kinds: set[str] | None = None,
    amenities: set[str] | None = None,
) -> list[tuple[int, float]]:
    """(id, metres) of the nearest sites, by an exhaustive ellipsoidal computation over every site."""
    chosen = [
        s for s in sites if (kinds is None or s.kind in kinds) and (amenities is None or amenities <= set(s.amenities))
    ]
    if not chosen:
        return []
    lons = np.array([s.lon for s in chosen])
    lats = np.array([s.lat for s in chosen])
    _, _, dist = GEOD.inv(np.full_like(lons, lon), np.full_like(lats, lat), lons, lats)
    order = sorted(range(len(chosen)), key=lambda i: (dist[i], chosen[i].id))
    return [(chosen[i].id, float(dist[i])) for i in order if dist[i] <= max_distance_m][:limit]
