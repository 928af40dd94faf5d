"""Generate the Binzhou demo register (seed/binzhou_register_generated.geojson). GENERATED DATA, NOT A SURVEY.

Counts match the published Binzhou figures (305 outdoor-worker stations, 134 union legal-aid points, 1 city +
7 county worker service centres). Places are drawn around each county seat (real, from the boundary file) and
around town anchors whose *names* are Binzhou's towns and sub-districts but whose *positions* are generated
(best-candidate sampling inside the county), so the density follows towns and population without claiming any
real address. Deterministic: the same file comes out every run.

    python seed/generate_register.py            # rewrites the committed file
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pyproj import Geod
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.prepared import prep

HERE = Path(__file__).resolve().parent
BOUNDARIES = HERE / "binzhou_371600_counties_tianditu_wgs84.geojson"
CENSUS = HERE / "census2020_binzhou_counties.csv"
OUTPUT = HERE / "binzhou_register_generated.geojson"
SOURCE = "generated-demo:binzhou"
RANDOM_SEED = 371600
GEOD = Geod(ellps="WGS84")

KIND_CODES = {"outdoor_station": "OS", "legal_aid": "LA", "service_centre": "SC"}
COUNTS = {"outdoor_station": 305, "legal_aid": 134}
# Legal aid is concentrated where the 2 km rule applies (the urban districts), as the city's target implies.
URBAN_DISTRICTS = ("371602", "371603")
URBAN_LEGAL_AID_RADIUS_M = 2000.0
LEGAL_AID_PER_COUNTY = {
    "371602": 58,
    "371603": 28,
    "371621": 10,
    "371622": 8,
    "371623": 10,
    "371625": 8,
    "371681": 12,
}

# Sub-districts (街道) sit near the seat; towns (镇/乡) are spread over the county.
TOWNS = {
    "371602": [
        "市中街道",
        "市西街道",
        "北镇街道",
        "市东街道",
        "彭李街道",
        "小营街道",
        "滨北街道",
        "梁才街道",
        "杜店街道",
        "沙河街道",
        "里则街道",
        "三河湖镇",
        "杨柳雪镇",
        "秦皇台乡",
    ],
    "371603": [
        "富源街道",
        "富国街道",
        "下洼镇",
        "古城镇",
        "冯家镇",
        "泊头镇",
        "大高镇",
        "黄升镇",
        "滨海镇",
        "下河乡",
        "利国乡",
    ],
    "371621": [
        "孙武街道",
        "武定府街道",
        "何坊街道",
        "石庙镇",
        "桑落墅镇",
        "淄角镇",
        "胡集镇",
        "李庄镇",
        "麻店镇",
        "魏集镇",
        "清河镇",
        "姜楼镇",
        "辛店镇",
        "大年陈镇",
        "皂户李镇",
    ],
    "371622": [
        "信城街道",
        "金阳街道",
        "商店镇",
        "温店镇",
        "河流镇",
        "翟王镇",
        "流坡坞镇",
        "水落坡镇",
        "劳店镇",
        "洋湖乡",
    ],
    "371623": [
        "棣丰街道",
        "海丰街道",
        "水湾镇",
        "碣石山镇",
        "小泊头镇",
        "埕口镇",
        "马山子镇",
        "车王镇",
        "柳堡镇",
        "佘家镇",
        "信阳镇",
        "西小王镇",
    ],
    "371625": [
        "博昌街道",
        "城东街道",
        "锦秋街道",
        "曹王镇",
        "兴福镇",
        "陈户镇",
        "湖滨镇",
        "店子镇",
        "吕艺镇",
        "纯化镇",
        "庞家镇",
        "乔庄镇",
    ],
    "371681": [
        "黛溪街道",
        "黄山街道",
        "高新街道",
        "好生街道",
        "西董街道",
        "长山镇",
        "魏桥镇",
        "临池镇",
        "焦桥镇",
        "韩店镇",
        "孙镇",
        "九户镇",
        "青阳镇",
        "明集镇",
        "台子镇",
        "码头镇",
    ],
}
# Street names: Binzhou's urban grid uses numbered 黄河/渤海 roads; county towns get ordinary street names.
URBAN_STREETS = (
    [f"黄河{n}路" for n in "一二三四五六七八九十"]
    + [f"渤海{n}路" for n in ("一", "五", "七", "八", "九", "十", "十一", "十二", "十六", "十八", "二十一")]
    + [
        "长江一路",
        "长江三路",
        "长江五路",
        "新立河东路",
        "新立河西路",
        "梧桐五路",
        "梧桐七路",
        "中海路",
        "凤凰三路",
        "永莘路",
        "滨北大道",
    ]
)
TOWN_STREETS = [
    "人民路",
    "中心大街",
    "建设路",
    "文化路",
    "胜利路",
    "解放路",
    "府前街",
    "工业路",
    "兴业路",
    "商业街",
    "团结路",
    "育才路",
    "新华路",
    "光明街",
    "振兴路",
    "和平路",
    "富民路",
    "民安路",
]
STATION_HOSTS = [
    "工商银行",
    "农业银行",
    "建设银行",
    "中国银行",
    "邮储银行",
    "农商银行",
    "中石化加油站",
    "中石油加油站",
    "供电营业厅",
    "中国移动营业厅",
    "环卫工作站",
    "社区党群服务中心",
    "城市书房",
    "公园管理处",
    "交警执勤点",
    "快递物流园",
]
STATION_SUFFIXES = ["户外劳动者驿站", "工会驿站", "爱心驿站", "劳动者港湾"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "建国志强秀英玉兰海燕明华丽娟桂芳文静国庆永红立新晓东春梅振华德胜淑珍广平凤霞子涵宇航浩然欣怡"

STATION_AMENITIES = {  # probability a station has it
    "drinking_water": 0.97,
    "seating": 0.95,
    "phone_charging": 0.9,
    "first_aid": 0.8,
    "air_conditioning": 0.75,
    "microwave": 0.7,
    "wifi": 0.6,
    "toilet": 0.5,
    "umbrella": 0.5,
    "books": 0.4,
    "ebike_charging": 0.35,
    "tools": 0.3,
    "battery_swap": 0.1,
}
STATION_HOURS = [
    ("Mo-Su 08:00-20:00", 40),
    ("Mo-Su 07:00-21:00", 25),
    ("Mo-Fr 08:30-17:30", 20),
    ("24/7", 8),
    ("Mo-Sa 08:00-18:00", 7),
]
LEGAL_AID_HOURS = [
    ("Mo-Fr 08:30-12:00,13:30-17:30", 60),
    ("Fr 15:00-18:00", 15),
    ("Tu,Th 09:00-11:30", 15),
    ("Mo,We,Fr 14:00-17:00", 10),
]
ACCESS = [("open", 80), ("qr_code", 10), ("app", 5), ("keeper_key", 5)]
ACCESS_NOTES = {"qr_code": "扫码登记后进入", "app": "需在工会APP预约开门", "keeper_key": "联系管理员取钥匙"}
WORKER_GROUPS = ["sanitation", "courier", "delivery_rider", "taxi_driver", "traffic_auxiliary"]
CENTRE_SERVICES = ["aid", "employment", "petitions", "member_benefits", "rights_protection", "general"]


@dataclass
class County:
    adcode: str
    name: str
    polygon: BaseGeometry
    seat: tuple[float, float]
    population: int
    urban_share: float
    towns: list[tuple[str, tuple[float, float]]]


def weighted(rng: random.Random, options: list[tuple[str, int]]) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def offset(lon: float, lat: float, sigma_m: float, rng: random.Random) -> tuple[float, float]:
    """A point a normally distributed distance from (lon, lat) in a uniform direction, geodesically."""
    distance = abs(rng.gauss(0.0, sigma_m))
    lon2, lat2, _ = GEOD.fwd(lon, lat, rng.uniform(0, 360), distance)
    return lon2, lat2


def inside(
    polygon: BaseGeometry, centre: tuple[float, float], sigma_m: float, rng: random.Random
) -> tuple[float, float]:
    """A point scattered around `centre` that falls inside `polygon` (the centre itself if none does)."""
    contains = prep(polygon).contains
    for _ in range(200):
        lon, lat = offset(*centre, sigma_m, rng)
        if contains(Point(lon, lat)):
            return lon, lat
    return centre


def place_towns(
    adcode: str, polygon: BaseGeometry, seat: tuple[float, float], rng: random.Random
) -> list[tuple[str, tuple[float, float]]]:
    """Sub-districts within ~4 km of the seat; towns spread by best-candidate (Mitchell) sampling."""
    contains = prep(polygon).contains
    minx, miny, maxx, maxy = polygon.bounds
    anchors: list[tuple[str, tuple[float, float]]] = []
    taken = [seat]
    for name in TOWNS[adcode]:
        if name.endswith("街道"):
            anchors.append((name, inside(polygon, seat, 4000, rng)))
            taken.append(anchors[-1][1])
            continue
        best, best_d = seat, -1.0
        for _ in range(40):
            cand = (rng.uniform(minx, maxx), rng.uniform(miny, maxy))
            if not contains(Point(cand)):
                continue
            d = min(GEOD.inv(cand[0], cand[1], t[0], t[1])[2] for t in taken)
            if d > best_d:
                best, best_d = cand, d
        anchors.append((name, best))
        taken.append(best)
    return anchors


def load_counties(rng: random.Random) -> list[County]:
    census = {}
    for line in CENSUS.read_text(encoding="utf-8").splitlines()[1:]:
        f = line.split(",")
        census[f[0]] = (int(f[4]), float(f[6]))
    counties = []
    for feature in json.loads(BOUNDARIES.read_text(encoding="utf-8"))["features"]:
        p = feature["properties"]
        adcode = str(p["adcode"])
        polygon = shape(feature["geometry"])
        seat = (p["seat_lon"], p["seat_lat"])
        pop, urban = census[adcode]
        counties.append(County(adcode, p["name"], polygon, seat, pop, urban, place_towns(adcode, polygon, seat, rng)))
    return counties


def allocate(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Largest-remainder apportionment of `total` by `weights`."""
    s = sum(weights.values())
    exact = {k: total * w / s for k, w in weights.items()}
    out = {k: math.floor(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: exact[k] - out[k], reverse=True)[: total - sum(out.values())]:
        out[k] += 1
    return out


def opened_on(rng: random.Random, first_year: int) -> dt.date:
    # Openings accelerate over the years and continue through 2026, so month-by-month progress shows.
    start, end = dt.date(first_year, 1, 1), dt.date(2026, 10, 31)
    span = (end - start).days
    return start + dt.timedelta(days=int(span * rng.random() ** 0.6))


def person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, 2))


