"""The periods progress is reported by: months (月调度) or weeks (周汇报, Monday to Sunday), each measured on its
last day; a period not yet ended is measured on `to` (today by default) and marked partial."""

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum

from app.problems import InvalidParameter

MAX_PERIODS = 156  # three years of weeks, thirteen of months
MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
FIRST_YEAR = 1900  # no register goes back further; before year 1 there are no dates to count months back to


class By(StrEnum):
    month = "month"
    week = "week"


@dataclass(frozen=True, slots=True)
class Period:
    label: str  # "2026-03", or "2026-W11"
    starts_on: dt.date
    ends_on: dt.date  # the day it is measured on
    partial: bool  # not yet ended: measured on `to`

    @property
    def month(self) -> dt.date | None:
        """The month (its first day) this period is, when it is a whole month: what may have been published."""
        return None if self.partial or "W" in self.label else self.starts_on


def month_of(text: str, field: str = "month") -> dt.date:
    """The first day of a month written YYYY-MM."""
    if not re.fullmatch(MONTH_PATTERN, text) or int(text[:4]) < FIRST_YEAR:
        raise InvalidParameter(field, f"a month written YYYY-MM, from {FIRST_YEAR}")
    return dt.date(int(text[:4]), int(text[5:]), 1)


def check_year(day: dt.date, field: str) -> dt.date:
    if day.year < FIRST_YEAR:
        raise InvalidParameter(field, f"a date from {FIRST_YEAR}")
    return day


def month_end(first: dt.date) -> dt.date:
    return next_month(first) - dt.timedelta(days=1)


def next_month(first: dt.date) -> dt.date:
    return dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)


def previous_month(first: dt.date) -> dt.date:
    return dt.date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)


def default_from(to: dt.date, by: By) -> dt.date:
    """Twelve months, or twelve weeks, up to `to`."""
    if by == By.week:
        return to - dt.timedelta(days=to.weekday() + 7 * 11)
    first = to.replace(day=1)
    for _ in range(11):
        first = previous_month(first)
    return first


def periods(start: dt.date, to: dt.date, by: By, today: dt.date) -> list[Period]:
    """The periods from the one holding `start` to the one holding `to`."""
    if to > today:
        raise InvalidParameter("to", f"after today ({today.isoformat()}): the register has no figures for it yet")
    if start > to:
        raise InvalidParameter("from", "after `to`")
    found = []
    if by == By.month:
        first = start.replace(day=1)
        while first <= to:
            end = month_end(first)
            found.append(Period(first.strftime("%Y-%m"), first, min(end, to), end > to))
            first = next_month(first)
    else:
        monday = start - dt.timedelta(days=start.weekday())
        while monday <= to:
            end = monday + dt.timedelta(days=6)
            year, week, _ = monday.isocalendar()
            found.append(Period(f"{year}-W{week:02d}", monday, min(end, to), end > to))
            monday += dt.timedelta(days=7)
    if len(found) > MAX_PERIODS:
        raise InvalidParameter("from", f"{len(found)} periods; at most {MAX_PERIODS} in one answer")
    return found
