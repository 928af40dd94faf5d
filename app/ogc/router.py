"""OGC API - Features Part 1 (Core, GeoJSON, OpenAPI 3.0) at /ogc: one collection per site kind, and `regions` (the
administrative regions at every level, with their boundaries), CRS84.

What GIS desktops (QGIS, GDAL's OAPIF driver) need to read the register with no glue code.
"""

import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from app import china_time
from app.api.dependencies import ReaderDep, get_vocabularies
from app.api.parameters import MAX_BIGINT, bbox_query
from app.api.query import StrictQueryRoute
from app.api.responses import JSON, GeoJSON, public_base_url
from app.formats import geojson
from app.geo import BBox
from app.ogc import repository
from app.ogc.schemas import Collection, Collections, Conformance, Feature, FeatureCollection, Landing
from app.problems import BadRequest, InvalidParameter, NotFound
from app.problems.http import field_errors
from app.regions.adcode import ADCODE_PATTERN
from app.stations import service as stations
from app.tiles import service as tiles
from app.tiles.router import tile_response
from app.vocabularies.closed import RegionLevel


class OGCRoute(StrictQueryRoute):
    """OGC API - Features answers every invalid parameter with 400 where the rest of the API says 422: the same
    parsing (app.api.parameters, FastAPI's validation), another status, decided here once for every route."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                detail, errors = field_errors(exc)
                raise BadRequest(detail, errors=errors) from None
            except InvalidParameter as exc:
                raise BadRequest(exc.detail, errors=exc.errors) from None

        return answer


router = APIRouter(prefix="/ogc", tags=["OGC API - Features"], route_class=OGCRoute)

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
]
DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000
OPENAPI_30 = "application/vnd.oai.openapi+json;version=3.0"


def _base(request: Request) -> str:
    return f"{public_base_url(request)}{router.prefix}"


def _only(request: Request, allowed: set[str]) -> None:
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise BadRequest(f"unknown query parameter(s): {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def _link(href: str, rel: str, type_: str, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": type_}
    if title:
        link["title"] = title
    return link


@router.get("", response_model=Landing)
async def landing(request: Request) -> Response:
    """Landing page."""
    _only(request, {"f"})
    base = _base(request)
    return JSON(
        {
            "title": "Yizhan 驿站 — union worker stations, legal-aid points and service centres",
            "description": "The register as OGC API - Features: one collection per site kind, and the regions, "
            "WGS-84 (CRS84).",
            "links": [
                _link(base, "self", "application/json", "this document"),
                _link(f"{base}/api", "service-desc", OPENAPI_30, "the API definition"),
                _link(f"{public_base_url(request)}/docs", "service-doc", "text/html", "the API documentation"),
                _link(f"{base}/conformance", "conformance", "application/json", "conformance classes"),
                _link(f"{base}/tileMatrixSets", TMS_REL, "application/json", "tiling schemes"),
                _link(f"{base}/collections", "data", "application/json", "the collections"),
            ],
        }
    )


@router.get("/conformance", response_model=Conformance)
async def conformance(request: Request) -> Response:
    """Conformance classes."""
    _only(request, {"f"})
    return JSON({"conformsTo": CONFORMANCE})


def _collection(base: str, id_: str, title: str, description: str, figures: repository.Figures) -> dict[str, Any]:
    extent = list(figures.bbox) if figures.bbox else [-180, -90, 180, 90]
    return {
        "id": id_,
        "title": title,
        "description": f"{description} ({figures.features} features)",
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "extent": {"spatial": {"bbox": [extent], "crs": CRS84}},
        "links": [
            _link(f"{base}/collections/{id_}", "self", "application/json"),
            _link(f"{base}/collections/{id_}/items", "items", "application/geo+json", "the features"),
            _link(f"{base}/collections/{id_}/tiles", TILESETS_REL, "application/json", "vector tiles"),
        ],
    }


REGIONS_TITLE = "行政区划 / Administrative regions"
REGIONS_DESCRIPTION = (
    "Regions at every level (country, province, city, county) with their boundaries; the id is the adcode; "
    "filter by `level` and `parent_adcode`"
)


async def _collections(request: Request, reader: ReaderDep, only: str | None = None) -> list[dict[str, Any]]:
    """The collections (the site kinds, then the regions), with their kept counts and extents
    (repository.CollectionFigures)."""
    kinds = [k for k in await repository.kinds(reader) if only is None or k["code"] == only]
    with_regions = only in (None, REGIONS)
    if not kinds and not with_regions:
        raise NotFound(f"no collection {only}")
    figures = await request.app.state.collection_figures.of(reader)
    base = _base(request)
    found = [
        _collection(
            base,
            k["code"],
            f"{k['label_zh']} / {k['label_en']}",
            f"{k['label_en']} in the register",
            figures.get(k["code"], repository.NO_FEATURES),
        )
        for k in kinds
    ]
    if with_regions:
        found.append(
            _collection(base, REGIONS, REGIONS_TITLE, REGIONS_DESCRIPTION, figures.get(REGIONS, repository.NO_FEATURES))
        )
    return found


@router.get("/collections", response_model=Collections)
async def collections(request: Request, reader: ReaderDep) -> Response:
    """One collection per site kind, and the regions."""
    _only(request, {"f"})
    return JSON(
        {
            "links": [_link(f"{_base(request)}/collections", "self", "application/json")],
            "collections": await _collections(request, reader),
        }
    )


async def _known(request: Request, reader: ReaderDep, collection_id: str) -> None:
    """404 unless the collection is the regions or a kind of the vocabulary; no site is read."""
    if collection_id == REGIONS:
        return
    vocabularies = await get_vocabularies(request)
    if collection_id not in await vocabularies.site_kinds.codes(reader):
        raise NotFound(f"no collection {collection_id}")


@router.get("/collections/{collection_id}", response_model=Collection)
async def collection(request: Request, reader: ReaderDep, collection_id: str) -> Response:
    """One collection."""
    _only(request, {"f"})
    return JSON((await _collections(request, reader, collection_id))[0])


def _feature(row: Any, in_use: dict[str, Any]) -> dict[str, Any]:
    """A site as a feature: its record, and its workers' rating and star level as they stand now."""
    feature = geojson.point_feature(row, hidden=("id", "matched"))
    feature["properties"].update(in_use)
    return feature


