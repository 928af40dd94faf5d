"""Bulk upsert of sites by (source, external_id), from JSON, GeoJSON, CSV (UTF-8 or GBK) or XLSX.

All or nothing by default: any rejected row and nothing is written. `dry_run` runs the whole import, reports what
would happen, and rolls it back. Every row gets an outcome (created, updated, unchanged, rejected with reasons).
A bulk row is a full record: optional fields it leaves out are cleared.
"""

import codecs
import csv
import datetime as dt
import io
import itertools
import re
import zipfile
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from defusedxml import DefusedXmlException
from fastapi import Request
from openpyxl.reader.excel import ExcelReader
from openpyxl.styles.stylesheet import apply_stylesheet
from openpyxl.worksheet._reader import WorkSheetParser
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from app import geo
from app.compute import offload
from app.database.connections import act_as
from app.formats import spreadsheets
from app.formats.spreadsheets import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE
from app.keys.service import Principal
from app.observability import metrics
from app.problems import Forbidden, InvalidParameter, PayloadTooLarge, UnsupportedMediaType
from app.problems.database import database_errors
from app.sites import fields, repository, service
from app.sites.fields import DEFAULTS, matching_key
from app.sites.schemas import SiteCreate
from app.vocabularies.service import Vocabularies

# 100,000 rows of a spreadsheet export are ~30 MB as CSV; past this a partner should split the file.
MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_ROWS = 200_000
# An XLSX of MAX_ROWS rows as the register exports it unpacks to ~300 MB of sheet XML (inline strings); Excel's own
# shared strings for as many rows of names and addresses are ~30 MB, and openpyxl holds them all in memory.
MAX_UNPACKED_BYTES = 512 * 1024 * 1024
MAX_SHARED_STRINGS_BYTES = 64 * 1024 * 1024
MAX_XLSX_PARTS = 1_000
MAX_COLUMNS = 1_000
MAX_SHEET_ROWS = 1_048_576  # the last row of an Excel or WPS sheet

LIST_FIELDS = fields.names(tuple(f for f in fields.WRITTEN if f.is_list))
# A spreadsheet's cells of these are read as numbers, of the others as text.
NUMERIC_FIELDS = fields.names(tuple(f for f in fields.WRITTEN if f.column_type.python_type in (int, float)))
DATE_FIELDS = fields.names(tuple(f for f in fields.WRITTEN if f.column_type.python_type is dt.date))
# The register's own fields, as an export writes them: ignored on the way back in, so exports re-import as-is.
REGISTER_FIELDS = frozenset(fields.names(fields.REGISTER))


@dataclass
class RowReport:
    row: int
    external_id: str | None
    outcome: str = "rejected"
    site_id: int | None = None
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        report: dict[str, Any] = {"row": self.row, "external_id": self.external_id, "outcome": self.outcome}
        if self.site_id is not None:
            report["site_id"] = self.site_id
        if self.reasons:
            report["reasons"] = self.reasons
        if self.warnings:
            report["warnings"] = self.warnings
        return report


