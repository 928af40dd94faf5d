"""The application factory: `create_app(settings)`; uvicorn serves `app.main:app`."""

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import ASGIApp

from app.api import health
from app.api.bodies import document_bodies
from app.api.budget import RequestBudget
from app.api.ratelimit import MemoryCounter, RateLimitMiddleware, RedisCounter
from app.api.responses import JSON, BodyLimit, BodyTimeout, GZipWhenAccepted
from app.changes.router import router as changes_router
from app.compute import offload
from app.config import Settings
from app.coverage.kept import CoverageKept
from app.coverage.router import router as coverage_router
from app.database.connections import open_database
from app.door.router import pages as door_pages
from app.door.router import router as door_router
from app.inspections.router import router as inspections_router
from app.observability import metrics
from app.observability import requests as observability
from app.observability.requests import RequestObserver
from app.ogc.repository import CollectionFigures
from app.ogc.router import router as ogc_router
from app.problems.http import install_error_handlers
from app.problems.openapi import document_problems
from app.progress.router import router as progress_router
from app.ratings.router import router as ratings_router
from app.regions.router import router as regions_router
from app.reports.router import router as reports_router
from app.roads.router import router as roads_router
from app.sites.nearest.router import mount_nearest
from app.sites.open_hours import OpenHoursIndex
from app.sites.router import router as sites_router
from app.targets.router import router as targets_router
from app.tiles.router import router as tiles_router
from app.visits import retention as visit_retention
from app.visits.router import VISITS_PATH, mount_visits
from app.visits.router import router as visits_router
from app.visits.service import VisitDesk
from app.vocabularies.router import router as vocabularies_router
from app.vocabularies.service import Vocabularies
from app.web.router import mount_pages

# A site, a report or a siting request with 10,000 candidates fits in far less; bulk imports have their own limit.
MAX_JSON_BODY_BYTES = 2 * 1024 * 1024
BULK_PATH = "/v1/sites/bulk"
GC_YOUNG_THRESHOLD = 10_000  # allocations (net of frees) between young-generation collections; CPython's is 700


class Service(FastAPI):
    """FastAPI with the request observer around its whole stack, outside Starlette's error middleware (where an
    added middleware would sit inside it): the 500 of an unexpected error carries the request id too, and is
    logged and counted as the 500 it is."""

    def build_middleware_stack(self) -> ASGIApp:
        settings: Settings = self.state.settings
        # The budget outside the error middleware too: a request it stops is answered 503, not turned into a 500.
        stack = RequestBudget(
            super().build_middleware_stack(),
            settings.request_budget_s,
            settings.import_budget_s,
            long_paths=(BULK_PATH,),
        )
        return RequestObserver(stack) if settings.observe_requests else stack


def create_app(settings: Settings | None = None) -> Service:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_database(settings) as db:
            app.state.db = db
            offload.start()
            retention = (
                asyncio.create_task(visit_retention.on_schedule(db.engine, settings.visits_retention_months))
                if settings.visits_retention_on_schedule
                else None
            )
            # Everything allocated so far (modules, routes, models, pools) lives as long as the process; move it
            # out of the cyclic GC's reach, or every full collection walks all of it and pauses requests (the p99
            # under wrk shows it).
            gc.collect()
            gc.freeze()
            # A young-generation collection walks every object made since the last one that is still alive, the
            # frames of all the requests in flight among them: at CPython's 700 that was ~25 µs of a nearest
            # request at 32 connections (4–6 % of the server's CPU; bench/NOTES.md). Nearly everything a request
            # makes is freed by reference counting when it is done with, so collecting less often only keeps the
            # few cycles' memory a little longer.
            gc.set_threshold(GC_YOUNG_THRESHOLD)
            yield
            if retention is not None:
                retention.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await retention
            offload.close()
            for used in (counter, visit_counter):
                if isinstance(used, RedisCounter):
                    await used.close()

    app = Service(
        title="Yizhan 驿站",
        summary="Trade-union worker stations, legal-aid points and service centres: nearest site and register.",
        version="0.1.0",
        lifespan=lifespan,
        # Served from the project by app.web (FastAPI's defaults load them from a CDN: blank offline).
        docs_url=None,
        redoc_url=None,
        default_response_class=JSON,
        # Opt-in: left on, FastAPI looks for configured OpenTelemetry providers on every request (~15 µs of a
        # nearest request) even when there are none.
        telemetry={"tracing": settings.telemetry, "metrics": settings.telemetry, "logs": settings.telemetry},
    )
    app.state.settings = settings
    app.state.coverage_kept = CoverageKept()
    app.state.collection_figures = CollectionFigures()
    # What requests read often and change rarely, cached for this application alone.
    app.state.vocabularies = Vocabularies()
    app.state.open_hours = OpenHoursIndex()
    offload.configure(settings.compute_workers)
    app.state.migration_head = health.migration_head()
    install_error_handlers(app)
    counter = RedisCounter(settings.redis_url, settings.rate_limit_prefix) if settings.redis_url else MemoryCounter()
    # Visits have limits of their own, per client and per site, on counters of their own, and spend only those.
    app.add_middleware(
        RateLimitMiddleware, settings=settings, counter=counter, own_limits=frozenset({("POST", VISITS_PATH)})
    )
    visit_counter = (
        RedisCounter(settings.redis_url, f"{settings.rate_limit_prefix}:visits")
        if settings.redis_url
        else MemoryCounter()
    )
    app.state.visit_desk = VisitDesk(visit_counter)
    # Phones on metered connections: compress what is worth compressing (lists, boundaries, gaps).
    app.add_middleware(GZipWhenAccepted, minimum_size=1024, compresslevel=6)
    app.add_middleware(BodyLimit, max_bytes=MAX_JSON_BODY_BYTES, exempt=(BULK_PATH,))
    app.add_middleware(BodyTimeout, seconds=settings.request_body_timeout_s)
    # Around all of these (Service): every answer, a 429 included, carries the request id and is logged once.
    observability.configure(settings.request_record_seconds)
    # Routes are matched in order: the mobile app's nearest query comes first.
    mount_nearest(app.router)
    mount_visits(app.router)
    app.include_router(sites_router)
    app.include_router(regions_router)
    app.include_router(coverage_router)
    app.include_router(tiles_router)
    app.include_router(changes_router)
    app.include_router(roads_router)
    app.include_router(ogc_router)
    app.include_router(reports_router)
    app.include_router(targets_router)
    app.include_router(progress_router)
    app.include_router(door_router)
    app.include_router(door_pages)
    app.include_router(visits_router)
    app.include_router(ratings_router)
    app.include_router(inspections_router)
    app.include_router(vocabularies_router)
    app.include_router(health.router)
    app.add_api_route("/metrics", metrics.metrics, include_in_schema=False)
    mount_pages(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(
                document_bodies(
                    get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def app() -> FastAPI:
    """Factory for `uvicorn --factory app.main:app`."""
    return create_app()
