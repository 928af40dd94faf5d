"""Vector tiles (Mapbox Vector Tiles, Web Mercator z/x/y) and their TileJSON documents under /v1/tiles.

An empty tile is answered 204 No Content (MapLibre, OpenLayers, QGIS and GDAL read it as empty), cheaply.
"""

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from app import china_time
from app.api.dependencies import ReaderDep, VocabulariesDep
from app.api.parameters import VocabularyCode
from app.api.query import ClosedQueryRoute
from app.api.responses import JSON, conditional, public_base_url
from app.coverage.evaluation import Evaluation, evaluation
from app.coverage.parameters import AsOf, CoverageKeptDep, EvaluationDep, MinSitesOverride, RadiusOverride
from app.geo import CoordSys
from app.problems import InvalidParameter
from app.tiles import service
from app.tiles.service import MEDIA_TYPE, Layer, Tile

# A tile URL with a misspelt parameter would be drawn with the default and cached as if right: refused instead.
router = APIRouter(prefix="/v1/tiles", tags=["tiles"], route_class=ClosedQueryRoute)

MAX_AGE = 60
Zoom = Annotated[int, Path(ge=0, le=service.MAX_ZOOM)]
Column = Annotated[int, Path(ge=0, description="x, from the west")]
Row = Annotated[int, Path(ge=0, description="y, from the north")]
Kinds = Annotated[list[VocabularyCode] | None, Query(description="Site kinds (repeatable); default every kind")]
# Web Mercator maps are drawn in these two; Baidu's (BD-09) are not Web Mercator tiles.
Datum = Annotated[
    Literal[CoordSys.wgs84, CoordSys.gcj02],
    Query(description="The datum of the base map the tiles are drawn over: wgs84, or gcj02 (Amap, Tencent)"),
]
TILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {MEDIA_TYPE: {}}, "description": "A Mapbox Vector Tile"},
    204: {"description": "Nothing in this tile"},
    404: {"description": "No such tile: x or y outside the tile matrix of zoom z (`errors` names it)"},
    422: {"description": "A parameter is invalid or not one the layer takes; `errors` names each field"},
}


def tile_response(request: Request, body: bytes) -> Response:
    if not body:
        return Response(status_code=204, headers={"Cache-Control": f"public, max-age={MAX_AGE}"})
    return conditional(request, body, MEDIA_TYPE, max_age=MAX_AGE)


@router.get("/sites/{z}/{x}/{y}.mvt", response_class=Response, responses=TILE_RESPONSES)
async def site_tile(
    request: Request,
    reader: ReaderDep,
    vocabularies: VocabulariesDep,
    z: Zoom,
    x: Column,
    y: Row,
    kind: Kinds = None,
    as_of: AsOf = None,
    coordsys: Datum = CoordSys.wgs84,
) -> Response:
    """Sites: one point each from zoom 9 on (id, name, kind, status, access, trust flags); below, counts per cell and
    kind."""
    await vocabularies.site_kinds.check(reader, "kind", kind)
    day = as_of or china_time.today()
    body = await service.sites(reader, Tile.of(z, x, y, coordsys), kind, day, day == china_time.today())
    return tile_response(request, body)


async def shading(
    reader: ReaderDep,
    vocabularies: VocabulariesDep,
    kind: Annotated[
        VocabularyCode | None, Query(description="Shade by this kind's coverage; none: boundaries only")
    ] = (None),
    as_of: AsOf = None,
    radius_m: RadiusOverride = None,
    min_sites: MinSitesOverride = None,
) -> Evaluation | None:
    """What the regions are shaded by: a kind's coverage, on a date, with a what-if; without a kind, nothing (the
    date and the what-ifs are about a kind's coverage: refused without one)."""
    if kind is None:
        for name, value in (("as_of", as_of), ("radius_m", radius_m), ("min_sites", min_sites)):
            if value is not None:
                raise InvalidParameter(name, "about a kind's coverage: give `kind` too")
        return None
    return await evaluation(reader, vocabularies, kind, as_of, radius_m, min_sites)


