"""Visits: counted once per client, site and clock hour; no personal data kept; usage per site and region; idle
stations.

A client is the app's X-Client-Id (a random id per installation), else the connection's address. Neither is kept:
only a 16-byte keyed hash (BLAKE2b) under the day's salt, and the salt of each day is destroyed the day after, so a
client's hashes of different days cannot be linked, nor a hash turned back into an address by trying addresses.
"""

import datetime as dt
import math
import secrets
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app import china_time
from app.api.ratelimit import WINDOW_S, Counter
from app.database.connections import reader_in
from app.database.read_pool import Reader
from app.inspections.rules import INSPECTION_INTERVAL_MONTHS
from app.keys.service import Principal
from app.problems import Forbidden, InvalidParameter, NotFound, RateLimited
from app.regions import repository as region_repository
from app.visits import repository

# A visit may say when it happened (an app that queued it offline): up to this long ago. Its day's salt must still
# exist (today's and yesterday's do), or the same client could be counted twice.
LATE_ARRIVAL = dt.timedelta(hours=24)
# How far ahead of the server's clock a phone's clock may be.
CLOCK_SKEW = dt.timedelta(minutes=5)
# The hour-of-day profile weighs a visit by exp(-age / tau): the profile is about the last few weeks.
PROFILE_TAU_DAYS = 14.0
PROFILE_TAU_S = PROFILE_TAU_DAYS * 86_400
# A site is "usually busy" at an hour when the profile expects at least this many visits in that hour of a day.
BUSY_VISITS_PER_HOUR = 5.0
# A station with fewer visits than this in the last IDLE_DAYS days is idle, unless its region sets its own number.
IDLE_BELOW_VISITS = 30
IDLE_DAYS = 30
# Per minute: one client's visits (a person scans a few doors a minute at most), and one site's (a busy station sees a
# few hundred an hour). Over either, 429. Both are keyed by what the caller sends (a client id, a token), so one
# network address has a ceiling too: far above what the workers behind one carrier's NAT send (visits spend no other
# budget of the address), low enough that one machine cannot write without end by changing its client id.
CLIENT_VISITS_PER_MINUTE = 20
SITE_VISITS_PER_MINUTE = 300
ADDRESS_VISITS_PER_MINUTE = 600
SALT_BYTES = 32


@dataclass
class VisitDesk:
    """What the visits of one application keep between requests: the months whose partitions it has made sure of,
    the salts of the days it has seen, and the per-client, per-site and per-address counters of the rate limits."""

    counter: Counter
    client_per_minute: int = CLIENT_VISITS_PER_MINUTE
    site_per_minute: int = SITE_VISITS_PER_MINUTE
    address_per_minute: int = ADDRESS_VISITS_PER_MINUTE
    months: set[dt.date] = field(default_factory=set)
    salts: dict[dt.date, bytes] = field(default_factory=dict)


now = china_time.now  # the clock visits are dated by (tests move it)


@dataclass(frozen=True, slots=True)
class Visit:
    token: str
    client: str
    address: str  # the connection's, whatever client id it sends
    worker_group: str | None
    at: dt.datetime


def when(visited_at: dt.datetime | None, at: dt.datetime) -> dt.datetime:
    """The instant a visit is counted at: now, or the time it says, within the late-arrival window."""
    if visited_at is None:
        return at
    if visited_at.tzinfo is None:  # as China time, as every time rule of the service reads a bare time
        visited_at = visited_at.replace(tzinfo=china_time.CHINA)
    if visited_at > at + CLOCK_SKEW:
        raise InvalidParameter("visited_at", "in the future")
    if visited_at < at - LATE_ARRIVAL:
        raise InvalidParameter("visited_at", f"more than {LATE_ARRIVAL.total_seconds() / 3600:.0f} h ago")
    return visited_at


def month_of(at: dt.datetime) -> dt.date:
    return china_time.local_time(at).date().replace(day=1)