async def read_body(request: Request) -> bytes:
    """The request body, refused with 413 past MAX_BODY_BYTES (also when no Content-Length is sent)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is {declared} bytes; the limit is {MAX_BODY_BYTES} — split the file")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"the body is over {MAX_BODY_BYTES} bytes — split the file")
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass(frozen=True)
class Limits:
    """How much of a file `parse` reads before it refuses it (413): rows, and the size an XLSX unpacks to."""

    rows: int = MAX_ROWS
    unpacked_bytes: int = MAX_UNPACKED_BYTES
    shared_strings_bytes: int = MAX_SHARED_STRINGS_BYTES


REQUEST_LIMITS = Limits()


def parse(body: bytes, content_type: str, limits: Limits = REQUEST_LIMITS) -> list[tuple[int, dict[str, Any]]]:
    """(row number, raw record) for each row of the upload: InvalidParameter (422) naming `body` for a file that
    cannot be read, PayloadTooLarge (413) past the limits. CPU work only, no I/O: it may run in another process."""
    media_type, _, params = content_type.partition(";")
    media_type = media_type.strip().lower()
    charset = params.split("charset=")[1].strip().strip('"') if "charset=" in params else None
    try:
        if media_type == CSV_MEDIA_TYPE:
            reader = csv.reader(io.StringIO(_decode_text(body, charset)))
            header = next(reader, [])
            lines = ((n, [spreadsheets.unquoted(value) for value in line]) for n, line in enumerate(reader, start=2))
            return _table_rows(header, lines, limits)  # row 1 is the header, as a spreadsheet numbers them
        if media_type == XLSX_MEDIA_TYPE:
            return _xlsx_rows(body, limits)
        if media_type in ("application/json", "application/geo+json"):
            return _json_rows(body, limits)
    except (
        UnicodeDecodeError,
        LookupError,
        ValueError,  # defusedxml's refusals of DTDs and entities among them
        KeyError,
        TypeError,
        AttributeError,
        OSError,
        zipfile.BadZipFile,
        SyntaxError,  # xml.etree's ParseError: a truncated or malformed part
        csv.Error,  # a field past the csv module's limit, a bare CR inside a field …
    ) as exc:
        if isinstance(exc, InvalidParameter):
            raise
        raise InvalidParameter("body", f"could not read the {media_type} body: {_reason(exc)}") from None
    raise UnsupportedMediaType(f"send JSON, GeoJSON, CSV or XLSX, not {media_type or 'no Content-Type'}")


def _reason(exc: Exception) -> str:
    """What went wrong, in words that never quote the file (an entity's name, a path, not its content)."""
    if isinstance(exc, DefusedXmlException):
        return "an XLSX part declares a DTD or entities, which spreadsheets never need"
    return f"{type(exc).__name__}: {exc}"[:300]


def _too_many_rows(limits: Limits) -> PayloadTooLarge:
    return PayloadTooLarge(f"more than {limits.rows:,} rows; the limit is {limits.rows:,} a request — split the file")


def _decode_text(body: bytes, charset: str | None) -> str:
    """A CSV's text. A file is in one encoding: UTF-8 (with or without a BOM), else GBK as Excel and WPS save CSV
    on Chinese Windows — but a file with lines of each is refused, naming the first line that is not UTF-8, so that
    no line is stored garbled."""
    if charset is None and not body.startswith(codecs.BOM_UTF8):
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            _one_encoding(body)
            charset = "gb18030"  # GB18030 reads GBK and more
    charset = charset or "utf-8-sig"
    try:
        codecs.lookup(charset)
    except LookupError:
        raise InvalidParameter("body", f"unknown charset {charset!r}") from None
    if charset.replace("-", "").replace("_", "").lower() in ("gbk", "gb2312", "gb18030"):
        _one_encoding(body)
    try:
        return body.decode(charset).removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = body.count(b"\n", 0, exc.start) + 1
        raise InvalidParameter("body", f"line {line} is not {charset}: a file is in one encoding") from None


def _one_encoding(body: bytes) -> None:
    """Refuse a file that is not UTF-8 as a whole but has lines of Chinese text in UTF-8: a UTF-8 file with lines
    pasted in from a GBK one, which GBK would read as garbled text. (A line of GBK text is almost never valid UTF-8
    holding characters beyond U+07FF, where every Chinese character is.)"""
    utf8_line = None
    other_line = None
    for number, line in enumerate(body.split(b"\n"), start=1):
        if line.isascii():
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            other_line = other_line or number
        else:
            if max(map(ord, text)) > 0x7FF:
                utf8_line = utf8_line or number
        if utf8_line and other_line:
            raise InvalidParameter(
                "body",
                f"line {other_line} is not UTF-8 but line {utf8_line} is: a file is in one encoding "
                "(save it again as UTF-8, or all of it as GBK)",
            )


def _number(text: str) -> float | str:
    """A spreadsheet's text cell holding a number (every CSV cell is text) as that number; else the text, which
    validation refuses naming the field."""
    try:
        return float(text)
    except ValueError:
        return text


def _table_rows(
    header: Sequence[Any], lines: Iterable[tuple[int, Sequence[Any]]], limits: Limits
) -> list[tuple[int, dict[str, Any]]]:
    """(row number, record) for each (row number, values) that is not blank."""
    names = [fields.HEADERS_ZH.get(str(h).strip(), str(h).strip()) if h is not None else "" for h in header]
    if not set(names) & set(SiteCreate.model_fields):
        # Not a table of sites (or not a table at all): an import of nothing would answer 200 for it.
        raise InvalidParameter(
            "body", "the first row names no field of a site (name, kind, lat, lon … or 名称, 类型 …)"
        )
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, values in lines:
        record = {}
        for name, value in zip(names, values, strict=False):
            if not name or value is None or (isinstance(value, str) and not value.strip()):
                continue
            if hasattr(value, "isoformat"):
                value = value.isoformat()[:10] if name in DATE_FIELDS else value.isoformat()
            elif isinstance(value, str) and name in NUMERIC_FIELDS:
                value = _number(value)
            elif isinstance(value, int | float) and name not in NUMERIC_FIELDS:
                # A spreadsheet stores an id like 1001 as a number; the register keeps it as text.
                value = str(int(value)) if float(value).is_integer() else str(value)
            record[name] = value.strip() if isinstance(value, str) else value
        if record:
            if len(rows) == limits.rows:
                raise _too_many_rows(limits)
            rows.append((number, record))
    return rows


def _xlsx_rows(body: bytes, limits: Limits) -> list[tuple[int, dict[str, Any]]]:
    """The first sheet's rows. What the workbook says about itself is not trusted: the sizes its parts unpack to
    are checked from the zip directory before any is parsed (zipfile stops a part at the size the directory gives),
    and only the cells the sheet holds are read, so a cell at column 16,384 or a row numbered 1,048,576 costs no
    more than any other."""
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        parts = archive.infolist()
    if len(parts) > MAX_XLSX_PARTS:
        raise InvalidParameter("body", f"{len(parts):,} parts in the XLSX; a workbook has a few dozen")
    unpacked = sum(p.file_size for p in parts)
    strings = sum(p.file_size for p in parts if p.filename.lower().endswith("sharedstrings.xml"))
    if unpacked > limits.unpacked_bytes or strings > limits.shared_strings_bytes:
        raise PayloadTooLarge(
            f"the XLSX unpacks to {unpacked:,} bytes ({strings:,} of shared strings); the limits are "
            f"{limits.unpacked_bytes:,} ({limits.shared_strings_bytes:,}) — split the file"
        )
    sheet = _first_sheet(body)
    try:
        number, cells = next(sheet, (1, {}))
        header = [cells.get(column) for column in range(1, max(cells, default=0) + 1)] if number == 1 else []
        if len(header) > MAX_COLUMNS:
            raise InvalidParameter("body", f"{len(header):,} columns in the header; a site has a few dozen fields")
        width = range(1, len(header) + 1)
        lines = (
            (number, [cells.get(column) for column in width])
            for number, cells in itertools.chain([] if number == 1 else [(number, cells)], sheet)
        )
        return _table_rows(header, lines, limits)
    finally:
        sheet.close()


def _first_sheet(body: bytes) -> Generator[tuple[int, dict[int, Any]], None, None]:
    """(row number, {column: value}) for each row the first worksheet holds, as its XML streams.

    Not openpyxl's load_workbook: its read-only sheets take their size from the sheet's <dimension>, and one without
    it is parsed whole as the workbook opens (a million rows: seconds and hundreds of MB before the first is read).
    These are the steps load_workbook takes (openpyxl.reader.excel.ExcelReader.read), less that one.
    """
    reader = ExcelReader(io.BytesIO(body), read_only=True, data_only=True)
    try:
        reader.read_manifest()
        reader.read_strings()
        reader.read_workbook()
        apply_stylesheet(reader.archive, reader.wb)  # which number formats are dates
        book = reader.wb
        for _, rel in reader.parser.find_sheets():
            if rel.target not in reader.valid_files or "chartsheet" in rel.Type:
                continue
            with reader.archive.open(rel.target) as source:
                parser = WorkSheetParser(
                    source,
                    reader.shared_strings,
                    data_only=True,
                    epoch=book.epoch,
                    date_formats=book._date_formats,
                    timedelta_formats=book._timedelta_formats,
                )
                for number, cells in parser.parse():
                    if number > MAX_SHEET_ROWS:
                        raise InvalidParameter("body", f"row {number:,} is past {MAX_SHEET_ROWS:,}, a sheet's last")
                    yield number, {cell["column"]: cell["value"] for cell in cells if cell["value"] is not None}
            return
        raise InvalidParameter("body", "the XLSX has no worksheet")
    finally:
        reader.archive.close()


def _json_rows(body: bytes, limits: Limits) -> list[tuple[int, dict[str, Any]]]:
    document = orjson.loads(body)  # its depth is bounded (1,024): a 100,000-deep body is refused
    if isinstance(document, dict) and document.get("type") == "FeatureCollection":
        features = document.get("features", [])
        if isinstance(features, list) and len(features) > limits.rows:
            raise _too_many_rows(limits)
        return [(n, _feature_record(f)) for n, f in enumerate(features, start=1)]
    items = document.get("items") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise InvalidParameter("body", "expected a list of sites, {items: [...]}, or a FeatureCollection")
    if len(items) > limits.rows:
        raise _too_many_rows(limits)
    return [(n, item if isinstance(item, dict) else {}) for n, item in enumerate(items, start=1)]


def _feature_record(feature: Any) -> dict[str, Any]:
    if not isinstance(feature, dict):
        return {}
    record = dict(feature.get("properties") or {})
    geometry = feature.get("geometry") or {}
    coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
    if geometry.get("type") == "Point" and isinstance(coordinates, list) and len(coordinates) >= 2:
        record["lon"], record["lat"] = coordinates[:2]
    elif geometry.get("type") == "Point":
        record["geometry"] = "a Point's coordinates are [lon, lat]"
    elif geometry:
        record["geometry"] = f"a {geometry.get('type')}, not a Point"
    return record


def _listify(record: dict[str, Any]) -> dict[str, Any]:
    for name in LIST_FIELDS:
        value = record.get(name)
        if isinstance(value, str):
            for separator in ("；", "、", "，", ","):
                value = value.replace(separator, ";")
            record[name] = [v.strip() for v in value.split(";") if v.strip()]
    return record


def repeated_rows(records: list[tuple[int, dict[str, Any]]], source: str | None) -> dict[int, int]:
    """Rows repeating an earlier row's (source, external_id) → the row they repeat: only the first is written."""
    first: dict[tuple[str, str], int] = {}
    repeats = {}
    for number, record in records:
        row_source = source or record.get("source") or SiteCreate.model_fields["source"].default
        if record.get("external_id") is None or not isinstance(row_source, str):
            continue  # a source that is not text: the row is refused for it (SiteCreate)
        key = (matching_key(row_source), matching_key(str(record["external_id"])))
        if key in first:
            repeats[number] = first[key]
        else:
            first[key] = number
    return repeats


@dataclass
class BulkResult:
    applied: bool
    dry_run: bool
    atomic: bool
    rows: list[RowReport]
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        counts = {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
        for row in self.rows:
            counts[row.outcome] += 1
        return counts


def validated(
    records: list[tuple[int, dict[str, Any]]], source: str | None, coordsys: str, repeats: dict[int, int] | None
) -> list[tuple[RowReport, dict[str, Any] | None, tuple[Any, ...] | None]]:
    """Each row's report, with its values in WGS-84 and its staged row (repository.staged_row) when it is valid
    (None when it is refused)."""
    repeats = repeated_rows(records, source) if repeats is None else repeats
    reports: list[RowReport] = []
    values: dict[int, dict[str, Any]] = {}  # by id() of the valid rows' reports
    for number, raw in records:
        # A bulk row is a full record: a field it sends as null is a field it leaves out (cleared: fields.DEFAULTS).
        record = {k: v for k, v in raw.items() if k not in REGISTER_FIELDS and v is not None}
        record = _listify({**record, "source": source} if source else record)
        if "geometry" in record:
            reports.append(RowReport(number, record.get("external_id"), reasons=[f"geometry: {record['geometry']}"]))
            continue
        record["coordsys"] = coordsys
        report = RowReport(number, str(record["external_id"]) if record.get("external_id") is not None else None)
        reports.append(report)
        try:
            given = SiteCreate.model_validate(record).model_dump(exclude={"coordsys"})
        except ValidationError as exc:
            report.reasons = [f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}" for e in exc.errors()]
            continue
        if given["external_id"] is None:
            report.reasons.append("external_id: required in a bulk upload (it is how the row is matched)")
        if number in repeats:
            report.reasons.append(f"external_id: repeats row {repeats[number]}")
        if report.reasons:
            continue
        given["lon"], given["lat"] = geo.to_wgs84(given["lon"], given["lat"], coordsys)
        values[id(report)] = {**DEFAULTS, **{k: v for k, v in given.items() if v is not None}}
    return [
        (report, found, repository.staged_row(found) if found is not None else None)
        for report, found in ((report, values.get(id(report))) for report in reports)
    ]


async def import_sites(
    conn: AsyncConnection,
    principal: Principal,
    vocabularies: Vocabularies,
    records: list[tuple[int, dict[str, Any]]],
    *,
    source: str | None,
    coordsys: str,
    dry_run: bool,
    atomic: bool,
    repeats: dict[int, int] | None = None,
) -> BulkResult:
    """Validate, check and upsert the rows. `repeats` (repeated_rows) when `records` are a part of a larger file."""
    # In a worker process: validating a large file's rows (opening hours, vocabularies' shapes, datums) takes
    # seconds of CPU.
    checked = await offload.run_listed(validated, source, coordsys, repeats, items=records)
    reports = [report for report, _, _ in checked]
    valid = [(report, values) for report, values, _ in checked if values is not None]
    staged = {id(report): row for report, _, row in checked if row is not None}

    existing = await repository.lock_by_external_id(conn, [(v["source"], v["external_id"]) for _, v in valid])
    await _check_writes(conn, principal, vocabularies, valid, existing, atomic)
    warnings = await _check_datum(conn, valid, [e for e in existing if not e.deleted], coordsys)
    rows = [staged[id(report)] for report, _ in valid if not report.reasons]
    async with conn.begin_nested() as savepoint:
        await act_as(conn, principal.name)
        with database_errors():
            upserted = await repository.upsert_by_external_id(conn, rows, principal.region_prefix)
        for report, values in valid:
            if report.reasons:
                continue
            key = (values["source"], values["external_id"])
            if key in upserted.outside_region:
                _refuse_outside_region(principal, report, upserted.outside_region[key], atomic)
                continue
            site_id, outcome = upserted.written.get(key, (None, "unchanged"))
            report.outcome, report.site_id = outcome, site_id
        rejected = any(r.outcome == "rejected" for r in reports)
        applied = not dry_run and not (atomic and rejected)
        for report in reports:
            metrics.BULK_ROWS.labels(report.outcome if applied else "not_applied").inc()
        if not applied:
            await savepoint.rollback()
    return BulkResult(applied, dry_run, atomic, reports, warnings)


async def _check_writes(
    conn: AsyncConnection,
    principal: Principal,
    vocabularies: Vocabularies,
    valid: list[tuple[RowReport, dict[str, Any]]],
    existing: list[repository.Existing],
    atomic: bool,
) -> None:
    """The checks of every write (app.sites.service.refusals), for all rows at once. A row outside the key's region
    (where the site it updates is, or where it puts it) makes an all-or-nothing upload 403; a partial one rejects
    the row."""
    regions = {e.index: e.region_adcode for e in existing}
    writes = [service.Write(v, exists=n in regions, current_region=regions.get(n)) for n, (_, v) in enumerate(valid)]
    for (report, _), refused in zip(valid, await service.refusals(conn, principal, vocabularies, writes), strict=True):
        if atomic and (forbidden := [r for r in refused if r.forbidden]):
            reasons = "; ".join(r.reason() for r in forbidden)
            raise Forbidden(f"row {report.row}: {reasons}; nothing was written")
        report.reasons += [r.reason() for r in refused]


def _refuse_outside_region(principal: Principal, report: RowReport, region: str | None, atomic: bool) -> None:
    """A row the upsert refused: its site, created by another key after the checks, lies outside the key's region."""
    refused = service.outside_region(principal, "site", region)
    if atomic:
        raise Forbidden(f"row {report.row}: {refused.reason()}; nothing was written")
    report.reasons.append(refused.reason())


# Share of address-checkable rows that look shifted past which the whole upload is flagged.
SHIFTED_SHARE_WARNING = 0.2


async def _check_datum(
    conn: AsyncConnection,
    valid: list[tuple[RowReport, dict[str, Any]]],
    live: list[repository.Existing],
    coordsys: str,
) -> list[str]:
    """Flag points that look already shifted: a partner sending GCJ-02 (Amap, Tencent) labelled as WGS-84.

    A row whose address names a loaded region but whose point falls outside it is suspect; if reading the point as
    GCJ-02 would put it inside, it very likely is GCJ-02. Rows are warned, not refused: a site can sit just over a
    boundary from the district in its postal address.
    """
    shifted_updates = _moved_by_the_datum_shift(valid, live) if coordsys == geo.CoordSys.wgs84 else 0
    regions = await repository.county_names(conn)
    # One pass over each address for all the names (a country has 2,800 counties), the longest alternative first.
    names = re.compile("|".join(map(re.escape, sorted(regions, key=len, reverse=True)))) if regions else None
    named = []
    for report, values in valid:
        address = values.get("address") or ""
        found_names = names.findall(address) if names is not None else []
        stated = regions[max(found_names, key=len)] if found_names else None
        if stated is not None and not report.reasons:
            named.append((report, values, stated))
    if not named:
        return _batch_warning(shifted_updates, len(valid))
    as_gcj = [geo.to_wgs84(v["lon"], v["lat"], geo.CoordSys.gcj02) for _, v, _ in named]
    found_regions = await repository.regions_of(conn, [(v["lon"], v["lat"]) for _, v, _ in named])
    gcj_regions = await repository.regions_of(conn, as_gcj)
    shifted = 0
    for (report, _, stated), found, if_gcj in zip(named, found_regions, gcj_regions, strict=True):
        if found == stated:
            continue
        if if_gcj == stated and coordsys == geo.CoordSys.wgs84:
            shifted += 1
            report.warnings.append(
                f"lat/lon: outside {stated}, which the address names, but inside it read as GCJ-02: "
                "coordinates from Amap/Tencent sent as WGS-84? (send coordsys=gcj02)"
            )
        else:
            report.warnings.append(f"lat/lon: in region {found}, but the address names {stated}")
    return _batch_warning(shifted + shifted_updates, len(named) + shifted_updates)


def _batch_warning(shifted: int, checked: int) -> list[str]:
    if not shifted or shifted / max(checked, 1) < SHIFTED_SHARE_WARNING:
        return []
    return [
        f"{shifted} of {checked} checkable rows look shifted by the GCJ-02 datum: if these coordinates come "
        "from Amap, Tencent or DataV, upload again with coordsys=gcj02"
    ]


def _moved_by_the_datum_shift(valid: list[tuple[RowReport, dict[str, Any]]], live: list[repository.Existing]) -> int:
    """Rows updating a known site whose point moved by exactly the GCJ-02 shift at that place (to within 5 m)."""
    if not valid:
        return 0
    flagged = 0
    for site in live:
        n, old_lon, old_lat = site.index, site.lon, site.lat
        report, values = valid[n]
        if report.reasons:
            continue
        shifted_lon, shifted_lat = geo.from_wgs84(old_lon, old_lat, geo.CoordSys.gcj02)
        if geo.GEOD.inv(values["lon"], values["lat"], shifted_lon, shifted_lat)[2] < 5.0 and (
            geo.GEOD.inv(values["lon"], values["lat"], old_lon, old_lat)[2] > 50.0
        ):
            flagged += 1
            report.warnings.append(
                "lat/lon: moved by exactly the GCJ-02 shift from where the register has it: "
                "coordinates from Amap/Tencent sent as WGS-84? (send coordsys=gcj02)"
            )
    return flagged