def _region_feature(row: Any) -> dict[str, Any]:
    properties = {k: v for k, v in row.items() if k != "geometry"}
    return geojson.feature(row["geometry"], properties, row["adcode"])


REGIONS = repository.REGIONS
SITE_ITEM_PARAMETERS = {"f", "bbox", "limit", "offset"}
REGION_ITEM_PARAMETERS = {*SITE_ITEM_PARAMETERS, "level", "parent_adcode"}


@router.get("/collections/{collection_id}/items", response_model=FeatureCollection, response_class=GeoJSON)
async def items(
    request: Request,
    reader: ReaderDep,
    collection_id: str,
    bbox: Annotated[BBox | None, Depends(bbox_query)],
    limit: Annotated[int, Query(ge=1, description=f"At most {MAX_LIMIT}; more is answered with {MAX_LIMIT}")] = (
        DEFAULT_LIMIT
    ),
    offset: Annotated[int, Query(ge=0, le=MAX_BIGINT)] = 0,
    level: Annotated[RegionLevel | None, Query(description="The regions collection only: this level")] = None,
    parent_adcode: Annotated[
        str | None, Query(pattern=ADCODE_PATTERN, description="The regions collection only: children of this region")
    ] = None,
) -> Response:
    """Features of a collection: bbox (CRS84), limit (≤ 10,000) and offset, with next/prev links; the regions also
    by `level` and `parent_adcode`."""
    _only(request, REGION_ITEM_PARAMETERS if collection_id == REGIONS else SITE_ITEM_PARAMETERS)
    await _known(request, reader, collection_id)
    limit = min(limit, MAX_LIMIT)
    if collection_id == REGIONS:
        page = await repository.regions(reader, bbox, level and level.value, parent_adcode, limit, offset)
        features = [_region_feature(r) for r in page.rows]
    else:
        page = await repository.items(reader, request.app.state.collection_figures, collection_id, bbox, limit, offset)
        in_use = await stations.published(reader, [r["id"] for r in page.rows])
        features = [_feature(r, in_use[r["id"]]) for r in page.rows]
    base = f"{_base(request)}/collections/{collection_id}/items"
    # The filters the page was asked with, carried into its links as given.
    kept = [
        (name, request.query_params[name])
        for name in ("bbox", "level", "parent_adcode")
        if name in request.query_params
    ]
    query = "".join(f"&{name}={quote(value, safe=',')}" for name, value in kept)
    links = [_link(f"{base}?limit={limit}&offset={offset}{query}", "self", "application/geo+json")]
    if page.more:
        links.append(_link(f"{base}?limit={limit}&offset={offset + limit}{query}", "next", "application/geo+json"))
    if offset > 0:
        links.append(
            _link(f"{base}?limit={limit}&offset={max(0, offset - limit)}{query}", "prev", "application/geo+json")
        )
    return GeoJSON(
        {
            "type": "FeatureCollection",
            "features": features,
            "numberMatched": page.matched,
            "numberReturned": len(features),
            "links": links,
        }
    )


