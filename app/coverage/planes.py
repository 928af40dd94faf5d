"""A region's equal-area plane in Python: the transformations PostGIS makes with the plane's PROJ string
(spatial_ref_sys.proj4text, app.geo.local_equal_area)."""

import functools

from pyproj import Transformer


@functools.lru_cache(maxsize=256)
def to_plane(projection: str) -> Transformer:
    """WGS-84 into a plane, made once per plane: making one takes PROJ tens of milliseconds."""
    return Transformer.from_crs("EPSG:4326", projection, always_xy=True)


@functools.lru_cache(maxsize=4096)
def from_plane(projection: str) -> Transformer:
    """A plane back to WGS-84 longitude and latitude. A pipeline of the plane's inverse: PROJ makes it in tens of
    microseconds, without the searches of its database that a transformation between two systems takes."""
    return Transformer.from_pipeline(
        f"+proj=pipeline +step +inv {projection} +step +proj=unitconvert +xy_in=rad +xy_out=deg"
    )
