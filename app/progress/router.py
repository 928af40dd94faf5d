"""HTTP shape of progress: the series against targets, per child ranked behind first, closing a month, and the
monthly report."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from app import china_time
from app.api.dependencies import PlanKeyDep, PrimaryReaderDep, ReaderDep, TransactionDep, VocabulariesDep
from app.api.parameters import IsoDate, VocabularyCode, output_format
from app.api.query import StrictQueryRoute
from app.api.responses import JSON
from app.compute import offload
from app.coverage.evaluation import Evaluation, evaluation
from app.coverage.parameters import CoverageKeptDep
from app.formats.spreadsheets import XLSX_MEDIA_TYPE
from app.progress import months, report, report_pdf, report_xlsx, series
from app.progress.periods import MONTH_PATTERN, By, Period, check_year, default_from, month_of, periods
from app.progress.schemas import ChildrenProgress, ClosedMonth, RegionProgress
from app.regions.adcode import Adcode

router = APIRouter(prefix="/v1/progress", tags=["progress"], route_class=StrictQueryRoute)

PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such region"},
    422: {"description": "A parameter is invalid; `errors` names each field"},
}
Kind = Annotated[VocabularyCode, Query(description="Site kind")]


async def kind_query(reader: ReaderDep, vocabularies: VocabulariesDep, kind: Kind = "legal_aid") -> Evaluation:
    """The kind, checked, and the register's state the answers are for."""
    return await evaluation(reader, vocabularies, kind, None, None)


KindDep = Annotated[Evaluation, Depends(kind_query)]


def period_query(
    start: Annotated[
        IsoDate | None, Query(alias="from", description="First day measured (default: 12 periods before `to`)")
    ] = None,
    to: Annotated[IsoDate | None, Query(description="Last day measured (default: today, UTC+8)")] = None,
    by: Annotated[By, Query(description="month (月调度) or week (周汇报, Monday–Sunday)")] = By.month,
) -> list[Period]:
    today = china_time.today()
    to = check_year(to, "to") if to is not None else today
    start = check_year(start, "from") if start is not None else default_from(to, by)
    return periods(start, to, by, today)


PeriodsDep = Annotated[list[Period], Depends(period_query)]


@router.get("/{adcode}", response_model=RegionProgress, responses=PROBLEMS)
async def region_progress(
    reader: ReaderDep, kept: CoverageKeptDep, adcode: Adcode, ev: KindDep, chosen: PeriodsDep
) -> Response:
    """The region's site count and covered shares at the end of each period (as the coverage answers give them
    `as_of` that day), each target's line and the status against it: met, on track or behind, with the monthly
    rate still needed. A closed month shows its published figures and, under `revised`, the register's where a
    later correction changed them."""
    return JSON(await series.progress(reader, kept, adcode, ev, chosen))


@router.get("/{adcode}/children", response_model=ChildrenProgress, responses=PROBLEMS)
async def children_progress(
    reader: ReaderDep, kept: CoverageKeptDep, adcode: Adcode, ev: KindDep, chosen: PeriodsDep
) -> Response:
    """The same series for each child region, ranked behind first: the farthest behind its target's line first."""
    return JSON(await series.children_progress(reader, kept, adcode, ev, chosen))


Month = Annotated[str, Path(pattern=MONTH_PATTERN, description="YYYY-MM")]


@router.post(
    "/{adcode}/months/{month}",
    status_code=201,
    response_model=ClosedMonth,
    responses={**PROBLEMS, 401: {}, 403: {}, 409: {"description": "Closed already"}},
)
async def close_month(
    principal: PlanKeyDep,
    primary: PrimaryReaderDep,
    tx: TransactionDep,
    kept: CoverageKeptDep,
    adcode: Adcode,
    month: Month,
    ev: KindDep,
) -> Response:
    """Close a month (key with the `plan` scope, within the key's region): the region's and its children's figures
    at the month's end are published and kept as they are."""
    closed = await months.close(tx, primary, principal, kept, adcode, month_of(month), ev)
    return JSON(closed, status_code=201)


REPORT_FORMATS = {"pdf": report_pdf.MEDIA_TYPE, "xlsx": XLSX_MEDIA_TYPE}


@router.get(
    "/{adcode}/report",
    responses={
        **PROBLEMS,
        200: {
            "content": {media: {"schema": {"type": "string", "format": "binary"}} for media in REPORT_FORMATS.values()},
            "description": "An A4 PDF, or an XLSX of the same tables",
        },
    },
    response_class=Response,
)
async def monthly_report(
    request: Request,
    reader: ReaderDep,
    kept: CoverageKeptDep,
    adcode: Adcode,
    ev: KindDep,
    month: Annotated[str, Query(pattern=MONTH_PATTERN, description="The month reported, YYYY-MM (an ended one)")],
    f: Annotated[Literal["pdf", "xlsx"] | None, Query(description="Output format (else by Accept; PDF)")] = None,
    lang: Annotated[Literal["zh", "en"], Query(description="Chinese (default) or English")] = "zh",
) -> Response:
    """The monthly report (月调度) a county or city union hands in: the figures against each target and the change
    since last month, the sites opened, closed and suspended, the children ranked behind first, the largest gaps,
    the workers' reports, a map; an A4 PDF, or an XLSX of the same tables."""
    answer_in = output_format(request, f, REPORT_FORMATS)
    found = await report.gather(reader, kept, adcode, month_of(month), ev)
    filename = f"report_{adcode}_{ev.kind}_{month}_{lang}.{answer_in}"
    if answer_in == "xlsx":
        body = await offload.run(report_xlsx.xlsx, found, lang)
    else:
        body = await offload.run(report_pdf.pdf, report_pdf.html(found, lang))
    return Response(
        body,
        media_type=REPORT_FORMATS[answer_in],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
