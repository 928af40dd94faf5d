"""Coverage answers kept per application for the same state of what they were computed from.

A leaf region's figures (its row of a table) are kept by the state of the sites within their reach (a
fingerprint of the sites of the kind around the region: app.coverage.repository.leaf_fingerprints), so a site's
change recomputes only the regions it can touch. The state of the kind as a whole (its sites, rules and the regions:
repository.kind_state) is read from the database at each question, the sites' part from sums kept by trigger; the
leaves' fingerprints are read again only when it has moved. So a write by another process (a CLI import, another
worker) is seen at once, and a country's 2,891 leaves cost one statement while nothing changes. A row also depends
on its region's rule and boundary, which the fingerprint holds too; the population cells are not in it, so a new
population model is seen within ROW_SECONDS.

A region's covered share of the area (a map's shading, at any level) is kept for the register's state, the kind's
rules and the regions' last change (each read at every question: app.coverage.repository.shares_state), for
ROW_SECONDS, in a store of its own that holds every region of China: a national map asks for all of them, and a
national share computed again costs the fingerprints of every county (seconds).

Other answers (a covered area, the gaps) are kept for KEPT_SECONDS for the register's state as a whole (its last
change): a site's change moves it at once; so does a change of a region (its outline, level, population: its
`version`, kept by trigger, is in the key), for that region's answers only, even when another process made it
(`yizhan regions import`); a change of rules is seen within KEPT_SECONDS.

What-if questions make new keys without end: the stores are bounded in answers and bytes.
"""

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Any, TypeVar

import asyncpg

from app.compute.kept import Kept
from app.coverage import repository
from app.coverage.evaluation import Evaluation
from app.database.read_pool import Reader

T = TypeVar("T")
KEPT_SECONDS = 60.0
KEPT_ANSWERS = 2_000
KEPT_BYTES = 16 * 1024 * 1024
# Every county of China under a few kinds and dates.
ROW_SECONDS = 3600.0
KEPT_ROWS = 20_000
KEPT_ROW_BYTES = 64 * 1024 * 1024
KEPT_SHARES = 20_000
KEPT_SHARE_BYTES = 8 * 1024 * 1024
KEPT_RULE_BYTES = 8 * 1024 * 1024
RULE_BYTES = 400
# Leaf figures computed at once by one application, whatever the number of questions asking: the database does the
# work on both cores, and the read pool keeps connections for the hot path (nearest) while a country is computed.
LEAVES_AT_ONCE = 3


