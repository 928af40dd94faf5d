"""Which of the register's opening-hours strings are open at a given minute, as a bit string the nearest query
filters by inside its index scan (bit i is opening_hours_expressions.id i).

The filter only narrows: a string the service does not know yet (added since it last read the table) or whose
status changes within the minute passes, and every returned site is still judged exactly by app.hours. So a
stale or coarse bit string costs rows, never a wrong answer.
"""

import datetime as dt
import time

import asyncpg

from app.database.read_pool import Reader
from app.sites import hours

# A new opening-hours string is filtered by the database within this many seconds (and judged exactly meanwhile).
CACHE_SECONDS = 30.0
EXPRESSIONS_SQL = "SELECT id, expression FROM opening_hours_expressions ORDER BY id"


class OpenHoursIndex:
    """The register's opening-hours strings and the bit strings of the last few minutes asked: one per application
    (create_app keeps it on app.state), so applications in one process do not share what they have read."""

    def __init__(self) -> None:
        self._expressions: list[str | None] = []  # by id; id 0 is never used
        self._loaded_at = float("-inf")
        self._bits: dict[tuple[dt.datetime, bool], asyncpg.BitString] = {}

    async def _load(self, reader: Reader) -> None:
        rows = await reader.fetch(EXPRESSIONS_SQL)
        expressions: list[str | None] = [None] * ((rows[-1]["id"] + 1) if rows else 0)
        for row in rows:
            expressions[row["id"]] = row["expression"]
        self._expressions, self._loaded_at, self._bits = expressions, time.monotonic(), {}

    async def bits(self, reader: Reader, at: dt.datetime, open_now: bool) -> asyncpg.BitString:
        """Bit i set when sites with expression i may have `open_now` at `at` (naive China time)."""
        if time.monotonic() - self._loaded_at > CACHE_SECONDS:
            await self._load(reader)
        minute = at.replace(second=0, microsecond=0)
        key = (minute, open_now)
        if key not in self._bits:
            if len(self._bits) > 16:  # a few recent minutes (and the odd explicit `at`) are all that is asked
                self._bits.clear()
            self._bits[key] = asyncpg.BitString(
                "".join("1" if self._may_be(expression, minute, open_now) else "0" for expression in self._expressions)
            )
        return self._bits[key]

    @staticmethod
    def _may_be(expression: str | None, minute: dt.datetime, open_now: bool) -> bool:
        if expression is None:
            return False
        found, valid_until = hours.status_in_minute(expression, minute)
        return found.open_now == open_now or valid_until < minute + dt.timedelta(minutes=1)
