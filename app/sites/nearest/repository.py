"""SQL of the nearest-site search: candidates by KNN in sphere order, or every site within a radius.

Bound parameters only; the fragments are fixed strings, chosen by which filters a search has.
"""

import datetime as dt
import itertools

import asyncpg

from app.database.read_pool import Reader
from app.geo import point_sql
from app.sites import trust, worker_view
from app.sites.repository import serving_on, serving_today

_POINT = point_sql("$1", "$2", geography=True)

# What the search reads of each candidate: what the worker's view of it reads (the trust flags among them, which
# the service ranks by) and the distance. The service builds the item: rendering its JSON here costs the database
# ~150 µs to save the service ~50 µs.
_CANDIDATE_COLUMNS = f"""
    {worker_view.COLUMNS_SQL},
    ST_Distance(s.location, {_POINT}) AS distance_m"""
# Over those: distance × trust factor, what the service ranks by when it weighs trust.
_RANK_SQL = f"distance_m * {trust.RANK_FACTOR_SQL} AS rank_m"


def _hours_filter(n: int) -> str:
    """Sites whose opening-hours id has its bit set in ${n} (app.sites.open_hours), or lies beyond it (a string
    added since the bits were made: the service judges those). CASE, not OR: get_bit fails past the end."""
    return (
        f"s.opening_hours_id IS NOT NULL AND CASE WHEN s.opening_hours_id < length(${n}::varbit) "
        f"THEN get_bit(${n}::varbit, s.opening_hours_id) = 1 ELSE true END"
    )


def _filters(first: int, by_kind: bool, by_amenity: bool, by_hours: bool, past: bool) -> str:
    """The WHERE conditions, parameters numbered from ${first} in this order: kinds, amenities, opening-hours
    bits (each only when the search filters by it), the date the sites serve on and, for a `past` date, false."""
    n = itertools.count(first)
    kind = f"s.kind = ANY(${next(n)}::text[])" if by_kind else ""
    amenity = f"s.amenities @> ${next(n)}::text[]" if by_amenity else ""
    hours = _hours_filter(next(n)) if by_hours else ""
    state = serving_on(f"${next(n)}::date", f"${next(n)}::boolean") if past else serving_today(f"${next(n)}::date")
    return "\n      AND ".join(c for c in (state, kind, amenity, hours) if c)


# The `fetch` nearest sites by sphere (GiST KNN order) within the radius's index box, with their spheroid
# distance; the service ranks them (a handful of rows) and proves the answer exact.
#
# The plan matters more than anything else here (measured at 200k sites: 0.2 ms with the KNN index scan, 12-22 ms
# with a bitmap scan + sort), and two innocent-looking forms push the planner to the bitmap plan:
# - ST_DWithin in the WHERE: its index box (&&) is estimated well, but the planner then multiplies in a default
#   selectivity for the exact test (2,831 real rows estimated as 12), and once the LIMIT nears that the sort plan
#   looks cheaper. So the scan is bounded by the index box alone, `location && _ST_Expand(point, radius)` (what
#   ST_DWithin itself expands to; PostGIS ≥ 3.0), and the exact radius is checked on the few rows returned.
# - filters that are always present (`$x IS NULL OR kind = ANY($x)`, `amenities @> '{}'`) shrink the estimate the
#   same way, so kind and amenity filters are only written in when asked for.
# Parameters: $1 lon, $2 lat, $3 radius m, $4 how many candidates, then the filters from $5.
def _knn_sql(by_kind: bool, by_amenity: bool, by_hours: bool, past: bool) -> str:
    return f"""
SELECT knn.*, {_RANK_SQL} FROM (
    SELECT {_CANDIDATE_COLUMNS}, s.location <-> {_POINT} AS sphere_m
    FROM sites s
    WHERE {_filters(5, by_kind, by_amenity, by_hours, past)}
      AND s.location && _ST_Expand({_POINT}, $3)
    ORDER BY s.location <-> {_POINT}
    LIMIT $4
) AS knn
"""


# Every candidate within a radius (no KNN limit): the fallback when the over-fetch cannot prove its top k.
# Parameters: $1 lon, $2 lat, $3 radius m, then the filters from $4.
def _within_sql(by_kind: bool, by_amenity: bool, by_hours: bool, past: bool) -> str:
    return f"""
SELECT within.*, {_RANK_SQL} FROM (
    SELECT {_CANDIDATE_COLUMNS}
    FROM sites s
    WHERE {_filters(4, by_kind, by_amenity, by_hours, past)}
      AND ST_DWithin(s.location, {_POINT}, $3)
) AS within
"""


_FLAGS = [(k, a, h, d) for k in (False, True) for a in (False, True) for h in (False, True) for d in (False, True)]
KNN_SQL = {flags: _knn_sql(*flags) for flags in _FLAGS}
WITHIN_SQL = {flags: _within_sql(*flags) for flags in _FLAGS}


async def candidates(
    reader: Reader,
    lon: float,
    lat: float,
    radius_m: float,
    fetch: int | None,
    kinds: list[str] | None,
    amenities: list[str],
    hours_bits: asyncpg.BitString | None,
    serving_on: dt.date,
    is_today: bool,
) -> list[asyncpg.Record]:
    """Up to `fetch` candidates in sphere-distance order (KNN), or with `fetch` None every one within `radius_m`,
    among the sites serving on a date."""
    args: list[object] = [f for f in (kinds, amenities) if f]
    if hours_bits is not None:
        args.append(hours_bits)
    args.append(serving_on)
    if not is_today:
        args.append(False)
    flags = (bool(kinds), bool(amenities), hours_bits is not None, not is_today)
    if fetch is None:
        return await reader.fetch(WITHIN_SQL[flags], lon, lat, radius_m, *args)
    return await reader.fetch(KNN_SQL[flags], lon, lat, radius_m, fetch, *args)
