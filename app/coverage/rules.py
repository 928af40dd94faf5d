"""Coverage rules (SPEC §6): how far a site of a kind serves in a region, and by how many sites a place must be
reached; a region's rule with an evaluation's what-ifs applied."""

from dataclasses import dataclass, replace
from typing import Any

from app.coverage import repository
from app.coverage.evaluation import Evaluation
from app.database.read_pool import Reader
from app.problems import InvalidParameter
from app.roads import repository as roads_repository
from app.roads import service as roads
from app.roads.modes import Mode

MAX_RULE_RADIUS_M = 100_000.0
MAX_MIN_SITES = 5
RADIUS_FORM = "radius = minutes × assumed speed"
RADIUS_FROM_MINUTES = f"{RADIUS_FORM} (no road network loaded)"
# A region this much within a network's extent is evaluated on the network alone.
NETWORK_WHOLE_SHARE = 0.995


@dataclass(frozen=True)
class Rule:
    """A region's rule for a kind: how far a site serves and by how many sites a place must be reached.

    A travel-time rule with a mode is travelled on `network` where one is loaded over the region (within its
    extent; outside it the radius stands), else it is the radius minutes × assumed speed.
    """

    radius_m: float
    travel_minutes: int | None
    assumed_speed_kmh: float | None
    scope: str
    note: str | None
    mode: Mode | None = None
    min_sites: int = 1
    network: roads.Network | None = None
    network_share: float | None = None  # of the region's area within the network's extent

    @property
    def budget_s(self) -> float:
        assert self.travel_minutes is not None
        return self.travel_minutes * 60.0

    @property
    def is_single_radius(self) -> bool:
        """A place is covered when one site is within the radius: the union of circles (the fast, exact path)."""
        return self.network is None and self.min_sites == 1

    def method(self) -> str:
        """Which way the rule was evaluated, as every answer states it."""
        if self.network is not None and self.mode is not None:
            method = self.network.describe(self.mode)
            if self.network_share is not None and self.network_share < NETWORK_WHOLE_SHARE:
                method += (
                    f" over {self.network_share:.0%} of the region (the network's extent); elsewhere {RADIUS_FORM}"
                )
            return method
        if self.travel_minutes is not None:
            return RADIUS_FROM_MINUTES
        return "radius"

    def describe(self) -> dict[str, Any]:
        travel = self.travel_minutes is not None
        return {
            "type": "travel_time" if travel else "radius",
            "radius_m": self.radius_m,
            "travel_minutes": self.travel_minutes,
            "assumed_speed_kmh": self.assumed_speed_kmh,
            "mode": self.mode.value if self.mode is not None else None,
            "min_sites": self.min_sites,
            "method": self.method(),
            "approximation": RADIUS_FROM_MINUTES if travel and self.network is None else None,
            "network": {**self.network.as_dict(), "share_of_region": round(self.network_share or 0.0, 4)}
            if self.network is not None
            else None,
            "scope": self.scope,
            "note": self.note,
        }

    def label(self) -> str:
        """A short human form for report tables: '2000 m', '30 min × 15 km/h = 7500 m', '15 min 步行 walking on
        roads', each with '· ≥ 2 sites' under cross coverage."""
        if self.network is not None and self.mode is not None:
            text = f"{self.travel_minutes} min {self.mode.label} on roads"
        elif self.travel_minutes is not None:
            text = f"{self.travel_minutes} min × {self.assumed_speed_kmh:g} km/h = {self.radius_m:.0f} m"
        else:
            text = f"{self.radius_m:.0f} m"
        return text if self.min_sites == 1 else f"{text} · ≥ {self.min_sites} sites"


class NoRule(InvalidParameter):
    """The region has no coverage rule for the kind (a map draws it unshaded)."""


async def resolve_rule(reader: Reader, adcode: str, ev: "Evaluation") -> Rule:
    """The region's rule for the evaluation's kind, with the evaluation's what-if radius or site count."""
    row = await repository.rule(reader, adcode, ev.kind)
    if ev.radius_override is not None:
        # The region's cross coverage stands under a what-if radius.
        min_sites = row["min_sites"] if row is not None else 1
        rule = Rule(ev.radius_override, None, None, "query", "radius_m given in the request (what-if)", None, min_sites)
    else:
        if row is None:
            raise NoRule("kind", f"no coverage rule for kind {ev.kind} in region {adcode}")
        if row["radius_m"] is not None:
            radius = float(row["radius_m"])
        else:
            radius = row["travel_minutes"] / 60 * row["assumed_speed_kmh"] * 1000
        mode = Mode(row["mode"]) if row["mode"] is not None else None
        rule = Rule(
            radius, row["travel_minutes"], row["assumed_speed_kmh"], row["scope"], row["note"], mode, row["min_sites"]
        )
        if mode is not None:
            found = await roads_repository.network_over(reader, adcode)
            if found is not None:
                rule = replace(rule, network=roads.network_of(found), network_share=float(found["share"]))
    if ev.min_sites_override is not None:
        rule = replace(rule, min_sites=ev.min_sites_override)
    return rule
