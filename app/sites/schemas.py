"""Request and response shapes of the sites API (responses document the contract; handlers render with orjson).

The site's fields are app.sites.fields's: each class here is its own members (what is not a field of a site: the
datum of a request's coordinates, the checks across fields) with the declared fields it carries added (`carrying`).
"""

import datetime as dt
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from app import geo
from app.sites import fields, trust

Model = TypeVar("Model", bound=BaseModel)


def carrying(declared: dict[str, Any]) -> Callable[[type[Model]], type[Model]]:
    """A class decorator: the model with the `declared` fields (name → (type, FieldInfo)) after its own, under its
    own name and docstring."""

    def derive(model: type[Model]) -> type[Model]:
        return create_model(
            model.__name__, __base__=model, __module__=model.__module__, __doc__=model.__doc__, **declared
        )

    return derive


def _answered(field: fields.SiteField) -> tuple[Any, Any]:
    return field.python_type, Field(description=field.description)


@carrying({f.name: _answered(f) for f in fields.FIELDS if f.in_summary})
class SiteSummary(BaseModel):
    """What every answer says about a site."""


@carrying({f.name: _answered(f) for f in fields.FIELDS if not f.in_summary})
class Site(SiteSummary):
    """A site as the register holds it."""


class NavigationLinks(BaseModel):
    amap: str = Field(description="Amap URI (GCJ-02 inside, as Amap wants)")
    geo: str = Field(description="RFC 5870 geo: URI, WGS-84")


class WorkerRatingSummary(BaseModel):
    mean: float | None = Field(description="Mean stars of the current ratings; null without any")
    count: int


class WorkerView(BaseModel):
    """What a worker needs of a site beyond its record, at the answer's instant (app.sites.worker_view)."""

    open_now: bool | None = Field(
        description="null when the site has no opening hours; false, whatever its hours, when it is not serving "
        "today (suspended, closed, or outside opened_on–closed_on)"
    )
    opens_at: dt.datetime | None = Field(description="The next opening, when closed (null: not within a week)")
    closes_at: dt.datetime | None = Field(description="The next closing, when open (null: not within a week)")
    trust: list[str] = Field(
        description=f"{trust.REPORTED_FLAG} (unreviewed report of closed/locked/app-only/moved), "
        f"{trust.UNVERIFIED_FLAG} (over {trust.UNVERIFIED_AFTER_DAYS} days): such sites rank after equally near "
        "trustworthy ones"
    )
    links: NavigationLinks
    worker_rating: WorkerRatingSummary = Field(description="Workers' ratings from the door (app.ratings)")
    star_level: int | None = Field(description="1–5 from the latest inspection (app.inspections.rules); null: never")
    busy_now: bool = Field(description="Usually busy at this hour of the day (its recent weeks' visits)")


class SiteForWorker(Site, WorkerView):
    """GET /v1/sites/{id}: the record, and the open status, trust and links as the nearest answer gives them."""


class SitePage(BaseModel):
    items: list[Site]
    next_cursor: str | None = Field(description="Pass back as `cursor` for the next page; null on the last page")


# --- writes ---------------------------------------------------------------------------------------------------


def _optional(field: fields.SiteField) -> tuple[Any, Any]:
    return field.write_type | None, Field(default=None, description=field.description)


@carrying({f.name: _optional(f) for f in fields.PARTNER})
class SiteFields(BaseModel):
    """What a partner may set on a site (the register derives region, timestamps and version itself)."""

    model_config = ConfigDict(extra="forbid")

    coordsys: geo.CoordSys = Field(default=geo.CoordSys.wgs84, description="Datum of lat/lon given")

    @field_validator(*fields.NOT_NULL, mode="before", check_fields=False)
    @classmethod
    def _not_cleared(cls, value: object) -> object:
        if value is None:
            raise ValueError("may be changed but not cleared (null)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "SiteFields":
        given = vars(self)  # the declared fields, which a type checker does not see on this class
        if (given["lat"] is None) != (given["lon"] is None):
            raise ValueError("lat and lon go together")
        if given["opened_on"] and given["closed_on"] and given["closed_on"] < given["opened_on"]:
            raise ValueError("closed_on is before opened_on")
        return self


def _on_creation(field: fields.SiteField) -> tuple[Any, Any]:
    """A field a new site must be given, or its natural key's."""
    if field.required:
        return field.write_type, Field(description=field.description)
    if not field.nullable:
        return field.write_type, Field(default=field.default, description=field.description)
    return _optional(field)


@carrying({f.name: _on_creation(f) for f in fields.WRITTEN if f.required or f.written_by is fields.WrittenBy.creator})
class SiteCreate(SiteFields):
    """A new site: the fields it must have, and its natural key (source, external_id)."""


class RowOutcome(BaseModel):
    row: int = Field(description="As the file numbers it (a spreadsheet's header is row 1)")
    external_id: str | None
    outcome: Literal["created", "updated", "unchanged", "rejected"]
    site_id: int | None = None
    reasons: list[str] | None = Field(default=None, description="Why the row was rejected, each naming the field")
    warnings: list[str] | None = None


class BulkSummary(BaseModel):
    created: int
    updated: int
    unchanged: int
    rejected: int


class BulkReport(BaseModel):
    applied: bool = Field(description="false: nothing was written (a dry run, or rejected rows in an atomic import)")
    dry_run: bool
    atomic: bool
    summary: BulkSummary
    warnings: list[str]
    rows: list[RowOutcome]
