"""Rules of targets: who may set one where, what a valid one is, and every change kept with who made it."""

import datetime as dt
import re
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

from app import china_time
from app.coverage.evaluation import evaluation
from app.coverage.kept import CoverageKept
from app.database.connections import reader_in
from app.database.read_pool import Reader
from app.keys.service import Principal
from app.problems import (
    Conflict,
    Forbidden,
    InvalidParameter,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
)
from app.problems.database import database_errors
from app.progress import figures
from app.regions import repository as region_repository
from app.targets import repository
from app.targets.schemas import TargetCreate, TargetFields
from app.vocabularies.closed import TargetMeasure, TargetStatus
from app.vocabularies.service import Vocabularies

_ETAG = re.compile(r'(?:W/)?"target-([0-9]+)-([0-9]+)"')


def etag(target_id: int, version: int) -> str:
    return f'"target-{target_id}-{version}"'


def _check_version(target_id: int, version: int, if_match: str | None) -> None:
    """412 unless If-Match names the target's current version (or is `*`); 428 without it."""
    if if_match is None:
        raise PreconditionRequired("send If-Match with the ETag you read, so a concurrent edit is not overwritten")
    if if_match.strip() == "*":
        return
    named = {m[2] for tag in if_match.split(",") if (m := _ETAG.fullmatch(tag.strip())) and m[1] == str(target_id)}
    if str(version) not in named:
        raise PreconditionFailed(f"target {target_id} is at version {version}; read it again")


def _found(row: asyncpg.Record | None, target_id: int) -> dict[str, Any]:
    if row is None:
        raise NotFound(f"no target with id {target_id}")
    return dict(row)


async def get(reader: Reader, target_id: int) -> dict[str, Any]:
    return _found(await repository.one(reader, target_id), target_id)


def _allowed(principal: Principal, region: str) -> None:
    if not principal.may_write_in(region):
        message = f"{region} is outside this key's region {principal.region_prefix}*"
        raise Forbidden(f"region: {message}", errors=[{"field": "region", "message": message}])


def _problems(target: dict[str, Any], changed: set[str], today: dt.date) -> list[tuple[str, str]]:
    """What is wrong with a target as it would be written (`changed`: the fields this request sets)."""
    found = []
    if target["measure"] != TargetMeasure.active_sites:
        for field in ("value", "start_value"):
            if target.get(field) is not None and target[field] > 1:
                found.append((field, "a share is a fraction 0–1 (1 is 100 %)"))
    if "due_on" in changed and target["due_on"] <= today:
        found.append(("due_on", f"in the past: a target is due after today ({today.isoformat()})"))
    if "starts_on" in changed and target["starts_on"] > today:
        found.append(("starts_on", "a target's line starts today or earlier"))
    if target["starts_on"] >= target["due_on"]:
        found.append(("starts_on", "before due_on"))
    return found


async def _start_value(reader: Reader, kept: CoverageKept, vocabularies: Vocabularies, t: dict[str, Any]) -> float:
    """The region's figure on the day the line starts: where a target set without a start value starts from."""
    ev = await evaluation(reader, vocabularies, t["kind"], t["starts_on"], None)
    found = await figures.region_figures(reader, kept, t["region"], ev)
    return float(found[figures.MEASURED[t["measure"]]] or 0)


async def create(
    conn: AsyncConnection,
    figures_reader: Reader,
    principal: Principal,
    vocabularies: Vocabularies,
    kept: CoverageKept,
    body: TargetCreate,
) -> dict[str, Any]:
    """Set a target. A line without a start value starts from the region's figure, computed on `figures_reader` (a
    pool: a city's children are computed side by side, which the transaction's one connection cannot)."""
    reader = await reader_in(conn)
    today = china_time.today()
    target = body.model_dump()
    target.setdefault("starts_on", None)
    target["starts_on"] = target["starts_on"] or today
    problems = []
    if not await region_repository.exists(reader, body.region):
        problems.append(("region", f"no region with adcode {body.region}"))
    if problem := vocabularies.site_kinds.unknown(await vocabularies.site_kinds.codes(reader), [body.kind]):
        problems.append(("kind", problem))
    problems += _problems(target, set(body.model_fields_set) | {"due_on", "starts_on"}, today)
    if problems:
        raise InvalidParameter.of(problems)
    _allowed(principal, body.region)
    if target["start_value"] is None:
        target["start_value"] = await _start_value(figures_reader, kept, vocabularies, target)
    with database_errors():
        target_id = await repository.insert(conn, target, principal.name)
    return await get(reader, target_id)


async def _locked(conn: AsyncConnection, principal: Principal, target_id: int, if_match: str | None) -> Any:
    current = await repository.lock(conn, target_id)
    if current is None:
        raise NotFound(f"no target with id {target_id}")
    _allowed(principal, current.region_adcode)
    _check_version(target_id, current.version, if_match)
    if current.status == TargetStatus.withdrawn:
        raise Conflict(f"target {target_id} was withdrawn; set a new one")
    return current


async def update(
    conn: AsyncConnection, principal: Principal, target_id: int, body: TargetFields, if_match: str | None
) -> dict[str, Any]:
    current = await _locked(conn, principal, target_id, if_match)
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        return await get(await reader_in(conn), target_id)  # nothing to change: no new version, no history row
    for required in ("value", "due_on", "starts_on", "start_value"):
        if required in changes and changes[required] is None:
            raise InvalidParameter(required, "may not be cleared")
    merged = {**current.document, **changes}
    merged["due_on"], merged["starts_on"] = (
        dt.date.fromisoformat(str(merged[f])) if isinstance(merged[f], str) else merged[f]
        for f in ("due_on", "starts_on")
    )
    if problems := _problems(merged, set(changes), china_time.today()):
        raise InvalidParameter.of(problems)
    with database_errors():
        await repository.change(conn, target_id, changes, "updated", principal.name, current.document)
    return await get(await reader_in(conn), target_id)


async def withdraw(conn: AsyncConnection, principal: Principal, target_id: int, if_match: str | None) -> None:
    """A withdrawn target stays, with its history; progress no longer measures against it."""
    current = await _locked(conn, principal, target_id, if_match)
    changes = {"status": TargetStatus.withdrawn}
    await repository.change(conn, target_id, changes, "withdrawn", principal.name, current.document)
