"""Request and response shapes of inspections and star levels."""

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.formats.text import MULTILINE, ONE_LINE
from app.sites.fields import Url

Score = Annotated[int, Field(ge=0, le=100)]
Notes = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), MULTILINE]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), ONE_LINE]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000), MULTILINE]


class Scores(BaseModel):
    """The seven dimensions of SPEC §2, each 0–100."""

    model_config = ConfigDict(extra="forbid")

    hardware: Score
    equipment: Score
    signage: Score
    rules: Score
    funding: Score
    use: Score
    activities: Score


class InspectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inspected_on: dt.date | None = Field(default=None, description="Default today (China date); never in the future")
    unannounced: bool
    scores: Scores
    notes: Notes | None = None
    photo_urls: list[Url] = Field(default_factory=list, max_length=20)
    inspector: Name = Field(description="Who inspected")
    suspend: bool = Field(default=False, description="Suspend the site: only when the inspection fails")
    suspension_reason: Reason | None = None

    @model_validator(mode="after")
    def _a_reason_to_suspend(self) -> "InspectionIn":
        if self.suspend and self.suspension_reason is None:
            raise ValueError("suspension_reason is required to suspend")
        return self


class Inspection(BaseModel):
    id: int
    site_id: int
    inspected_on: dt.date
    unannounced: bool
    scores: Scores
    total: float
    level: int = Field(description="The star level this inspection set (app.inspections.rules)")
    passed: bool
    notes: str | None
    photo_urls: list[str]
    inspector: str
    recorded_by: str
    suspended: bool
    suspension_reason: str | None
    created_at: dt.datetime


class StarLevel(BaseModel):
    star_level: int | None = Field(description="1–5; null if never inspected")
    inspected_level: int | None = Field(description="The latest inspection's level")
    lowered: bool = Field(description="One step lower while complaints are overdue")
    last_inspected_on: dt.date | None


class InspectionPage(BaseModel):
    standing: StarLevel
    items: list[Inspection]


class DueSite(BaseModel):
    site_id: int
    name: str
    kind: str
    status: str
    region_adcode: str | None
    last_inspected_on: dt.date | None
    interval_months: int
    due_on: dt.date | None = Field(description="null: never inspected")


class DueList(BaseModel):
    region: str
    on: dt.date
    items: list[DueSite]
