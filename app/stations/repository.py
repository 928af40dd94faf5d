"""SQL: the standing of sites as stations in use, read beside whatever else a statement reads of them (the nearest
search's candidates carry it, so its answer costs no second statement), or of some sites at once."""

import datetime as dt
from typing import Any

from app.database.read_pool import Reader
from app.inspections.rules import star_level_sql


def columns_sql(site_id: str, today: str) -> str:
    """The standing's columns of the site `site_id` (a column) on `today` (a placeholder), over standing_joins_sql's
    tables: its ratings and their stars, its star level, and its hour profile's weight at the hour asked."""
    return f"t.ratings, t.stars, {star_level_sql(site_id, f'{today}::date')} AS star_level, p.weight, p.updated_at"


def joins_sql(site_id: str, hour_of_day: str) -> str:
    """The tables columns_sql reads, joined to the site `site_id` (a column) at `hour_of_day` (a placeholder)."""
    return f"""
LEFT JOIN site_rating_totals t ON t.site_id = {site_id}
LEFT JOIN site_hour_profiles p ON p.site_id = {site_id} AND p.hour_of_day = {hour_of_day}::int"""


STANDING_SQL = f"""
SELECT ids.id AS site_id, {columns_sql("ids.id", "$2")}
FROM unnest($1::bigint[]) AS ids (id)
{joins_sql("ids.id", "$3")}
"""


async def standing(reader: Reader, site_ids: list[int], today: dt.date, hour_of_day: int) -> list[Any]:
    return await reader.fetch(STANDING_SQL, site_ids, today, hour_of_day)
