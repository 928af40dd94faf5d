"""Request and response shapes of targets."""

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.api.parameters import IsoDate, VocabularyCode
from app.formats.text import MULTILINE
from app.vocabularies.closed import TargetMeasure, TargetStatus

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000), MULTILINE]
Figure = Annotated[float, Field(ge=0, le=10_000_000, allow_inf_nan=False)]


class TargetFields(BaseModel):
    """What a change to a target may set (PATCH): every field optional."""

    model_config = ConfigDict(extra="forbid")

    value: Figure | None = Field(
        default=None, description="A count of active sites, or a share as a fraction 0–1 (0.95 is 95 %)"
    )
    due_on: IsoDate | None = Field(default=None, description="The date the value is to be reached by")
    starts_on: IsoDate | None = Field(
        default=None, description="Where the target's line starts (default: the day it is set)"
    )
    start_value: Figure | None = Field(
        default=None, description="The figure the line starts from (default: the region's figure on starts_on)"
    )
    note: Note | None = None


class TargetCreate(TargetFields):
    region: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")] = Field(description="The region's adcode")
    kind: VocabularyCode
    measure: TargetMeasure
    value: Figure = Field(description="A count of active sites, or a share as a fraction 0–1 (0.95 is 95 %)")
    due_on: IsoDate = Field(description="The date the value is to be reached by")


class Target(BaseModel):
    id: int
    region: str
    region_name: str
    kind: str
    measure: TargetMeasure
    value: float
    due_on: dt.date
    starts_on: dt.date
    start_value: float
    note: str | None
    status: TargetStatus
    version: int
    set_by: str
    created_at: dt.datetime
    updated_at: dt.datetime


class TargetPage(BaseModel):
    items: list[Target]
    next_cursor: str | None


class TargetChange(BaseModel):
    action: str
    version: int
    actor: str = Field(description="The name of the key that made the change")
    changed_at: dt.datetime
    before: dict[str, Any] | None
    after: dict[str, Any]


class TargetHistory(BaseModel):
    items: list[TargetChange]
