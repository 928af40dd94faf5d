"""SQL of the nearest-site search: candidates by KNN in sphere order, or every site within a radius.

Bound parameters only; the fragments are fixed strings, chosen by which filters a search has.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from app.database.params import Params
from app.database.read_pool import Reader
from app.geo import point_sql
from app.sites import trust, worker_view
from app.sites.repository import serving_on, serving_today
from app.stations import repository as stations


def _candidate_columns(point: str) -> str:
    """What the search reads of each candidate: what the worker's view of it reads (the trust flags among them,
    which the service ranks by) and the distance. The service builds the item: rendering its JSON here costs the
    database ~150 µs to save the service ~50 µs."""
    return f"""
    {worker_view.COLUMNS_SQL},
    ST_Distance(s.location, {point}) AS distance_m"""


# Over those: distance × trust factor, what the service ranks by when it weighs trust.
_RANK_SQL = f"distance_m * {trust.RANK_FACTOR_SQL} AS rank_m"


def _hours_filter(bits: str) -> str:
    """Sites whose opening-hours id has its bit set in `bits` (app.sites.open_hours), or lies beyond it (a string
    added since the bits were made: the service judges those). CASE, not OR: get_bit fails past the end."""
    return (
        f"s.opening_hours_id IS NOT NULL AND CASE WHEN s.opening_hours_id < length({bits}::varbit) "
        f"THEN get_bit({bits}::varbit, s.opening_hours_id) = 1 ELSE true END"
    )


def _filters(p: Params, by_kind: bool, by_amenity: bool, by_hours: bool, past: bool) -> str:
    """The WHERE conditions: kinds, amenities, opening-hours bits (each only when the search filters by it), the
    date the sites serve on and, for a `past` date, whether it is today (false)."""
    kind = f"s.kind = ANY({p.add('kinds')}::text[])" if by_kind else ""
    amenity = f"s.amenities @> {p.add('amenities')}::text[]" if by_amenity else ""
    hours = _hours_filter(p.add("hours_bits")) if by_hours else ""
    day = f"{p.add('serving_on')}::date"
    state = serving_on(day, f"{p.add('is_today')}::boolean") if past else serving_today(day)
    return "\n      AND ".join(c for c in (state, kind, amenity, hours) if c)


def _standing(p: Params, candidate: str) -> str:
    """Each candidate's standing as a station in use (app.stations), read with it after the KNN limit: a few index
    probes a row, where a statement of its own cost the answer a round trip (nearest at 0.70× its rate)."""
    return stations.columns_sql(f"{candidate}.id", p.add("standing_on"))


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
def _knn_sql(p: Params, by_kind: bool, by_amenity: bool, by_hours: bool, past: bool) -> str:
    point = point_sql(p.add("lon"), p.add("lat"), geography=True)
    radius, fetch = p.add("radius_m"), p.add("fetch")
    return f"""
SELECT knn.*, {_RANK_SQL}, {_standing(p, "knn")} FROM (
    SELECT {_candidate_columns(point)}, s.location <-> {point} AS sphere_m
    FROM sites s
    WHERE {_filters(p, by_kind, by_amenity, by_hours, past)}
      AND s.location && _ST_Expand({point}, {radius})
    ORDER BY s.location <-> {point}
    LIMIT {fetch}
) AS knn {stations.joins_sql("knn.id", p.add("hour_of_day"))}
"""


# Every candidate within a radius (no KNN limit): the fallback when the over-fetch cannot prove its top k.
def _within_sql(p: Params, by_kind: bool, by_amenity: bool, by_hours: bool, past: bool) -> str:
    point = point_sql(p.add("lon"), p.add("lat"), geography=True)
    radius = p.add("radius_m")
    return f"""
SELECT within.*, {_RANK_SQL}, {_standing(p, "within")} FROM (
    SELECT {_candidate_columns(point)}
    FROM sites s
    WHERE {_filters(p, by_kind, by_amenity, by_hours, past)}
      AND ST_DWithin(s.location, {point}, {radius})
) AS within {stations.joins_sql("within.id", p.add("hour_of_day"))}
"""


Flags = tuple[bool, bool, bool, bool]  # by kind, by amenity, by opening hours, on a past date


@dataclass(frozen=True, slots=True)
class _Search:
    """A search statement written once for its flags, with the names of its parameters in order.

    The nearest search is the mobile app's hot path and composing its text costs ~4 µs: each variant is written
    once, with each parameter's name added where its value goes, and a search hands its values by name."""

    sql: str
    names: tuple[str, ...]

    @classmethod
    def written(cls, write: Callable[[Params, bool, bool, bool, bool], str], flags: Flags) -> "_Search":
        p = Params()
        sql = write(p, *flags)
        return cls(sql, tuple(str(name) for name in p.values))


_FLAGS: list[Flags] = [
    (k, a, h, d) for k in (False, True) for a in (False, True) for h in (False, True) for d in (False, True)
]
KNN = {flags: _Search.written(_knn_sql, flags) for flags in _FLAGS}
WITHIN = {flags: _Search.written(_within_sql, flags) for flags in _FLAGS}


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
    standing_at: dt.datetime,
) -> list[asyncpg.Record]:
    """Up to `fetch` candidates in sphere-distance order (KNN), or with `fetch` None every one within `radius_m`,
    among the sites serving on a date; each with its standing at `standing_at` (China time)."""
    flags = (bool(kinds), bool(amenities), hours_bits is not None, not is_today)
    search = WITHIN[flags] if fetch is None else KNN[flags]
    values = {
        "lon": lon,
        "lat": lat,
        "radius_m": radius_m,
        "fetch": fetch,
        "kinds": kinds,
        "amenities": amenities,
        "hours_bits": hours_bits,
        "serving_on": serving_on,
        "is_today": is_today,
        "standing_on": standing_at.date(),
        "hour_of_day": standing_at.hour,
    }
    return await reader.fetch(search.sql, *[values[name] for name in search.names])
