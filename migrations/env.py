"""Alembic environment: runs migrations over the app's async engine, URL from the app settings."""

import asyncio
from logging.config import fileConfig

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy.engine import Connection

import app.changes.models
import app.coverage.models
import app.door.models
import app.inspections.models
import app.keys.models
import app.ratings.models
import app.regions.models
import app.reports.models
import app.roads.models
import app.sites.models
import app.targets.models
import app.visits.models  # noqa: F401  (register the tables on Base.metadata)
from app.config import Settings
from app.database.connections import create_engine
from app.database.orm import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    # Loggers the application made before (tests migrate in-process) keep working.
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _settings() -> Settings:
    # Tests and the CLI hand their own settings in; otherwise they come from the environment.
    settings = config.attributes.get("settings")
    return settings if isinstance(settings, Settings) else Settings()


def _configure(connection: Connection | None = None, **kwargs: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=alembic_helpers.include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=_settings().sqlalchemy_url, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    engine = create_engine(_settings())
    async with engine.connect() as connection:
        await connection.run_sync(_run_sync)
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
