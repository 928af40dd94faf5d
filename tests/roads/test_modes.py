"""The speed model's reading of OSM tags: who may use a way, in which direction, how fast."""

import pytest

from app.roads import modes
from app.roads.modes import Mode, Way


@pytest.mark.parametrize(
    ("tags", "walk", "ebike", "car"),
    [
        ({"highway": "residential"}, 0, 0, 0),
        ({"highway": "residential", "oneway": "yes"}, 0, 1, 1),
        ({"highway": "residential", "oneway": "-1"}, 0, -1, -1),
        ({"highway": "primary", "junction": "roundabout"}, 0, 1, 1),
        ({"highway": "residential", "oneway": "yes", "oneway:bicycle": "no"}, 0, 0, 1),
        ({"highway": "residential", "oneway:bicycle": "yes"}, 0, 1, 0),
        ({"highway": "footway", "oneway:foot": "yes"}, 1, 0, 0),
        ({"highway": "residential", "oneway": "yes", "oneway:foot": "-1"}, -1, 1, 1),
    ],
)
def test_one_way_rules(tags: dict[str, str], walk: int, ebike: int, car: int) -> None:
    way = Way(tags)
    assert (way.oneway(Mode.walk), way.oneway(Mode.ebike), way.oneway(Mode.car)) == (walk, ebike, car)


def test_who_may_use_a_way_and_how_fast() -> None:
    assert Way({"highway": "motorway"}).kmh(Mode.walk) is None
    assert Way({"highway": "motorway"}).kmh(Mode.car) == 100
    assert Way({"highway": "footway"}).kmh(Mode.car) is None
    assert Way({"highway": "footway"}).kmh(Mode.ebike) is None
    assert Way({"highway": "footway", "bicycle": "yes"}).kmh(Mode.ebike) == modes.EBIKE_KMH
    assert Way({"highway": "primary", "maxspeed": "30"}).kmh(Mode.car) == 30
    assert Way({"highway": "primary", "maxspeed": "20 mph"}).kmh(Mode.car) == pytest.approx(32.19, abs=0.01)
    assert Way({"highway": "primary", "maxspeed": "CN:urban"}).kmh(Mode.car) == 50
    assert Way({"highway": "construction"}).kmh(Mode.walk) is None
    assert Way({"highway": "service", "access": "private"}).kmh(Mode.walk) is None
    costs = modes.costs(Way({"highway": "residential", "oneway": "yes"}), 100.0)
    assert costs["walk_s"] == costs["walk_reverse_s"] == pytest.approx(80.0)
    assert costs["car_s"] == pytest.approx(14.4) and costs["car_reverse_s"] == -1