async def _limit(desk: VisitDesk, address_key: str, client_key: str, token: str, moment: float) -> None:
    window = int(moment // WINDOW_S)
    retry_after = str(max(1, math.ceil((window + 1) * WINDOW_S - moment)))
    if desk.address_per_minute and await desk.counter.hit(f"va:{address_key}", window) > desk.address_per_minute:
        raise RateLimited(
            f"more than {desk.address_per_minute} visits a minute from this network address",
            errors=[{"field": "address", "message": "too many visits from this network address"}],
            headers={"Retry-After": retry_after},
        )
    if desk.client_per_minute and await desk.counter.hit(f"vc:{client_key}", window) > desk.client_per_minute:
        raise RateLimited(
            f"more than {desk.client_per_minute} visits a minute from this client",
            errors=[{"field": "X-Client-Id", "message": "too many visits from this client"}],
            headers={"Retry-After": retry_after},
        )
    if desk.site_per_minute and await desk.counter.hit(f"vs:{token}", window) > desk.site_per_minute:
        raise RateLimited(
            f"more than {desk.site_per_minute} visits a minute at this site",
            errors=[{"field": "token", "message": "too many visits at this site"}],
            headers={"Retry-After": retry_after},
        )


async def _salt(desk: VisitDesk, engine: AsyncEngine, day: dt.date) -> bytes:
    """The day's salt, read (or made) in a transaction of its own and kept once committed: every worker and
    instance hashes a client with the same salt, or one client would count once per worker."""
    found = desk.salts.get(day)
    if found is None:
        async with engine.begin() as conn:
            found = await repository.salt(await reader_in(conn), day, secrets.token_bytes(SALT_BYTES))
        desk.salts = {d: s for d, s in desk.salts.items() if d >= day - dt.timedelta(days=1)} | {day: found}
    return found


def client_hash(salt: bytes, client: str) -> bytes:
    return blake2b(client.encode(), key=salt, digest_size=16).digest()


async def _make_partitions(desk: VisitDesk, engine: AsyncEngine, at: dt.datetime) -> None:
    """The partitions of `at`'s month and the next, made sure of once per application and month, in a transaction
    of their own (the visit's never holds the DDL's lock), and remembered once committed."""
    month = month_of(at)
    if month not in desk.months:
        async with engine.begin() as conn:
            await repository.make_partitions(await reader_in(conn), at)
        desk.months.add(month)


async def record(desk: VisitDesk, engine: AsyncEngine, primary: Reader, visit: Visit, moment: float) -> dict[str, Any]:
    """Count a visit (once per client, site and hour): the site its token stands for and whether it was counted.

    The visit is one statement on the primary, its own transaction: no BEGIN and COMMIT round trips around it."""
    local = china_time.local_time(visit.at)
    day = local.date()
    salt = await _salt(desk, engine, day)
    client = client_hash(salt, visit.client)
    await _limit(desk, client_hash(salt, "ip:" + visit.address).hex(), client.hex(), visit.token, moment)
    await _make_partitions(desk, engine, visit.at)
    hour = visit.at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    row = await repository.record(
        primary, visit.token, hour, client, visit.worker_group, day, local.hour, PROFILE_TAU_S
    )
    if row["site_id"] is None:
        raise InvalidParameter("token", "not a current door token (forged, or rotated since it was printed)")
    return {"site_id": row["site_id"], "counted": row["counted"], "hour": hour.astimezone(china_time.CHINA)}


# Usage ------------------------------------------------------------------------------------------------------------


def expected_visits(weight: float, updated_at: dt.datetime, at: dt.datetime) -> float:
    """The visits a site's profile expects in one hour of a day: its weight decayed to `at`, times the share of a
    day's weight one day's visits make in a steady state (1 - e^(-1/tau))."""
    age_s = max(0.0, (at - updated_at).total_seconds())
    return weight * math.exp(-age_s / PROFILE_TAU_S) * (1 - math.exp(-1 / PROFILE_TAU_DAYS))


async def busy_at(reader: Reader, site_ids: list[int], at: dt.datetime) -> dict[int, bool]:
    """Whether each site is usually busy at `at`'s hour of the day (China time); sites with no visits are not."""
    hour_of_day = china_time.local_time(at).hour
    found = {r["site_id"]: r for r in await repository.hour_profiles(reader, site_ids, hour_of_day)}
    return {
        i: i in found and expected_visits(found[i]["weight"], found[i]["updated_at"], at) >= BUSY_VISITS_PER_HOUR
        for i in site_ids
    }


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=china_time.CHINA)


async def site_usage(
    reader: Reader, site_id: int, first: dt.date, last: dt.date, by: str, top_hours: int = 3
) -> dict[str, Any]:
    """A site's visits between two days (China dates, both included) by hour, day, week or month, with the
    worker-group mix and its busiest hours of the day."""
    if last < first:
        raise InvalidParameter("to", "before from")
    start, end = _start_of(first), _start_of(last + dt.timedelta(days=1))
    if by == "hour":
        rows = await repository.hourly_series(reader, site_id, start, end)
        keyed = [(r["hour"].astimezone(china_time.CHINA).isoformat(), r) for r in rows]
    else:
        rows = await repository.daily_series(reader, by, site_id, first, last)
        keyed = [(r["start"].isoformat(), r) for r in rows]
    series: dict[str, dict[str, Any]] = {}
    groups: dict[str, int] = {}
    for start_text, row in keyed:
        group = row["worker_group"] or "unspecified"
        entry = series.setdefault(start_text, {"start": start_text, "visits": 0, "groups": {}})
        entry["visits"] += row["visits"]
        entry["groups"][group] = entry["groups"].get(group, 0) + row["visits"]
        groups[group] = groups.get(group, 0) + row["visits"]
    busiest = await repository.busiest_hours(reader, site_id, start, end, top_hours)
    return {
        "site_id": site_id,
        "from": first,
        "to": last,
        "by": by,
        "visits": sum(groups.values()),
        "groups": groups,
        "series": list(series.values()),
        "busiest_hours": [{"hour": r["hour_of_day"], "visits": r["visits"]} for r in busiest],
    }


