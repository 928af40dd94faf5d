"""Ratings: a worker at the door (the site's current token) gives 1–5 stars, tags and a comment; one rating per client
and site counts per 30 days (a new one replaces it); a bad one opens a call-back for the operator.

Sites are ranked (by whoever lists them) by the lower bound of their mean stars (Evan Miller, "Ranking items with star
ratings", 2016): a site's own ratings are joined by prior ones, one at each star level (FLAT_PRIOR) and PRIOR_RATINGS
ratings as its region's are (their mean and mean square; the register's without any rating in the region; as the flat
ones without any at all). Over the N = n + 5 + 10 ratings, μ is their mean and σ² = E[s²] − μ² their spread; the score
is μ − Z·√(σ² / (N + 1)), the lower end of a one-sided 95 % interval of the mean (σ²/(N + 1) is the variance of the mean
under the Dirichlet posterior the ratings make). Few ratings leave the interval wide and the score low; many that agree
narrow it. The flat prior keeps a site with few ratings uncertain whatever its region's ratings: one five-star rating
ranks below forty fours in every region, the closest being a region of fives alone (3.89 against 3.94).
"""

import datetime as dt
import math
import secrets
from hashlib import blake2b
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app import china_time
from app.changes import repository as changes
from app.database.connections import reader_in
from app.database.read_pool import Reader
from app.door import service as door
from app.inspections.rules import CALLBACK_DAYS
from app.inspections.service import star_level
from app.keys.service import Principal
from app.problems import Forbidden, InvalidParameter, NotFound
from app.ratings import repository
from app.ratings.schemas import RatingIn
from app.sites import service as sites
from app.vocabularies.closed import CallbackReason, CallbackStatus, RatingTag

REPLACE_WITHIN = dt.timedelta(days=30)
# Ratings are hashed under a salt per period of this many days; the current and the previous period's salts are
# kept, so a client's rating of the last 30 days is always found, and older salts are destroyed.
SALT_PERIOD_DAYS = 30
STAR_LEVELS = (1, 2, 3, 4, 5)
FLAT_PRIOR = STAR_LEVELS  # one prior rating at each level
PRIOR_RATINGS = 10  # and this many as the region's
Z = 1.645  # a one-sided 95 % bound
FLAT_MEAN = sum(FLAT_PRIOR) / len(FLAT_PRIOR)
FLAT_MEAN_SQUARE = sum(s * s for s in FLAT_PRIOR) / len(FLAT_PRIOR)
# A rating of this many stars or fewer, or one saying the door was locked, opens a call-back (due CALLBACK_DAYS on).
CALLBACK_BELOW_OR_AT = 2
SALT_BYTES = 32
# Who the change feed names for a change of a site's rating.
RATING_ACTOR = "door:rating"

now = china_time.now  # the clock ratings and call-backs are dated by (tests move it)


def shown_mean(ratings: int, stars: int) -> float | None:
    """A site's mean stars as every answer and the change feed show it (null without ratings)."""
    return round(stars / ratings, 2) if ratings else None


def ranking_score(ratings: int, stars: int, stars_squared: int, prior_mean: float, prior_mean_square: float) -> float:
    """The score to rank sites by: the lower bound of the mean of the site's ratings (`stars` and `stars_squared`
    their sums) and the prior ones, the region's with mean `prior_mean` and mean square `prior_mean_square`."""
    count = ratings + len(FLAT_PRIOR) + PRIOR_RATINGS
    mean = (stars + sum(FLAT_PRIOR) + PRIOR_RATINGS * prior_mean) / count
    mean_square = (stars_squared + sum(s * s for s in FLAT_PRIOR) + PRIOR_RATINGS * prior_mean_square) / count
    spread = max(0.0, mean_square - mean * mean)  # never below 0, though rounding could make it -1e-16
    return mean - Z * math.sqrt(spread / (count + 1))


def rating_of(row: Any) -> dict[str, Any]:
    """A site's `worker_rating` from its totals and its region's: mean and count, and the score to rank it by."""
    ratings, stars = row["ratings"], row["stars"]
    if row["region_ratings"]:
        prior = (row["region_stars"] / row["region_ratings"], row["region_stars_squared"] / row["region_ratings"])
    elif row["all_ratings"]:
        prior = (row["all_stars"] / row["all_ratings"], row["all_stars_squared"] / row["all_ratings"])
    else:
        prior = (FLAT_MEAN, FLAT_MEAN_SQUARE)
    return {
        "mean": shown_mean(ratings, stars),
        "count": ratings,
        "ranking_score": round(ranking_score(ratings, stars, row["stars_squared"], *prior), 3),
        "region_mean": round(prior[0], 3),
    }


