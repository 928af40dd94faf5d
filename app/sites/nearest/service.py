"""The nearest-site search, geodesically exact: every "nearest site" question of the service asks it.

PostGIS orders geography KNN by sphere distance; answers are by spheroid distance. The search takes a few more
sphere-nearest candidates than asked, ranks them, and proves that no site it did not fetch could rank higher;
when the proof fails it takes every site within the k-th distance instead.
"""

import datetime as dt
from collections.abc import Callable, Iterable, Sequence

import asyncpg

from app import china_time, geo
from app.database.read_pool import Reader
from app.observability import metrics
from app.sites.nearest import repository

Keep = Callable[[asyncpg.Record], bool]
# Past this many candidates a filtered search stops growing the KNN and takes everything within the bound instead.
MAX_FETCH = 4096


def _overfetch(limit: int) -> int:
    # Sphere and spheroid distances differ by under 0.6 %, so only sites in that thin band around the k-th can
    # swap places, and a couple of spares nearly always cover it. Measured on 3,000 random probes over the 200k
    # national register: limit 10 (fetch 13) needs the fallback query 5 times, limit 50 (fetch 58) never.
    return limit + 2 + limit // 8


def by_trust(row: asyncpg.Record) -> tuple[float, int]:
    """Distance × trust factor (app.sites.trust, computed with the distance); the id breaks ties."""
    return row["rank_m"], row["id"]


def by_distance(row: asyncpg.Record) -> tuple[float, int]:
    return row["distance_m"], row["id"]


async def nearest(
    reader: Reader,
    lon: float,
    lat: float,
    *,
    kinds: list[str] | None = None,
    amenities: list[str] | None = None,
    radius_m: float = geo.DEFAULT_SEARCH_RADIUS_M,
    limit: int = 10,
    keep: Keep | None = None,
    hours_bits: asyncpg.BitString | None = None,
    serving_on: dt.date | None = None,
    trusted_first: bool = True,
    standing_at: dt.datetime | None = None,
) -> Sequence[asyncpg.Record]:
    """The `limit` best-ranked sites within `radius_m` of (lon, lat), by geodesic distance on the spheroid.

    Sites: those serving on `serving_on` (default today; app.sites.repository.serving_on), of one of `kinds` and
    with all of `amenities`, codes the caller has checked against the vocabularies (app.vocabularies.service).
    Ranked with `trusted_first` by distance × trust (a site reported locked ranks after equally near trustworthy
    ones; distances are never changed), else by distance alone. `keep` drops candidates (open now …);
    `hours_bits` lets the database skip, by opening-hours id, sites `keep` would drop (app.sites.open_hours). The
    answer is exact: a rank is never below the distance, so the sphere bound below still proves that no site
    beyond the candidates could rank higher. Each site carries its standing as a station in use at `standing_at`
    (default now; app.stations.service.standing_of reads it).
    """
    amenities = amenities or []
    rank = by_trust if trusted_first else by_distance
    today = china_time.today()
    serving = (serving_on or today, serving_on in (None, today), china_time.local_time(standing_at or china_time.now()))

    def best(rows: Iterable[asyncpg.Record]) -> list[asyncpg.Record]:
        kept = (r for r in rows if r["distance_m"] <= radius_m and (keep is None or keep(r)))
        return sorted(kept, key=rank)[:limit]

    # With `hours_bits` the database drops nearly every candidate `keep` would, so a filtered search starts no wider.
    fetch = _overfetch(limit)
    while True:
        rows = await repository.candidates(reader, lon, lat, radius_m, fetch, kinds, amenities, hours_bits, *serving)
        chosen = best(rows)
        if len(rows) < fetch:
            return chosen  # the radius's box held fewer sites than fetched: every candidate was considered
        # A site not fetched is at least as far by sphere as the farthest candidate (the last, in KNN order), so by
        # spheroid (and by rank) at least that × SPHERE_TO_SPHEROID_MIN. If that exceeds the k-th rank (or the
        # radius), the answer is exact.
        bound = rank(chosen[-1])[0] if len(chosen) == limit else radius_m
        if rows[-1]["sphere_m"] * geo.SPHERE_TO_SPHEROID_MIN > bound:
            return chosen
        if fetch >= MAX_FETCH:
            break
        fetch *= 4
    metrics.NEAREST_FALLBACKS.inc()
    # 1 cm of slack: ST_DWithin at exactly the k-th distance may drop the k-th site itself by rounding.
    radius = min(bound, radius_m) + 0.01
    return best(await repository.candidates(reader, lon, lat, radius, None, kinds, amenities, hours_bits, *serving))
