"""`yizhan` — the operator's command line."""

import asyncio

import typer
from alembic import command
from alembic.config import Config
from rich.console import Console

from app import demo
from app.config import Settings
from app.db import create_engine
from app.paths import PROJECT_ROOT

cli = typer.Typer(help="Yizhan 驿站: register and nearest-site service.", no_args_is_help=True)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
console = Console(stderr=True)


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
