"""Bulk files made to hurt: damaged and hostile XLSX (truncated parts, entity expansion, external entities), a sheet
of a million rows in a few hundred KB, CSV in two encodings at once, and text with invisible or control characters."""

import io
import json
import pickle
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection
from typer.testing import CliRunner

from app.cli import cli
from app.formats import spreadsheets
from app.formats.spreadsheets import XLSX_MEDIA_TYPE
from app.keys import service as keys
from app.problems import PayloadTooLarge
from app.sites import bulk

pytestmark = pytest.mark.alone  # parsing stops are timed

HEADER = ["external_id", "name", "kind", "lat", "lon"]


@pytest.fixture
async def auth(sa_conn: AsyncConnection) -> dict[str, str]:
    return {"Authorization": f"Bearer {await keys.create(sa_conn, '文件探测', ['write'], None)}"}


async def upload(client: httpx.AsyncClient, auth: dict[str, str], body: bytes, content_type: str) -> httpx.Response:
    return await client.post(
        "/v1/sites/bulk",
        content=body,
        params={"source": "hostile-files"},
        headers={**auth, "Content-Type": content_type},
    )


def refused_naming_body(r: httpx.Response, status: int = 422) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert [e["field"] for e in body["errors"]] == ["body"], body
    return str(body["errors"][0]["message"])


NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELS = 'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"'
MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml"
PARTS = {
    "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    f'<Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType='
    f'"{MAIN}.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="{MAIN}.worksheet+xml"/>'
    f'<Override PartName="/xl/sharedStrings.xml" ContentType="{MAIN}.sharedStrings+xml"/></Types>',
    "_rels/.rels": f'<?xml version="1.0"?><Relationships {PACKAGE_RELS}><Relationship Id="rId1" '
    f'Type="{RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": f'<?xml version="1.0"?><workbook {NS} xmlns:r="{RELS}"><sheets>'
    '<sheet name="sites" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": f'<?xml version="1.0"?><Relationships {PACKAGE_RELS}><Relationship Id="rId1" '
    f'Type="{RELS}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{RELS}/sharedStrings" '
    'Target="sharedStrings.xml"/></Relationships>',
}
SHEET = "xl/worksheets/sheet1.xml"
STRINGS = "xl/sharedStrings.xml"


