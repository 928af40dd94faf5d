"""A site as a worker sees it: where it is, whether it is open now and its next change, how far to trust the
listing, and links to navigate there. One presenter for the nearest answer's items and GET /v1/sites/{id}, so the
two never disagree about a site at the same instant.

The nearest search builds this view for every item of every answer: a flat dict, each field read once.
"""

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from app import geo
from app.sites import hours, trust

Row = Mapping[str, Any]

# What the view reads of a site row `s` beyond the register's record (app.sites.repository.SITE_COLUMNS), by the
# name it is read as: the GCJ-02 twin of the point (the Amap link's) and the two trust flags.
BEYOND_RECORD = {
    "gcj02_lon": "s.gcj02_lon",
    "gcj02_lat": "s.gcj02_lat",
    "access_reported": trust.ACCESS_REPORTED_SQL,
    "unverified": trust.UNVERIFIED_SQL,
}
BEYOND_RECORD_SQL = ", ".join(f"{sql} AS {name}" for name, sql in BEYOND_RECORD.items())
# Everything the view reads: the columns of the nearest search, which reads nothing more of a site.
COLUMNS_SQL = f"""s.id, s.kind, s.name, s.address, ST_Y(s.geom) AS lat, ST_X(s.geom) AS lon, s.amenities,
    s.opening_hours, s.access, s.access_note, s.last_verified_at, {BEYOND_RECORD_SQL}"""

# A site that is not serving today (suspended, closed, or outside its opened_on–closed_on) is closed whatever its
# hours say, with no opening its hours could promise. The nearest search finds serving sites only; a read of one
# site reads whether it serves as this column (app.sites.repository.serving_today).
NOT_SERVING = hours.Status(open_now=False, opens_at=None, closes_at=None)
SERVING = "serving_today"

# An answer with open statuses changes with the clock: clients may reuse one for a minute, not longer.
MAX_AGE_S = 60

# The datums an answer can be in, bound once: compared per item.
_WGS84, _GCJ02 = geo.CoordSys.wgs84, geo.CoordSys.gcj02


def statuses_at(at: dt.datetime) -> Callable[[Row], hours.Status | None]:
    """Each site's opening-hours status at `at` (naive China time), None without hours, for one answer: the
    instant every item of it is judged at. Kept per expression: an answer's items share a handful of strings."""
    statuses: dict[str, hours.Status] = {}

    def status(row: Row) -> hours.Status | None:
        expression = row["opening_hours"]
        if expression is None:
            return None
        if expression not in statuses:
            statuses[expression] = hours.status(expression, at)
        return statuses[expression]

    return status


def present(row: Row, status: hours.Status | None, coordsys: str) -> dict[str, Any]:
    """The site as a worker sees it, its point in `coordsys`, from a row with the columns of COLUMNS_SQL."""
    wgs_lon, wgs_lat = row["lon"], row["lat"]
    gcj_lon, gcj_lat = row["gcj02_lon"], row["gcj02_lat"]
    if gcj_lon is None:  # a write cleared it (see Site.gcj02_lon)
        gcj_lon, gcj_lat = geo.from_wgs84(wgs_lon, wgs_lat, _GCJ02)
    if coordsys == _WGS84:
        lon, lat = wgs_lon, wgs_lat
    elif coordsys == _GCJ02:
        lon, lat = gcj_lon, gcj_lat
    else:
        lon, lat = geo.from_wgs84(wgs_lon, wgs_lat, coordsys)
    if status is None:
        open_now = opens_at = closes_at = None
    else:
        open_now, opens_at, closes_at = status.open_now, status.opens_at, status.closes_at
    return {
        "id": row["id"],
        "kind": row["kind"],
        "name": row["name"],
        "address": row["address"],
        "lat": lat,
        "lon": lon,
        "amenities": row["amenities"],
        "access": row["access"],
        "access_note": row["access_note"],
        "open_now": open_now,
        "opens_at": opens_at,
        "closes_at": closes_at,
        "last_verified_at": row["last_verified_at"],
        "trust": trust.flags(row["access_reported"], row["unverified"]),
        # Navigation: the app has the name already; each link carries only the point, in the datum its map wants
        # (Amap: GCJ-02; a geo: URI: WGS-84).
        "links": {
            "amap": f"https://uri.amap.com/marker?position={gcj_lon:.6f},{gcj_lat:.6f}&coordinate=gaode&callnative=1",
            "geo": f"geo:{wgs_lat:.6f},{wgs_lon:.6f}",
        },
    }


def site(row: Row, at: dt.datetime, coordsys: str) -> dict[str, Any]:
    """The register's record of a site (a row of SITE_COLUMNS, BEYOND_RECORD_SQL and SERVING) with a worker's view
    of it at `at` (naive China time) over it: the fields both have hold the same values, the point in `coordsys`."""
    status = statuses_at(at)(row) if row[SERVING] else NOT_SERVING
    record = {name: value for name, value in row.items() if name not in BEYOND_RECORD and name != SERVING}
    return record | present(row, status, coordsys)
