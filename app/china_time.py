"""China time: every date and time rule of the service is Asia/Shanghai (one zone, no daylight saving)."""

import datetime as dt
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def now() -> dt.datetime:
    """The current instant, with China's offset."""
    return _utc_now().astimezone(CHINA)


def today() -> dt.date:
    """The date it is in China now (a server in UTC is still on yesterday until 08:00 China time)."""
    return now().date()


def local_time(at: dt.datetime) -> dt.datetime:
    """`at` as naive China time (a naive `at` already is)."""
    return at.astimezone(CHINA).replace(tzinfo=None) if at.tzinfo is not None else at


def date_sql(instant: str) -> str:
    """The China date of a timestamptz SQL expression (a bare ::date takes the session's zone, UTC on most servers:
    an instant before 08:00 China time would fall on the day before)."""
    return f"(({instant}) AT TIME ZONE 'Asia/Shanghai')::date"
