"""Liveness and readiness probes."""

from typing import Any, Literal

from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from app.api.dependencies import PrimaryReaderDep
from app.api.responses import JSON
from app.database.read_pool import schema_revision
from app.database.replica import ReplicaRouter
from app.paths import PROJECT_ROOT
from app.problems import NotReady
from app.problems.http import answer

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"]


class Standby(BaseModel):
    lag_s: float | None = Field(description="Replay lag when last measured; null while the standby does not answer")
    max_lag_s: float
    serving_reads: bool = Field(description="Whether request-time reads go to the standby now (else the primary)")


class Ready(BaseModel):
    status: Literal["ready"]
    schema_revision: str | None = Field(alias="schema")
    standby: Standby | None = Field(default=None, description="Only with DATABASE_READ_URL")


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
async def readyz(request: Request, reader: PrimaryReaderDep) -> Response:
    """The primary answers and its schema is at the revision this code expects; with a standby, its lag.

    A standby that lags or is down leaves the service ready: reads then go to the primary."""
    expected = request.app.state.migration_head
    try:
        current = await schema_revision(reader)
    except Exception as exc:  # any failure to reach or read the database means "not ready"
        return answer(NotReady(f"database not reachable: {type(exc).__name__}"), request)
    if current != expected:
        return answer(NotReady(f"schema at {current}, code expects {expected}; run migrations"), request)
    ready: dict[str, Any] = {"status": "ready", "schema": current}
    router = request.app.state.db.reader
    if isinstance(router, ReplicaRouter):
        ready["standby"] = {"lag_s": router.lag_s, "max_lag_s": router.max_lag_s, "serving_reads": router.serving}
    return JSON(ready)
