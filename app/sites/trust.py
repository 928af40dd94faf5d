"""How far to trust a site's listing (SPEC §2: stations shown open that were locked, or closed last year).

A site with an unreviewed report that workers could not get in ranks as if half again as far; one nobody has
verified for 180 days as if a tenth farther. Multiplying keeps "equally near" meaningful at every distance, and a
rank is never below the distance, which the exactness argument of the nearest search needs. The database reads
the two flags with the distance (app.sites.nearest.repository); the service ranks the handful of candidates.
"""

REPORTED_RANK_FACTOR = 0.5
UNVERIFIED_RANK_FACTOR = 0.1
UNVERIFIED_AFTER_DAYS = 180
# The flags an answer carries.
REPORTED_FLAG = "reported_access_problem"
UNVERIFIED_FLAG = "not_verified_recently"

# SQL over a site row `s`: the two flags. The first is kept on the site from its open reports of the
# app.vocabularies.closed.ACCESS_PROBLEMS types (trigger, migration 0006).
ACCESS_REPORTED_SQL = "s.access_reported"
UNVERIFIED_SQL = f"(s.last_verified_at IS NULL OR s.last_verified_at < now() - interval '{UNVERIFIED_AFTER_DAYS} days')"
# Over the two flags, once selected as columns `access_reported` and `unverified`: how much farther than its
# distance a site ranks.
RANK_FACTOR_SQL = (
    f"(1 + CASE WHEN access_reported THEN {REPORTED_RANK_FACTOR} ELSE 0 END"
    f" + CASE WHEN unverified THEN {UNVERIFIED_RANK_FACTOR} ELSE 0 END)"
)


_FLAGS = {
    (reported, unverified): tuple(
        flag for flag, raised in ((REPORTED_FLAG, reported), (UNVERIFIED_FLAG, unverified)) if raised
    )
    for reported in (False, True)
    for unverified in (False, True)
}


def flags(access_reported: bool, unverified: bool) -> tuple[str, ...]:
    """The flags an answer carries, in this order (one shared tuple per combination: called for every item)."""
    return _FLAGS[access_reported, unverified]