@router.get("/collections/{collection_id}/items/{feature_id}", response_model=Feature, response_class=GeoJSON)
async def item(request: Request, reader: ReaderDep, collection_id: str, feature_id: str) -> Response:
    """One feature."""
    _only(request, {"f"})
    if collection_id == REGIONS:
        row = await repository.region(reader, feature_id) if re.fullmatch(ADCODE_PATTERN, feature_id) else None
    else:
        found = feature_id.isascii() and feature_id.isdigit() and 0 < int(feature_id) <= MAX_BIGINT
        row = await repository.item(reader, collection_id, int(feature_id)) if found else None
    if row is None:
        raise NotFound(f"no feature {feature_id} in {collection_id}")
    base = f"{_base(request)}/collections/{collection_id}"
    if collection_id == REGIONS:
        feature = _region_feature(row)
    else:
        feature = _feature(row, (await stations.published(reader, [row["id"]]))[row["id"]])
    feature["links"] = [
        _link(f"{base}/items/{feature_id}", "self", "application/geo+json"),
        _link(base, "collection", "application/json"),
    ]
    return GeoJSON(feature)


# --- OGC API - Tiles: the collections as vector tiles (the `sites` and `regions` layers of app.tiles) ------------

TILESETS_REL = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
TMS_REL = "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"
SCHEME_REL = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
WEB_MERCATOR_QUAD = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
EPSG_3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
WEB_MERCATOR_HALF_M = 20037508.3427892
# The scale denominator of zoom 0 in WebMercatorQuad (0.28 mm pixels), halved at every zoom.
SCALE_AT_ZOOM_0 = 559082264.0287178