def workbook(*rows: list[object]) -> bytes:
    """A workbook as Excel writes one: its text in the shared strings."""
    strings: list[str] = []
    xml_rows = []
    for r, row in enumerate([HEADER, *rows], start=1):
        cells = []
        for column, value in zip("ABCDEFGH", row, strict=False):
            if isinstance(value, str):
                strings.append(value)
                cells.append(f'<c r="{column}{r}" t="s"><v>{len(strings) - 1}</v></c>')
            else:
                cells.append(f'<c r="{column}{r}"><v>{value}</v></c>')
        xml_rows.append(f'<row r="{r}">{"".join(cells)}</row>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        for name, part in PARTS.items():
            book.writestr(name, part)
        book.writestr(
            SHEET, f'<?xml version="1.0"?><worksheet {NS}><sheetData>{"".join(xml_rows)}</sheetData></worksheet>'
        )
        shared = "".join(f"<si><t>{s}</t></si>" for s in strings)
        book.writestr(STRINGS, f'<?xml version="1.0"?><sst {NS} count="{len(strings)}">{shared}</sst>')
    return out.getvalue()


def with_part(xlsx: bytes, name: str, change: Callable[[bytes], bytes]) -> bytes:
    """The workbook with one part replaced by change(part)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            target.writestr(info.filename, change(data) if info.filename == name else data)
    return out.getvalue()


VALID = workbook(["F-1", "驿站", "legal_aid", 37.38, 117.97])
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY lol "lol">'
    + b"".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">'.encode() for n in range(2, 10)).replace(b"&lol1;", b"&lol;")
    + b"]>"
)


def with_doctype(doctype: bytes, entity: str) -> Callable[[bytes], bytes]:
    """A part with a DOCTYPE declaring entities, and `entity` referenced in its second text and its sheet's name."""

    def change(part: bytes) -> bytes:
        body = part.split(b"?>", 1)[1]
        body = body.replace(b"<t>\xe9\xa9\xbf", f"<t>&{entity};".encode(), 1)  # 驿
        body = body.replace(b"<v>1</v>", f"<v>&{entity};</v>".encode(), 1)
        return doctype + body.replace(b'name="sites"', f'name="&{entity};"'.encode(), 1)

    return change


async def test_the_valid_workbook_the_damaged_ones_start_from(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    r = await upload(client, auth, VALID, XLSX_MEDIA_TYPE)
    assert r.status_code == 200 and r.json()["summary"]["created"] == 1, r.text


@pytest.mark.parametrize(
    "damaged",
    [
        pytest.param(VALID[: len(VALID) // 2], id="zip-cut-in-half"),
        pytest.param(with_part(VALID, "xl/workbook.xml", lambda p: p[: len(p) // 2]), id="truncated-workbook"),
        pytest.param(with_part(VALID, SHEET, lambda p: p[: len(p) // 2]), id="truncated-sheet"),
        pytest.param(with_part(VALID, STRINGS, lambda p: p[:-20]), id="truncated-strings"),
        pytest.param(with_part(VALID, "[Content_Types].xml", lambda p: b"<Types"), id="truncated-content-types"),
        pytest.param(
            with_part(VALID, SHEET, lambda p: p.replace(b"<sheetData>", b"<sheetData><row r='x'>")), id="bad-row"
        ),
        pytest.param(with_part(VALID, SHEET, with_doctype(LAUGHS, "lol9")), id="billion-laughs-sheet"),
        pytest.param(with_part(VALID, STRINGS, with_doctype(LAUGHS, "lol9")), id="billion-laughs-strings"),
        pytest.param(b"PK\x03\x04" + b"\x00" * 100, id="zip-header-only"),
        pytest.param(b"", id="empty"),
    ],
)
async def test_damaged_and_hostile_workbooks_are_422_naming_the_body(
    client: httpx.AsyncClient, conn: asyncpg.Connection, auth: dict[str, str], damaged: bytes
) -> None:
    started = time.perf_counter()
    refused_naming_body(await upload(client, auth, damaged, XLSX_MEDIA_TYPE))
    assert time.perf_counter() - started < 5
    assert await conn.fetchval("SELECT count(*) FROM sites WHERE source = 'hostile-files'") == 0


@pytest.mark.parametrize("part", [STRINGS, "xl/workbook.xml", SHEET, "[Content_Types].xml"])
async def test_an_external_entity_is_never_read(
    client: httpx.AsyncClient, conn: asyncpg.Connection, auth: dict[str, str], tmp_path: Path, part: str
) -> None:
    marker = "MARKER-6f1c2b9e"
    secret = tmp_path / "secret.txt"
    secret.write_text(marker)
    doctype = f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file://{secret}">]>'.encode()
    r = await upload(client, auth, with_part(VALID, part, with_doctype(doctype, "xxe")), XLSX_MEDIA_TYPE)
    refused_naming_body(r)
    assert marker not in r.text
    found = await conn.fetchval("SELECT count(*) FROM sites WHERE name LIKE '%' || $1 || '%'", marker)
    assert found == 0


def sheet_of_rows(rows: int, extra: bytes = b"", dimension: str | None = None) -> bytes:
    """A minimal workbook of `rows` rows under HEADER, `extra` XML after them, written as the XML streams."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        for name, part in PARTS.items():
            book.writestr(name, part)
        book.writestr(STRINGS, f'<?xml version="1.0"?><sst {NS}/>')
        with book.open(SHEET, "w") as sheet:
            sheet.write(f'<?xml version="1.0"?><worksheet {NS}>'.encode())
            if dimension:
                sheet.write(f'<dimension ref="{dimension}"/>'.encode())
            sheet.write(b"<sheetData><row r='1'>")
            for column, name in zip("ABCDE", HEADER, strict=True):
                sheet.write(f'<c r="{column}1" t="inlineStr"><is><t>{name}</t></is></c>'.encode())
            sheet.write(b"</row>")
            # Rows as the probe sent them: all alike and without their numbers, which compresses 1,000 to 1.
            row = '<row><c><v>1</v></c><c t="inlineStr"><is><t>站</t></is></c><c t="inlineStr"><is><t>legal_aid</t>'
            row += "</is></c><c><v>37.3</v></c><c><v>117.9</v></c></row>"
            for start in range(0, rows, 10_000):
                sheet.write((row * min(10_000, rows - start)).encode())
            sheet.write(extra + b"</sheetData></worksheet>")
    return out.getvalue()


@pytest.fixture(scope="module")
def million_rows() -> bytes:
    return sheet_of_rows(1_000_000)


def test_a_million_row_sheet_is_small(million_rows: bytes) -> None:
    assert len(million_rows) < 1_000_000  # a few hundred KB


def test_parsing_stops_at_the_row_limit(million_rows: bytes) -> None:
    started = time.perf_counter()
    with pytest.raises(PayloadTooLarge):
        bulk.parse(million_rows, XLSX_MEDIA_TYPE, bulk.Limits(rows=1_000))
    assert time.perf_counter() - started < 1.0  # stops at row 1,001: all 1,000,000 take over 10 s


async def test_a_million_rows_are_413_at_the_default_limit(
    client: httpx.AsyncClient, auth: dict[str, str], million_rows: bytes
) -> None:
    r = await upload(client, auth, million_rows, XLSX_MEDIA_TYPE)
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
    assert f"{bulk.MAX_ROWS:,} rows" in r.json()["detail"]


def test_unpacked_size_is_checked_before_parsing() -> None:
    """The zip directory says how large each part unpacks; past the limit, nothing is parsed."""
    padded = with_part(VALID, SHEET, lambda p: p.replace(b"<sheetData>", b" " * 5_000_000 + b"<sheetData>"))
    assert len(padded) < 100_000
    started = time.perf_counter()
    with pytest.raises(PayloadTooLarge, match="unpacks"):
        bulk.parse(padded, XLSX_MEDIA_TYPE, bulk.Limits(unpacked_bytes=1_000_000))
    assert time.perf_counter() - started < 0.2
    assert len(bulk.parse(padded, XLSX_MEDIA_TYPE)) == 1


@pytest.mark.parametrize("dimension", [None, "A1:XFD1048576"])
def test_the_sheet_size_it_declares_and_far_cells_cost_nothing(dimension: str | None) -> None:
    """A declared size of 16,384 columns by 1,048,576 rows, a row far down and a cell far right: the work follows
    what the sheet holds, not what it claims."""
    far = b'<row r="1048576"><c r="XFD1048576"><v>1</v></c><c r="A1048576" t="inlineStr"><is><t>Z-9</t></is></c></row>'
    data = sheet_of_rows(3, extra=far, dimension=dimension)
    started = time.perf_counter()
    records = bulk.parse(data, XLSX_MEDIA_TYPE)
    assert time.perf_counter() - started < 2.0
    assert [n for n, _ in records] == [2, 3, 4, 1048576]
    assert records[-1][1] == {"external_id": "Z-9"}


def test_row_numbers_past_the_largest_sheet_are_refused() -> None:
    far = b'<row r="99999999999"><c r="A99999999999"><v>1</v></c></row>'
    started = time.perf_counter()
    with pytest.raises(bulk.InvalidParameter, match="1,048,576"):
        bulk.parse(sheet_of_rows(2, extra=far), XLSX_MEDIA_TYPE)
    assert time.perf_counter() - started < 2.0


CSV_LINES = [
    "外部编号,名称,类型,纬度,经度",
    "E-1,惠民县爱心驿站,outdoor_station,37.48,117.51",
    "E-2,阳信县职工法律援助站,legal_aid,37.64,117.58",
    "E-3,无棣县户外劳动者驿站,outdoor_station,37.77,117.61",
]


def lines_in(*encodings: str) -> bytes:
    return b"\n".join(line.encode(e) for line, e in zip(CSV_LINES, encodings, strict=True)) + b"\n"


@pytest.mark.parametrize(
    ("body", "content_type", "line"),
    [
        (lines_in("utf-8", "utf-8", "gbk", "utf-8"), "text/csv", 3),
        (lines_in("utf-8", "gbk", "utf-8", "utf-8"), "text/csv", 2),
        (lines_in("gbk", "gbk", "gbk", "utf-8"), "text/csv", 1),
        (b"\xef\xbb\xbf" + lines_in("utf-8", "utf-8", "utf-8", "gbk"), "text/csv", 4),
        (lines_in("utf-8", "utf-8", "gbk", "utf-8"), "text/csv; charset=utf-8", 3),
        (lines_in("utf-8", "utf-8", "gbk", "utf-8"), "text/csv; charset=gbk", 1),
    ],
)
async def test_a_csv_in_two_encodings_is_refused_naming_the_line(
    client: httpx.AsyncClient, conn: asyncpg.Connection, auth: dict[str, str], body: bytes, content_type: str, line: int
) -> None:
    message = refused_naming_body(await upload(client, auth, body, content_type))
    assert f"line {line}" in message
    assert await conn.fetchval("SELECT count(*) FROM sites WHERE source = 'hostile-files'") == 0


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (lines_in("utf-8", "utf-8", "utf-8", "utf-8"), "text/csv"),
        (b"\xef\xbb\xbf" + lines_in("utf-8", "utf-8", "utf-8", "utf-8"), "text/csv"),
        (b"\xef\xbb\xbf" + lines_in("utf-8", "utf-8", "utf-8", "utf-8"), "text/csv; charset=utf-8"),
        (lines_in("gbk", "gbk", "gbk", "gbk"), "text/csv"),
        (lines_in("gb18030", "gb18030", "gb18030", "gb18030"), "text/csv; charset=gb18030"),
        (lines_in("gbk", "gbk", "gbk", "gbk"), "text/csv; charset=GBK"),
    ],
)
async def test_a_csv_in_one_encoding_imports(
    client: httpx.AsyncClient, conn: asyncpg.Connection, auth: dict[str, str], body: bytes, content_type: str
) -> None:
    r = await upload(client, auth, body, content_type)
    assert r.status_code == 200, r.text
    names = await conn.fetch("SELECT name FROM sites WHERE source = 'hostile-files' ORDER BY external_id")
    assert [n["name"] for n in names] == [line.split(",")[1] for line in CSV_LINES[1:]]


# Characters that hide or disguise text: C0 and C1 controls, bidi overrides and isolates, zero-width characters.
HIDDEN = ["\x01", "\x07", "\x1b", "\x7f", "\x85", "\x9b", "\u202e", "\u202a", "\u2066", "\u2069"]
HIDDEN += ["\u200b", "\u200d", "\u2060", "\ufeff", "\t", "\n", "\r"]


@pytest.mark.parametrize("character", HIDDEN)
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "驿{}站"),
        ("address", "滨州市{}黄河五路"),
        ("operator", "滨州市{}总工会"),
        ("phone", "0543{}1234567"),
        ("keeper", "王{}五"),
        ("opening_hours", "Mo-Fr{} 08:00-17:00"),
        ("access_note", "凭{}工牌"),
        ("rating", "五{}星"),
        ("external_id", "X{}1"),
        ("source", "part{}ner"),
        ("services", ["帮{}扶"]),
        ("worker_groups", ["快递{}员"]),
        ("photos", ["http://a{}b.cn/p.jpg"]),
    ],
)
async def test_hidden_characters_in_any_text_field_are_422_naming_it(
    client: httpx.AsyncClient, auth: dict[str, str], character: str, field: str, value: str | list[str]
) -> None:
    text = [v.format(character) for v in value] if isinstance(value, list) else value.format(character)
    site = {"kind": "legal_aid", "name": "驿站", "lat": 37.38, "lon": 117.97, field: text}
    r = await client.post("/v1/sites", json=site, headers=auth)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"].split(".")[0] == field


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "第一行\n第二行"), ("address", "黄河\r五路"), ("photos", ["http://a\u0001b"]), ("name", "\u202egnp.exe")],
)
async def test_patch_and_bulk_rows_refuse_them_too(
    client: httpx.AsyncClient, conn: asyncpg.Connection, auth: dict[str, str], field: str, value: object
) -> None:
    site = await conn.fetchval("SELECT min(id) FROM sites")
    etag = (await client.get(f"/v1/sites/{site}")).headers["etag"]
    r = await client.patch(f"/v1/sites/{site}", json={field: value}, headers={**auth, "If-Match": etag})
    assert r.status_code == 422 and r.json()["errors"][0]["field"].split(".")[0] == field, r.text
    rows = [{"external_id": "H-1", "kind": "legal_aid", "name": "驿站", "lat": 37.38, "lon": 117.97, field: value}]
    r = await upload(client, auth, json.dumps(rows).encode(), "application/json")
    assert r.status_code == 422, r.text
    reasons = r.json()["rows"][0]["reasons"]
    assert reasons and reasons[0].startswith(field), reasons


async def test_the_source_parameter_is_text_too(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    rows = [{"external_id": "H-1", "kind": "legal_aid", "name": "驿站", "lat": 37.38, "lon": 117.97}]
    r = await client.post(
        "/v1/sites/bulk",
        content=json.dumps(rows),
        params={"source": "a\u202eb"},
        headers={**auth, "Content-Type": "application/json"},
    )
    assert r.status_code == 422 and "source" in r.text, r.text


@pytest.mark.parametrize(
    ("note", "accepted"),
    [
        ("第一行\n第二行", True),
        ("锁门了 🔒", True),
        ("响\x07", False),
        ("第一行\r\n第二行", False),
        ("tab\there", False),
        ("\u202e反向", False),
        ("零\u200b宽", False),
        ("C1\x85中", False),
    ],
)
async def test_a_report_note_keeps_line_breaks_and_nothing_else(
    client: httpx.AsyncClient, conn: asyncpg.Connection, note: str, accepted: bool
) -> None:
    site = await conn.fetchval("SELECT min(id) FROM sites")
    r = await client.post(f"/v1/sites/{site}/reports", json={"type": "other", "note": note})
    if accepted:
        assert r.status_code == 201, r.text
    else:
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "note", r.text


async def test_a_report_photo_url_refuses_control_characters(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    site = await conn.fetchval("SELECT min(id) FROM sites")
    r = await client.post(f"/v1/sites/{site}/reports", json={"type": "other", "photo_url": "http://a\u0001b"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "photo_url", r.text


def test_text_stored_before_the_rule_still_exports() -> None:
    """A value the register took before it refused control characters does not break the whole XLSX."""
    data = spreadsheets.to_xlsx(["name", "photos"], [["驿\x01站", ["http://a\x01b", "http://c"]]], "sites")
    assert data.startswith(b"PK")
    assert spreadsheets.to_csv(["name"], [["驿\x01站"]]).count(b"\x01") == 1


@pytest.mark.parametrize(
    "options",
    [
        ["keys", "create", "--name", "惠民县\u202e总工会"],
        ["import", "{csv}", "--actor", "运\x07维"],
        ["import", "{csv}", "--source", "county\u200bregister"],
    ],
)
def test_command_line_names_stored_with_changes_follow_the_rule(tmp_path: Path, options: list[str]) -> None:
    upload = tmp_path / "sites.csv"
    upload.write_text("external_id,name,kind,lat,lon\n", encoding="utf-8")
    made = CliRunner().invoke(cli, [o.format(csv=upload) for o in options])
    assert made.exit_code == 2 and "U+" in made.output, made.output


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"not a zip", XLSX_MEDIA_TYPE), (lines_in("utf-8", "gbk", "utf-8", "utf-8"), "text/csv")],
)
def test_a_refusal_crosses_to_another_process_whole(body: bytes, content_type: str) -> None:
    """parse is plain CPU work that may run in a process pool: what it raises pickles with its field and detail."""
    with pytest.raises(bulk.InvalidParameter) as refused:
        bulk.parse(body, content_type)
    crossed = pickle.loads(pickle.dumps(refused.value))
    assert type(crossed) is bulk.InvalidParameter and crossed.status == 422
    assert (crossed.detail, crossed.errors, str(crossed)) == (
        refused.value.detail,
        refused.value.errors,
        str(refused.value),
    )
    too_large = pickle.loads(pickle.dumps(PayloadTooLarge("more than 200,000 rows")))
    assert too_large.status == 413 and too_large.detail == "more than 200,000 rows"


@pytest.mark.parametrize("source", [[None, None], {"a": 1}, 5, True])
async def test_a_row_whose_source_is_not_text_is_rejected_naming_it(
    client: httpx.AsyncClient, auth: dict[str, str], source: object
) -> None:
    rows = [{"external_id": "S-1", "kind": "legal_aid", "name": "驿站", "lat": 37.38, "lon": 117.97, "source": source}]
    r = await client.post(
        "/v1/sites/bulk", content=json.dumps(rows), headers={**auth, "Content-Type": "application/json"}
    )
    assert r.status_code == 422, r.text
    assert r.json()["rows"][0]["reasons"][0].startswith("source"), r.text
