"""The per-county table as planners paste it into monthly reports: CSV (Excel-friendly) and XLSX, Chinese headers."""

from typing import Any

from app.formats import spreadsheets

COLUMNS: list[tuple[str, Any]] = [
    ("区划代码", lambda r: r["adcode"]),
    ("名称", lambda r: r["name"]),
    ("覆盖规则", lambda r: r["rule_label"]),
    ("计算方式", lambda r: r["method"]),
    ("面积(km²)", lambda r: r["area_km2"]),
    ("覆盖面积(km²)", lambda r: r["covered_area_km2"]),
    ("面积覆盖率", lambda r: r["covered_area_share"]),
    ("常住人口", lambda r: r["population"]),
    ("覆盖人口(模型)", lambda r: r["covered_population"]),
    ("人口覆盖率(模型)", lambda r: r["covered_population_share"]),
    ("站点数", lambda r: r["site_count"]),
    ("最远点纬度", lambda r: (r["worst_served"] or {}).get("lat")),
    ("最远点经度", lambda r: (r["worst_served"] or {}).get("lon")),
    ("最远点距最近站点(m)", lambda r: (r["worst_served"] or {}).get("distance_m")),
    ("最远点用时(s)", lambda r: (r["worst_served"] or {}).get("travel_time_s")),
]
HEADER = [header for header, _ in COLUMNS]


def _table(rows: list[dict[str, Any]]) -> list[list[Any]]:
    return [[value(r) for _, value in COLUMNS] for r in rows]


def to_csv(rows: list[dict[str, Any]]) -> bytes:
    return spreadsheets.to_csv(HEADER, _table(rows))


def to_xlsx(rows: list[dict[str, Any]], title: str) -> bytes:
    return spreadsheets.to_xlsx(HEADER, _table(rows), title)