def _tile_matrix_set() -> dict[str, Any]:
    matrices = [
        {
            "id": str(z),
            "scaleDenominator": SCALE_AT_ZOOM_0 / 2**z,
            "cellSize": 2 * WEB_MERCATOR_HALF_M / 256 / 2**z,
            "cornerOfOrigin": "topLeft",
            "pointOfOrigin": [-WEB_MERCATOR_HALF_M, WEB_MERCATOR_HALF_M],
            "tileWidth": 256,
            "tileHeight": 256,
            "matrixWidth": 2**z,
            "matrixHeight": 2**z,
        }
        for z in range(tiles.MAX_ZOOM + 1)
    ]
    return {
        "id": "WebMercatorQuad",
        "title": "Google Maps Compatible for the World",
        "uri": WEB_MERCATOR_QUAD,
        "crs": EPSG_3857,
        "orderedAxes": ["E", "N"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "tileMatrices": matrices,
    }


@router.get("/tileMatrixSets", response_model=dict[str, Any])
async def tile_matrix_sets(request: Request) -> Response:
    """The tiling schemes tiles are offered in: WebMercatorQuad."""
    _only(request, {"f"})
    href = f"{_base(request)}/tileMatrixSets/WebMercatorQuad"
    return JSON(
        {
            "tileMatrixSets": [
                {"id": "WebMercatorQuad", "uri": WEB_MERCATOR_QUAD, "links": [_link(href, "self", "application/json")]}
            ]
        }
    )


@router.get("/tileMatrixSets/{tile_matrix_set}", response_model=dict[str, Any])
async def tile_matrix_set(request: Request, tile_matrix_set: str) -> Response:
    """The WebMercatorQuad tile matrix set (OGC Two Dimensional Tile Matrix Set 2.0)."""
    _only(request, {"f"})
    if tile_matrix_set != "WebMercatorQuad":
        raise NotFound(f"no tile matrix set {tile_matrix_set}; WebMercatorQuad is offered")
    return JSON(_tile_matrix_set())


def _tileset(request: Request, kind: str) -> dict[str, Any]:
    base = f"{_base(request)}/collections/{kind}/tiles/WebMercatorQuad"
    return {
        "title": f"{kind} (WebMercatorQuad)",
        "dataType": "vector",
        "crs": EPSG_3857,
        "tileMatrixSetURI": WEB_MERCATOR_QUAD,
        "links": [
            _link(base, "self", "application/json"),
            _link(f"{_base(request)}/tileMatrixSets/WebMercatorQuad", SCHEME_REL, "application/json"),
            {**_link(f"{base}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}", "item", tiles.MEDIA_TYPE), "templated": True},
        ],
        "layers": [
            {"id": "regions", "dataType": "vector", "geometryDimension": 2, "minTileMatrix": "0"}
            if kind == REGIONS
            else {"id": "sites", "dataType": "vector", "geometryDimension": 0, "minTileMatrix": "0"}
        ],
    }


@router.get("/collections/{collection_id}/tiles", response_model=dict[str, Any])
async def collection_tilesets(request: Request, reader: ReaderDep, collection_id: str) -> Response:
    """The vector tilesets of a collection."""
    _only(request, {"f"})
    await _known(request, reader, collection_id)
    return JSON({"links": [], "tilesets": [_tileset(request, collection_id)]})


@router.get("/collections/{collection_id}/tiles/{tile_matrix_set}", response_model=dict[str, Any])
async def collection_tileset(request: Request, reader: ReaderDep, collection_id: str, tile_matrix_set: str) -> Response:
    """A collection's tileset in WebMercatorQuad."""
    _only(request, {"f"})
    await _known(request, reader, collection_id)
    if tile_matrix_set != "WebMercatorQuad":
        raise NotFound(f"no tileset in {tile_matrix_set}; WebMercatorQuad is offered")
    return JSON(_tileset(request, collection_id))


@router.get(
    "/collections/{collection_id}/tiles/{tile_matrix_set}/{tile_matrix}/{tile_row}/{tile_col}",
    response_class=Response,
    responses={
        200: {"content": {tiles.MEDIA_TYPE: {}}},
        204: {"description": "Nothing in this tile"},
        404: {"description": "No such collection, tile matrix set, or tile (row or column outside the matrix)"},
    },
)
async def collection_tile(
    request: Request,
    reader: ReaderDep,
    collection_id: str,
    tile_matrix_set: str,
    tile_matrix: Annotated[int, Path(ge=0, le=tiles.MAX_ZOOM, description="The zoom level")],
    tile_row: Annotated[int, Path(ge=0, description="From the north")],
    tile_col: Annotated[int, Path(ge=0, description="From the west")],
) -> Response:
    """One vector tile of a collection: the same tile as /v1/tiles/sites/{z}/{x}/{y}.mvt?kind= (layer `sites`), or
    for the regions /v1/tiles/regions/{z}/{x}/{y}.mvt (layer `regions`, boundaries)."""
    _only(request, {"f"})
    await _known(request, reader, collection_id)
    if tile_matrix_set != "WebMercatorQuad":
        raise NotFound(f"no tileset in {tile_matrix_set}; WebMercatorQuad is offered")
    tile = tiles.Tile.of(tile_matrix, tile_col, tile_row)
    if collection_id == REGIONS:
        return tile_response(request, await tiles.regions(reader, request.app.state.coverage_kept, tile, None))
    today = china_time.today()
    return tile_response(request, await tiles.sites(reader, tile, [collection_id], today, True))


@router.get("/api", response_model=dict[str, Any], responses={200: {"content": {OPENAPI_30: {}}}})
async def api_definition(request: Request) -> Response:
    """The OpenAPI 3.0 definition of these endpoints (the conformance class OAS 3.0 asks for one)."""
    _only(request, {"f"})
    return JSON(openapi_30(_base(request)), media_type=OPENAPI_30)


def openapi_30(base: str) -> dict[str, Any]:
    ok = {"200": {"description": "OK"}}
    collection_id = {"name": "collectionId", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Yizhan 驿站 OGC API - Features", "version": "1.0.0"},
        "servers": [{"url": base}],
        "paths": {
            "/": {"get": {"summary": "Landing page", "operationId": "getLandingPage", "responses": ok}},
            "/conformance": {"get": {"summary": "Conformance", "operationId": "getConformance", "responses": ok}},
            "/collections": {"get": {"summary": "Collections", "operationId": "getCollections", "responses": ok}},
            "/collections/{collectionId}": {
                "get": {"operationId": "describeCollection", "parameters": [collection_id], "responses": ok}
            },
            "/collections/{collectionId}/items": {
                "get": {
                    "operationId": "getFeatures",
                    "parameters": [
                        collection_id,
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                        },
                        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                        {
                            "name": "bbox",
                            "in": "query",
                            "style": "form",
                            "explode": False,
                            "schema": {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}},
                        },
                        {
                            "name": "level",
                            "in": "query",
                            "description": "The regions collection only",
                            "schema": {"type": "string", "enum": [level.value for level in RegionLevel]},
                        },
                        {
                            "name": "parent_adcode",
                            "in": "query",
                            "description": "The regions collection only",
                            "schema": {"type": "string", "pattern": ADCODE_PATTERN},
                        },
                    ],
                    "responses": ok,
                }
            },
            "/collections/{collectionId}/items/{featureId}": {
                "get": {
                    "operationId": "getFeature",
                    "parameters": [
                        collection_id,
                        {"name": "featureId", "in": "path", "required": True, "schema": {"type": "string"}},
                    ],
                    "responses": ok,
                }
            },
        },
    }
