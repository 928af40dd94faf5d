"""A leaf region's coverage answers kept for a minute for the same state of the register: the map asks for the same
counties' coverage through the table, the region, its gaps and the tiles at once.

A site's change moves the state at once; so does a change of a region (its outline, level, population: its
`version`, kept by trigger, is in the key), for that region's answers only, even when another process made it
(`yizhan regions import`); a change of rules is seen within KEPT_SECONDS. What-if questions make new keys without
end: at most KEPT_ANSWERS answers and KEPT_BYTES of them are kept.
"""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from app.compute.kept import Kept
from app.coverage.evaluation import Evaluation

T = TypeVar("T")
KEPT_SECONDS = 60.0
KEPT_ANSWERS = 2_000
KEPT_BYTES = 16 * 1024 * 1024


class CoverageKept:
    """One application's kept coverage answers (create_app puts them on app.state.coverage_kept)."""

    def __init__(self) -> None:
        self._kept = Kept("coverage", KEPT_SECONDS, KEPT_ANSWERS, KEPT_BYTES)

    def __len__(self) -> int:
        return len(self._kept)

    async def get(
        self,
        what: str,
        region: asyncpg.Record,
        ev: Evaluation,
        compute: Callable[[], Awaitable[T]],
        weigh: Callable[[T], int],
    ) -> T:
        """`what` of the leaf `region` for `ev`, kept for the register's state `ev` is for (without one: computed
        and not kept)."""
        return await self._kept.get(_key(what, region, ev), compute, weigh)


def _key(what: str, region: asyncpg.Record, ev: Evaluation) -> tuple[Any, ...] | None:
    if ev.state is None:
        return None
    return (
        what,
        region["adcode"],
        region["version"],
        ev.kind,
        ev.as_of,
        ev.radius_override,
        ev.min_sites_override,
        ev.state,
    )