def phone(rng: random.Random) -> str:
    return f"0543-{rng.randint(2000000, 8999999)}"


def short_town_name(town: str) -> str:
    """三河湖镇 → 三河湖, as station names use it."""
    return town.removesuffix("街道").removesuffix("镇").removesuffix("乡")


def address(county: County, town: str, rng: random.Random) -> str:
    streets = URBAN_STREETS if county.adcode == "371602" and town.endswith("街道") else TOWN_STREETS
    return f"山东省滨州市{county.name}{town}{rng.choice(streets)}{rng.randint(1, 899)}号"


def common(
    kind: str, n: int, rng: random.Random, status_weights: list[tuple[str, int]], first_year: int
) -> dict[str, object]:
    opened = opened_on(rng, first_year)
    status = weighted(rng, status_weights)
    closed = None
    if status == "closed":
        closed = opened + dt.timedelta(days=rng.randint(90, 900))
        closed = min(closed, dt.date(2026, 10, 31))
    verified = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))) - dt.timedelta(
        days=rng.randint(0, 400), minutes=rng.randint(0, 600)
    )
    return {
        "source": SOURCE,
        "external_id": f"BZ-{KIND_CODES[kind]}-{n:04d}",
        "kind": kind,
        "status": status,
        "opened_on": opened.isoformat(),
        "closed_on": closed and closed.isoformat(),
        "last_verified_at": verified.isoformat(),
        "verified_by": weighted(rng, [("inspection", 60), ("phone", 40)]),
        "phone": phone(rng),
        "keeper": person(rng),
    }


