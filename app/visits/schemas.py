"""Request and response shapes of visits and usage."""

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.api.parameters import Instant
from app.door.service import TOKEN_PATTERN
from app.vocabularies.closed import WorkerGroup

DoorTokenText = Annotated[str, StringConstraints(pattern=TOKEN_PATTERN)]


class VisitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: DoorTokenText = Field(description="The door token the QR code carries")
    worker_group: WorkerGroup | None = Field(default=None, description="Who is visiting (optional)")
    visited_at: Instant | None = Field(
        default=None, description="When, for a visit the app queued offline (up to 24 h ago); default now"
    )


class VisitCounted(BaseModel):
    site_id: int
    counted: bool = Field(description="false: this client was counted at this site this hour already")
    hour: dt.datetime = Field(description="The clock hour the visit is counted in")


class UsagePoint(BaseModel):
    start: str = Field(description="The hour (ISO 8601 with offset) or the first day of the day, week or month")
    visits: int
    groups: dict[str, int]


class BusyHour(BaseModel):
    hour: int = Field(description="Hour of the day, China time (0–23)")
    visits: int


class SiteUsage(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    site_id: int
    from_: dt.date = Field(alias="from")
    to: dt.date
    by: str
    visits: int
    groups: dict[str, int] = Field(description="Visits per worker group (`unspecified`: none given)")
    series: list[UsagePoint]
    busiest_hours: list[BusyHour]


class IdleRule(BaseModel):
    below_visits: int
    days: int


class SiteUse(BaseModel):
    site_id: int
    name: str
    kind: str
    region_adcode: str | None
    visits: int
    groups: dict[str, int]
    serving: bool = Field(
        description="Serving on `as_of`, as coverage counts a site (opened, not closed or deleted; active, for today)"
    )
    visits_last_30_days: int = Field(description="Visits in the 30 days ending `as_of`")
    idle: bool = Field(
        description="Serving, with fewer visits than the region's idle rule in the 30 days ending `as_of`"
    )


class RegionUsage(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    adcode: str
    kind: str | None = Field(description="Only sites of this kind; null: every kind")
    as_of: dt.date = Field(description="The day the idle rule is judged on, over the sites not deleted by then")
    from_: dt.date = Field(alias="from")
    to: dt.date
    visits: int
    groups: dict[str, int]
    site_count: int
    idle_rule: IdleRule
    idle_count: int
    sites: list[SiteUse]


class ChildUsage(BaseModel):
    adcode: str
    name: str
    visits: int
    groups: dict[str, int]
    site_count: int
    idle_rule: IdleRule
    idle_count: int


class ChildrenUsage(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    adcode: str
    kind: str | None = Field(description="Only sites of this kind; null: every kind")
    as_of: dt.date
    from_: dt.date = Field(alias="from")
    to: dt.date
    items: list[ChildUsage]


class StationRulesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    idle_below_visits: int | None = Field(
        ge=0, le=1_000_000, description="Idle: fewer visits than this in 30 days; null: the region above's"
    )
    inspection_interval_months: int | None = Field(ge=1, le=60, description="null: the region above's")


class StationRulesValues(BaseModel):
    idle_below_visits: int | None
    inspection_interval_months: int | None


class StationRules(BaseModel):
    adcode: str
    own: StationRulesValues = Field(description="What the region sets itself (null: not set)")
    applied: StationRulesValues = Field(description="What applies: its own, else its nearest ancestor's, else defaults")
