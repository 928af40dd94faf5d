"""How far to trust a site's listing (SPEC §2: stations shown open that were locked, or closed last year).

A site with an unreviewed report that workers could not get in ranks as if half again as far; one nobody has
verified for 180 days as if a tenth farther. Multiplying keeps "equally near" meaningful at every distance, and a
rank is never below the distance, which the exactness argument of the nearest search needs. The factor is
computed by the database with the distance (app.sites.repository), so the hot path ranks there.
"""

from app.reports.models import ACCESS_PROBLEMS

REPORTED_RANK_FACTOR = 0.5
UNVERIFIED_RANK_FACTOR = 0.1
UNVERIFIED_AFTER_DAYS = 180
# The flags an answer carries.
REPORTED_FLAG = "reported_access_problem"
UNVERIFIED_FLAG = "not_verified_recently"

# SQL over a site row `s`: the two flags …
ACCESS_REPORTED_SQL = f"""EXISTS (
    SELECT 1 FROM site_reports r
    WHERE r.site_id = s.id AND r.status = 'open' AND r.type IN ({", ".join(repr(t) for t in ACCESS_PROBLEMS)})
)"""
UNVERIFIED_SQL = f"(s.last_verified_at IS NULL OR s.last_verified_at < now() - interval '{UNVERIFIED_AFTER_DAYS} days')"
# Over the two flags, once selected as columns `access_reported` and `unverified`: the factor …
RANK_FACTOR_SQL = (
    f"(1 + CASE WHEN access_reported THEN {REPORTED_RANK_FACTOR} ELSE 0 END"
    f" + CASE WHEN unverified THEN {UNVERIFIED_RANK_FACTOR} ELSE 0 END)"
)
# … and the flags, as a text[].
FLAGS_SQL = (
    f"array_remove(ARRAY[CASE WHEN access_reported THEN '{REPORTED_FLAG}' END,"
    f" CASE WHEN unverified THEN '{UNVERIFIED_FLAG}' END], NULL)"
)


def factor(access_reported: bool, unverified: bool) -> float:
    """The same factor in Python, for rows ranked outside the database."""
    return 1 + REPORTED_RANK_FACTOR * access_reported + UNVERIFIED_RANK_FACTOR * unverified
