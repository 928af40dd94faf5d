"""Liveness and readiness probes."""

from typing import Literal

from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from app.db import schema_revision
from app.dependencies import ReaderDep
from app.errors import problem
from app.http import JSON
from app.paths import PROJECT_ROOT

router = APIRouter(tags=["health"])
RETRY = {"Retry-After": "5"}


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
    schema_revision: str | None = Field(alias="schema")


def migration_head() -> str | None:
    """The newest Alembic revision shipped with this code."""
    return ScriptDirectory.from_config(Config(str(PROJECT_ROOT / "alembic.ini"))).get_current_head()


@router.get("/healthz", response_model=Health)
async def healthz() -> Response:
    """The process is up."""
    return JSON({"status": "ok"})


@router.get(
    "/readyz", response_model=Ready, responses={503: {"description": "Database unreachable or schema not at head"}}
)
async def readyz(request: Request, reader: ReaderDep) -> Response:
    """The database answers and its schema is at the revision this code expects."""
    expected = request.app.state.migration_head
    try:
        current = await schema_revision(reader)
    except Exception as exc:  # any failure to reach or read the database means "not ready"
        return problem(
            503, "Service Unavailable", f"database not reachable: {type(exc).__name__}", request=request, headers=RETRY
        )
    if current != expected:
        return problem(
            503,
            "Service Unavailable",
            f"schema at {current}, code expects {expected}; run migrations",
            request=request,
            headers=RETRY,
        )
    return JSON({"status": "ready", "schema": current})
