"""The site's fields as declared (app.sites.fields) are the register's: the migrated table holds each with its type
and nullability, a new site holds each one's declared default, and every constraint a field declares is answered
naming that field."""

from enum import Enum

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.keys import service as keys
from app.problems.database import CONSTRAINT_PROBLEMS
from app.sites import fields
from app.sites.models import Site


async def test_the_migrated_table_holds_the_declared_columns(conn: asyncpg.Connection) -> None:
    migrated = {
        r["attname"]: (r["type"], r["attnotnull"])
        for r in await conn.fetch(
            "SELECT attname, format_type(atttypid, NULL) AS type, attnotnull FROM pg_attribute "
            "WHERE attrelid = 'sites'::regclass AND attnum > 0 AND NOT attisdropped"
        )
    }
    assert set(migrated) == set(Site.__table__.columns.keys())
    for field in fields.FIELDS:
        if not field.stored:
            continue
        declared_type = await conn.fetchval("SELECT format_type($1::regtype, NULL)", field.sql_type.lower())
        assert migrated[field.name] == (declared_type, not field.nullable), field.name


async def test_a_new_site_holds_the_declared_defaults(client: httpx.AsyncClient, sa_conn: AsyncConnection) -> None:
    """What the database fills in for a POST that leaves a field out is what a bulk row that leaves it out gets."""
    key = await keys.create(sa_conn, "默认值", ["write"], None)
    minimal = {"kind": "legal_aid", "name": "默认值站", "lat": 37.38, "lon": 117.97}
    created = await client.post("/v1/sites", json=minimal, headers={"Authorization": f"Bearer {key}"})
    assert created.status_code == 201, created.text
    expected = {name: d.value if isinstance(d, Enum) else d for name, d in fields.DEFAULTS.items()}
    assert {name: created.json()[name] for name in fields.DEFAULTS} == expected
    assert any(v is not None for v in expected.values())


@pytest.mark.parametrize(
    ("field", "constraint"), [(f.name, str(c.name)) for f in fields.WRITTEN for c in f.check_constraints()]
)
def test_each_check_of_a_written_field_is_answered_naming_it(field: str, constraint: str) -> None:
    assert CONSTRAINT_PROBLEMS[f"ck_sites_{constraint}"][0] == field


def test_each_chinese_header_names_one_field() -> None:
    headers = [h for f in fields.FIELDS for h in f.headers_zh]
    assert len(headers) == len(set(headers)) == len(fields.HEADERS_ZH)
    assert all(f.headers_zh for f in fields.FIELDS)
