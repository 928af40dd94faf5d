"""Request and response shapes of ratings and call-backs."""

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.formats.text import MULTILINE
from app.visits.schemas import DoorTokenText
from app.vocabularies.closed import CallbackReason, CallbackStatus, RatingTag

COMMENT_MAX = 500
Comment = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=COMMENT_MAX), MULTILINE]
Outcome = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000), MULTILINE]


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: DoorTokenText = Field(description="The site's door token (its QR code): the rater stood there")
    stars: int = Field(ge=1, le=5)
    tags: list[RatingTag] = Field(default_factory=list, max_length=len(RatingTag))
    comment: Comment | None = None


class WorkerRating(BaseModel):
    mean: float | None = Field(description="Mean stars of the current ratings (null without any)")
    count: int
    ranking_score: float = Field(
        description="What to rank sites by: the lower bound of the mean under a prior of the region's ratings "
        "(app.ratings.service; README, Ratings)"
    )
    region_mean: float = Field(description="The mean of the region's ratings, the prior's")


class CallbackOpened(BaseModel):
    id: int
    reason: CallbackReason
    due_on: dt.date
    status: CallbackStatus


class Rated(BaseModel):
    id: int
    site_id: int
    stars: int
    tags: list[RatingTag]
    comment: str | None
    created_at: dt.datetime
    replaced: bool = Field(description="true: the client's rating of the last 30 days here was replaced")
    callback: CallbackOpened | None


class Rating(BaseModel):
    id: int
    site_id: int
    stars: int
    tags: list[RatingTag]
    comment: str | None = Field(description="null when the operator hid it")
    comment_hidden: bool
    created_at: dt.datetime


class RatingPage(BaseModel):
    worker_rating: WorkerRating
    items: list[Rating]
    next_cursor: str | None


class Callback(BaseModel):
    id: int
    site_id: int
    site_name: str
    region_adcode: str | None
    rating_id: int
    stars: int
    tags: list[RatingTag]
    comment: str | None
    reason: CallbackReason
    due_on: dt.date
    status: CallbackStatus
    outcome: str | None
    created_at: dt.datetime
    resolved_at: dt.datetime | None
    resolved_by: str | None


class CallbackPage(BaseModel):
    items: list[Callback]
    next_cursor: str | None


class CallbackOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome = Field(description="What the call-back found and did")
