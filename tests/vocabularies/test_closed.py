"""Each closed vocabulary is one StrEnum: the migrated CHECK constraints hold exactly its codes, and the API lists
them with labels; every constraint the errors table names exists."""

import re
from enum import StrEnum

import asyncpg
import httpx
import pytest

from app.geo import CoordSys
from app.problems.database import CONSTRAINT_PROBLEMS
from app.vocabularies.closed import (
    AccessMode,
    CallbackReason,
    CallbackStatus,
    Labelled,
    RatingTag,
    RegionLevel,
    ReportStatus,
    ReportType,
    Scope,
    SiteStatus,
    TargetMeasure,
    TargetStatus,
    VerificationMethod,
    WorkerGroup,
)

CONSTRAINTS: list[tuple[str, type[StrEnum]]] = [
    ("ck_sites_status_known", SiteStatus),
    ("ck_sites_access_known", AccessMode),
    ("ck_sites_verified_by_known", VerificationMethod),
    ("ck_site_reports_type_known", ReportType),
    ("ck_site_reports_status_known", ReportStatus),
    ("ck_regions_level_known", RegionLevel),
    ("ck_api_keys_scopes_known", Scope),
    ("ck_targets_measure_known", TargetMeasure),
    ("ck_targets_status_known", TargetStatus),
    ("ck_site_visits_worker_group_known", WorkerGroup),
    ("ck_site_visit_days_worker_group_known", WorkerGroup),
    ("ck_site_ratings_tags_known", RatingTag),
    ("ck_site_callbacks_reason_known", CallbackReason),
    ("ck_site_callbacks_status_known", CallbackStatus),
]


@pytest.mark.parametrize(("constraint", "vocabulary"), CONSTRAINTS)
async def test_the_database_accepts_exactly_the_vocabulary(
    conn: asyncpg.Connection, constraint: str, vocabulary: type[StrEnum]
) -> None:
    definition = await conn.fetchval(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = $1", constraint
    )
    assert definition is not None, constraint
    assert set(re.findall(r"'([a-z_0-9]+)'", definition)) == {m.value for m in vocabulary}


async def test_every_labelled_vocabulary_is_served_with_its_labels(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/vocabularies")).json()
    served = {
        "access": AccessMode,
        "report_types": ReportType,
        "verification_methods": VerificationMethod,
        "site_statuses": SiteStatus,
        "report_statuses": ReportStatus,
        "region_levels": RegionLevel,
        "key_scopes": Scope,
        "target_measures": TargetMeasure,
        "target_statuses": TargetStatus,
        "worker_groups": WorkerGroup,
        "rating_tags": RatingTag,
        "callback_reasons": CallbackReason,
        "callback_statuses": CallbackStatus,
    }
    assert set(served) | {"kinds", "amenities"} == set(body)
    for name, vocabulary in served.items():
        assert [t["code"] for t in body[name]] == list(vocabulary)
        assert all(t["zh"] and t["en"] for t in body[name]), name
    assert {v for _, v in CONSTRAINTS if issubclass(v, Labelled)} == set(served.values())


async def test_the_openapi_document_lists_each_vocabulary_once_by_name(client: httpx.AsyncClient) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    for vocabulary in (
        AccessMode,
        SiteStatus,
        VerificationMethod,
        ReportType,
        ReportStatus,
        RegionLevel,
        CoordSys,
        WorkerGroup,
    ):
        assert schemas[vocabulary.__name__]["enum"] == [m.value for m in vocabulary]


async def test_each_constraint_the_errors_table_names_exists(conn: asyncpg.Connection) -> None:
    names = {r["conname"] for r in await conn.fetch("SELECT conname FROM pg_constraint")}
    assert set(CONSTRAINT_PROBLEMS) <= names, set(CONSTRAINT_PROBLEMS) - names
