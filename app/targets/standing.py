"""Where a figure stands against a target: the target's line, the status and the rate still needed. The rule is
written here once; the progress series, the children's ranking, the monthly report and the map page all read it.

- The line runs straight from (starts_on, start_value) to (due_on, value): the figure the target expects on a date.
  Before starts_on a target has no line (it was not set yet); after due_on the line stays at the value.
- met: the figure has reached the target's value.
- on_track: not met, but at or above the line on that date.
- behind: below the line (and so, past the due date, every target not met).
- shortfall: how far below the line, as a part of the line (what the children are ranked by, behind first).
- needed_per_month: what the figure must still gain each month (30.4375 days) from that date to the due date to meet
  the target; 0 once met; past the due date, the whole shortfall (it is due now).
"""

import datetime as dt
from dataclasses import dataclass

from app.vocabularies.closed import Progress

DAYS_A_MONTH = 365.25 / 12


@dataclass(frozen=True, slots=True)
class Line:
    starts_on: dt.date
    start_value: float
    due_on: dt.date
    value: float

    def at(self, on: dt.date) -> float | None:
        """The figure expected on `on`; None before the target was set."""
        if on < self.starts_on:
            return None
        if on >= self.due_on:
            return self.value
        elapsed = (on - self.starts_on).days / (self.due_on - self.starts_on).days
        return self.start_value + (self.value - self.start_value) * elapsed


@dataclass(frozen=True, slots=True)
class Standing:
    line: float | None
    status: Progress | None
    needed_per_month: float | None
    # The part of the line not reached (0 on it or above): what ranks the behind first, comparable between a count
    # and a share.
    shortfall: float


def standing(line: Line, on: dt.date, actual: float | None) -> Standing:
    """Where `actual` (the figure on `on`) stands against the target's line."""
    expected = line.at(on)
    if expected is None or actual is None:
        return Standing(expected, None, None, 0.0)
    if actual >= line.value:
        return Standing(expected, Progress.met, 0.0, 0.0)
    months_left = (line.due_on - on).days / DAYS_A_MONTH
    gap = line.value - actual
    needed = gap / months_left if months_left >= 1 else gap
    status = Progress.on_track if actual >= expected else Progress.behind
    shortfall = max(0.0, expected - actual) / expected if expected > 0 else 0.0
    return Standing(expected, status, needed, shortfall)


# Behind first, then on track, then met; a region with no target last.
RANK = {Progress.behind: 0, Progress.on_track: 1, Progress.met: 2, None: 3}
