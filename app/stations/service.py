"""What the worker's answers (the nearest search, a site's page) show of a station in use: its workers' rating
(mean and count), its star level (app.inspections.rules) and whether it is usually busy at this hour
(app.visits.service.busy); and the nearest search filtered by them."""

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg

from app import china_time
from app.database.read_pool import Reader
from app.ratings import service as ratings_service
from app.stations import repository
from app.visits import service as visits

# With min_rating or min_star the search asks for this many times the answer's length, then four times more while
# too few pass, up to MAX_SEARCHED sites (beyond which the answer may be short).
WIDEN = 4
MAX_SEARCHED = 4096


def _standing_of(row: Any, at: dt.datetime) -> dict[str, Any]:
    ratings = row["ratings"] or 0
    return {
        "worker_rating": {"mean": ratings_service.shown_mean(ratings, row["stars"]), "count": ratings},
        "star_level": row["star_level"],
        "busy_now": row["weight"] is not None
        and visits.expected_visits(row["weight"], row["updated_at"], at) >= visits.BUSY_VISITS_PER_HOUR,
    }


def standing_of(rows: Sequence[asyncpg.Record], at: dt.datetime) -> dict[int, dict[str, Any]]:
    """Each site's standing at `at`, from rows that carry its columns (the nearest search's, read with it at `at`)."""
    return {r["id"]: _standing_of(r, at) for r in rows}


async def standing(reader: Reader, site_ids: list[int], at: dt.datetime) -> dict[int, dict[str, Any]]:
    """Each site's worker_rating, star_level and busy_now at `at` (aware)."""
    if not site_ids:
        return {}
    local = china_time.local_time(at)
    rows = await repository.standing(reader, site_ids, local.date(), local.hour)
    return {r["site_id"]: _standing_of(r, at) for r in rows}


async def published(reader: Reader, site_ids: list[int]) -> dict[int, dict[str, Any]]:
    """What partners' copies carry of each site in use (the change feed, OGC API features), flat: the workers' mean
    rating and its count and the star level, as they stand now."""
    found = await standing(reader, site_ids, china_time.now())
    return {
        site_id: {
            "worker_rating_mean": f["worker_rating"]["mean"],
            "worker_rating_count": f["worker_rating"]["count"],
            "star_level": f["star_level"],
        }
        for site_id, f in found.items()
    }


def passes(found: dict[str, Any], min_rating: float | None, min_star: int | None) -> bool:
    """Whether a site's standing meets the filters: a mean of at least `min_rating` (a site without ratings has
    none) and a star level of at least `min_star` (a site never inspected has none)."""
    if min_rating is not None:
        mean = found["worker_rating"]["mean"]
        if mean is None or mean < min_rating:
            return False
    if min_star is not None:
        level = found["star_level"]
        if level is None or level < min_star:
            return False
    return True


async def filtered(
    search: Callable[[int], Awaitable[Sequence[asyncpg.Record]]],
    limit: int,
    at: dt.datetime,
    min_rating: float | None,
    min_star: int | None,
) -> tuple[list[asyncpg.Record], dict[int, dict[str, Any]]]:
    """The `limit` best-ranked sites `search` finds that meet the filters, with their standing (which `search`'s rows
    carry, at `at`).

    Exact: filtering keeps the ranked order, so the first `limit` passing among the best N are the best passing
    overall; N grows until enough pass, or the search found fewer than N (it considered every site in range)."""
    asked = limit * WIDEN
    while True:
        rows = list(await search(asked))
        found = standing_of(rows, at)
        kept = [r for r in rows if passes(found[r["id"]], min_rating, min_star)][:limit]
        if len(kept) == limit or len(rows) < asked or asked >= MAX_SEARCHED:
            return kept, found
        asked = min(asked * WIDEN, MAX_SEARCHED)
