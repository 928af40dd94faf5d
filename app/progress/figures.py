"""The figures progress is measured by, read from the coverage answers (app.coverage.figures) and nothing else: a
region's active sites of the kind, its covered shares of area and of people, on a date."""

import datetime as dt
from typing import Any

from app.coverage import figures
from app.coverage.evaluation import Evaluation
from app.coverage.kept import CoverageKept
from app.database.read_pool import Reader
from app.vocabularies.closed import TargetMeasure

# The field of a coverage row each measure reads.
MEASURED = {
    TargetMeasure.active_sites: "site_count",
    TargetMeasure.area_share: "covered_area_share",
    TargetMeasure.population_share: "covered_population_share",
}
FIGURES = tuple(MEASURED.values())


def on(ev: Evaluation, day: dt.date) -> Evaluation:
    """The same question on another date."""
    return Evaluation(ev.kind, day, ev.radius_override, ev.min_sites_override, ev.state)


def of_row(row: dict[str, Any]) -> dict[str, Any]:
    """The figures of a coverage row."""
    return {field: row[field] for field in FIGURES}


async def region_figures(reader: Reader, kept: CoverageKept, adcode: str, ev: Evaluation) -> dict[str, Any]:
    return of_row(await figures.region_coverage(reader, kept, adcode, ev))


async def child_figures(
    reader: Reader, kept: CoverageKept, adcode: str, ev: Evaluation
) -> list[tuple[str, str, dict[str, Any]]]:
    """(adcode, name, figures) of each child region."""
    return [(r["adcode"], r["name"], of_row(r)) for r in await figures.child_rows(reader, kept, adcode, ev)]
