"""site visits: raw visits in monthly partitions (deduplicated per client, site and hour), daily counts per site and
worker group kept for good, each site's hour-of-day profile, and the daily salt of client hashes

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 01:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WORKER_GROUPS = (
    "worker_group IS NULL OR worker_group IN ('sanitation', 'courier', 'delivery_rider', 'taxi_driver', "
    "'truck_driver', 'traffic_auxiliary', 'construction', 'other')"
)

MAKE_PARTITIONS = """
CREATE OR REPLACE FUNCTION site_visits_make_partitions(at timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    first_month timestamp := date_trunc('month', at AT TIME ZONE 'Asia/Shanghai');
    month_start timestamp;
    partition_name text;
BEGIN
    -- Two first visits of a month must not both create its partition.
    PERFORM pg_advisory_xact_lock(hashtext('site_visits_make_partitions'));
    FOR ahead IN 0..1 LOOP
        month_start := first_month + make_interval(months => ahead);
        partition_name := 'site_visits_' || to_char(month_start, 'YYYY_MM');
        IF to_regclass(partition_name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF site_visits FOR VALUES FROM (%L) TO (%L)',
                partition_name,
                month_start AT TIME ZONE 'Asia/Shanghai',
                (month_start + interval '1 month') AT TIME ZONE 'Asia/Shanghai'
            );
        END IF;
    END LOOP;
END
$$
"""

DROP_PARTITIONS = """
CREATE OR REPLACE FUNCTION site_visits_drop_partitions(before timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    partition_name text;
    dropped integer := 0;
BEGIN
    FOR partition_name IN
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'site_visits'::regclass
          AND c.relname < 'site_visits_' || to_char(date_trunc('month', before AT TIME ZONE 'Asia/Shanghai'), 'YYYY_MM')
    LOOP
        EXECUTE format('DROP TABLE %I', partition_name);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END
$$
"""


def upgrade() -> None:
    # Raw visits, for the hour-level questions and deduplication; no foreign key to sites (soft-deleted, never
    # removed): a visit's site is the door token's, checked in the same statement, and the insert stays one index.
    op.execute(f"""
        CREATE TABLE site_visits (
            site_id bigint NOT NULL,
            hour timestamptz NOT NULL,
            client bytea NOT NULL,
            worker_group text,
            recorded_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_site_visits PRIMARY KEY (site_id, hour, client),
            CONSTRAINT ck_site_visits_worker_group_known CHECK ({WORKER_GROUPS}),
            CONSTRAINT ck_site_visits_hour_whole CHECK (hour = date_trunc('hour', hour))
        ) PARTITION BY RANGE (hour)
    """)
    op.execute(MAKE_PARTITIONS)
    op.execute(DROP_PARTITIONS)
    op.execute("SELECT site_visits_make_partitions(now())")
    op.create_table(
        "site_visit_days",
        sa.Column("site_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("worker_group", sa.Text(), nullable=True),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.CheckConstraint(WORKER_GROUPS, name=op.f("ck_site_visit_days_worker_group_known")),
        sa.CheckConstraint("visits > 0", name=op.f("ck_site_visit_days_visits_positive")),
    )
    # Covering: a region's usage reads every site's days from the index alone (a site's days lie together there,
    # while the table holds them in the order they came, every site's mixed: ten times the reads without it).
    op.execute(
        "CREATE UNIQUE INDEX uq_site_visit_days_site_day_group ON site_visit_days (site_id, day, worker_group) "
        "INCLUDE (visits) NULLS NOT DISTINCT"
    )
    op.create_table(
        "site_hour_profiles",
        sa.Column("site_id", sa.BigInteger(), nullable=False),
        sa.Column("hour_of_day", sa.SmallInteger(), nullable=False),
        sa.Column("weight", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("hour_of_day BETWEEN 0 AND 23", name=op.f("ck_site_hour_profiles_hour_of_day_range")),
        sa.PrimaryKeyConstraint("site_id", "hour_of_day", name=op.f("pk_site_hour_profiles")),
    )
    # Per region, what the station rules are where they differ from the defaults (a region without a row follows
    # its nearest ancestor's, then app.visits.service.IDLE_BELOW_VISITS and the inspections' interval).
    op.create_table(
        "region_station_rules",
        sa.Column("adcode", sa.String(6), nullable=False),
        sa.Column("idle_below_visits", sa.Integer(), nullable=True),
        sa.Column("inspection_interval_months", sa.Integer(), nullable=True),
        sa.CheckConstraint("idle_below_visits >= 0", name=op.f("ck_region_station_rules_idle_not_negative")),
        sa.CheckConstraint(
            "inspection_interval_months BETWEEN 1 AND 60", name=op.f("ck_region_station_rules_interval_range")
        ),
        sa.ForeignKeyConstraint(
            ["adcode"], ["regions.adcode"], name=op.f("fk_region_station_rules_adcode_regions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("adcode", name=op.f("pk_region_station_rules")),
    )
    op.create_table(
        "visit_salts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("salt", postgresql.BYTEA(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_visit_salts")),
    )


def downgrade() -> None:
    op.drop_table("visit_salts")
    op.drop_table("region_station_rules")
    op.drop_table("site_hour_profiles")
    op.drop_table("site_visit_days")
    op.execute("DROP TABLE site_visits")
    op.execute("DROP FUNCTION site_visits_drop_partitions(timestamptz)")
    op.execute("DROP FUNCTION site_visits_make_partitions(timestamptz)")
