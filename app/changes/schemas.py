"""Response shape of the change feed."""

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field


class Change(BaseModel):
    change_id: int
    site_id: int
    action: Literal["created", "updated", "deleted"]
    version: int
    changed_at: dt.datetime
    actor: str
    site: dict[str, Any] | None = Field(description="The site as it was after the change; null for a deletion")


class ChangePage(BaseModel):
    items: list[Change]
    next_cursor: str = Field(description="Pass back as `since`; the same cursor when nothing new has come")
    more: bool = Field(description="true: more changes are waiting, call again at once")
