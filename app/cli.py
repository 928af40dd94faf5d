"""`yizhan` — the operator's command line."""

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from alembic import command
from alembic.config import Config
from pydantic_core import PydanticCustomError
from rich.console import Console
from rich.progress import Progress, TaskID
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from app import demo, geo, national_register
from app.api import server
from app.config import Settings
from app.coverage import repository as coverage_repository
from app.coverage.rules import MAX_MIN_SITES
from app.database.connections import act_as, create_engine, reader_in
from app.formats import text
from app.formats.spreadsheets import XLSX_MEDIA_TYPE
from app.keys import service as keys
from app.keys.service import Principal
from app.paths import PROJECT_ROOT
from app.regions import importer as regions_importer
from app.regions import loader
from app.regions import repository as regions_repository
from app.regions import staged as regions_staged
from app.regions.repository import Upserted
from app.regions.urban import is_urban_district
from app.roads import importer, osm
from app.sites import bulk, export
from app.visits import retention as visit_retention
from app.vocabularies.closed import RegionLevel, Scope
from app.vocabularies.service import Vocabularies

cli = typer.Typer(help="Yizhan 驿站: register and nearest-site service.", no_args_is_help=True)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
keys_cli = typer.Typer(help="API keys for partner systems.", no_args_is_help=True)
roads_cli = typer.Typer(help="Road networks (OpenStreetMap) for travel-time rules.", no_args_is_help=True)
cli.add_typer(roads_cli, name="roads")
regions_cli = typer.Typer(
    help="Administrative regions: all of China's counties, cities and provinces, or a union's own boundaries.",
    no_args_is_help=True,
)
cli.add_typer(regions_cli, name="regions")
rules_cli = typer.Typer(
    help="Coverage rules: how far a site of a kind serves, and by how many sites.", no_args_is_help=True
)
cli.add_typer(rules_cli, name="rules")
cli.add_typer(keys_cli, name="keys")
visits_cli = typer.Typer(help="Visits counted at stations' doors.", no_args_is_help=True)
cli.add_typer(visits_cli, name="visits")
console = Console(stderr=True)
T = TypeVar("T")


def alembic_config(settings: Settings) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["settings"] = settings
    return config


@cli.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every interface)"),
    port: int = typer.Option(8000),
    workers: int = typer.Option(1, min=1, help="Processes; set PROMETHEUS_MULTIPROC_DIR with more than one"),
    forwarded_allow_ips: str | None = typer.Option(
        None,
        envvar="FORWARDED_ALLOW_IPS",
        help="Proxies whose X-Forwarded-For is believed (comma-separated addresses or networks); none by default",
    ),
) -> None:
    """Serve the API (uvicorn, with the settings production needs)."""
    server.serve(host, port, workers, forwarded_allow_ips)


