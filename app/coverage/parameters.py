"""The parameters every coverage question takes (the JSON endpoints and the tiles alike)."""

import datetime as dt
from typing import Annotated

from fastapi import Depends, Path, Query

from app.coverage import service
from app.dependencies import ReaderDep

Adcode = Annotated[str, Path(pattern=r"^[0-9]{6}$", description="Six-digit administrative code")]
Kind = Annotated[str, Query(description="Site kind whose coverage is asked")]
AsOf = Annotated[
    dt.date | None, Query(description="Evaluate the register as it stood on this date (default: today, UTC+8)")
]
RadiusOverride = Annotated[
    float | None,
    Query(
        gt=0,
        le=service.MAX_RULE_RADIUS_M,
        allow_inf_nan=False,
        description="What-if: use this radius instead of the region's rule (echoed in `rule`)",
    ),
]

MinSitesOverride = Annotated[
    int | None,
    Query(
        ge=1,
        le=service.MAX_MIN_SITES,
        description="What-if: count a place as covered only when this many sites reach it (2: cross coverage, "
        "交叉覆盖), instead of the rule's min_sites",
    ),
]


async def evaluation_query(
    reader: ReaderDep,
    kind: Kind = "legal_aid",
    as_of: AsOf = None,
    radius_m: RadiusOverride = None,
    min_sites: MinSitesOverride = None,
) -> service.Evaluation:
    """What every coverage question shares: the kind, the date, a what-if radius or site count."""
    return await service.evaluation(reader, kind, as_of, radius_m, min_sites)


EvaluationDep = Annotated[service.Evaluation, Depends(evaluation_query)]