async def idle_below(reader: Reader, adcode: str) -> int:
    found = await repository.region_rule(reader, adcode, "idle_below_visits")
    return int(found) if found is not None else IDLE_BELOW_VISITS


async def region_usage(
    reader: Reader, adcode: str, first: dt.date, last: dt.date, as_of: dt.date, kind: str | None = None
) -> dict[str, Any]:
    """A region's visits per site (of `kind`, if given) between two days, and its idle stations on `as_of` (the
    planner's "move or close?" list): sites serving that day, as coverage counts them
    (app.sites.repository.serving_on), with fewer visits than the region's threshold in the IDLE_DAYS days ending
    that day. The sites are those not deleted by then."""
    if not await region_repository.exists(reader, adcode):
        raise NotFound(f"no region with adcode {adcode}")
    if last < first:
        raise InvalidParameter("to", "before from")
    threshold = await idle_below(reader, adcode)
    is_today = as_of == china_time.today()
    recent_first = as_of - dt.timedelta(days=IDLE_DAYS - 1)
    if first - as_of > dt.timedelta(days=IDLE_DAYS) or recent_first - last > dt.timedelta(days=IDLE_DAYS):
        # Far apart: each window read on its own rather than every day between them.
        sites = await repository.per_site(reader, adcode, first, last, first, last, as_of, is_today, kind)
        recent = {
            r["site_id"]: r["visits"]
            for r in await repository.per_site(
                reader, adcode, recent_first, as_of, recent_first, as_of, as_of, is_today, kind
            )
        }
    else:
        sites = await repository.per_site(reader, adcode, first, last, recent_first, as_of, as_of, is_today, kind)
        recent = {r["site_id"]: r["recent"] for r in sites}
    groups: dict[str, int] = {}
    items = []
    for row in sites:
        for group, count in row["groups"].items():
            groups[group] = groups.get(group, 0) + count
        items.append(
            {
                "site_id": row["site_id"],
                "name": row["name"],
                "kind": row["kind"],
                "region_adcode": row["region_adcode"],
                "visits": row["visits"],
                "groups": row["groups"],
                "serving": row["serving"],
                "visits_last_30_days": recent.get(row["site_id"], 0),
                "idle": row["serving"] and recent.get(row["site_id"], 0) < threshold,
            }
        )
    return {
        "adcode": adcode,
        "kind": kind,
        "as_of": as_of,
        "from": first,
        "to": last,
        "visits": sum(i["visits"] for i in items),
        "groups": groups,
        "site_count": len(items),
        "idle_rule": {"below_visits": threshold, "days": IDLE_DAYS},
        "idle_count": sum(i["idle"] for i in items),
        "sites": items,
    }


async def children_usage(
    reader: Reader, adcode: str, first: dt.date, last: dt.date, as_of: dt.date, kind: str | None = None
) -> dict[str, Any]:
    """The same totals for each child region of a region."""
    if not await region_repository.exists(reader, adcode):
        raise NotFound(f"no region with adcode {adcode}")
    items = []
    for child in await repository.child_regions(reader, adcode):
        usage = await region_usage(reader, child["adcode"], first, last, as_of, kind)
        items.append(
            {
                "adcode": child["adcode"],
                "name": child["name"],
                "visits": usage["visits"],
                "groups": usage["groups"],
                "site_count": usage["site_count"],
                "idle_rule": usage["idle_rule"],
                "idle_count": usage["idle_count"],
            }
        )
    return {"adcode": adcode, "kind": kind, "as_of": as_of, "from": first, "to": last, "items": items}


async def station_rules(reader: Reader, adcode: str) -> dict[str, Any]:
    """A region's station rules: what it sets itself (null: not set) and what applies (its own, else its nearest
    ancestor's, else the defaults)."""
    if not await region_repository.exists(reader, adcode):
        raise NotFound(f"no region with adcode {adcode}")
    own = await repository.own_rules(reader, adcode)
    interval = await repository.region_rule(reader, adcode, "inspection_interval_months")
    return {
        "adcode": adcode,
        "own": {
            "idle_below_visits": own["idle_below_visits"] if own else None,
            "inspection_interval_months": own["inspection_interval_months"] if own else None,
        },
        "applied": {
            "idle_below_visits": await idle_below(reader, adcode),
            "inspection_interval_months": int(interval) if interval is not None else INSPECTION_INTERVAL_MONTHS,
        },
    }


async def set_station_rules(
    conn: AsyncConnection, principal: Principal, adcode: str, idle_below_visits: int | None, interval: int | None
) -> dict[str, Any]:
    """Set a region's own rules (null: follow the region above): a write key whose region holds it."""
    raw = await reader_in(conn)
    if not await region_repository.exists(raw, adcode):
        raise NotFound(f"no region with adcode {adcode}")
    if not principal.may_write_in(adcode):
        raise Forbidden(f"region {adcode} is outside this key's region {principal.region_prefix}*")
    await repository.set_rules(raw, adcode, idle_below_visits, interval)
    return await station_rules(raw, adcode)
