"""The monthly report, read back as a person would: the PDF's text (pdftotext) and pages (pdfinfo), the XLSX's
sheets (openpyxl), each figure compared with the progress API's; page 1 rendered to .test-output/ (pdftoppm)."""

import io
import re
import shutil
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from openpyxl import load_workbook

from tests.coverage.test_coverage import COUNTIES
from tests.progress.conftest import BINZHOU, HUIMIN, add_site
from tests.tools import run
from tests.web.conftest import OUTPUT_DIR

NOVEMBER = {"month": "2026-11", "kind": "legal_aid"}
COUNTY_NAMES = ["滨城区", "沾化区", "惠民县", "阳信县", "无棣县", "博兴县", "邹平市"]


@pytest.fixture
async def november(
    client: httpx.AsyncClient, writer: dict[str, str], planner: dict[str, str], moved: list[dict[str, Any]]
) -> dict[str, Any]:
    """Targets for the city and 惠民县, a site opened in November (its name a formula), the progress API's answer."""
    city = {"region": BINZHOU, "measure": "count", "value": 200, "starts_on": "2026-06-01", "due_on": "2027-06-30"}
    huimin = {
        "region": HUIMIN,
        "measure": "area_share",
        "value": 0.9,
        "starts_on": "2026-06-01",
        "due_on": "2027-06-30",
    }
    for target in (city, huimin):
        r = await client.post("/v1/targets", json={"kind": "legal_aid", **target}, headers=planner)
        assert r.status_code == 201, r.text
    await add_site(client, writer, name='=HYPERLINK("http://x")法律援助站', lon=117.5, lat=37.3, opened_on="2026-11-12")
    params = {"from": "2026-10-01", "to": "2026-11-30", "kind": "legal_aid"}
    return {
        "city": (await client.get(f"/v1/progress/{BINZHOU}", params=params)).json(),
        "children": (await client.get(f"/v1/progress/{BINZHOU}/children", params=params)).json(),
    }


