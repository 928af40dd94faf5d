"""Rules of the register's read side: the geodesically exact nearest-site search."""

from collections.abc import Sequence

import asyncpg

from app import geo
from app.db import Reader
from app.errors import NotFound
from app.sites import repository
from app.vocabularies.service import amenities as amenity_vocabulary
from app.vocabularies.service import site_kinds


def _overfetch(limit: int) -> int:
    # Enough that, at any realistic density, the sphere-ordered candidates hold the spheroid top k.
    return 2 * limit + 8


async def nearest(
    reader: Reader, lon: float, lat: float, kinds: list[str] | None, amenities: list[str], radius_m: float, limit: int
) -> Sequence[asyncpg.Record]:
    """The `limit` active sites nearest to (lon, lat) by geodesic distance on the spheroid, within `radius_m`."""
    await site_kinds.check(reader, "kind", kinds)
    await amenity_vocabulary.check(reader, "amenity", amenities)
    fetch = _overfetch(limit)
    candidates = await repository.nearest_candidates(reader, lon, lat, kinds or None, amenities, radius_m, fetch)
    ranked = sorted(candidates, key=lambda r: (r["distance_m"], r["id"]))
    if len(candidates) < fetch:
        return ranked[:limit]  # every site within the radius was fetched
    # A site not fetched is at least as far by sphere as the last candidate, so by spheroid it is at least
    # that × SPHERE_TO_SPHEROID_MIN. If that still exceeds the k-th spheroid distance, the top k is exact.
    kth = ranked[limit - 1]["distance_m"]
    if candidates[-1]["sphere_m"] * geo.SPHERE_TO_SPHEROID_MIN > kth:
        return ranked[:limit]
    wider = await repository.within(reader, lon, lat, kinds or None, amenities, kth / geo.SPHERE_TO_SPHEROID_MIN)
    return sorted(wider, key=lambda r: (r["distance_m"], r["id"]))[:limit]


async def get(reader: Reader, site_id: int) -> asyncpg.Record:
    row = await repository.get(reader, site_id)
    if row is None:
        raise NotFound(f"no site with id {site_id}")
    return row


async def check_kinds(reader: Reader, kinds: list[str] | None) -> None:
    await site_kinds.check(reader, "kind", kinds)
