"""Opening hours: OpenStreetMap `opening_hours` syntax, Chinese public holidays and make-up working days (调休).

Parsing and the week's rules come from opening-hours-py; which days are holidays or make-up working days comes
from chinese-calendar (the official arrangement, year by year). A day is evaluated as:
- an official holiday (节假日): by the expression's `PH` rules when it has any (`PH off`, `PH 10:00-16:00`),
  else by its weekday rules, as OpenStreetMap intends;
- a make-up working day (调休上班, a Saturday or Sunday worked): as a Monday — the ordinary working-day schedule;
- any other day: as written.
Times are Asia/Shanghai (China has one time zone and no daylight saving). A year chinese-calendar has no data
for yet is evaluated as ordinary days.
"""

import bisect
import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import chinese_calendar
import opening_hours

from app.china_time import CHINA, local_time

# How far ahead to look for the next opening or closing.
HORIZON_DAYS = 8

Interval = tuple[dt.datetime, dt.datetime]  # naive local times, [start, end)
# The parser raises its own ParserError (present at run time, missing from the package's type stubs).
PARSE_ERRORS: tuple[type[Exception], ...] = (SyntaxError, getattr(opening_hours, "ParserError", SyntaxError))


class InvalidOpeningHours(ValueError):
    pass


def validate(expression: str) -> str:
    """The expression if opening-hours-py accepts it; InvalidOpeningHours (with the parser's words) otherwise."""
    try:
        opening_hours.OpeningHours(expression)
    except PARSE_ERRORS as exc:
        raise InvalidOpeningHours(str(exc).strip().splitlines()[0]) from None
    return expression


def day_kind(day: dt.date) -> str:
    """'holiday', 'makeup_workday' or 'ordinary', from the official calendar."""
    try:
        if day.weekday() >= 5 and chinese_calendar.is_workday(day):
            return "makeup_workday"
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
        if on_holiday and name is not None:
            return "holiday"
    except NotImplementedError:  # no arrangement published for that year yet
        pass
    return "ordinary"


@lru_cache(maxsize=4096)
def _evaluators(expression: str) -> tuple[opening_hours.OpeningHours, opening_hours.OpeningHours | None]:
    """(the whole expression, its PH rules as an every-day expression, or None when it has none)."""
    whole = opening_hours.OpeningHours(expression)
    holiday_rules = [r.strip() for r in expression.split(";") if r.strip().startswith("PH")]
    holidays = None
    if holiday_rules:
        holidays = opening_hours.OpeningHours("; ".join("Mo-Su" + r.strip()[2:] for r in holiday_rules))
    return whole, holidays


@lru_cache(maxsize=65536)
def day_intervals(expression: str, day: dt.date) -> tuple[Interval, ...]:
    """When a site with these hours is open during `day` (local time), after the holiday rules."""
    whole, holidays = _evaluators(expression)
    kind = day_kind(day)
    evaluator, as_day = whole, day
    if kind == "holiday" and holidays is not None:
        evaluator = holidays
    elif kind == "makeup_workday":
        as_day = day - dt.timedelta(days=day.weekday())  # that week's Monday
    start = dt.datetime.combine(as_day, dt.time())
    shift = dt.datetime.combine(day, dt.time()) - start
    spans = []
    for begin, end, state, _ in evaluator.intervals(start, start + dt.timedelta(days=1)):
        if state == opening_hours.State.OPEN:
            spans.append((begin.replace(tzinfo=None) + shift, end.replace(tzinfo=None) + shift))
    return tuple(spans)


@dataclass(frozen=True, slots=True)
class Status:
    open_now: bool
    opens_at: dt.datetime | None  # the next opening, when closed (within the horizon)
    closes_at: dt.datetime | None  # the next closing, when open (None for 24/7 within the horizon)


@lru_cache(maxsize=16384)
def _week_from(expression: str, day: dt.date) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
    """Open spans from the day before `day` to HORIZON_DAYS after it, overlaps merged (cached per day: the
    nearest query asks about the same few expressions on the same day thousands of times)."""
    spans = sorted(
        s for offset in range(-1, HORIZON_DAYS) for s in day_intervals(expression, day + dt.timedelta(offset))
    )
    merged: list[list[dt.datetime]] = []
    for begin, end in spans:
        if merged and begin <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([begin, end])
    return tuple((begin, end) for begin, end in merged)


def status(expression: str, at: dt.datetime) -> Status:
    """Open at `at` (naive: China time), and the next change, for a site with these hours."""
    local = local_time(at)
    minute = local.replace(second=0, microsecond=0)
    found, valid_until = status_in_minute(expression, minute)
    return found if local < valid_until else _status_at(expression, local)


@lru_cache(maxsize=16384)
def status_in_minute(expression: str, minute: dt.datetime) -> tuple[Status, dt.datetime]:
    """The status from the start of `minute` and until when it holds (the minute's end or the next change, if that
    falls inside it): nearest queries ask about the same few expressions in the same minute thousands of times."""
    found = _status_at(expression, minute)
    change = found.closes_at if found.open_now else found.opens_at
    valid_until = minute + dt.timedelta(minutes=1)
    if change is not None:
        valid_until = min(valid_until, change.replace(tzinfo=None))
    return found, valid_until


def _status_at(expression: str, local: dt.datetime) -> Status:
    spans = _week_from(expression, local.date())
    horizon = dt.datetime.combine(local.date() + dt.timedelta(HORIZON_DAYS), dt.time())
    # The first span that ends after `at`: either `at` is inside it (open) or it is the next opening.
    i = bisect.bisect_right(spans, local, key=lambda span: span[1])
    if i == len(spans):
        return Status(False, None, None)
    begin, end = spans[i]
    if begin <= local:
        return Status(True, None, end.replace(tzinfo=CHINA) if end < horizon else None)
    return Status(False, begin.replace(tzinfo=CHINA), None)
