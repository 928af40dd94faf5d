"""What a question about a region code that names no region is answered: a code retired for another's (撤县设区
under a new adcode, app.regions.staged) is 410 Gone naming the region that took its place, so a partner whose
records carry the old code learns the new one instead of guessing; a code never loaded is 404."""

from app.database.read_pool import Reader
from app.problems import Gone, NotFound, YizhanError
from app.regions import repository


async def absent(reader: Reader, adcode: str) -> YizhanError:
    """The problem to answer for `adcode`, which names no region."""
    successor = await repository.successor(reader, adcode)
    if successor is None:
        return NotFound(f"no region with adcode {adcode}")
    return Gone(
        f"region {adcode} was replaced by region {successor} (/v1/regions/{successor})",
        extra={"replaced_by": successor},
    )
