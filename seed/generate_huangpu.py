"""Write huangpu_register_generated.geojson: a small GENERATED register (not real sites) for the streets of
shanghai_huangpu_osmnx.osm, so the demo shows travel-time rules on a real road network.

24 outdoor-worker stations and 4 legal-aid points, each placed 10–60 m off a street node of the extract, inside
黄浦区's boundary. Deterministic: `python seed/generate_huangpu.py` rewrites the same file.
"""

import json
import math
import random
import xml.etree.ElementTree as ET
from pathlib import Path

from shapely.geometry import Point, shape

HERE = Path(__file__).resolve().parent
STREETS = [
    "中山东二路",
    "河南南路",
    "复兴东路",
    "人民路",
    "西藏南路",
    "淮海东路",
    "金陵东路",
    "延安东路",
    "福州路",
    "四川中路",
]
AMENITIES = ["drinking_water", "phone_charging", "seating", "microwave", "ebike_charging", "toilet", "umbrella", "wifi"]


def main() -> None:
    rng = random.Random(310101)
    boundary = shape(
        json.loads((HERE / "huangpu_310101_tianditu_wgs84.geojson").read_text("utf-8"))["features"][0]["geometry"]
    )
    root = ET.parse(HERE / "shanghai_huangpu_osmnx.osm").getroot()
    nodes = sorted((float(n.get("lon")), float(n.get("lat"))) for n in root.iter("node"))
    inside = [n for n in nodes if boundary.contains(Point(n))]
    features = []
    for kind, prefix, count in (("outdoor_station", "HP-OS", 24), ("legal_aid", "HP-LA", 4)):
        for i, (lon, lat) in enumerate(rng.sample(inside, count), start=1):
            bearing, metres = rng.uniform(0, 2 * math.pi), rng.uniform(10, 60)
            lon += metres * math.sin(bearing) / (111_320 * math.cos(math.radians(lat)))
            lat += metres * math.cos(bearing) / 110_574
            street = rng.choice(STREETS)
            legal = kind == "legal_aid"
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
                    "properties": {
                        "kind": kind,
                        "external_id": f"{prefix}-{i:04d}",
                        "source": "generated-demo:huangpu",
                        "name": f"黄浦区{street}{'法律援助工作站' if legal else '户外劳动者驿站'}{i}",
                        "address": f"上海市黄浦区{street}{rng.randint(1, 999)}号",
                        "operator": "黄浦区总工会",
                        "status": "active",
                        "access": "open",
                        "amenities": sorted(rng.sample(AMENITIES, rng.randint(2, 6)))
                        if not legal
                        else ["drinking_water"],
                        "services": ["rights_protection"] if legal else [],
                        "opening_hours": "Mo-Fr 09:00-17:00" if legal else "Mo-Su 07:00-21:00",
                        "opened_on": f"20{rng.randint(18, 26)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
                    },
                }
            )
    collection = {
        "type": "FeatureCollection",
        "name": "Huangpu demo register (GENERATED, not real sites)",
        "generator": "seed/generate_huangpu.py",
        "features": features,
    }
    (HERE / "huangpu_register_generated.geojson").write_text(
        json.dumps(collection, ensure_ascii=False, indent=1) + "\n"
    )


if __name__ == "__main__":
    main()
