"""What every coverage question shares: the kind, the date, the what-ifs and the register's state."""

import datetime as dt
from dataclasses import dataclass

import asyncpg

from app import china_time
from app.coverage import repository
from app.database.read_pool import Reader
from app.vocabularies.service import Vocabularies


@dataclass(frozen=True)
class Evaluation:
    """What every coverage question shares: the kind, the date and whether that date is today."""

    kind: str
    as_of: dt.date
    radius_override: float | None
    min_sites_override: int | None = None
    # The register's state the answer is for (repository.register_state); None: answers are not kept.
    state: tuple[int, int | None] | None = None
    # The kind's rules and road networks as read for this question (repository.kind_state): what a leaf's resolved
    # rule is kept by (app.coverage.kept); None: rules are read for each leaf.
    rules_state: str | None = None

    @property
    def is_today(self) -> bool:
        return self.as_of == china_time.today()

    def catchments(self, region: asyncpg.Record, radius_m: float) -> repository.Catchments:
        """The sites serving `region` within `radius_m`, in the region's plane."""
        return repository.Catchments(region["adcode"], self.kind, radius_m, srid_of(region), self.as_of, self.is_today)


async def evaluation(
    reader: Reader,
    vocabularies: Vocabularies,
    kind: str,
    as_of: dt.date | None,
    radius_m: float | None,
    min_sites: int | None = None,
) -> Evaluation:
    await vocabularies.site_kinds.check(reader, "kind", [kind])
    state = await repository.register_state(reader)
    return Evaluation(kind, as_of or china_time.today(), radius_m, min_sites, state)


def srid_of(region: asyncpg.Record) -> int:
    """The SRID of the region's own equal-area plane."""
    return int(region["equal_area_srid"])