@router.get("/regions/{z}/{x}/{y}.mvt", response_class=Response, responses=TILE_RESPONSES)
async def region_tile(
    request: Request,
    reader: ReaderDep,
    kept: CoverageKeptDep,
    z: Zoom,
    x: Column,
    y: Row,
    ev: Annotated[Evaluation | None, Depends(shading)],
    coordsys: Datum = CoordSys.wgs84,
) -> Response:
    """Region boundaries (the country and provinces; cities from zoom 5, counties from zoom 7), simplified to about
    a pixel; with `kind`, each with the covered share of its area under its rule, as
    /v1/coverage/regions/{adcode} gives it."""
    return tile_response(request, await service.regions(reader, kept, Tile.of(z, x, y, coordsys), ev))


@router.get("/catchments/{z}/{x}/{y}.mvt", response_class=Response, responses=TILE_RESPONSES)
async def catchment_tile(
    request: Request,
    reader: ReaderDep,
    kept: CoverageKeptDep,
    z: Zoom,
    x: Column,
    y: Row,
    ev: EvaluationDep,
    coordsys: Datum = CoordSys.wgs84,
) -> Response:
    """Each serving site's catchment: the ring of its region's rule (from zoom 7)."""
    return tile_response(request, await service.catchments(reader, kept, Tile.of(z, x, y, coordsys), ev))


@router.get("/gaps/{z}/{x}/{y}.mvt", response_class=Response, responses=TILE_RESPONSES)
async def gap_tile(
    request: Request,
    reader: ReaderDep,
    kept: CoverageKeptDep,
    z: Zoom,
    x: Column,
    y: Row,
    ev: EvaluationDep,
    coordsys: Datum = CoordSys.wgs84,
) -> Response:
    """What coverage leaves uncovered, as /v1/coverage/regions/{adcode}/gaps gives it (from zoom 7)."""
    return tile_response(request, await service.gaps(reader, kept, Tile.of(z, x, y, coordsys), ev))


DESCRIPTIONS = {
    Layer.sites: "Sites of the register (counts per cell and kind below zoom 9)",
    Layer.regions: "Administrative regions with the covered share of the area for a kind",
    Layer.catchments: "Catchment of each serving site under its region's coverage rule",
    Layer.gaps: "Parts of regions no serving site's catchment reaches",
}


@router.get(
    "/{layer}.json",
    response_model=dict[str, Any],
    responses={422: {"description": "A parameter is invalid or not one the layer takes; `errors` names each field"}},
)
async def tilejson(
    request: Request,
    reader: ReaderDep,
    vocabularies: VocabulariesDep,
    layer: Layer,
    kind: Kinds = None,
    as_of: AsOf = None,
    radius_m: RadiusOverride = None,
    min_sites: MinSitesOverride = None,
    coordsys: Datum = CoordSys.wgs84,
) -> Response:
    """TileJSON 3.0.0 for a layer; its tile URL carries the same parameters, which the layer's tiles take: `kind`
    (repeatable for sites, one for the coverage layers), `as_of`, and for the coverage layers `radius_m` and
    `min_sites`."""
    query: list[tuple[str, str]] = [("kind", k) for k in kind or []]
    if layer == Layer.sites:
        await vocabularies.site_kinds.check(reader, "kind", kind)
        for name, value in (("radius_m", radius_m), ("min_sites", min_sites)):
            if value is not None:
                raise InvalidParameter(name, "a what-if of the coverage layers; the sites layer does not take it")
    else:
        if kind is not None and len(kind) > 1:
            raise InvalidParameter("kind", "one kind for a coverage layer")
        # The checks the layer's tiles make, so that the URL handed out is one they answer.
        if layer == Layer.regions:
            await shading(reader, vocabularies, kind[0] if kind else None, as_of, radius_m, min_sites)
        else:
            await evaluation(reader, vocabularies, kind[0] if kind else "legal_aid", as_of, radius_m, min_sites)
    if as_of is not None:
        query.append(("as_of", as_of.isoformat()))
    if radius_m is not None:
        query.append(("radius_m", repr(radius_m)))
    if min_sites is not None:
        query.append(("min_sites", str(min_sites)))
    if coordsys != CoordSys.wgs84:
        query.append(("coordsys", coordsys.value))
    url = f"{public_base_url(request)}{router.prefix}/{layer.value}/{{z}}/{{x}}/{{y}}.mvt"
    if query:
        url += "?" + urlencode(query)
    return JSON(service.tilejson(layer, url, f"yizhan-{layer.value}", DESCRIPTIONS[layer]))