def stations(counties: list[County], rng: random.Random) -> Iterator[tuple[dict[str, object], tuple[float, float]]]:
    # More stations where more people work outdoors: population, boosted by the urban share.
    per_county = allocate(COUNTS["outdoor_station"], {c.adcode: c.population * (0.5 + c.urban_share) for c in counties})
    n = 0
    for county in counties:
        for _ in range(per_county[county.adcode]):
            n += 1
            if rng.random() < 0.55:  # the urban core around the seat
                town = rng.choice([t for t, _ in county.towns if t.endswith("街道")])
                point = inside(county.polygon, county.seat, 3000, rng)
            else:
                town, anchor = rng.choice(county.towns)
                point = inside(county.polygon, anchor, 1200, rng)
            amenities = sorted(a for a, p in STATION_AMENITIES.items() if rng.random() < p)
            access = weighted(rng, ACCESS)
            props = common("outdoor_station", n, rng, [("active", 94), ("suspended", 3), ("closed", 3)], 2019)
            props.update(
                {
                    "name": f"{rng.choice(STATION_HOSTS)}{short_town_name(town)}{rng.choice(STATION_SUFFIXES)}",
                    "address": address(county, town, rng),
                    "operator": f"{county.name}总工会",
                    "opening_hours": weighted(rng, STATION_HOURS),
                    "access": access,
                    "access_note": ACCESS_NOTES.get(access),
                    "amenities": amenities,
                    "worker_groups": sorted(rng.sample(WORKER_GROUPS, rng.randint(2, 5))),
                    "rating": weighted(rng, [("星级驿站", 20), ("达标", 80)]),
                }
            )
            yield props, point