@db_cli.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: head)."""
    command.upgrade(alembic_config(Settings()), revision)


@cli.command("seed")
def seed(
    national: bool = typer.Option(
        False,
        "--national-register",
        help="Instead of the demo: the generated national register, sites over all of China by census population, "
        "labelled generated (source generated-national); replaces those of an earlier run. Load the regions first "
        "(yizhan regions load --all): a site outside them gets no region",
    ),
    sites: int | None = typer.Option(
        None, min=1, help=f"Sites of the generated national register (default {national_register.DEFAULT_SITES:,})"
    ),
) -> None:
    """Load the demo data (idempotent): Binzhou, and Shanghai 黄浦区 with its road network; or the generated
    national register."""
    if sites is not None and not national:
        raise typer.BadParameter("only with --national-register", param_hint="--sites")
    if national:
        _seed_national_register(sites or national_register.DEFAULT_SITES)
        return

    async def run() -> tuple[demo.LoadSummary, demo.HuangpuSummary]:
        engine = create_engine(Settings())
        try:
            return await demo.load(engine), await demo.load_huangpu(engine)
        finally:
            await engine.dispose()

    with console.status("loading the demo data"):
        summary, huangpu = asyncio.run(run())
    s = summary.sites
    console.print(
        f"[bold]demo data[/bold]: regions changed {summary.regions_changed}; population surface built for "
        f"{summary.population_regions_built} regions; sites created {s['created']}, "
        f"updated {s['updated']}, unchanged {s['unchanged']}"
    )
    h = huangpu.sites
    console.print(
        f"[bold]黄浦区[/bold]: regions changed {huangpu.regions_changed}; sites created {h['created']}, updated "
        f"{h['updated']}, unchanged {h['unchanged']}; road network {huangpu.network}"
    )


def _seed_national_register(sites: int) -> None:
    with Progress(console=console) as progress:
        done = _on_primary(lambda conn: national_register.load(conn, sites, progress=_ProgressBar(progress)))
    table = Table("kind", "generated sites")
    for kind, count in done.by_kind.items():
        table.add_row(kind, f"{count:,}")
    console.print(table)
    console.print(
        f"[bold]generated national register[/bold] (source {national_register.SOURCE}): {done.written:,} sites "
        f"written, {done.replaced:,} of the earlier run deleted (not generated again)"
    )
    if done.without_region:
        console.print(
            f"[yellow]{done.without_region:,} sites lie outside the loaded regions and have no region[/yellow]: "
            "load them first (yizhan regions load --all), then run this again"
        )


def _on_primary(work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """Run `work` in one committed transaction on the primary."""

    async def run() -> T:
        engine = create_engine(Settings())
        try:
            async with engine.begin() as conn:
                return await work(conn)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@roads_cli.command("import")
def roads_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="An OpenStreetMap extract: .osm or .osm.pbf"),
    name: str | None = typer.Option(None, help="The network's name (default: the file's name)"),
    replace: bool = typer.Option(False, "--replace", help="Swap the network of that name for this file"),
) -> None:
    """Load the roads of an OpenStreetMap extract as a network, in one transaction (all or nothing)."""
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"reading {file.name}", total=None)
        try:
            extract = osm.read(file)
        except osm.NotAnExtract as exc:
            console.print(f"[red]not imported[/red]: {exc}")
            raise typer.Exit(1) from None
        progress.update(task, description=f"writing {len(extract.edges):,} edges")

        async def run(conn: AsyncConnection) -> importer.Imported:
            return await importer.import_extract(conn, extract, name or importer.default_name(file), replace=replace)

        try:
            done = _on_primary(run)
        except importer.ImportRefused as exc:
            console.print(f"[red]not imported[/red]: {exc}")
            raise typer.Exit(1) from None
    if done.outcome == "unchanged":
        console.print(f"network {done.name!r} is already this file: nothing changed")
    else:
        console.print(
            f"network {done.name!r} {done.outcome}: {done.edges:,} edges, {done.nodes:,} nodes; "
            f"regions {', '.join(done.regions)}"
        )


class _ProgressBar:
    """A load's steps as rich progress bars (app.regions.loader.LoadProgress)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def step(self, description: str, total: int) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=self.progress.tasks[self.task].total)
        self.task = self.progress.add_task(description, total=total)

    def advance(self, count: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, count)


@regions_cli.command("load")
def regions_load(
    city: str | None = typer.Option(None, help="A city's adcode, e.g. 370800 (济宁市)"),
    province: str | None = typer.Option(None, help="A province's adcode or its two digits, e.g. 37 (山东省)"),
    all_of_china: bool = typer.Option(False, "--all", help="All 2,891 counties of China"),
) -> None:
    """Load counties from the national set (seed/china) with their census population, the cities, provinces and the
    national root made from them, and the modelled population of each county; in one transaction (idempotent)."""
    if sum((city is not None, province is not None, all_of_china)) != 1:
        raise typer.BadParameter("give one of --city, --province or --all", param_hint="--city/--province/--all")
    if city is not None and not (city.isdigit() and len(city) == 6):
        raise typer.BadParameter("an adcode of six digits", param_hint="--city")
    if province is not None and not (province.isdigit() and len(province) in (2, 6)):
        raise typer.BadParameter("an adcode of six digits or its first two", param_hint="--province")
    try:
        counties = loader.select_counties(city=city, province=province)
    except loader.UnknownRegion as exc:
        raise typer.BadParameter(str(exc), param_hint="--city" if city else "--province") from None
    with Progress(console=console) as progress:
        summary = _on_primary(lambda conn: loader.load(conn, counties, _ProgressBar(progress)))
    table = Table("level", "added", "changed", "left alone")
    for level in reversed(RegionLevel):
        done = summary.levels.get(level, Upserted())
        table.add_row(level, f"{done.added:,}", f"{done.changed:,}", f"{done.unchanged:,}")
    console.print(table)
    console.print(f"modelled population made for {summary.population_modelled:,} counties")


