"""SQL: the standing of some sites at once (one statement per answer, whatever its length)."""

import datetime as dt
from typing import Any

from app.database.read_pool import Reader
from app.inspections.rules import star_level_sql

STANDING_SQL = f"""
SELECT ids.id AS site_id, t.ratings, t.stars, {star_level_sql("ids.id", "$2::date")} AS star_level,
       p.weight, p.updated_at
FROM unnest($1::bigint[]) AS ids (id)
LEFT JOIN site_rating_totals t ON t.site_id = ids.id
LEFT JOIN site_hour_profiles p ON p.site_id = ids.id AND p.hour_of_day = $3
"""


async def standing(reader: Reader, site_ids: list[int], today: dt.date, hour_of_day: int) -> list[Any]:
    return await reader.fetch(STANDING_SQL, site_ids, today, hour_of_day)