async def summary(reader: Reader, site_id: int) -> dict[str, Any]:
    row = await repository.summary(reader, site_id)
    if row is None:
        raise NotFound(f"no site with id {site_id}")
    return rating_of(row)


def _hash(salt: bytes, client: str) -> bytes:
    return blake2b(client.encode(), key=salt, digest_size=16).digest()


def callback_reason(stars: int, tags: list[str]) -> CallbackReason | None:
    if stars <= CALLBACK_BELOW_OR_AT:
        return CallbackReason.low_stars
    if RatingTag.locked in tags:
        return CallbackReason.locked
    return None


async def rate(conn: AsyncConnection, site_id: int, body: RatingIn, client: str) -> dict[str, Any]:
    """Record a rating from the door of `site_id`; the client's rating of the last 30 days there is replaced."""
    raw = await reader_in(conn)
    await sites.get(raw, site_id)
    await door.check_door_of(raw, body.token, site_id)
    at = now()
    today = china_time.local_time(at).date()
    period = today.toordinal() // SALT_PERIOD_DAYS
    salts = await repository.salts(raw, period, secrets.token_bytes(SALT_BYTES))
    hashes = [_hash(salts[p], client) for p in sorted(salts, reverse=True)]
    current = hashes[0]
    await repository.lock_client(raw, int.from_bytes(current[:8], "big", signed=True) ^ site_id)
    replaced = await repository.replace(raw, site_id, hashes, at - REPLACE_WITHIN)
    tags: list[str] = sorted({tag.value for tag in body.tags})
    row = await repository.insert(raw, site_id, current, body.stars, tags, body.comment)
    added, stars_added = 1 - len(replaced), body.stars - sum(r["stars"] for r in replaced)
    totals = await repository.add_to_totals(
        raw, site_id, added, stars_added, body.stars**2 - sum(r["stars"] ** 2 for r in replaced)
    )
    before = (totals["ratings"] - added, shown_mean(totals["ratings"] - added, totals["stars"] - stars_added))
    if (totals["ratings"], shown_mean(totals["ratings"], totals["stars"])) != before:
        await changes.record_in_use_change(raw, site_id, RATING_ACTOR)
    callback = None
    reason = callback_reason(body.stars, tags)
    if reason is not None:
        found = await repository.open_callback(
            raw, site_id, row["id"], reason, today + dt.timedelta(days=CALLBACK_DAYS)
        )
        callback = dict(found)
    return {**dict(row), "replaced": bool(replaced), "callback": callback}


async def ratings(reader: Reader, site_id: int, before: int, limit: int) -> list[dict[str, Any]]:
    await sites.get(reader, site_id)
    return await repository.page(reader, site_id, before, limit)


def _check_region(principal: Principal, region: str | None, what: str) -> None:
    if not principal.may_write_in(region):
        raise Forbidden(sites.outside_region(principal, what, region).reason())


async def hide_comment(conn: AsyncConnection, principal: Principal, rating_id: int) -> None:
    """Hide a rating's comment from everyone but the operators; the rating itself (its stars) still counts."""
    raw = await reader_in(conn)
    found = await repository.lock_rating(raw, rating_id)
    if found is None:
        raise NotFound(f"no rating with id {rating_id}")
    _check_region(principal, found["region_adcode"], "rating")
    await repository.hide_comment(raw, rating_id, principal.name)


async def callbacks(
    reader: Reader,
    principal: Principal,
    status: CallbackStatus | None,
    region: str | None,
    overdue_on: dt.date | None,
    after: int,
    limit: int,
) -> list[dict[str, Any]]:
    """The call-backs of the key's region (with `region`, of that region within it, descendants included); with
    `overdue_on` those still open whose due date is before that day."""
    if region is not None:
        await sites.check_key_covers(reader, principal, region)
    return await repository.callbacks(reader, status, principal.region_prefix, region, overdue_on, after, limit)


async def resolve_callback(
    conn: AsyncConnection, principal: Principal, callback_id: int, outcome: str
) -> dict[str, Any]:
    raw = await reader_in(conn)
    found = await repository.lock_callback(raw, callback_id)
    if found is None:
        raise NotFound(f"no call-back with id {callback_id}")
    _check_region(principal, found["region_adcode"], "call-back")
    if found["status"] != CallbackStatus.open:
        raise InvalidParameter("status", f"call-back {callback_id} was resolved already")
    level_before = await star_level(raw, found["site_id"])
    await repository.resolve_callback(raw, callback_id, outcome, principal.name)
    if await star_level(raw, found["site_id"]) != level_before:  # an overdue call-back no longer lowers it
        await changes.record_in_use_change(raw, found["site_id"], principal.name)
    resolved = await repository.one_callback(raw, callback_id)
    assert resolved is not None
    return resolved
