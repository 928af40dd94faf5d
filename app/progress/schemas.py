"""Response shapes of progress (the monthly report is a file: app.progress.report_pdf, report_xlsx)."""

import datetime as dt

from pydantic import BaseModel, Field

from app.vocabularies.closed import Progress, TargetMeasure


class Figures(BaseModel):
    site_count: int
    covered_area_share: float | None
    covered_population_share: float | None


class TargetStanding(BaseModel):
    """Where the period's figure stands against one target (app.targets.standing)."""

    target_id: int
    measure: TargetMeasure
    value: float
    line: float | None = Field(description="The figure the target's line expects on the period's last day")
    actual: float | None
    status: Progress | None = Field(description="met, on_track or behind; null before the target was set")
    needed_per_month: float | None = Field(description="What the figure must still gain each month to the due date")
    shortfall: float = Field(description="How much of the line is not reached, as a part of it (0 on it or above)")


class PeriodProgress(Figures):
    period: str = Field(description="2026-03, or 2026-W11")
    starts_on: dt.date
    ends_on: dt.date = Field(description="The day measured: the period's last, or `to` for one not yet ended")
    partial: bool
    published_at: dt.datetime | None = Field(description="When the month was closed; its figures are as published")
    revised: Figures | None = Field(description="The register's figures now, where they differ from the published")
    targets: list[TargetStanding]


class TargetLine(BaseModel):
    id: int
    measure: TargetMeasure
    value: float
    due_on: dt.date
    starts_on: dt.date
    start_value: float
    note: str | None
    set_by: str


class Standing(BaseModel):
    """The worst standing of the last period: what ranks the children."""

    target_id: int
    measure: TargetMeasure
    status: Progress
    shortfall: float
    line: float | None
    actual: float | None
    needed_per_month: float | None


class RegionSeries(BaseModel):
    region: str
    name: str
    targets: list[TargetLine]
    standing: Standing | None
    periods: list[PeriodProgress]


class RegionProgress(RegionSeries):
    kind: str


class ChildrenProgress(BaseModel):
    region: str
    name: str
    kind: str
    items: list[RegionSeries] = Field(description="Behind first")


class PublishedFigures(Figures):
    region: str
    name: str


class ClosedMonth(BaseModel):
    region: str
    kind: str
    month: str
    measured_on: dt.date
    published_by: str
    items: list[PublishedFigures] = Field(description="The region's figures, then its children's")
