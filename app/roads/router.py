"""GET /v1/isochrones: the area reachable from a point in given minutes, on the road network there."""

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from app import geo
from app.api.dependencies import ReaderDep
from app.api.parameters import CoordSysQuery
from app.api.query import StrictQueryRoute
from app.api.responses import GeoJSON
from app.formats import geojson
from app.roads import modes, service
from app.roads.modes import Mode
from app.roads.schemas import Isochrones

router = APIRouter(prefix="/v1", tags=["roads"], route_class=StrictQueryRoute)


@router.get(
    "/isochrones",
    response_model=Isochrones,
    responses={
        200: {"content": {geojson.MEDIA_TYPE: {}}},
        422: {"description": "A parameter is invalid, or no road network (or no usable road) is near the point"},
    },
)
async def isochrones(
    reader: ReaderDep,
    lat: Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False)],
    lon: Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False)],
    minutes: Annotated[
        list[service.Minutes],
        Query(min_length=1, max_length=service.MAX_RINGS, description="One or more travel times; each gives a ring"),
    ] = [15],  # noqa: B006
    mode: Mode = Mode.walk,
    coordsys: CoordSysQuery = geo.CoordSys.wgs84,
) -> Response:
    """Where `mode` reaches from the point within each of `minutes`, on real roads: the roads reached (those cut
    by the time limit as far as it goes) widened by OFF_ROAD_REACH_M either side; area and road length per ring."""
    service.check_minutes(minutes)
    wgs_lon, wgs_lat = geo.to_wgs84(lon, lat, coordsys)
    found, rings = await service.isochrones(reader, wgs_lon, wgs_lat, mode, minutes)
    features = [
        geojson.feature(
            geo.geometry_from_wgs84(ring["geometry"], coordsys) if ring["geometry"] is not None else None,
            {k: round(v, 4) if isinstance(v, float) else v for k, v in ring.items() if k != "geometry"},
        )
        for ring in rings
    ]
    body = geojson.feature_collection(
        features,
        mode=mode.value,
        method=found.network.describe(mode),
        network=found.network.as_dict(),
        start={"lat": lat, "lon": lon, "off_road_m": round(found.foot.off_road_m, 1)},
        off_road_reach_m=modes.OFF_ROAD_REACH_M,
    )
    return GeoJSON(body)
