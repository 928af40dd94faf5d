"""The geometry rules of app.geo checked against pyproj's geodesics on the WGS-84 spheroid."""

import numpy as np
import pytest
from pyproj import Geod

from app import geo

REFERENCE = Geod(ellps="WGS84")  # the test's own, not the code's


@pytest.mark.parametrize("lat", [0.0, 18.3, 37.38, 53.5, -33.9, 75.0, 88.5])
@pytest.mark.parametrize("metres", [1.0, 2_000.0, 30_000.0, 100_000.0, 1_000_000.0])
def test_the_degree_box_holds_every_point_within_the_distance(lat: float, metres: float) -> None:
    lon = 117.97
    dlon, dlat = geo.degrees_around(metres, lat)
    azimuths = np.linspace(0, 360, 721)
    far_lon, far_lat, _ = REFERENCE.fwd(np.full_like(azimuths, lon), np.full_like(azimuths, lat), azimuths,
                                        np.full_like(azimuths, metres))  # fmt: skip
    if dlon < 360:
        assert np.all(np.abs((far_lon - lon + 180) % 360 - 180) <= dlon)
    assert np.all(np.abs(far_lat - lat) <= dlat)
    # Not wastefully large: within a few per cent of the farthest point found, away from the poles.
    if abs(lat) < 60 and metres <= 100_000:
        assert dlat <= 1.01 * np.max(np.abs(far_lat - lat))


def test_the_sql_degree_box_is_the_same_rule() -> None:
    lon, lat = geo.degrees_around_sql("$3", "x")
    assert repr(geo.METRES_PER_DEGREE_LAT_MIN) in lat and repr(geo.METRES_PER_DEGREE_LON_AT_EQUATOR) in lon
