"""visit partitions: which months a retention drops, in one function that the drop and its dry run both read; the drop
names what it dropped

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 05:00:00.000000

The service listed the partitions a drop would take with a query of its own beside site_visits_drop_partitions',
fed a date where the function took an instant, and reported the listing as what was dropped.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARTITIONS_BEFORE = """
CREATE FUNCTION site_visits_partitions_before(before timestamptz) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    -- The partitions of whole months before the China month of `before` (their names, site_visits_YYYY_MM, sort by
    -- month).
    SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'site_visits'::regclass
      AND c.relname < 'site_visits_' || to_char(date_trunc('month', before AT TIME ZONE 'Asia/Shanghai'), 'YYYY_MM')
    ORDER BY c.relname
$$
"""

DROP_PARTITIONS = """
CREATE FUNCTION site_visits_drop_partitions(before timestamptz) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    partition_name text;
BEGIN
    FOR partition_name IN SELECT site_visits_partitions_before(before) LOOP
        EXECUTE format('DROP TABLE %I', partition_name);
        RETURN NEXT partition_name;
    END LOOP;
END
$$
"""

DROP_PARTITIONS_COUNTED = """
CREATE FUNCTION site_visits_drop_partitions(before timestamptz) RETURNS integer
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
    op.execute(PARTITIONS_BEFORE)
    op.execute("DROP FUNCTION site_visits_drop_partitions(timestamptz)")
    op.execute(DROP_PARTITIONS)


def downgrade() -> None:
    op.execute("DROP FUNCTION site_visits_drop_partitions(timestamptz)")
    op.execute(DROP_PARTITIONS_COUNTED)
    op.execute("DROP FUNCTION site_visits_partitions_before(timestamptz)")