def urban_lattice(county: County, count: int, rng: random.Random) -> list[tuple[float, float]]:
    """`count` points of a hexagonal lattice around the seat, nearest first: how a city spreads legal aid so
    that 2 km circles (lattice spacing √3 × 2 km) tile its populated core without holes."""
    spacing = math.sqrt(3) * URBAN_LEGAL_AID_RADIUS_M * 0.98
    contains = prep(county.polygon).contains
    lattice = []
    for row in range(-12, 13):
        for col in range(-12, 13):
            east = (col + 0.5 * (row % 2)) * spacing
            north = row * spacing * math.sqrt(3) / 2
            distance = math.hypot(east, north)
            lon, lat, _ = GEOD.fwd(*county.seat, math.degrees(math.atan2(east, north)), distance)
            if contains(Point(lon, lat)):
                lattice.append((distance, lon, lat))
    lattice.sort()
    # A few hundred metres of jitter: real points sit in buildings, not on a grid.
    return [offset(lon, lat, 250, rng) for _, lon, lat in lattice[:count]]


def legal_aid(counties: list[County], rng: random.Random) -> Iterator[tuple[dict[str, object], tuple[float, float]]]:
    n = 0
    for county in counties:
        wanted = LEGAL_AID_PER_COUNTY[county.adcode]
        outlying = [(t, a) for t, a in county.towns if not t.endswith("街道")]
        if county.adcode in URBAN_DISTRICTS:
            # Urban districts (2 km rule): the core tiled, plus one point in each outlying town.
            core = urban_lattice(county, wanted - len(outlying), rng)
            streets = [t for t, _ in county.towns if t.endswith("街道")]
            placed = [(rng.choice(streets), p) for p in core] + [
                (t, inside(county.polygon, a, 600, rng)) for t, a in outlying
            ]
        else:
            # Counties (half-hour rule): one per town first (most host one at the judicial office), the rest near
            # the seat where people are.
            anchors = list(county.towns)
            rng.shuffle(anchors)
            placed = []
            for i in range(wanted):
                if i < len(anchors) and rng.random() < 0.85:
                    placed.append((anchors[i][0], inside(county.polygon, anchors[i][1], 600, rng)))
                else:
                    town = rng.choice([t for t, _ in county.towns if t.endswith("街道")])
                    placed.append((town, inside(county.polygon, county.seat, 2500, rng)))
        for town, point in placed:
            n += 1
            props = common("legal_aid", n, rng, [("active", 97), ("suspended", 2), ("closed", 1)], 2018)
            props.update(
                {
                    "name": rng.choice(
                        [
                            f"{town}职工法律援助工作站",
                            f"{county.name}总工会{town}法律服务站",
                            f"{town}劳动争议调解与法律援助站",
                        ]
                    ),
                    "address": address(county, town, rng),
                    "operator": f"{county.name}总工会",
                    "opening_hours": weighted(rng, LEGAL_AID_HOURS),
                    "access": "open",
                    "access_note": None,
                    "amenities": sorted(a for a in ("drinking_water", "seating", "wifi") if rng.random() < 0.7),
                    "services": ["rights_protection"],
                    "worker_groups": sorted(WORKER_GROUPS),
                    "rating": None,
                }
            )
            yield props, point