async def test_the_pdf_holds_the_figures_targets_counties_month_and_sources(
    client: httpx.AsyncClient, november: dict[str, Any], tmp_path: Path
) -> None:
    r = await client.get(f"/v1/progress/{BINZHOU}/report", params={**NOVEMBER, "f": "pdf"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(r.content)
    info = await run("pdfinfo", str(pdf))
    assert re.search(r"Page size:\s+595\.2[0-9]* x 841\.89 pts \(A4\)", info), info
    text = await run("pdftotext", "-layout", str(pdf), "-")
    flat = " ".join(text.split())
    assert "滨州市" in text and "法律援助" in text and "2026-11" in text and "2026-11-30" in text
    for name in COUNTY_NAMES:
        assert name in text, name
    october, now = november["city"]["periods"]
    assert f"{now['site_count']} " in flat + " "
    assert f"+{now['site_count'] - october['site_count']}" in flat
    [standing] = now["targets"]
    assert "200" in flat and f"{standing['line']:.1f}" in flat  # the target, and its line at the month's end
    assert "滞后" in text  # 200 sites by next June: the city is behind
    assert "数据来源" in text and "/v1/coverage/regions/371600?kind=legal_aid&as_of=2026-11-30" in flat
    assert "新建" in text and "HYPERLINK" in text  # the site opened in November, named
    assert "职工反映" in text
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    page = OUTPUT_DIR / "report_371600_2026-11_page1"
    await run("pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(page))
    assert page.with_suffix(".png").stat().st_size > 20_000
    shutil.copy(pdf, OUTPUT_DIR / "report_371600_2026-11.pdf")


async def test_the_english_report(client: httpx.AsyncClient, november: dict[str, Any], tmp_path: Path) -> None:
    r = await client.get(f"/v1/progress/{BINZHOU}/report", params={**NOVEMBER, "lang": "en"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(r.content)
    text = await run("pdftotext", str(pdf), "-")
    assert "monthly progress report" in text and "Behind" in text and "Sources" in text and "惠民县" in text


async def test_the_xlsx_has_the_same_tables_with_chinese_headers(
    client: httpx.AsyncClient, november: dict[str, Any]
) -> None:
    r = await client.get(f"/v1/progress/{BINZHOU}/report", params={**NOVEMBER, "f": "xlsx"})
    assert r.status_code == 200, r.text
    book = load_workbook(io.BytesIO(r.content))
    sheets = {s.title: [list(row) for row in s.iter_rows(values_only=True)] for s in book.worksheets}
    headline = sheets["一、主要指标"]
    assert headline[0] == ["指标", "本月", "较上月", "修订后"]
    october, now = november["city"]["periods"]
    assert headline[1][:3] == ["站点数", now["site_count"], now["site_count"] - october["site_count"]]
    assert headline[2][1] == now["covered_area_share"]
    children = sheets["四、各区县进度（滞后在前）"]
    assert children[0][:3] == ["adcode", "区县", "站点数"]
    by_region = {row[0]: row for row in children[1:]}
    assert set(by_region) == set(COUNTIES)
    for item in november["children"]["items"]:
        assert by_region[item["region"]][2] == item["periods"][-1]["site_count"]
        assert by_region[item["region"]][4] == item["periods"][-1]["covered_area_share"]
    # Behind first: 惠民县 has the only target among the counties, and it is behind.
    assert children[1][1] == "惠民县" and children[1][6] == "滞后"
    targets = sheets["二、目标完成情况"]
    assert targets[1][:2] == ["站点数", 200]
    sites = sheets["六、本月站点变动"]
    [opened] = [row for row in sites[1:] if row[0] == "新建" and "HYPERLINK" in row[2]]
    # The formula is text, as app.formats writes every str: a spreadsheet shows it and never runs it.
    assert opened[2].startswith("=HYPERLINK")
    cell = next(c for row in book["六、本月站点变动"].iter_rows() for c in row if c.value == opened[2])
    assert cell.data_type == "s"
    assert "/v1/coverage/regions/371600?kind=legal_aid&as_of=2026-11-30" in str(sheets["数据来源"])


@pytest.mark.parametrize(
    ("month", "status"), [("2099-01", 422), ("2026-13", 422), ("11-2026", 422), ("0000-01", 422), ("0001-01", 422)]
)
async def test_a_report_is_made_for_an_ended_month(client: httpx.AsyncClient, month: str, status: int) -> None:
    r = await client.get(f"/v1/progress/{BINZHOU}/report", params={"month": month})
    assert r.status_code == status
    assert r.json()["errors"][0]["field"] == "month"


async def test_the_months_sites_and_workers_reports(
    client: httpx.AsyncClient, conn: asyncpg.Connection, writer: dict[str, str], moved: list[dict[str, Any]]
) -> None:
    """The sites opened, closed and suspended in November, and the workers' reports opened, resolved and overdue,
    dated as the register and the review queue date them."""
    opened = await add_site(
        client, writer, name="惠民县何坊街道职工法律援助站", lon=117.5, lat=37.45, opened_on="2026-11-03"
    )
    closing = await add_site(
        client, writer, name="惠民县姜楼镇职工法律援助站", lon=117.55, lat=37.35, opened_on="2026-02-01"
    )
    r = await client.patch(
        f"/v1/sites/{closing['id']}",
        json={"status": "closed", "closed_on": "2026-11-20"},
        headers={**writer, "If-Match": closing["etag"]},
    )
    assert r.status_code == 200, r.text
    pausing = await add_site(
        client, writer, name="惠民县大年陈镇职工法律援助站", lon=117.6, lat=37.3, opened_on="2026-03-01"
    )
    r = await client.patch(
        f"/v1/sites/{pausing['id']}", json={"status": "suspended"}, headers={**writer, "If-Match": pausing["etag"]}
    )
    assert r.status_code == 200, r.text
    # The suspension happened in November: its history row says when.
    await conn.execute(
        "UPDATE site_changes SET changed_at = '2026-11-15 10:00+08' WHERE site_id = $1 AND after->>'status' = "
        "'suspended'",
        pausing["id"],
    )
    # Workers' reports: (filed, resolved) in China time; overdue = open at the month's end past its due date (3 days).
    filed = [
        ("2026-11-05 09:00+08", None),  # opened in November, overdue
        ("2026-11-28 09:00+08", None),  # opened in November, not yet overdue
        ("2026-10-20 09:00+08", "2026-11-10 09:00+08"),  # resolved in November
        ("2026-10-01 09:00+08", "2026-12-02 09:00+08"),  # open at November's end: overdue
        ("2026-12-01 09:00+08", None),  # December's
    ]
    types = ["other", "locked", "wrong_location", "amenity_missing", "moved"]  # one client's reports of a type merge
    for (created, resolved), report_type in zip(filed, types, strict=True):
        r = await client.post(f"/v1/sites/{opened['id']}/reports", json={"type": report_type})
        assert r.status_code == 201, r.text
        await conn.execute(
            "UPDATE site_reports SET created_at = $2::text::timestamptz, resolved_at = $3::text::timestamptz, "
            "status = CASE WHEN $3::text IS NULL THEN 'open' ELSE 'accepted' END WHERE id = $1",
            r.json()["id"],
            created,
            resolved,
        )
    r = await client.get(f"/v1/progress/{BINZHOU}/report", params={**NOVEMBER, "f": "xlsx"})
    assert r.status_code == 200, r.text
    book = load_workbook(io.BytesIO(r.content))
    sites = {(row[0], row[2], str(row[5])) for row in book["六、本月站点变动"].iter_rows(min_row=2, values_only=True)}
    assert ("新建", "惠民县何坊街道职工法律援助站", "2026-11-03") in sites
    assert ("关闭", "惠民县姜楼镇职工法律援助站", "2026-11-20") in sites
    assert ("暂停", "惠民县大年陈镇职工法律援助站", "2026-11-15") in sites
    assert not any(name == "惠民县姜楼镇职工法律援助站" and change == "新建" for change, name, _ in sites)
    reports = dict(book["八、职工反映"].iter_rows(min_row=2, values_only=True))
    assert reports == {"本月新收": 2, "本月办结": 1, "超期未办（超过3天）": 2}
