"""coverage rules: a travel mode for travel-time rules, and min_sites for cross coverage (交叉覆盖)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 10:00:00.000000

A travel-time rule names the mode it is about (app/roads/modes.py); where a road network is loaded the time is
travelled on it, elsewhere it stays a radius (minutes × assumed speed). `min_sites` asks for a place to be within
reach of at least that many sites. The outdoor-station default in urban districts becomes the national standard's
15-minute walk, whose radius form is the 1,000 m it was.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MODES = ("walk", "ebike", "car")


def upgrade() -> None:
    op.add_column("coverage_rules", sa.Column("mode", sa.Text(), nullable=True))
    op.add_column("coverage_rules", sa.Column("min_sites", sa.Integer(), server_default="1", nullable=False))
    op.create_check_constraint(
        op.f("ck_coverage_rules_mode_known"),
        "coverage_rules",
        f"mode IS NULL OR mode IN ({', '.join(repr(m) for m in MODES)})",
    )
    op.create_check_constraint(
        op.f("ck_coverage_rules_mode_with_travel_time"), "coverage_rules", "mode IS NULL OR travel_minutes IS NOT NULL"
    )
    op.create_check_constraint(op.f("ck_coverage_rules_min_sites_positive"), "coverage_rules", "min_sites >= 1")
    # The travel-time defaults assume 15 km/h: an e-bike's speed.
    op.execute("UPDATE coverage_rules SET mode = 'ebike' WHERE travel_minutes IS NOT NULL AND assumed_speed_kmh = 15")
    op.execute(
        "UPDATE coverage_rules SET radius_m = NULL, travel_minutes = 15, assumed_speed_kmh = 4, mode = 'walk', "
        "note = '15-minute walk (1,000 m) in urban districts, the national standard for stations' "
        "WHERE kind = 'outdoor_station' AND region_adcode IS NULL AND urban_district AND radius_m = 1000"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE coverage_rules SET radius_m = 1000, travel_minutes = NULL, assumed_speed_kmh = NULL, "
        "note = '1 km walk in urban districts' "
        "WHERE kind = 'outdoor_station' AND region_adcode IS NULL AND urban_district AND mode = 'walk'"
    )
    op.drop_constraint("ck_coverage_rules_min_sites_positive", "coverage_rules", type_="check")
    op.drop_constraint("ck_coverage_rules_mode_with_travel_time", "coverage_rules", type_="check")
    op.drop_constraint("ck_coverage_rules_mode_known", "coverage_rules", type_="check")
    op.drop_column("coverage_rules", "min_sites")
    op.drop_column("coverage_rules", "mode")
