"""`yizhan` — the operator's command line."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from alembic import command
from alembic.config import Config
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from app import demo
from app.config import Settings
from app.db import create_engine
from app.partners import keys
from app.partners.models import SCOPES
from app.paths import PROJECT_ROOT

cli = typer.Typer(help="Yizhan 驿站: register and nearest-site service.", no_args_is_help=True)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
keys_cli = typer.Typer(help="API keys for partner systems.", no_args_is_help=True)
cli.add_typer(keys_cli, name="keys")
console = Console(stderr=True)
T = TypeVar("T")


def alembic_config(settings: Settings) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["settings"] = settings
    return config


@db_cli.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: head)."""
    command.upgrade(alembic_config(Settings()), revision)


@cli.command("seed")
def seed() -> None:
    """Load the Binzhou demo data (idempotent)."""

    async def run() -> demo.LoadSummary:
        engine = create_engine(Settings())
        try:
            return await demo.load(engine)
        finally:
            await engine.dispose()

    with console.status("loading the Binzhou demo data"):
        summary = asyncio.run(run())
    s = summary.sites
    console.print(
        f"[bold]demo data[/bold]: regions changed {summary.regions_changed}; population surface built for "
        f"{summary.population_regions_built} regions; sites created {s['created']}, "
        f"updated {s['updated']}, unchanged {s['unchanged']}"
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


@keys_cli.command("create")
def keys_create(
    name: str = typer.Option(..., help="Who the key is for; recorded with every change it makes"),
    scopes: str = typer.Option("read,write", help="Comma-separated: read, write, admin"),
    region: str | None = typer.Option(None, help="Adcode prefix the key may write in, e.g. 3716 (Binzhou)"),
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    scope_list = [s.strip() for s in scopes.split(",") if s.strip()]
    unknown = set(scope_list) - set(SCOPES)
    if unknown or not scope_list:
        raise typer.BadParameter(f"scopes must be some of {', '.join(SCOPES)}", param_hint="--scopes")
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