@regions_cli.command("urban")
def regions_urban(
    adcode: str = typer.Argument(..., help="The region's adcode"),
    urban: bool | None = typer.Option(
        None, "--yes/--no", help="It is (or is not) an urban district (市辖区: the 2 km rule), whatever the data says"
    ),
    from_data: bool = typer.Option(False, "--from-data", help="Drop the override: the data's rule decides again"),
) -> None:
    """Override whether a region is an urban district (市辖区); a reload keeps the override."""
    if (urban is None) == (not from_data):
        raise typer.BadParameter("give one of --yes, --no or --from-data", param_hint="--yes/--no/--from-data")

    async def run(conn: AsyncConnection) -> bool:
        region = await regions_repository.get(await reader_in(conn), adcode)
        if region is None:
            return False
        parent = await regions_repository.get(await reader_in(conn), region["parent_adcode"] or "")
        by_data = region["level"] == "county" and is_urban_district(
            region["name"], in_a_city=parent is not None and parent["level"] == "city"
        )
        return await regions_repository.set_urban_district(conn, adcode, urban, by_data)

    if not _on_primary(run):
        raise typer.BadParameter(f"no region with adcode {adcode}", param_hint="ADCODE")
    said = "the data's rule" if urban is None else "an urban district" if urban else "not an urban district"
    console.print(f"{adcode}: {said} (coverage answers follow within a minute)")


@regions_cli.command("import")
def regions_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="GeoJSON, GeoPackage or Shapefile (.shp)"),
    population: Path | None = typer.Option(
        None,
        exists=True,
        dir_okay=False,
        help="Census CSV: columns adcode, population (people), optionally urban_share (0-1) and source",
    ),
    coordsys: geo.CoordSys = typer.Option(
        geo.CoordSys.wgs84, help="Datum of the file's coordinates (DataV and Amap: gcj02; Baidu: bd09)"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and report; write nothing"),
    adcode_property: str = typer.Option("adcode", help="The property holding each feature's adcode"),
    name_property: str = typer.Option("name", help="The property holding its name"),
    parent_property: str = typer.Option(
        "parent", help="Its parent's adcode, or an object with one (DataV); absent: from the adcode"
    ),
    level_property: str = typer.Option(
        "level", help="province, city, county (or DataV's district); absent: from the adcode"
    ),
    replaces_property: str = typer.Option(
        "replaces",
        help="The loaded region's adcode a feature takes the place of under its own new code (撤县设区); the old "
        "code is retired",
    ),
    actor: str = typer.Option("cli", help="Recorded as the author of every change"),
) -> None:
    """Load a union's own boundaries over the loaded ones, in one transaction (all or nothing): checked, converted
    to WGS-84, kept in each region's history, the sites re-assigned to their regions."""
    _visible(actor, "--actor")
    names = regions_importer.Properties(
        adcode_property, name_property, parent_property, level_property, replaces_property
    )
    try:
        features = regions_importer.read(file, names, coordsys)
        people = regions_importer.read_population(population) if population is not None else []

        async def run(conn: AsyncConnection) -> regions_importer.Imported:
            await act_as(conn, actor)
            return await regions_staged.import_regions(
                conn, features, people, check_datum=coordsys == geo.CoordSys.wgs84, dry_run=dry_run
            )

        with console.status(f"importing {len(features)} regions from {file.name}"):
            done = _on_primary(run)
    except regions_importer.ImportRefused as refused:
        for problem in refused.problems:
            console.print(f"  {problem}")
        for warning in refused.warnings:
            console.print(f"  [yellow]warning[/yellow] {warning}")
        console.print(f"[red]not imported[/red]: {len(refused.problems)} problem(s); nothing written")
        raise typer.Exit(1) from None
    for warning in done.warnings:
        console.print(f"  [yellow]warning[/yellow] {warning}")
    for old, new in done.replaced.items():
        console.print(f"  {old} replaced by {new} (the old code retired: its questions answer 410 naming {new})")
    console.print(
        f"regions created {len(done.created)}, updated {len(done.updated)}, unchanged {len(done.unchanged)}; "
        f"sites re-assigned {done.sites_reassigned}; population surfaces rebuilt {len(done.surfaces_rebuilt)}"
        + (" — dry run, nothing written" if dry_run else "")
    )


@rules_cli.command("list")
def rules_list() -> None:
    """Every coverage rule: the defaults by class of region, then the regions' own."""
    table = Table("kind", "region", "radius m", "minutes", "km/h", "mode", "min sites", "note")
    for rule in _on_primary(coverage_repository.rules):
        region = rule["region_adcode"] or ("urban districts" if rule["urban_district"] else "other regions")
        table.add_row(
            rule["kind"], region, *(_cell(rule[c]) for c in ("radius_m", "travel_minutes", "assumed_speed_kmh")),
            rule["mode"] or "", str(rule["min_sites"]), rule["note"] or "",
        )  # fmt: skip
    Console().print(table)


