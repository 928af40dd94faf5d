"""The per-county table as planners paste it into monthly reports: CSV (Excel-friendly) and XLSX, Chinese headers."""

import csv
import io
from typing import Any

from openpyxl import Workbook

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

COLUMNS: list[tuple[str, Any]] = [
    ("区划代码", lambda r: r["adcode"]),
    ("名称", lambda r: r["name"]),
    ("覆盖规则", lambda r: r["rule_label"]),
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
]


def table(rows: list[dict[str, Any]]) -> list[list[Any]]:
    return [[header for header, _ in COLUMNS]] + [[value(r) for _, value in COLUMNS] for r in rows]


def to_csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(table(rows))
    # The BOM makes Excel on Chinese Windows read UTF-8 instead of GBK.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(rows: list[dict[str, Any]], title: str) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    for line in table(rows):
        sheet.append(line)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
