"""Independent references for spatial answers: pyproj's geodesics on the WGS-84 ellipsoid, shapely geometry."""

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

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
    rank_factor: float = 1.0  # the documented trust rule (README): ×1.5 reported, ×1.1 unverified for 180 days


async def active_sites(conn: asyncpg.Connection) -> list[SiteRow]:
    rows = await conn.fetch(
        "SELECT id, kind, ST_X(geom) AS lon, ST_Y(geom) AS lat, amenities, "
        "1 + CASE WHEN EXISTS (SELECT 1 FROM site_reports r WHERE r.site_id = sites.id AND r.status = 'open' "
        "  AND r.type IN ('closed', 'locked', 'needs_app', 'moved')) THEN 0.5 ELSE 0 END "
        "  + CASE WHEN last_verified_at IS NULL OR last_verified_at < now() - interval '180 days' THEN 0.1 ELSE 0 END "
        "  AS rank_factor "
        "FROM sites WHERE deleted_at IS NULL AND status = 'active' "
        "AND (opened_on IS NULL OR opened_on <= $1) AND (closed_on IS NULL OR closed_on > $1)",
        dt.datetime.now(ZoneInfo("Asia/Shanghai")).date(),
    )
    return [
        SiteRow(r["id"], r["kind"], r["lon"], r["lat"], list(r["amenities"]), float(r["rank_factor"])) for r in rows
    ]


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
    """(id, metres) of the best-ranked sites, by an exhaustive ellipsoidal computation over every site.

    Ranked by distance × the site's trust factor; the metres returned are the true distances.
    """
    chosen = [
        s for s in sites if (kinds is None or s.kind in kinds) and (amenities is None or amenities <= set(s.amenities))
    ]
    if not chosen:
        return []
    lons = np.array([s.lon for s in chosen])
    lats = np.array([s.lat for s in chosen])
    _, _, dist = GEOD.inv(np.full_like(lons, lon), np.full_like(lats, lat), lons, lats)
    order = sorted(range(len(chosen)), key=lambda i: (dist[i] * chosen[i].rank_factor, chosen[i].id))
    return [(chosen[i].id, float(dist[i])) for i in order if dist[i] <= max_distance_m][:limit]