class CoverageKept:
    """One application's kept coverage answers (create_app puts them on app.state.coverage_kept), and the bound on
    the leaf figures it computes at once."""

    def __init__(self) -> None:
        self._kept = Kept("coverage", KEPT_SECONDS, KEPT_ANSWERS, KEPT_BYTES)
        self._rows = Kept("coverage_rows", ROW_SECONDS, KEPT_ROWS, KEPT_ROW_BYTES)
        self._shares = Kept("coverage_shares", ROW_SECONDS, KEPT_SHARES, KEPT_SHARE_BYTES)
        self._rules = Kept("coverage_rules", ROW_SECONDS, KEPT_ROWS, KEPT_RULE_BYTES)
        # How far around each leaf its last figures depended on sites (metres), whatever the date: where its
        # fingerprint is read; and where its worst-served search starts.
        self._reaches: OrderedDict[Hashable, float] = OrderedDict()
        self._starts: OrderedDict[Hashable, float] = OrderedDict()
        self.computing = asyncio.Semaphore(LEAVES_AT_ONCE)
        # Per kind: the kind's state the leaves' fingerprints were read in, and each leaf's (reach, fingerprint).
        self._fingerprints: dict[str, tuple[Hashable, dict[str, tuple[float, Hashable]]]] = {}

    def __len__(self) -> int:
        return len(self._kept) + len(self._rows) + len(self._shares)

    async def get(
        self,
        what: str,
        region: asyncpg.Record,
        ev: Evaluation,
        compute: Callable[[], Awaitable[T]],
        weigh: Callable[[T], int],
    ) -> T:
        """`what` of the leaf `region` for `ev`, kept for the register's state `ev` is for (without one: computed
        and not kept)."""
        return await self._kept.get(_key(what, region, ev), compute, weigh)

    async def share(
        self,
        adcode: str,
        ev: Evaluation,
        state: Hashable,
        compute: Callable[[], Awaitable[T]],
        weigh: Callable[[T], int],
    ) -> T:
        """The region's (any level) covered share for `ev`, kept for the register's state and the rules' and
        regions' `state` (ev without a register state: computed and not kept)."""
        key = None if ev.state is None else (*_question({"adcode": adcode}, ev), ev.state, state)
        return await self._shares.get(key, compute, weigh)

    async def rule(self, region: asyncpg.Record, ev: Evaluation, compute: Callable[[], Awaitable[T]]) -> T:
        """The leaf `region`'s rule for `ev`, kept for the state of the kind's rules and road networks the question
        read (`ev.rules_state`) and the region's version (its class, its outline); without one, read again."""
        key = None if ev.rules_state is None else (*_leaf(region, ev), region["version"], ev.rules_state)
        return await self._rules.get(key, compute, lambda _: RULE_BYTES)

    async def row(
        self,
        region: asyncpg.Record,
        ev: Evaluation,
        fingerprint: Hashable,
        compute: Callable[[], Awaitable[T]],
        weigh: Callable[[T], int],
    ) -> T:
        """The leaf `region`'s row for `ev`, kept for the state `fingerprint` of the sites within its reach
        (ev without a state: computed and not kept). A transaction that has written keeps its own rows: its
        uncommitted changes are its own."""
        return await self._rows.get(_row_key(region, ev, fingerprint), compute, weigh)

    def holds_row(self, region: asyncpg.Record, ev: Evaluation, fingerprint: Hashable) -> bool:
        """Whether the leaf's row for `ev` and `fingerprint` is kept (or being computed)."""
        key = _row_key(region, ev, fingerprint)
        return key is not None and self._rows.holds(key)

    def keep_row(
        self, region: asyncpg.Record, ev: Evaluation, fingerprint: Hashable, row: T, weigh: Callable[[T], int]
    ) -> None:
        """Keep a row computed for `ev` under another `fingerprint` of the sites around it (read in the same state
        of the kind as the row was computed in)."""
        if ev.state is not None:
            self._rows.put(_row_key(region, ev, fingerprint), row, weigh)

    async def fingerprints(
        self, reader: Reader, kind: str, state: Hashable, reaches: dict[str, float]
    ) -> dict[str, Hashable]:
        """Each leaf's fingerprint for `kind` within its reach (adcode: metres), read again only for the leaves
        whose reach is new, or for all of them when the kind's `state` (repository.kind_state) has moved since
        they were read."""
        known_state, known = self._fingerprints.get(kind, (None, {}))
        if known_state != state:
            known = {}
        missing = {adcode: reach for adcode, reach in reaches.items() if known.get(adcode, (None,))[0] != reach}
        if missing:
            fresh = await repository.leaf_fingerprints(reader, kind, missing)
            known = {**known, **{adcode: (missing[adcode], fresh[adcode]) for adcode in fresh}}
            if len(known) <= KEPT_ROWS:
                self._fingerprints[kind] = (state, known)
        return {adcode: known[adcode][1] for adcode in reaches if adcode in known}

    def reach(self, region: asyncpg.Record, ev: Evaluation) -> float | None:
        """How far around the leaf its figures last depended on sites, on any date (None: not computed yet). A
        guess for another date: a fingerprint read that much wider holds no fewer sites, and a row found to depend
        on sites farther is kept under a wider one (app.coverage.figures)."""
        return self._reaches.get(_leaf(region, ev))

    def reached(self, region: asyncpg.Record, ev: Evaluation, metres: float) -> None:
        _remember(self._reaches, _leaf(region, ev), metres)

    def search_start(self, region: asyncpg.Record, ev: Evaluation) -> float | None:
        """Where the leaf's worst-served search starts (metres), from its last answer on any date (None: none)."""
        return self._starts.get(_leaf(region, ev))

    def start_search(self, region: asyncpg.Record, ev: Evaluation, metres: float) -> None:
        _remember(self._starts, _leaf(region, ev), metres)


def _remember(store: OrderedDict[Hashable, float], key: Hashable, metres: float) -> None:
    store[key] = metres
    store.move_to_end(key)
    while len(store) > KEPT_ROWS:
        store.popitem(last=False)


def _question(region: asyncpg.Record | Mapping[str, Any], ev: Evaluation) -> tuple[Any, ...]:
    return (region["adcode"], ev.kind, ev.as_of, ev.radius_override, ev.min_sites_override)


def _leaf(region: asyncpg.Record | Mapping[str, Any], ev: Evaluation) -> tuple[Any, ...]:
    return (region["adcode"], ev.kind, ev.radius_override, ev.min_sites_override)


def _row_key(region: asyncpg.Record, ev: Evaluation, fingerprint: Hashable) -> tuple[Any, ...] | None:
    return None if ev.state is None else (*_question(region, ev), fingerprint, ev.state[1])


def _key(what: str, region: asyncpg.Record, ev: Evaluation) -> tuple[Any, ...] | None:
    if ev.state is None:
        return None
    return (what, *_question(region, ev), region["version"], ev.state)
