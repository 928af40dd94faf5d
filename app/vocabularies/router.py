"""GET /v1/vocabularies: every controlled list with Chinese and English labels, so apps hard-code none."""

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.api.dependencies import ReaderDep
from app.api.query import StrictQueryRoute
from app.api.responses import cached
from app.vocabularies import repository
from app.vocabularies.closed import (
    AccessMode,
    CallbackReason,
    CallbackStatus,
    RatingTag,
    RegionLevel,
    ReportStatus,
    ReportType,
    Scope,
    SiteStatus,
    TargetMeasure,
    TargetStatus,
    VerificationMethod,
    WorkerGroup,
)
from app.vocabularies.schemas import Vocabularies

router = APIRouter(prefix="/v1", tags=["vocabularies"], route_class=StrictQueryRoute)


@router.get("/vocabularies", response_model=Vocabularies)
async def vocabularies(request: Request, reader: ReaderDep) -> Response:
    """Site kinds and amenities (data, from the register) and the closed vocabularies of app.vocabularies.closed."""
    return cached(
        request,
        {
            "kinds": await repository.labelled(reader, "site_kinds"),
            "amenities": await repository.labelled(reader, "amenities"),
            "access": AccessMode.labelled(),
            "report_types": ReportType.labelled(),
            "verification_methods": VerificationMethod.labelled(),
            "site_statuses": SiteStatus.labelled(),
            "report_statuses": ReportStatus.labelled(),
            "region_levels": RegionLevel.labelled(),
            "key_scopes": Scope.labelled(),
            "target_measures": TargetMeasure.labelled(),
            "target_statuses": TargetStatus.labelled(),
            "worker_groups": WorkerGroup.labelled(),
            "rating_tags": RatingTag.labelled(),
            "callback_reasons": CallbackReason.labelled(),
            "callback_statuses": CallbackStatus.labelled(),
        },
        max_age=3600,
    )
