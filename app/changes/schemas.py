"""Response shape of the change feed."""

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field


class InUse(BaseModel):
    worker_rating_mean: float | None
    worker_rating_count: int
    star_level: int | None


class Change(BaseModel):
    change_id: int
    site_id: int
    action: Literal["created", "updated", "deleted"]
    version: int
    changed_at: dt.datetime
    actor: str
    site: dict[str, Any] | None = Field(description="The site as it was after the change; null for a deletion")
    in_use: InUse = Field(
        description="The site's workers' rating and star level as they stand now (when read, not at the change)"
    )
    register_changed: bool = Field(
        description="false: the register's record (and its version) stands, and the item says that the site's "
        "workers' rating or star level changed (a rating, an inspection, a resolved call-back)"
    )


class ChangePage(BaseModel):
    items: list[Change]
    next_cursor: str = Field(description="Pass back as `since`; the same cursor when nothing new has come")
    more: bool = Field(description="true: more changes are waiting, call again at once")