def _cell(value: object) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


@rules_cli.command("cross-coverage")
def rules_cross_coverage(
    region: str = typer.Argument(..., help="Region adcode"),
    kind: str = typer.Option("outdoor_station", help="Site kind"),
    sites: int = typer.Option(2, min=1, max=MAX_MIN_SITES, help="Sites a place must be reached by (1: switch off)"),
) -> None:
    """Ask for a place to be within reach of SITES sites (交叉覆盖) in a region: the region gets its own rule, the
    one it inherits with min_sites set."""

    async def run(conn: AsyncConnection) -> bool:
        return await coverage_repository.set_min_sites(conn, region, kind, sites)

    if not _on_primary(run):
        console.print(
            f"[red]no rule for {kind} applies to region {region}[/red]: is it loaded, and is it a county (a city's "
            "figures are its counties', under theirs)?"
        )
        raise typer.Exit(1)
    console.print(f"{kind} in {region}: covered where {sites} site(s) reach (answers within a minute)")


def _visible(value: str, hint: str) -> None:
    """The rule of every text the register stores (app.formats.text), for an option stored with changes."""
    try:
        text.ONE_LINE.check(value)
    except PydanticCustomError as refused:
        raise typer.BadParameter(str(refused), param_hint=hint) from None


@keys_cli.command("create")
def keys_create(
    name: str = typer.Option(..., help="Who the key is for; recorded with every change it makes"),
    scopes: str = typer.Option("read,write", help="Comma-separated: read, write, inspect, admin"),
    region: str | None = typer.Option(None, help="Adcode prefix the key may write in, e.g. 3716 (Binzhou)"),
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    _visible(name, "--name")
    scope_list = [s.strip() for s in scopes.split(",") if s.strip()]
    unknown = set(scope_list) - set(Scope)
    if unknown or not scope_list:
        raise typer.BadParameter(f"scopes must be some of {', '.join(Scope)}", param_hint="--scopes")
    if region is not None and not (region.isdigit() and 2 <= len(region) <= 6):
        raise typer.BadParameter("an adcode prefix of 2 to 6 digits", param_hint="--region")
    secret = _on_primary(lambda conn: keys.create(conn, name, scope_list, region))
    console.print(f"[bold]key for {name}[/bold] (shown once, store it now):")
    typer.echo(secret)


@keys_cli.command("list")
def keys_list() -> None:
    """List keys (prefix, name, scopes, region, state); secrets are never shown."""
    rows = _on_primary(keys.list_all)
    table = Table("prefix", "name", "scopes", "region", "created", "state")
    for row in rows:
        table.add_row(
            row["prefix"],
            row["name"],
            ",".join(row["scopes"]),
            row["region_prefix"] or "—",
            row["created_at"].strftime("%Y-%m-%d"),
            "revoked" if row["revoked_at"] else "active",
        )
    console.print(table)


@keys_cli.command("revoke")
def keys_revoke(prefix: str = typer.Argument(..., help="The key's prefix, as `yizhan keys list` shows it")) -> None:
    """Revoke a key at once."""
    if not _on_primary(lambda conn: keys.revoke(conn, prefix)):
        raise typer.BadParameter(f"no active key with prefix {prefix}", param_hint="PREFIX")
    console.print(f"revoked {prefix}")


@visits_cli.command("prune")
def visits_prune(
    dry_run: bool = typer.Option(False, "--dry-run", help="Say which months would go; change nothing"),
) -> None:
    """Drop the raw visits' months past the retention (VISITS_RETENTION_MONTHS, default 13) and make sure next month's
    partition exists, as the service does daily; the daily counts are kept. For cron, with
    VISITS_RETENTION_ON_SCHEDULE=false."""
    months = Settings().visits_retention_months
    done = _on_primary(lambda conn: visit_retention.prune(conn, months, visit_retention.now(), dry_run))
    if not done.ran:
        console.print("another process is running the retention now; nothing done")
        return
    verb = "would drop" if dry_run else "dropped"
    console.print(f"raw visits kept from {done.oldest_kept:%Y-%m} ({months} months before this one)")
    console.print(f"{verb} {len(done.dropped)} partitions" + (f": {', '.join(done.dropped)}" if done.dropped else ""))


FORMATS = {
    ".geojson": "application/geo+json",
    ".json": "application/json",
    ".csv": "text/csv",
    ".xlsx": XLSX_MEDIA_TYPE,
}
IMPORT_CHUNK = 5000
# The command line imports in chunks, so a file may be larger than one request (bulk.REQUEST_LIMITS).
IMPORT_LIMITS = bulk.Limits(
    rows=10 * bulk.MAX_ROWS,
    unpacked_bytes=10 * bulk.MAX_UNPACKED_BYTES,
    shared_strings_bytes=10 * bulk.MAX_SHARED_STRINGS_BYTES,
)


@cli.command("import")
def import_file(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="A .csv, .xlsx, .geojson or .json file"),
    source: str | None = typer.Option(None, help="Source of every row (else each row's own)"),
    coordsys: geo.CoordSys = typer.Option(geo.CoordSys.wgs84, help="Datum of the file's coordinates"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would happen; change nothing"),
    partial: bool = typer.Option(False, "--partial", help="Apply the valid rows even if some are rejected"),
    actor: str = typer.Option("cli", help="Recorded as the author of every change"),
) -> None:
    """Upsert sites from a file, as POST /v1/sites/bulk does, with a progress bar. All or nothing by default."""
    _visible(actor, "--actor")
    if source is not None:
        _visible(source, "--source")
    media_type = FORMATS.get(path.suffix.lower())
    if media_type is None:
        raise typer.BadParameter(f"expected one of {', '.join(FORMATS)}", param_hint="PATH")
    records = bulk.parse(path.read_bytes(), media_type, IMPORT_LIMITS)
    repeats = bulk.repeated_rows(records, source)
    principal = Principal(actor, frozenset({"admin"}), None)
    vocabularies = Vocabularies()

    async def run(conn: AsyncConnection) -> list[bulk.RowReport]:
        reports: list[bulk.RowReport] = []
        with Progress(console=console) as progress:
            task = progress.add_task(f"importing {path.name}", total=len(records))
            for start in range(0, len(records), IMPORT_CHUNK):
                chunk = records[start : start + IMPORT_CHUNK]
                result = await bulk.import_sites(
                    conn,
                    principal,
                    vocabularies,
                    chunk,
                    source=source,
                    coordsys=coordsys,
                    dry_run=False,
                    atomic=False,
                    repeats=repeats,
                )
                reports += result.rows
                progress.advance(task, len(chunk))
        rejected = any(r.outcome == "rejected" for r in reports)
        if dry_run or (rejected and not partial):
            raise _RollBack(reports)
        return reports

    try:
        reports = _on_primary(run)
        applied = True
    except _RollBack as rollback:
        reports, applied = rollback.reports, False
    counts = {
        outcome: sum(1 for r in reports if r.outcome == outcome)
        for outcome in ("created", "updated", "unchanged", "rejected")
    }
    for report in sorted((r for r in reports if r.reasons), key=lambda r: r.row)[:20]:
        console.print(f"  row {report.row}: {'; '.join(report.reasons)}")
    console.print(
        ", ".join(f"{k} {v}" for k, v in counts.items()) + (" — applied" if applied else " — nothing written")
    )
    if counts["rejected"] and not partial and not dry_run:
        raise typer.Exit(1)


class _RollBack(Exception):
    """Leaves the import's transaction rolled back, carrying the report."""

    def __init__(self, reports: list[bulk.RowReport]) -> None:
        super().__init__("rolled back")
        self.reports = reports


@cli.command("export")
def export_file(
    output: Path = typer.Argument(..., dir_okay=False, help="Where to write: .geojson, .csv or .xlsx"),
    kind: str | None = typer.Option(None, help="Only this kind of site"),
    coordsys: geo.CoordSys = typer.Option(geo.CoordSys.wgs84, help="Datum of the exported coordinates"),
) -> None:
    """Write the register (deleted sites left out) as GeoJSON, CSV or XLSX."""
    writers = {".geojson": export.to_geojson, ".csv": export.to_csv, ".xlsx": export.to_xlsx}
    write = writers.get(output.suffix.lower())
    if write is None:
        raise typer.BadParameter(f"expected one of {', '.join(writers)}", param_hint="OUTPUT")

    async def run(conn: AsyncConnection) -> list[dict[str, Any]]:
        return await export.rows(await reader_in(conn), kind, coordsys)

    sites = _on_primary(run)
    output.write_bytes(write(sites))
    console.print(f"wrote {len(sites)} sites to {output}")


if __name__ == "__main__":
    cli()