def centres(counties: list[County], rng: random.Random) -> Iterator[tuple[dict[str, object], tuple[float, float]]]:
    binzhou = next(c for c in counties if c.adcode == "371602")
    entries = [("滨州市职工服务中心", binzhou, "滨州市总工会", "示范化")] + [
        (f"{c.name}职工服务中心", c, f"{c.name}总工会", rng.choice(["示范化", "标准化", "达标"])) for c in counties
    ]
    for n, (name, county, operator, level) in enumerate(entries, start=1):
        props = common("service_centre", n, rng, [("active", 1)], 2015)
        town = next(t for t, _ in county.towns if t.endswith("街道"))
        props.update(
            {
                "name": name,
                "address": address(county, town, rng),
                "operator": operator,
                "opening_hours": "Mo-Fr 08:30-12:00,13:30-17:30",
                "access": "open",
                "access_note": None,
                "amenities": ["air_conditioning", "drinking_water", "phone_charging", "seating", "toilet", "wifi"],
                "services": CENTRE_SERVICES,
                "worker_groups": sorted(WORKER_GROUPS),
                "rating": level,
            }
        )
        yield props, inside(county.polygon, county.seat, 800, rng)


def feature(props: dict[str, object], point: tuple[float, float]) -> dict[str, object]:
    props.setdefault("services", [])
    props["photos"] = []
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [round(point[0], 6), round(point[1], 6)]},
        "properties": props,
    }


def generate() -> dict[str, object]:
    rng = random.Random(RANDOM_SEED)
    counties = load_counties(rng)
    features = [feature(p, pt) for gen in (stations, legal_aid, centres) for p, pt in gen(counties, rng)]
    return {
        "type": "FeatureCollection",
        "name": "Binzhou demo register (GENERATED, not real sites)",
        "generator": "seed/generate_register.py",
        "features": features,
    }


def render(collection: dict[str, object]) -> str:
    return json.dumps(collection, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    OUTPUT.write_text(render(generate()), encoding="utf-8")
    print(f"wrote {OUTPUT}")
