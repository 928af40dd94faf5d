"""The parameters every coverage question takes (the JSON endpoints and the tiles alike)."""

from typing import Annotated

from fastapi import Depends, Query, Request
from pydantic import Field

from app import geo
from app.api.dependencies import ReaderDep, VocabulariesDep
from app.api.parameters import IsoDate, VocabularyCode
from app.coverage.evaluation import Evaluation, evaluation
from app.coverage.kept import CoverageKept
from app.coverage.rules import MAX_MIN_SITES, MAX_RULE_RADIUS_M

Kind = Annotated[VocabularyCode, Query(description="Site kind whose coverage is asked")]
AsOf = Annotated[
    IsoDate | None, Query(description="Evaluate the register as it stood on this date (default: today, UTC+8)")
]
# The what-ifs' bounds, for every route that takes them (the JSON endpoints, the tiles, TileJSON, siting).
WhatIfRadius = Annotated[float, Field(ge=geo.MIN_RADIUS_M, le=MAX_RULE_RADIUS_M, allow_inf_nan=False)]
WhatIfMinSites = Annotated[int, Field(ge=1, le=MAX_MIN_SITES)]
RadiusOverride = Annotated[
    WhatIfRadius | None,
    Query(description="What-if: use this radius (metres) instead of the region's rule (echoed in `rule`)"),
]

MinSitesOverride = Annotated[
    WhatIfMinSites | None,
    Query(
        description="What-if: count a place as covered only when this many sites reach it (2: cross coverage, "
        "交叉覆盖), instead of the rule's min_sites",
    ),
]


async def evaluation_query(
    reader: ReaderDep,
    vocabularies: VocabulariesDep,
    kind: Kind = "legal_aid",
    as_of: AsOf = None,
    radius_m: RadiusOverride = None,
    min_sites: MinSitesOverride = None,
) -> Evaluation:
    """What every coverage question shares: the kind, the date, a what-if radius or site count."""
    return await evaluation(reader, vocabularies, kind, as_of, radius_m, min_sites)


EvaluationDep = Annotated[Evaluation, Depends(evaluation_query)]


def coverage_kept(request: Request) -> CoverageKept:
    """The application's kept coverage answers (made by create_app)."""
    kept: CoverageKept = request.app.state.coverage_kept
    return kept


CoverageKeptDep = Annotated[CoverageKept, Depends(coverage_kept)]
