"""The star level rule, in one place: what an inspection's scores make of a station, and how complaints lower it.

- An inspection scores seven dimensions (SPEC §2: hardware, equipment, signage, rules, funding, use, activities),
  each 0–100. Its total is their mean.
- Its level: 5 stars from a total of 90, 4 from 80, 3 from 70, 2 from 60, else 1.
- It passes with a total of at least 60 and no dimension under 40; a failed inspection may suspend the site.
- A site's star level is its latest inspection's level (by date, then the later record), lowered one step (never
  below 1) while it has verified complaints overdue: an open call-back past its due date, or an open worker's report
  past its due date (the day it was filed, China time, plus CALLBACK_DAYS, as a call-back). A site never inspected
  has no star level.
"""

from collections.abc import Mapping

from app import china_time

DIMENSIONS = ("hardware", "equipment", "signage", "rules", "funding", "use", "activities")
LEVEL_FROM_TOTAL = ((90.0, 5), (80.0, 4), (70.0, 3), (60.0, 2))
PASS_TOTAL = 60.0
PASS_EACH = 40
# A call-back a bad rating opens is due this many days on; a report as many days after it was filed.
CALLBACK_DAYS = 3
REPORT_DUE_DAYS = CALLBACK_DAYS
# Each region inspects its stations this often unless it sets its own interval (region_station_rules).
INSPECTION_INTERVAL_MONTHS = 6


def total(scores: Mapping[str, int]) -> float:
    return sum(scores[d] for d in DIMENSIONS) / len(DIMENSIONS)


def level(scores: Mapping[str, int]) -> int:
    found = total(scores)
    return next((stars for floor, stars in LEVEL_FROM_TOTAL if found >= floor), 1)


def passed(scores: Mapping[str, int]) -> bool:
    return total(scores) >= PASS_TOTAL and min(scores[d] for d in DIMENSIONS) >= PASS_EACH


def overdue_complaints_sql(site_id: str, today: str) -> str:
    """SQL: the site (`site_id`, a column or placeholder) has a complaint overdue on `today` (a placeholder)."""
    return f"""(
    EXISTS (SELECT FROM site_callbacks c WHERE c.site_id = {site_id} AND c.status = 'open' AND c.due_on < {today})
    OR EXISTS (
        SELECT FROM site_reports r WHERE r.site_id = {site_id} AND r.status = 'open'
          AND r.created_at < ({today}::date - {REPORT_DUE_DAYS})::timestamp AT TIME ZONE 'Asia/Shanghai'
    ))"""


def report_due_on_sql(created_at: str) -> str:
    """SQL: a report's due date from when it was filed."""
    return f"({china_time.date_sql(created_at)} + {REPORT_DUE_DAYS})"


def star_level_sql(site_id: str, today: str) -> str:
    """SQL: the site's star level on `today` (null if never inspected)."""
    return f"""(
    SELECT greatest(1, i.level - CASE WHEN {overdue_complaints_sql(site_id, today)} THEN 1 ELSE 0 END)
    FROM site_inspections i WHERE i.site_id = {site_id} ORDER BY i.inspected_on DESC, i.id DESC LIMIT 1)"""
